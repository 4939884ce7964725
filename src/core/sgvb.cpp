#include "aevb/core/sgvb.hpp"

#include <algorithm>
#include <cmath>

#include "aevb/base/error.hpp"
#include "aevb/core/importance_sampling.hpp"  // LogSumExp
#include "aevb/core/latent_math.hpp"
#include "aevb/core/parallel.hpp"

namespace aevb {

Estimator parse_estimator(const std::string& s) {
  if (s == "A" || s == "a") return Estimator::kA;
  if (s == "B" || s == "b") return Estimator::kB;
  throw usage_error("--estimator: unknown estimator '" + s + "', expected A (generic) or B (analytic KL)");
}

Objective parse_objective(const std::string& s) {
  if (s == "elbo") return Objective::kElbo;
  if (s == "iwae") return Objective::kIwae;
  throw usage_error("--objective: unknown objective '" + s + "', expected elbo or iwae");
}

Sgvb::Sgvb(Vae& model, Estimator est, int samples, Objective objective)
    : m_(model), est_(est), L_(samples), obj_(objective), lik_(model.spec()) {
  if (samples < 1) throw usage_error("--samples: L must be >= 1");
  if (obj_ == Objective::kIwae && est_ != Estimator::kA)
    throw usage_error("--objective iwae: needs estimator A's sampled KL terms, got --estimator B");
}

// Encoder, z = mu + sigma * eps, decoder, log p(x|z) and the per-point terms:
// everything the forward pass of training and evaluation share.
ElboSums Sgvb::sample_and_score(const Batch& b, const SgvbNoise& noise, PointElbo* per_point) {
  const int64_t J = m_.spec().latent, L = L_, R = b.rows * L;
  ElboSums sums;
  sums.points = b.rows;
  batch_ = b;
  if (b.rows == 0) return sums;
  eps_.resize(static_cast<size_t>(R * J));
  z_.resize(static_cast<size_t>(R * J));
  ll_.resize(static_cast<size_t>(R));
  log_w_.resize(static_cast<size_t>(R));

  enc_ = m_.encoder.forward(b.x, b.rows);
  parallel_for(b.rows, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const float* mu = enc_ + i * 2 * J;
      const float* lv = mu + J;
      for (int64_t l = 0; l < L; ++l) {
        float* e = eps_.data() + (i * L + l) * J;
        float* z = z_.data() + (i * L + l) * J;
        normals({noise.seed, noise.purpose, noise.step, static_cast<uint64_t>(b.index[i]), static_cast<uint32_t>(l)},
                e, J);
        reparameterize(mu, lv, e, z, J);
      }
    }
  });
  dec_ = bayes_ ? bayes_->forward(z_.data(), b.rows, L_, b.index, noise.seed, noise.step)
               : m_.decoder.forward(z_.data(), R);
  lik_.log_prob(b.x, L, dec_, R, ll_.data());

  // Each point's terms on the threads, the sums in point order (so they do not
  // depend on --threads).
  point_.resize(static_cast<size_t>(b.rows));
  parallel_for(b.rows, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) point_[static_cast<size_t>(i)] = score_point(i);
  });
  for (int64_t i = 0; i < b.rows; ++i) {
    const PointElbo& p = point_[static_cast<size_t>(i)];
    sums.rec += p.rec;
    sums.kl += p.kl;
    sums.elbo += p.elbo;
    if (per_point) per_point[i] = p;
  }
  return sums;
}

// Point i's reconstruction term, KL term and log weights from the samples of
// sample_and_score.
PointElbo Sgvb::score_point(int64_t i) {
  const int64_t J = m_.spec().latent, L = L_;
  const float* mu = enc_ + i * 2 * J;
  const float* lv = mu + J;
  double rec = 0;
  for (int64_t l = 0; l < L; ++l) rec += ll_[static_cast<size_t>(i * L + l)];
  rec /= static_cast<double>(L);
  double kl = 0;
  // log w = log p(x|z) + log p(z) - log q(z|x) of each sample (estimator A's
  // terms): what an importance-weighted objective weights the samples by.
  for (int64_t l = 0; l < L; ++l) {
    const size_t r = static_cast<size_t>(i * L + l);
    const double log_ratio = log_q_minus_log_p(z_.data() + r * J, eps_.data() + r * J, lv, J);
    log_w_[r] = ll_[r] - log_ratio;
    kl += log_ratio;  // estimator A's KL: log q(z|x) - log p(z), averaged over samples
  }
  kl = est_ == Estimator::kB ? kl_normal_std(mu, lv, J) : kl / static_cast<double>(L);
  if (obj_ == Objective::kIwae && L > 1) {
    // (K = 1 falls through: estimator A's rec - kl, the same number.)
    // log 1/K sum_k exp(log w_k), folded as the evaluator folds its samples.
    LogSumExp acc;
    for (int64_t l = 0; l < L; ++l) acc.add(log_w_[static_cast<size_t>(i * L + l)]);
    return {acc.value() - std::log(static_cast<double>(L)), rec, kl};
  }
  return {rec - kl, rec, kl};
}

