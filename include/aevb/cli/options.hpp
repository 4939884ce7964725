// Command-line parsing shared by the executables (Boost.Program_options).
#pragma once
#include <boost/program_options.hpp>

namespace aevb {

// Parses argv; when an option is given more than once, the LAST occurrence
// wins (as in most Unix tools). Job scripts rely on this: they put their
// defaults first and the user's arguments after them, and a sweep line
// overrides the sweep's common options.
inline boost::program_options::parsed_options parse_last_wins(int argc, char** argv,
                                                              const boost::program_options::options_description& d) {
  auto parsed = boost::program_options::command_line_parser(argc, argv).options(d).run();
  std::vector<boost::program_options::option> kept;
  for (auto it = parsed.options.rbegin(); it != parsed.options.rend(); ++it) {
    bool seen = false;
    for (const auto& k : kept) seen = seen || k.string_key == it->string_key;
    if (!seen) kept.insert(kept.begin(), *it);
  }
  parsed.options = std::move(kept);
  return parsed;
}

}  // namespace aevb
