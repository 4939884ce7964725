#include "aevb/cli/option_rules.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <sstream>

#include "aevb/base/error.hpp"
#include "aevb/cli/options.hpp"

namespace aevb {

namespace {

// Numbers as written in code: 1, 0.5, 1e-08 -> "1e-08" (shortest round trip).
std::string number_text(double v) {
  std::ostringstream s;
  s.precision(15);
  s << v;
  return s.str();
}

bool parse_real(const std::string& text, double& v) {
  if (text.empty() || std::isspace(static_cast<unsigned char>(text[0]))) return false;
  char* end = nullptr;
  errno = 0;
  v = std::strtod(text.c_str(), &end);
  return end == text.c_str() + text.size() && errno != ERANGE;
}

bool parse_integer(const std::string& text, int64_t& v) {
  if (text.empty() || std::isspace(static_cast<unsigned char>(text[0]))) return false;
  char* end = nullptr;
  errno = 0;
  const long long x = std::strtoll(text.c_str(), &end, 10);
  if (end != text.c_str() + text.size() || errno == ERANGE) return false;
  v = x;
  return true;
}

}  // namespace

OptionRule OptionRule::words(std::string name, std::vector<std::string> allowed) {
  OptionRule r(std::move(name), Kind::kWords);
  r.words_ = std::move(allowed);
  return r;
}

std::string OptionRule::describe() const {
  std::string s;
  if (kind_ == Kind::kWords) {
    s = "one of: ";
    for (size_t i = 0; i < words_.size(); ++i) s += (i ? ", " : "") + words_[i];
    return s;
  }
  s = kind_ == Kind::kReal ? "a finite number" : "an integer";
  if (lo_ && hi_) {
    s += std::string(" in ") + (lo_open_ ? "(" : "[") + number_text(*lo_) + ", " + number_text(*hi_) +
         (hi_open_ ? ")" : "]");
  } else if (lo_) {
    s += std::string(lo_open_ ? " > " : " >= ") + number_text(*lo_);
  } else if (hi_) {
    s += std::string(hi_open_ ? " < " : " <= ") + number_text(*hi_);
  }
  for (const Special& sp : special_) s += ", or " + std::to_string(sp.value) + " (" + sp.meaning + ")";
  return s;
}

std::string OptionRule::check(const std::string& text) const {
  const std::string expected = "expected " + describe();
  if (kind_ == Kind::kWords) {
    for (const std::string& w : words_)
      if (text == w) return "";
    return expected;
  }
  double v = 0;
  if (kind_ == Kind::kInteger) {
    int64_t i = 0;
    if (!parse_integer(text, i)) return expected;
    for (const Special& sp : special_)
      if (i == sp.value) return "";
    v = static_cast<double>(i);
  } else if (!parse_real(text, v) || !std::isfinite(v)) {
    return expected;
  }
  const bool lo_ok = !lo_ || (lo_open_ ? v > *lo_ : v >= *lo_);
  const bool hi_ok = !hi_ || (hi_open_ ? v < *hi_ : v <= *hi_);
  return lo_ok && hi_ok ? "" : expected;
}

void check_option_rules(const boost::program_options::parsed_options& parsed, const OptionRules& rules,
                        const std::string& where) {
  for (const auto& opt : parsed.options) {
    for (const OptionRule& rule : rules) {
      if (rule.name() != opt.string_key) continue;
      const std::string text = opt.value.empty() ? std::string() : opt.value.front();
      const std::string problem = rule.check(text);
      if (!problem.empty())
        throw usage_error("--" + rule.name() + (where.empty() ? "" : " (in " + where + ")") + ": " + problem +
                          ", got '" + text + "'");
    }
  }
}

std::string option_rules_markdown(const OptionRules& rules) {
  std::string s = "| option | allowed values |\n| --- | --- |\n";
  for (const OptionRule& r : rules) s += "| `--" + r.name() + "` | " + r.describe() + " |\n";
  return s;
}

}  // namespace aevb
