// The bound that GEMMs alone set on a training step: every GEMM of the step
// (forward, backward-data, backward-weights of each layer; no backward-data for
// the encoder's first layer since dL/dx is not needed), as bare oneDNN matmul
// primitives with the same shapes and memory layouts as the model's, nothing
// else. Timing them in the same run as the real step gives an honest
// "fraction of the GEMM bound".
#pragma once
#include <dnnl.hpp>

#include <cstdint>
#include <vector>

#include "aevb/base/buffer.hpp"

namespace aevb::bench {

class StepGemms {
 public:
  // enc/dec layer sizes, e.g. {784,500,40} and {20,500,784}; rows = M (decoder: M*L).
  StepGemms(const std::vector<int64_t>& enc, const std::vector<int64_t>& dec, int64_t rows, int64_t dec_rows);
  void run();             // every GEMM of one step, once
  double flops() const { return flops_; }

 private:
  void add(int64_t m, int64_t k, int64_t n, bool a_transposed, bool b_transposed);
  struct Gemm {
    dnnl::matmul prim;
    dnnl::memory a, b, c;
  };
  std::vector<Gemm> gemms_;
  std::vector<FloatBuffer> storage_;
  double flops_ = 0;
};

}  // namespace aevb::bench
