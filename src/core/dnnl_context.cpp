#include "aevb/core/dnnl_context.hpp"

#include <omp.h>

namespace aevb {

DnnlContext& dnnl_context() {
  static DnnlContext ctx;
  return ctx;
}

void set_compute_threads(int threads) { omp_set_num_threads(threads < 1 ? 1 : threads); }

}  // namespace aevb
