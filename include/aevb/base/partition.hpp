// How work is split over ranks: one formula for the whole code base.
//
// The items [begin, begin + n) are split into `parts` contiguous, balanced
// ranges (sizes differ by at most one, so n not divisible by parts is fine and
// a part may be empty); part r gets [lo, hi). The training minibatch, the test
// split and the evaluator's point groups are all divided this way.
#pragma once
#include <cstdint>

namespace aevb {

struct Range {
  int64_t lo = 0, hi = 0;
  int64_t size() const { return hi - lo; }
};

inline Range part_of(int64_t begin, int64_t n, int r, int parts) {
  return {begin + n * r / parts, begin + n * (r + 1) / parts};
}

}  // namespace aevb
