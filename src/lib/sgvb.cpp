#include "aevb/sgvb.hpp"

#include <cmath>

#include "aevb/error.hpp"

namespace aevb {

Estimator parse_estimator(const std::string& s) {
  if (s == "A" || s == "a") return Estimator::kA;
  if (s == "B" || s == "b") return Estimator::kB;
  throw usage_error("--estimator: unknown estimator '" + s + "', expected A (generic) or B (analytic KL)");
}

double kl_normal_std(const float* mu, const float* lv, int64_t J) {
  double kl = 0;
  for (int64_t j = 0; j < J; ++j) kl += 0.5 * (double(mu[j]) * mu[j] + std::exp(double(lv[j])) - 1.0 - lv[j]);
  return kl;
}

Sgvb::Sgvb(Vae& model, Estimator est, int samples) : m_(model), est_(est), L_(samples), lik_(model.spec()) {
  if (samples < 1) throw usage_error("--samples: L must be >= 1");
}

ElboSums Sgvb::run(const float* x, const int64_t* index, int64_t rows, const SgvbNoise& noise, bool backward,
                   float grad_scale, double* per_point, const DecoderDoneHook& after_decoder_backward) {
  const int64_t J = m_.spec().latent, L = L_, R = rows * L;
  ElboSums sums;
  sums.points = rows;
  if (rows == 0) {
    // A rank with no rows this step still contributes (zero) gradients to the allreduce.
    if (backward) {
      std::fill(m_.grads.begin(), m_.grads.begin() + m_.num_params(), 0.f);
      if (after_decoder_backward) after_decoder_backward(sums);
    }
    return sums;
  }
  eps_.resize(static_cast<size_t>(R * J));
  z_.resize(static_cast<size_t>(R * J));
  ll_.resize(static_cast<size_t>(R));

  // Encoder: [mu | log sigma^2] per point.
  const float* enc = m_.encoder.forward(x, rows);

  // Reparameterize: z = mu + sigma * eps, eps keyed by the point's global index.
  for (int64_t i = 0; i < rows; ++i) {
    const float* mu = enc + i * 2 * J;
    const float* lv = mu + J;
    for (int64_t l = 0; l < L; ++l) {
      float* e = eps_.data() + (i * L + l) * J;
      float* z = z_.data() + (i * L + l) * J;
      normals({noise.seed, noise.purpose, noise.step, static_cast<uint64_t>(index[i]), static_cast<uint32_t>(l)}, e, J);
      for (int64_t j = 0; j < J; ++j) z[j] = mu[j] + std::exp(0.5f * lv[j]) * e[j];
    }
  }

  // Decoder and log p(x|z); the loss gradient wrt the decoder output has weight
  // grad_scale / L per sample.
  float* dec = m_.decoder.forward(z_.data(), R);
  const float coef = grad_scale / static_cast<float>(L);
  if (backward) ddec_.resize(static_cast<size_t>(R * m_.decoder.out_dim()));
  lik_.evaluate(x, L, dec, R, ll_.data(), backward ? ddec_.data() : nullptr, coef);

  // Per-point estimate.
  for (int64_t i = 0; i < rows; ++i) {
    const float* mu = enc + i * 2 * J;
    const float* lv = mu + J;
    double rec = 0;
    for (int64_t l = 0; l < L; ++l) rec += ll_[static_cast<size_t>(i * L + l)];
    rec /= static_cast<double>(L);
    double kl = 0;
    if (est_ == Estimator::kB) {
      kl = kl_normal_std(mu, lv, J);
    } else {
      // log q(z|x) - log p(z) = 0.5 sum_j (z^2 - eps^2 - lv), averaged over samples.
      for (int64_t l = 0; l < L; ++l) {
        const float* e = eps_.data() + (i * L + l) * J;
        const float* z = z_.data() + (i * L + l) * J;
        for (int64_t j = 0; j < J; ++j) kl += 0.5 * (double(z[j]) * z[j] - double(e[j]) * e[j] - lv[j]);
      }
      kl /= static_cast<double>(L);
    }
    sums.rec += rec;
    sums.kl += kl;
    sums.elbo += rec - kl;
    if (per_point) {
      per_point[3 * i] = rec - kl;
      per_point[3 * i + 1] = rec;
      per_point[3 * i + 2] = kl;
    }
  }
  if (!backward) return sums;

  // Backward through the decoder to dL/dz (rows*L x J), decoder gradients written.
  const float* dz = m_.decoder.backward(ddec_.data(), R, /*need_dx=*/true);
  if (after_decoder_backward) after_decoder_backward(sums);

  // Through the reparameterization and the KL term to dL/d[mu | lv].
  denc_.resize(static_cast<size_t>(rows * 2 * J));
  for (int64_t i = 0; i < rows; ++i) {
    const float* mu = enc + i * 2 * J;
    const float* lv = mu + J;
    float* dmu = denc_.data() + i * 2 * J;
    float* dlv = dmu + J;
    for (int64_t j = 0; j < J; ++j) {
      const float sigma = std::exp(0.5f * lv[j]);
      float gmu = 0.f, glv = 0.f;
      for (int64_t l = 0; l < L; ++l) {
        const int64_t r = (i * L + l) * J + j;
        // Estimator A: the sampled -log p(z) term adds z/L to dL/dz.
        const float g = dz[r] + (est_ == Estimator::kA ? coef * z_[static_cast<size_t>(r)] : 0.f);
        gmu += g;
        glv += g * eps_[static_cast<size_t>(r)] * 0.5f * sigma;
      }
      if (est_ == Estimator::kB) {
        gmu += grad_scale * mu[j];                            // d KL / d mu
        glv += grad_scale * 0.5f * (std::exp(lv[j]) - 1.f);   // d KL / d lv
      } else {
        glv -= grad_scale * 0.5f;  // the sampled log q(z|x) term's explicit lv dependence
      }
      dmu[j] = gmu;
      dlv[j] = glv;
    }
  }
  m_.encoder.backward(denc_.data(), rows, /*need_dx=*/false);
  return sums;
}

}  // namespace aevb
