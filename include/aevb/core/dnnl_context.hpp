// The process-wide oneDNN CPU engine and stream. Primitives are created once per
// shape (see mlp.hpp, eltwise.hpp) and executed on this stream.
#pragma once
#include <dnnl.hpp>

namespace aevb {

struct DnnlContext {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
};

DnnlContext& dnnl_context();

// Threads used by oneDNN (OpenMP runtime) in this process. One per rank by
// default so that ranks x threads <= cores.
void set_compute_threads(int threads);

}  // namespace aevb
