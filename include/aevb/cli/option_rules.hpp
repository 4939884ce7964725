// The allowed values of every option, as one declarative table per executable.
//
// Why a table: every numeric option needs the same checks (a finite number, a
// sign, open or closed bounds, a few special values such as -1 = all) and the
// same message, on the command line and in config files alike; written by hand
// per option they drift (`--lr inf` once reached the optimizer). The rules check
// the text the user wrote, before Boost converts it: "-1" for an unsigned seed
// would otherwise wrap around silently. docs/options.md lists every table;
// a unit test keeps it identical to the code.
#pragma once
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace aevb {

class OptionRule {
 public:
  enum class Kind { kReal, kInteger, kWords };

  static OptionRule real(std::string name) { return OptionRule(std::move(name), Kind::kReal); }
  static OptionRule integer(std::string name) { return OptionRule(std::move(name), Kind::kInteger); }
  static OptionRule words(std::string name, std::vector<std::string> allowed);

  // Bounds (numbers are always finite: inf and nan are never accepted).
  OptionRule& gt(double v) { lo_ = v; lo_open_ = true; return *this; }
  OptionRule& ge(double v) { lo_ = v; lo_open_ = false; return *this; }
  OptionRule& lt(double v) { hi_ = v; hi_open_ = true; return *this; }
  OptionRule& le(double v) { hi_ = v; hi_open_ = false; return *this; }
  // An integer allowed outside the bounds, with its meaning (e.g. -1, "all").
  OptionRule& or_value(int64_t v, std::string meaning) { special_.push_back({v, std::move(meaning)}); return *this; }

  const std::string& name() const { return name_; }
  // "a finite number > 0", "an integer >= 1, or -1 (all)", "one of: auto, dynamic, none"
  std::string describe() const;
  // Empty if `text` is allowed, else "expected <describe()>".
  std::string check(const std::string& text) const;

 private:
  OptionRule(std::string name, Kind kind) : name_(std::move(name)), kind_(kind) {}
  struct Special {
    int64_t value;
    std::string meaning;
  };
  std::string name_;
  Kind kind_;
  std::optional<double> lo_, hi_;
  bool lo_open_ = false, hi_open_ = false;
  std::vector<Special> special_;
  std::vector<std::string> words_;
};

using OptionRules = std::vector<OptionRule>;

// The rules as a Markdown table (docs/options.md).
std::string option_rules_markdown(const OptionRules& rules);

}  // namespace aevb
