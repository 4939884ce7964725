#include "aevb/convert/data_options.hpp"

namespace aevb {

const OptionRules& data_option_rules() {
  using R = OptionRule;
  static const OptionRules rules = {
      R::integer("shards").ge(1).le(1 << 20),
      R::integer("rows-per-shard").ge(1),
      R::integer("shuffle-seed").ge(0),
      R::integer("memory-budget").ge(1),
      R::integer("gzip").ge(0).le(9),
      R::real("scale").gt(0),
      R::integer("valid-rows").ge(0),
      R::integer("split-seed").ge(0),
      R::words("binarization", {"dynamic", "static", "none"}),
      R::integer("binarize-seed").ge(0).or_value(-1, "none given"),
  };
  return rules;
}

}  // namespace aevb
