// AEVB's Appendix D marginal-likelihood estimator: core/mcmc_estimators.hpp.
#include <algorithm>
#include <cmath>
#include <limits>

#include "aevb/base/rng.hpp"
#include "aevb/core/gaussian_mixture.hpp"
#include "aevb/core/importance_sampling.hpp"
#include "aevb/core/mcmc_estimators.hpp"

namespace aevb {

ReciprocalEstimator::ReciprocalEstimator(Vae& model, const ReciprocalConfig& cfg, int64_t points_per_group)
    : m_(model), cfg_(cfg), hmc_(model, points_per_group, cfg.chains, cfg.leapfrog, cfg.seed) {
  const int64_t G = points_per_group, J = model.spec().latent;
  xg_.assign(static_cast<size_t>(G * model.spec().x_dim), 0.f);
  enc_mu_.assign(static_cast<size_t>(G * J), 0.f);
  enc_lv_.assign(static_cast<size_t>(G * J), 0.f);
}

void ReciprocalEstimator::run(const float* x, const int64_t* index, int64_t n, ReciprocalPoint* out) {
  const int64_t G = points_per_group(), D = m_.spec().x_dim;
  for (int64_t b = 0; b < n; b += G) run_group(x + b * D, index + b, std::min(G, n - b), out + b);
}

// Starting states spread over the posterior's modes in proportion to their
// mass: a short AIS run from the prior (anneal_steps distributions, the same
// HMC transitions), then each point's C chains drawn from its C final states
// with probability proportional to their AIS weights (multinomial resampling,
// uniforms keyed (seed, kMcmcStart, 1, index, chain)). The burn-in that follows
// at beta = 1 forgets what the resampling leaves of the annealing's bias.
void ReciprocalEstimator::anneal_from_prior(const int64_t* index, int64_t n, float* step, uint64_t& key) {
  const int64_t G = points_per_group(), C = cfg_.chains, R = G * C, J = m_.spec().latent;
  hmc_.set_points(xg_.data(), index, n, nullptr, nullptr);
  hmc_.start(nullptr);
  const std::vector<double> beta = ais_schedule(AisSchedule::kSigmoid, cfg_.anneal_steps);
  std::vector<double> logw(static_cast<size_t>(R), 0.0), rate(static_cast<size_t>(G));
  std::vector<uint8_t> accepted(static_cast<size_t>(R));
  for (int64_t t = 1; t <= cfg_.anneal_steps; ++t) {
    const double dbeta = beta[static_cast<size_t>(t)] - beta[static_cast<size_t>(t - 1)];
    for (int64_t r = 0; r < R; ++r) logw[static_cast<size_t>(r)] += dbeta * (hmc_.log_joint()[r] - hmc_.log_init()[r]);
    hmc_.transition(beta[static_cast<size_t>(t)], step, key++, accepted.data());
    adapt_step_sizes(accepted.data(), G, C, cfg_.target_accept, step, rate.data());
  }
  std::vector<float> z0(static_cast<size_t>(R * J));
  for (int64_t i = 0; i < G; ++i) {
    const double* w = logw.data() + i * C;
    const double mx = *std::max_element(w, w + C);
    std::vector<double> cdf(static_cast<size_t>(C));
    double total = 0;
    for (int64_t c = 0; c < C; ++c) cdf[static_cast<size_t>(c)] = total += std::exp(w[c] - mx);
    for (int64_t c = 0; c < C; ++c) {
      float u = 0;
      uniforms({cfg_.seed, Purpose::kMcmcStart, 1, i < n ? static_cast<uint64_t>(index[i]) : 0, static_cast<uint32_t>(c)},
               &u, 1);
      const auto pick = std::lower_bound(cdf.begin(), cdf.end(), double(u) * total) - cdf.begin();
      const int64_t src = i * C + std::min<int64_t>(pick, C - 1);
      std::copy(hmc_.z() + src * J, hmc_.z() + (src + 1) * J, z0.begin() + (i * C + c) * J);
    }
  }
  hmc_.start(z0.data());
}

void ReciprocalEstimator::run_group(const float* x, const int64_t* index, int64_t n, ReciprocalPoint* out) {
  const int64_t G = points_per_group(), C = cfg_.chains, R = G * C, J = m_.spec().latent, D = m_.spec().x_dim;
  const int64_t S = (cfg_.samples + C - 1) / C;  // kept states per chain, in each of the two phases
  std::copy(x, x + n * D, xg_.begin());
  std::fill(xg_.begin() + n * D, xg_.end(), 0.f);
  const float* enc = m_.encoder.forward(xg_.data(), G);
  for (int64_t i = 0; i < G; ++i) {
    std::copy(enc + i * 2 * J, enc + i * 2 * J + J, enc_mu_.begin() + i * J);
    std::copy(enc + i * 2 * J + J, enc + (i + 1) * 2 * J, enc_lv_.begin() + i * J);
  }
  std::vector<float> step(static_cast<size_t>(G), cfg_.initial_step);
  std::vector<uint8_t> accepted(static_cast<size_t>(R));
  std::vector<double> rate(static_cast<size_t>(G)), acc(static_cast<size_t>(G), 0.0);
  uint64_t key = 0;  // transition number: the HMC noise key
  if (cfg_.start == McmcStart::kPosterior) {
    // Chains start at z ~ q(z|x): near the posterior, so burn-in is short, but
    // they stay in the mode q(z|x) covers.
    hmc_.set_points(xg_.data(), index, n, enc_mu_.data(), enc_lv_.data());
    hmc_.start(nullptr);
  } else {
    anneal_from_prior(index, n, step.data(), key);
  }
  for (int64_t b = 0; b < cfg_.burn_in; ++b) {
    hmc_.transition(1.0, step.data(), key++, accepted.data());
    adapt_step_sizes(accepted.data(), G, C, cfg_.target_accept, step.data(), rate.data());
  }
  // The step sizes are fixed from here: adaptation would break detailed balance.
  std::vector<double> zs(static_cast<size_t>(G * C * S * J));  // point-major: point i's C*S states
  std::vector<double> log_joint(static_cast<size_t>(G * C * S));
  auto sample_phase = [&] {
    for (int64_t s = 0; s < S; ++s) {
      for (int64_t th = 0; th < cfg_.thin; ++th) {
        hmc_.transition(1.0, step.data(), key++, accepted.data());
        for (int64_t r = 0; r < R; ++r) acc[static_cast<size_t>(r / C)] += accepted[static_cast<size_t>(r)];
      }
      for (int64_t r = 0; r < R; ++r) {
        const int64_t i = r / C, c = r % C, k = (i * C + c) * S + s;
        for (int64_t j = 0; j < J; ++j) zs[static_cast<size_t>(k * J + j)] = hmc_.z()[r * J + j];
        log_joint[static_cast<size_t>(k)] = hmc_.log_joint()[r];
      }
    }
  };
  sample_phase();  // for the fit
  std::vector<GaussianMixture> q(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const uint64_t seed = cfg_.seed * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(index[i]);
    q[static_cast<size_t>(i)] = fit_gaussian_mixture(zs.data() + i * C * S * J, C * S, J, cfg_.components, seed);
    q[static_cast<size_t>(i)].scale_covariances(cfg_.shrink);
  }
  sample_phase();  // fresh samples for the estimate
  const double transitions = static_cast<double>(2 * S * cfg_.thin * C);
  std::vector<double> log_r(static_cast<size_t>(C * S)), chain(static_cast<size_t>(C));
  for (int64_t i = 0; i < n; ++i) {
    // log r_l = log q(z_l) - log p(z_l) - log p(x|z_l); p^(x) = 1 / mean(r).
    const GaussianMixture& qi = q[static_cast<size_t>(i)];
    for (int64_t k = 0; k < C * S; ++k)
      log_r[static_cast<size_t>(k)] = qi.log_density(zs.data() + (i * C * S + k) * J) -
                                      log_joint[static_cast<size_t>(i * C * S + k)];
    const LogMeanExp all = log_mean_exp(log_r.data(), C * S);
    // Each chain's own estimate of log mean(r): their spread is the standard
    // error (consecutive states of a chain are correlated; the chains are not).
    // Every chain holds S states, so the chains' mean is the overall mean.
    for (int64_t c = 0; c < C; ++c) chain[static_cast<size_t>(c)] = log_mean_exp(log_r.data() + c * S, S).value;
    const double se = log_mean_exp(chain.data(), C).se;
    double s1 = 0, s2 = 0;
    const double mx = *std::max_element(log_r.begin(), log_r.end());
    for (double v : log_r) s1 += std::exp(v - mx), s2 += std::exp(2 * (v - mx));
    ReciprocalPoint& o = out[i];
    o.log_px = -all.value;
    o.se = se;  // of log mean(r), and so of log p^ = -log mean(r)
    o.ess = std::isfinite(mx) ? s1 * s1 / s2 : 0.0;
    o.accept = acc[static_cast<size_t>(i)] / transitions;
    o.components = qi.components();
  }
}

}  // namespace aevb
