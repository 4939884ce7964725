// aevb-eval's estimators of log p(x) beyond importance sampling, for a batch of
// points at a time (VAE math only: no MPI, no files).
//
//  - AisSampler: annealed importance sampling (Neal 2001) along the geometric
//    path from q0 (q(z|x) or the prior) to p(z) p(x|z) with HMC transitions, as
//    Wu, Burda, Salakhutdinov & Grosse (2017) evaluate decoders: a stochastic
//    LOWER bound, log of the mean of the C chains' weights. Given an exact
//    posterior sample (data simulated from the model), the same path run
//    backwards from it gives a stochastic UPPER bound: bidirectional Monte Carlo
//    (Grosse, Ghahramani & Adams 2015).
//  - ReciprocalEstimator: AEVB's Appendix D. HMC samples of p(z|x), a mixture
//    of Gaussians q(z) fitted to them by EM, its covariances shrunk, and then on
//    fresh posterior samples  p^(x) = [1/L sum_l q(z_l) / (p(z_l) p(x|z_l))]^-1.
//    With exact posterior samples E[log p^] >= log p(x): a stochastic upper
//    bound, the opposite side from importance sampling with q(z|x).
//  - QuadratureEstimator: log p(x) by the midpoint rule on a grid around q(z|x),
//    for J <= 3: exact up to the grid (the reference the others are checked on).
//
// Every random number is keyed by (seed, purpose, transition, global point
// index, chain) and step sizes adapt per point, so a point's result depends
// neither on the rank count nor on the other points of its batch.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "aevb/core/hmc.hpp"
#include "aevb/core/vae.hpp"

namespace aevb {

enum class AisSchedule { kSigmoid, kLinear };
enum class McmcStart { kPosterior, kPrior };  // q0 = q(z|x) or p(z)

// beta_0 = 0 < beta_1 < ... < beta_T = 1. Sigmoid: Grosse et al.'s
// sigma(delta (2t/T - 1)) with delta = 4, rescaled to [0, 1]: small steps at
// both ends, where the weights' variance comes from.
std::vector<double> ais_schedule(AisSchedule schedule, int64_t T);

struct AisConfig {
  int64_t steps = 1000;  // T intermediate distributions
  int64_t chains = 16;   // C independent chains per point
  int64_t leapfrog = 10;
  AisSchedule schedule = AisSchedule::kSigmoid;
  McmcStart start = McmcStart::kPosterior;
  double target_accept = 0.65;  // per-point step-size adaptation (adapt_step_sizes)
  float initial_step = 0.05f;
  uint64_t seed = 1234;
};

struct AisPoint {
  double log_px = 0, se = 0;  // log 1/C sum_c w_c and its delta-method standard error
  double accept = 0;          // HMC acceptance rate over all transitions and chains
  // Reverse AIS from an exact posterior sample (BDMC), when one was given:
  // -log 1/C sum_c w'_c, a stochastic upper bound; NaN otherwise.
  double log_px_upper = 0, se_upper = 0;
};

class AisSampler {
 public:
  AisSampler(Vae& model, const AisConfig& cfg, int64_t points_per_group);
  int64_t points_per_group() const { return hmc_.points(); }
  // x: n points (n x D, any n; processed in groups of points_per_group(), the
  // last one padded), their global indices; z_exact (n x J) or nullptr.
  void run(const float* x, const int64_t* index, int64_t n, const float* z_exact, AisPoint* out);
  int64_t decoder_rows() const { return hmc_.decoder_rows(); }

 private:
  void run_group(const float* x, const int64_t* index, int64_t n, const float* z_exact, AisPoint* out);
  Vae& m_;
  AisConfig cfg_;
  std::vector<double> beta_;
  HmcChains hmc_;
  FloatBuffer xg_, enc_mu_, enc_lv_;
  std::vector<float> steps_;  // T x points: the forward run's step sizes, reused by the reverse run
};

struct ReciprocalConfig {
  int64_t chains = 10;
  int64_t burn_in = 200;    // transitions, adapting the step size towards target_accept
  int64_t samples = 1000;   // L posterior samples for the fit, and L fresh ones for the estimate
  int64_t thin = 2;         // keep every thin-th state of a chain
  int64_t leapfrog = 10;
  double target_accept = 0.9;  // AEVB Appendix E
  float initial_step = 0.05f;
  int64_t components = 3;   // of the mixture fitted by EM
  double shrink = 0.8;      // its covariances times this: lighter tails than the posterior
  // kPrior (default): chains start at states of a short AIS run from the prior
  // (anneal_steps), resampled by weight: every mode in proportion to its mass.
  // kPosterior: at z ~ q(z|x), quicker, but only in the mode q(z|x) covers.
  McmcStart start = McmcStart::kPrior;
  int64_t anneal_steps = 200;
  uint64_t seed = 1234;
};

struct ReciprocalPoint {
  double log_px = 0, se = 0;  // se from the spread of the chains' own estimates (autocorrelation included)
  double accept = 0;          // HMC acceptance rate after burn-in
  double ess = 0;             // effective sample size of the reciprocal weights, (sum r)^2 / sum r^2
  int64_t components = 0;     // of the fitted mixture (collapsed ones removed)
};

class ReciprocalEstimator {
 public:
  ReciprocalEstimator(Vae& model, const ReciprocalConfig& cfg, int64_t points_per_group);
  int64_t points_per_group() const { return hmc_.points(); }
  void run(const float* x, const int64_t* index, int64_t n, ReciprocalPoint* out);
  int64_t decoder_rows() const { return hmc_.decoder_rows(); }

 private:
  void run_group(const float* x, const int64_t* index, int64_t n, ReciprocalPoint* out);
  void anneal_from_prior(const int64_t* index, int64_t n, float* step, uint64_t& key);
  Vae& m_;
  ReciprocalConfig cfg_;
  HmcChains hmc_;
  FloatBuffer xg_, enc_mu_, enc_lv_;
};

struct QuadratureConfig {
  int64_t points_per_dim = 64;  // grid of points_per_dim^J midpoints
  double width = 10;            // the box: mu_q +- width * sigma_q per dimension
  int64_t chunk_rows = 4096;    // decoder rows per call
};

struct QuadraturePoint {
  double log_px = 0;
  double edge_fraction = 0;  // of the integral in the grid's outermost cells: near 0 when the box holds the mass
  // |log p^ - the same rule on the grid shifted by half a cell|: near 0 when the grid resolves the posterior
  double resolution = 0;
};

class QuadratureEstimator {
 public:
  QuadratureEstimator(Vae& model, const QuadratureConfig& cfg);  // needs latent <= 3
  void run(const float* x, int64_t n, QuadraturePoint* out);
  int64_t decoder_rows() const { return decoder_rows_; }

 private:
  Vae& m_;
  QuadratureConfig cfg_;
  int64_t decoder_rows_ = 0;
};

// Points simulated from the model (BDMC's data, aevb-eval --simulate): for each
// global index, z ~ p(z) keyed (seed, kSimulate, 0, index) and x ~ p(x|z)
// keyed (seed, kSimulate, 1, index) (Bernoulli draws, or mean + sigma * noise).
// One decoder call per point, so a point does not depend on the others.
// x: n x D, z: n x J.
void simulate_from_model(Vae& m, uint64_t seed, const int64_t* index, int64_t n, float* x, float* z);

}  // namespace aevb