// The weight of each sample's terms in the loss. SGVB averages the L samples of
// a point: loss_scale / L each. IWAE: loss_scale times the sample's normalized
// importance weight, softmax over the point's log weights (in double, shifted
// by the largest, so no weight overflows).
void Sgvb::sample_weights(float loss_scale) {
  const int64_t L = L_;
  weight_.assign(static_cast<size_t>(batch_.rows * L), loss_scale / static_cast<float>(L));
  if (obj_ != Objective::kIwae || L == 1) return;
  parallel_for(batch_.rows, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const double* lw = log_w_.data() + i * L;
      const double mx = *std::max_element(lw, lw + L);
      double sum = 0;
      for (int64_t l = 0; l < L; ++l) sum += std::exp(lw[l] - mx);
      for (int64_t l = 0; l < L; ++l)
        weight_[static_cast<size_t>(i * L + l)] = static_cast<float>(loss_scale * std::exp(lw[l] - mx) / sum);
    }
  });
}

void Sgvb::set_sample_weights(const float* w) {
  std::copy(w, w + batch_.rows * L_, weight_.begin());
}

ElboSums Sgvb::forward(const Batch& batch, const SgvbNoise& noise, float loss_scale) {
  const ElboSums sums = sample_and_score(batch, noise, nullptr);
  loss_scale_ = loss_scale;
  sample_weights(loss_scale);
  return sums;
}

ElboSums Sgvb::evaluate(const Batch& batch, const SgvbNoise& noise, PointElbo* per_point) {
  return sample_and_score(batch, noise, per_point);
}

void Sgvb::backward_decoder(bool weights) {
  const int64_t R = batch_.rows * L_;
  if (!weights && bayes_)
    throw usage_error("the activation exchange needs the decoder's own weights, not full VB over them");
  if (R == 0) {
    // A rank with no rows this step still contributes (zero) gradients to the reduction.
    if (weights) std::fill(m_.grads.begin() + m_.decoder_begin(), m_.grads.end(), 0.f);
    dz_.clear();
    return;
  }
  ddec_.resize(static_cast<size_t>(R * m_.decoder.out_dim()));
  lik_.loss_grad(batch_.x, L_, dec_, R, weight_.data(), ddec_.data());
  // dL/dz is copied out of the decoder's workspace: the network may run again
  // (another forward, or rebinding its weights) before backward_encoder().
  const float* dz =
      bayes_ ? bayes_->backward(ddec_.data()) : m_.decoder.backward(ddec_.data(), R, /*need_dx=*/true, weights);
  dz_.assign(dz, dz + R * m_.spec().latent);
}

void Sgvb::backward_encoder(bool weights) {
  const int64_t J = m_.spec().latent, L = L_, rows = batch_.rows;
  if (rows == 0) {
    if (weights) std::fill(m_.grads.begin(), m_.grads.begin() + m_.decoder_begin(), 0.f);
    return;
  }
  // dL/d[mu | lv] through the reparameterization and the KL term.
  denc_.resize(static_cast<size_t>(rows * 2 * J));
  parallel_for(rows, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const float* mu = enc_ + i * 2 * J;
      const size_t r = static_cast<size_t>(i * L * J);
      float* dmu = denc_.data() + i * 2 * J;
      reparameterize_grad(mu, mu + J, dz_.data() + r, z_.data() + r, eps_.data() + r, weight_.data() + i * L, L, J,
                          est_ == Estimator::kA, loss_scale_, dmu, dmu + J);
    }
  });
  m_.encoder.backward(denc_.data(), rows, /*need_dx=*/false, weights);
}

}  // namespace aevb
