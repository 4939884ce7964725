#include "aevb/core/parallel.hpp"

#include <omp.h>

#include <algorithm>

namespace aevb {

void parallel_for_parts(int64_t n, void (*call)(void*, int64_t, int64_t), void* ctx, int64_t min_part) {
  if (n <= 0) return;
  const int64_t parts = std::min<int64_t>(omp_get_max_threads(), n / std::max<int64_t>(1, min_part));
  if (parts <= 1) {
    call(ctx, 0, n);
    return;
  }
#pragma omp parallel num_threads(static_cast<int>(parts))
  {
    const int64_t i = omp_get_thread_num();
    call(ctx, n * i / parts, n * (i + 1) / parts);
  }
}

int compute_threads() { return omp_get_max_threads(); }

}  // namespace aevb
