#include "aevb/cli/options.hpp"

#include <cctype>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "aevb/base/error.hpp"

namespace po = boost::program_options;

namespace aevb {

po::parsed_options parse_last_wins(int argc, char** argv, const po::options_description& d, const OptionRules& rules) {
  const int style = po::command_line_style::default_style & ~po::command_line_style::allow_guessing;
  auto parsed = po::command_line_parser(argc, argv).options(d).style(style).run();
  std::vector<po::option> kept;
  for (auto it = parsed.options.rbegin(); it != parsed.options.rend(); ++it) {
    // Without a positional description Boost keeps stray words under an empty
    // key, and store() drops them silently.
    if (it->string_key.empty())
      throw usage_error("unexpected argument '" + (it->original_tokens.empty() ? std::string() : it->original_tokens[0]) +
                        "' (every value belongs to an option: --name value)");
    bool seen = false;
    for (const auto& k : kept) seen = seen || k.string_key == it->string_key;
    if (!seen) kept.insert(kept.begin(), *it);
  }
  parsed.options = std::move(kept);
  check_option_rules(parsed, rules);
  return parsed;
}

namespace {

std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r") - b + 1);
}

}  // namespace

constexpr size_t kMaxConfigLine = 4096;

void store_config_file(const std::string& path, const po::options_description& d, const OptionRules& rules,
                       po::variables_map& vm) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw usage_error("--config " + path + ": is a directory; expected an INI file of 'name = value' lines");
  std::ifstream f(path);
  if (!f) throw usage_error("--config " + path + ": cannot open it");
  std::map<std::string, int> first_line;
  std::string line;
  for (int number = 1; std::getline(f, line); ++number) {
    const std::string where = path + ":" + std::to_string(number);
    // Bounded before Boost sees it: its error-message formatting is slow on
    // long text (a fuzzed file once took 25 s), and no option needs more.
    if (line.size() > kMaxConfigLine)
      throw usage_error("--config " + where + ": line of " + std::to_string(line.size()) + " bytes; at most " +
                        std::to_string(kMaxConfigLine) + " are allowed");
    // '#' starts a comment at the start of a line or after a space or tab, so
    // a value such as a path "data/#2" stays whole.
    size_t hash = line.find('#');
    while (hash != std::string::npos && hash > 0 && line[hash - 1] != ' ' && line[hash - 1] != '\t')
      hash = line.find('#', hash + 1);
    const std::string text = trim(line.substr(0, hash));
    if (text.empty()) continue;
    const size_t eq = text.find('=');
    if (text.front() == '[' || eq == std::string::npos)
      throw usage_error("--config " + where + ": expected 'name = value', got '" + text + "'");
    const std::string name = trim(text.substr(0, eq));
    if (auto [it, fresh] = first_line.emplace(name, number); !fresh)
      throw usage_error("--config " + where + ": '" + name + "' is already set on line " + std::to_string(it->second));
    // The option is built here rather than by Boost's config-file parser, which
    // would cut a value at any '#'.
    if (!d.find_nothrow(name, false))
      throw usage_error("--config " + where + ": unrecognised option '" + name + "'");
    po::parsed_options parsed(&d);
    po::option opt(name, {trim(text.substr(eq + 1))});
    opt.original_tokens = {name, opt.value.front()};
    parsed.options.push_back(std::move(opt));
    try {
      check_option_rules(parsed, rules, where);
      po::store(parsed, vm);
    } catch (const po::error& e) {
      throw usage_error("--config " + where + ": " + e.what());
    }
  }
  if (f.bad()) throw usage_error("--config " + path + ": read error");
}

template <class T>
static std::string shortest(T v) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

std::string default_text(float v) { return shortest(v); }
std::string default_text(double v) { return shortest(v); }

int64_t parse_byte_size(const std::string& option, const std::string& text) {
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  const std::string unit = text.substr(digits);
  const std::pair<const char*, int> units[] = {{"", 20}, {"B", 0}, {"KiB", 10}, {"MiB", 20}, {"GiB", 30}, {"TiB", 40}};
  int shift = -1;
  for (const auto& [name, s] : units)
    if (unit == name) shift = s;
  const auto bad = [&] {
    return usage_error("--" + option + " '" + text +
                       "': expected a size between 1KiB and 1024TiB such as 1GiB, 512MiB or 64KiB (a bare number is MiB)");
  };
  if (digits == 0 || digits > 15 || shift < 0) throw bad();
  const int64_t n = std::stoll(text.substr(0, digits));
  if (n > (int64_t{1} << (50 - shift)) || (n << shift) < 1024) throw bad();
  return n << shift;
}

}  // namespace aevb
