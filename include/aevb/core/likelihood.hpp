// log p(x | decoder output) for the two decoders, per row, and the gradient of
// the loss with respect to the decoder output. Rows r of the decoder output
// belong to data point r / L (L samples of z per point, sample-major within a
// point).
#pragma once
#include <cstdint>

#include "aevb/base/buffer.hpp"
#include "aevb/core/eltwise.hpp"
#include "aevb/core/vae.hpp"

namespace aevb {

class DecoderLikelihood {
 public:
  explicit DecoderLikelihood(const ModelSpec& spec) : spec_(spec) {}

  // ll[r] = log p(x_{r/L} | out_r) for r < R.
  void log_prob(const float* x, int64_t L, const float* out, int64_t R, double* ll);
  // dout[r] = weight[r] * d(-log p(x_{r/L} | out_r)) / d out_r: the gradient of
  // the loss  -sum_r weight[r] log p(x|out_r), ready for the decoder's backward.
  // Call it after log_prob() on the same out: the Gaussian case reuses its
  // mean and 1/variance.
  void loss_grad(const float* x, int64_t L, const float* out, int64_t R, const float* weight, float* dout);

 private:
  ModelSpec spec_;
  Eltwise elt_;
  FloatBuffer a_, b_;
};

// Numerically stable log(1 + exp(l)) in double, the reference for tests.
double softplus_ref(double l);

}  // namespace aevb
