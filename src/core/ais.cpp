// Annealed importance sampling and its reverse (BDMC): core/mcmc_estimators.hpp.
#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>

#include "aevb/core/importance_sampling.hpp"
#include "aevb/core/mcmc_estimators.hpp"

namespace aevb {

std::vector<double> ais_schedule(AisSchedule schedule, int64_t T) {
  assert(T >= 1);
  std::vector<double> beta(static_cast<size_t>(T + 1));
  const double delta = 4.0;
  auto sig = [&](double t) { return 1.0 / (1.0 + std::exp(-delta * (2.0 * t / static_cast<double>(T) - 1.0))); };
  const double lo = sig(0), hi = sig(static_cast<double>(T));
  for (int64_t t = 0; t <= T; ++t)
    beta[static_cast<size_t>(t)] = schedule == AisSchedule::kLinear ? static_cast<double>(t) / static_cast<double>(T)
                                                                    : (sig(static_cast<double>(t)) - lo) / (hi - lo);
  beta.front() = 0.0, beta.back() = 1.0;  // exactly, whatever the rounding
  return beta;
}

AisSampler::AisSampler(Vae& model, const AisConfig& cfg, int64_t points_per_group)
    : m_(model),
      cfg_(cfg),
      beta_(ais_schedule(cfg.schedule, cfg.steps)),
      hmc_(model, points_per_group, cfg.chains, cfg.leapfrog, cfg.seed) {
  const int64_t G = points_per_group, J = model.spec().latent;
  xg_.assign(static_cast<size_t>(G * model.spec().x_dim), 0.f);
  enc_mu_.assign(static_cast<size_t>(G * J), 0.f);
  enc_lv_.assign(static_cast<size_t>(G * J), 0.f);
  steps_.assign(static_cast<size_t>((cfg.steps + 1) * G), 0.f);
}

void AisSampler::run(const float* x, const int64_t* index, int64_t n, const float* z_exact, AisPoint* out) {
  const int64_t G = points_per_group(), D = m_.spec().x_dim, J = m_.spec().latent;
  for (int64_t b = 0; b < n; b += G)
    run_group(x + b * D, index + b, std::min(G, n - b), z_exact ? z_exact + b * J : nullptr, out + b);
}

void AisSampler::run_group(const float* x, const int64_t* index, int64_t n, const float* z_exact, AisPoint* out) {
  const int64_t G = points_per_group(), C = cfg_.chains, R = G * C, J = m_.spec().latent, D = m_.spec().x_dim;
  const int64_t T = cfg_.steps;
  std::copy(x, x + n * D, xg_.begin());
  std::fill(xg_.begin() + n * D, xg_.end(), 0.f);
  const bool posterior = cfg_.start == McmcStart::kPosterior;
  if (posterior) {
    const float* enc = m_.encoder.forward(xg_.data(), G);  // [mu | log sigma^2] per point
    for (int64_t i = 0; i < G; ++i) {
      std::copy(enc + i * 2 * J, enc + i * 2 * J + J, enc_mu_.begin() + i * J);
      std::copy(enc + i * 2 * J + J, enc + (i + 1) * 2 * J, enc_lv_.begin() + i * J);
    }
  }
  hmc_.set_points(xg_.data(), index, n, posterior ? enc_mu_.data() : nullptr, enc_lv_.data());
  std::vector<double> logw(static_cast<size_t>(R)), rate(static_cast<size_t>(G)), acc(static_cast<size_t>(G), 0.0);
  std::vector<float> step(static_cast<size_t>(G), cfg_.initial_step);
  std::vector<uint8_t> accepted(static_cast<size_t>(R));
  // w = prod_t f_t(z_t) / f_{t-1}(z_t): the increment at z before the
  // transition that leaves f_t invariant (none after the last one, f_T).
  auto add_increment = [&](std::vector<double>& w, double dbeta) {
    for (int64_t r = 0; r < R; ++r)
      w[static_cast<size_t>(r)] += dbeta * (hmc_.log_joint()[r] - hmc_.log_init()[r]);
  };
  hmc_.start(nullptr);
  for (int64_t t = 1; t <= T; ++t) {
    add_increment(logw, beta_[static_cast<size_t>(t)] - beta_[static_cast<size_t>(t - 1)]);
    if (t == T) break;
    std::copy(step.begin(), step.end(), steps_.begin() + t * G);
    hmc_.transition(beta_[static_cast<size_t>(t)], step.data(), static_cast<uint64_t>(t), accepted.data());
    adapt_step_sizes(accepted.data(), G, C, cfg_.target_accept, step.data(), rate.data());
    for (int64_t i = 0; i < G; ++i) acc[static_cast<size_t>(i)] += rate[static_cast<size_t>(i)];
  }
  for (int64_t i = 0; i < n; ++i) {
    const LogMeanExp e = log_mean_exp(logw.data() + i * C, C);
    out[i].log_px = e.value;
    out[i].se = e.se;
    out[i].accept = T > 1 ? acc[static_cast<size_t>(i)] / static_cast<double>(T - 1) : 0.0;
    out[i].log_px_upper = out[i].se_upper = std::numeric_limits<double>::quiet_NaN();
  }
  if (!z_exact) return;

  // Reverse: from the exact posterior sample down to q0, through the same
  // distributions with the forward run's step sizes (keys T + t: new noise).
  std::vector<float> z0(static_cast<size_t>(R * J), 0.f);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t c = 0; c < C; ++c) std::copy(z_exact + i * J, z_exact + (i + 1) * J, z0.begin() + (i * C + c) * J);
  hmc_.start(z0.data());
  std::fill(logw.begin(), logw.end(), 0.0);
  for (int64_t t = T; t >= 1; --t) {
    add_increment(logw, beta_[static_cast<size_t>(t - 1)] - beta_[static_cast<size_t>(t)]);
    if (t - 1 == 0) break;
    hmc_.transition(beta_[static_cast<size_t>(t - 1)], steps_.data() + (t - 1) * G, static_cast<uint64_t>(T + t),
                    accepted.data());
  }
  for (int64_t i = 0; i < n; ++i) {
    const LogMeanExp e = log_mean_exp(logw.data() + i * C, C);  // estimates log 1/p(x)
    out[i].log_px_upper = -e.value;
    out[i].se_upper = e.se;
  }
}

}  // namespace aevb
