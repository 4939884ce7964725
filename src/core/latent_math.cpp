#include "aevb/core/latent_math.hpp"

#include <cmath>

#include "aevb/base/simd.hpp"
#include "aevb/base/vector_math.hpp"

namespace aevb {
namespace {

AEVB_CLONES void reparameterize_loop(const float* mu, const float* lv, const float* eps, float* z, int64_t J) {
  for (int64_t j = 0; j < J; ++j) z[j] = mu[j] + expf(0.5f * lv[j]) * eps[j];
}

AEVB_CLONES double log_ratio_loop(const float* z, const float* eps, const float* lv, int64_t J) {
  double s = 0;
#pragma omp simd reduction(+ : s)
  for (int64_t j = 0; j < J; ++j) s += double(z[j]) * z[j] - double(eps[j]) * eps[j] - lv[j];
  return 0.5 * s;
}

AEVB_CLONES double kl_loop(const float* mu, const float* lv, int64_t J) {
  double kl = 0;
#pragma omp simd reduction(+ : kl)
  for (int64_t j = 0; j < J; ++j) kl += double(mu[j]) * mu[j] + exp(double(lv[j])) - 1.0 - lv[j];
  return 0.5 * kl;
}

AEVB_CLONES void grad_loop(const float* mu, const float* lv, const float* dz, const float* z, const float* eps,
                           const float* w, int64_t L, int64_t J, bool sampled_kl, float loss_scale, float* dmu,
                           float* dlv) {
  for (int64_t j = 0; j < J; ++j) dmu[j] = dlv[j] = 0.f;
  for (int64_t l = 0; l < L; ++l) {
    const float* dzl = dz + l * J;
    const float* zl = z + l * J;
    const float* el = eps + l * J;
    if (sampled_kl) {
      // Estimator A: the sampled -log p(z) term adds w * z to dL/dz.
      const float wl = w[l];
      for (int64_t j = 0; j < J; ++j) {
        const float g = dzl[j] + wl * zl[j];
        dmu[j] += g;
        dlv[j] += g * el[j];
      }
    } else {
      for (int64_t j = 0; j < J; ++j) {
        dmu[j] += dzl[j];
        dlv[j] += dzl[j] * el[j];
      }
    }
  }
  for (int64_t j = 0; j < J; ++j) {
    const float sigma = expf(0.5f * lv[j]);
    dlv[j] *= 0.5f * sigma;
    if (sampled_kl) {
      // The sampled log q(z|x) term's explicit lv dependence, summed over the
      // point's samples: their weights add up to loss_scale.
      dlv[j] -= loss_scale * 0.5f;
    } else {
      dmu[j] += loss_scale * mu[j];                          // d KL / d mu
      dlv[j] += loss_scale * 0.5f * (sigma * sigma - 1.f);   // d KL / d lv
    }
  }
}

}  // namespace

void reparameterize(const float* mu, const float* lv, const float* eps, float* z, int64_t J) {
  reparameterize_loop(mu, lv, eps, z, J);
}

double log_q_minus_log_p(const float* z, const float* eps, const float* lv, int64_t J) {
  return log_ratio_loop(z, eps, lv, J);
}

double kl_normal_std(const float* mu, const float* lv, int64_t J) { return kl_loop(mu, lv, J); }

void reparameterize_grad(const float* mu, const float* lv, const float* dz, const float* z, const float* eps,
                         const float* w, int64_t L, int64_t J, bool sampled_kl, float loss_scale, float* dmu,
                         float* dlv) {
  grad_loop(mu, lv, dz, z, eps, w, L, J, sampled_kl, loss_scale, dmu, dlv);
}

}  // namespace aevb
