// log p(x | decoder output) for the two decoders, per row, with the gradient with
// respect to the decoder output. Rows r of the decoder output belong to data
// point r / L (L samples of z per point, sample-major within a point).
#pragma once
#include <cstdint>

#include "aevb/buffer.hpp"
#include "aevb/eltwise.hpp"
#include "aevb/vae.hpp"

namespace aevb {

class DecoderLikelihood {
 public:
  explicit DecoderLikelihood(const ModelSpec& spec) : spec_(spec) {}

  // ll[r] = log p(x_{r/L} | out_r) for r < R. If dout is non-null it receives
  // coef * d(-ll[r]) / d out_r (the loss gradient, ready for decoder backward).
  void evaluate(const float* x, int64_t L, const float* out, int64_t R, double* ll, float* dout, float coef);

 private:
  void bernoulli(const float* x, int64_t L, const float* logits, int64_t R, double* ll, float* dout, float coef);
  void gaussian(const float* x, int64_t L, const float* out, int64_t R, double* ll, float* dout, float coef);
  ModelSpec spec_;
  Eltwise elt_;
  FloatBuffer a_, b_;
};

// Numerically stable log(1 + exp(l)) in double, the reference for tests.
double softplus_ref(double l);

}  // namespace aevb
