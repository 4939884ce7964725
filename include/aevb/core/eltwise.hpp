// Element-wise math on oneDNN's JIT eltwise primitives (vectorized exp, log,
// tanh, logistic...). A primitive is created the first time an (algorithm, n)
// pair is seen and reused afterwards; the per-call cost is one execute.
#pragma once
#include <dnnl.hpp>

#include <cstdint>
#include <map>
#include <tuple>

namespace aevb {

class Eltwise {
 public:
  // out[i] = f(in[i]) for i < n; in and out may alias.
  void forward(dnnl::algorithm alg, const float* in, float* out, int64_t n, float alpha = 0.f,
               float beta = 0.f);

 private:
  struct Prim {
    dnnl::memory src, dst;
    dnnl::eltwise_forward prim;
  };
  std::map<std::tuple<int, int64_t, float, float>, Prim> cache_;
};

}  // namespace aevb
