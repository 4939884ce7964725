// The allowed values of aevb-data's options: one table for every subcommand,
// since an option means the same wherever it appears (docs/options.md).
#pragma once
#include "aevb/cli/option_rules.hpp"

namespace aevb {

const OptionRules& data_option_rules();

}  // namespace aevb
