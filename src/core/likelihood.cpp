#include "aevb/core/likelihood.hpp"

#include <cmath>

#include "aevb/base/simd.hpp"
#include "aevb/core/parallel.hpp"

namespace aevb {

namespace {
constexpr double kLog2Pi = 1.8378770664093453;

// The loops over R rows x D values, compiled for several ISAs (simd.hpp).
// Row r belongs to data point r / L.
AEVB_CLONES void bernoulli_rows(const float* x, int64_t L, const float* logits, const float* softplus, int64_t r0,
                                int64_t r1, int64_t D, double* ll) {
  for (int64_t r = r0; r < r1; ++r) {
    const float* xr = x + (r / L) * D;
    const float* lr = logits + r * D;
    const float* sp = softplus + r * D;
    float acc = 0.f;  // a row's sum in float (SIMD); stored as double
#pragma omp simd reduction(+ : acc)
    for (int64_t d = 0; d < D; ++d) acc += xr[d] * lr[d] - sp[d];
    ll[r] = acc;
  }
}

// dout holds sigmoid(logits) on entry.
AEVB_CLONES void bernoulli_grad_rows(const float* x, int64_t L, int64_t r0, int64_t r1, int64_t D,
                                     const float* weight, float* dout) {
  for (int64_t r = r0; r < r1; ++r) {
    const float* xr = x + (r / L) * D;
    const float w = weight[r];
    float* g = dout + r * D;
#pragma omp simd
    for (int64_t d = 0; d < D; ++d) g[d] = w * (g[d] - xr[d]);
  }
}

AEVB_CLONES void negate(const float* in, float* out, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) out[i] = -in[i];
}

AEVB_CLONES void gaussian_rows(const float* x, int64_t L, const float* out, const float* sig, const float* expneg,
                               bool squash, int64_t r0, int64_t r1, int64_t D, double* ll) {
  for (int64_t r = r0; r < r1; ++r) {
    const float* xr = x + (r / L) * D;
    const float* m = out + r * 2 * D;
    const float* lv = m + D;
    const float* mean = squash ? sig + r * 2 * D : m;
    const float* inv_var = expneg + r * 2 * D + D;
    double acc = 0;
#pragma omp simd reduction(+ : acc)
    for (int64_t d = 0; d < D; ++d) {
      const float e = xr[d] - mean[d];
      acc += kLog2Pi + lv[d] + e * e * inv_var[d];
    }
    ll[r] = -0.5 * acc;
  }
}

AEVB_CLONES void gaussian_grad_rows(const float* x, int64_t L, const float* out, const float* sig,
                                    const float* expneg, bool squash, int64_t r0, int64_t r1, int64_t D,
                                    const float* weight, float* dout) {
  for (int64_t r = r0; r < r1; ++r) {
    const float* xr = x + (r / L) * D;
    const float* m = out + r * 2 * D;
    const float* mean = squash ? sig + r * 2 * D : m;
    const float* inv_var = expneg + r * 2 * D + D;
    const float w = weight[r];
    float* gm = dout + r * 2 * D;
    float* glv = gm + D;
#pragma omp simd
    for (int64_t d = 0; d < D; ++d) {
      const float e = xr[d] - mean[d];
      const float dmean = -w * e * inv_var[d];
      gm[d] = squash ? dmean * mean[d] * (1.f - mean[d]) : dmean;
      glv[d] = w * 0.5f * (1.f - e * e * inv_var[d]);
    }
  }
}
}  // namespace

double softplus_ref(double l) { return l > 0 ? l + std::log1p(std::exp(-l)) : std::log1p(std::exp(l)); }

// Bernoulli: log p(x|l) = sum_d x_d l_d - softplus(l_d); d(-log p)/dl = sigmoid(l) - x.
// Gaussian: out row = [m | lv]; mean = sigmoid(m) if squashed else m; var = exp(lv);
//   log p = -0.5 sum_d (log 2pi + lv + (x - mean)^2 / var).
// softplus, sigmoid and exp come from oneDNN's vectorized eltwise kernels,
// which are finite for |l| up to float range (checked in tests at l = +-100).
void DecoderLikelihood::log_prob(const float* x, int64_t L, const float* out, int64_t R, double* ll) {
  const int64_t D = spec_.x_dim;
  if (spec_.decoder == DecoderKind::kBernoulli) {
    const int64_t n = R * D;
    if (static_cast<int64_t>(a_.size()) < n) a_.resize(static_cast<size_t>(n));
    elt_.forward(dnnl::algorithm::eltwise_soft_relu, out, a_.data(), n);
    parallel_for(R, [&](int64_t r0, int64_t r1) { bernoulli_rows(x, L, out, a_.data(), r0, r1, D, ll); });
    return;
  }
  const int64_t n = R * 2 * D;
  // a_ = sigmoid(out) (the mean half is used), b_ = exp(-out) (the 1/var half).
  if (static_cast<int64_t>(a_.size()) < n) a_.resize(static_cast<size_t>(n));
  if (static_cast<int64_t>(b_.size()) < n) b_.resize(static_cast<size_t>(n));
  negate(out, b_.data(), n);
  elt_.forward(dnnl::algorithm::eltwise_exp, b_.data(), b_.data(), n);
  if (spec_.gaussian_sigmoid_mean) elt_.forward(dnnl::algorithm::eltwise_logistic, out, a_.data(), n);
  parallel_for(R, [&](int64_t r0, int64_t r1) {
    gaussian_rows(x, L, out, a_.data(), b_.data(), spec_.gaussian_sigmoid_mean, r0, r1, D, ll);
  });
}

void DecoderLikelihood::loss_grad(const float* x, int64_t L, const float* out, int64_t R, const float* weight,
                                  float* dout) {
  const int64_t D = spec_.x_dim;
  if (spec_.decoder == DecoderKind::kBernoulli) {
    elt_.forward(dnnl::algorithm::eltwise_logistic, out, dout, R * D);
    parallel_for(R, [&](int64_t r0, int64_t r1) { bernoulli_grad_rows(x, L, r0, r1, D, weight, dout); });
    return;
  }
  // Uses a_ (sigmoid of the mean half) and b_ (1/var) from log_prob on the same out.
  parallel_for(R, [&](int64_t r0, int64_t r1) {
    gaussian_grad_rows(x, L, out, a_.data(), b_.data(), spec_.gaussian_sigmoid_mean, r0, r1, D, weight, dout);
  });
}

}  // namespace aevb
