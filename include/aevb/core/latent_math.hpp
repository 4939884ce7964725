// The per-latent loops of SGVB (core/sgvb.cpp): the reparameterization, its
// gradient and the Gaussian log-density terms, J values a sample. Compiled for
// several ISAs (base/simd.hpp) with libmvec's vector exp (base/vector_math.hpp):
// as scalar loops with libm calls they were about 7 % of a training step at J = 50.
#pragma once
#include <cstdint>

namespace aevb {

// z = mu + exp(lv / 2) * eps, J values.
void reparameterize(const float* mu, const float* lv, const float* eps, float* z, int64_t J);

// Closed-form KL(N(mu, diag(exp(lv))) || N(0, I)) for one point, summed in double.
double kl_normal_std(const float* mu, const float* lv, int64_t J);

// 0.5 * sum_j (z_j^2 - eps_j^2 - lv_j) = log q(z|x) - log p(z) of one sample.
double log_q_minus_log_p(const float* z, const float* eps, const float* lv, int64_t J);

// One point's dL/dmu and dL/dlv from its L samples' dL/dz (L x J):
//   g_lj = dz_lj + (sampled_kl ? w_l z_lj : 0),
//   dmu_j = sum_l g_lj,  dlv_j = sum_l g_lj eps_lj * sigma_j / 2,
// plus the KL term's own derivatives with weight loss_scale: analytic
// (estimator B: mu_j and (sigma_j^2 - 1) / 2) or sampled (estimator A: -1/2 per lv_j).
void reparameterize_grad(const float* mu, const float* lv, const float* dz, const float* z, const float* eps,
                         const float* w, int64_t L, int64_t J, bool sampled_kl, float loss_scale, float* dmu,
                         float* dlv);

}  // namespace aevb
