// Command-line parsing shared by the executables (Boost.Program_options).
#pragma once
#include <boost/program_options.hpp>

#include <string>

#include "aevb/cli/option_rules.hpp"

namespace aevb {

// Checks every option of `parsed` that has a rule; throws usage_error
// "--NAME: expected ..., got 'TEXT'" (with " (in FILE:LINE)" when `where` is set).
void check_option_rules(const boost::program_options::parsed_options& parsed, const OptionRules& rules,
                        const std::string& where = "");

// Parses argv; when an option is given more than once, the LAST occurrence
// wins (as in most Unix tools). Job scripts rely on this: they put their
// defaults first and the user's arguments after them, and a sweep line
// overrides the sweep's common options. Options must be spelled in full (no
// prefix guessing: `--shard 2` is not `--shards 2`), a stray positional
// argument is an error, and every value is checked against `rules`.
boost::program_options::parsed_options parse_last_wins(int argc, char** argv,
                                                       const boost::program_options::options_description& d,
                                                       const OptionRules& rules = {});

// Reads an INI file of `name = value` lines (# comments) into vm; values
// already in vm (the command line's) win. Errors name the file and the line:
// a directory or unreadable file, a line without '=', an unknown option, an
// option given twice, a value outside its rule.
void store_config_file(const std::string& path, const boost::program_options::options_description& d,
                       const OptionRules& rules, boost::program_options::variables_map& vm);

// A default as a person writes it: 0.01f -> "0.01" (not "0.0199999996").
// A size such as "1GiB", "512MiB", "64KiB", "4096B" or a bare number (MiB),
// between 1 KiB and 1 PiB; usage_error naming --option otherwise.
int64_t parse_byte_size(const std::string& option, const std::string& text);

std::string default_text(float v);
std::string default_text(double v);

}  // namespace aevb
