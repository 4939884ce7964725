// aevb-eval's options (Boost.Program_options), checked before any file is read.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "aevb/cli/option_rules.hpp"

namespace aevb {

// The MCMC estimators' settings (core/mcmc_estimators.hpp; docs/estimators.md).
struct McmcOptions {
  int64_t group = 16;           // points per MCMC batch (each with its chains): one decoder call per leapfrog step
  int64_t leapfrog = 10;        // leapfrog steps per HMC transition (AIS and the reciprocal estimator)
  int64_t ais_steps = 1000;     // T
  int64_t ais_chains = 16;      // C
  std::string ais_schedule = "sigmoid";  // sigmoid | linear
  std::string ais_start = "posterior";   // posterior (q(z|x)) | prior
  double ais_target_accept = 0.65;
  int64_t hmc_chains = 10, hmc_burn_in = 200, hmc_samples = 1000, hmc_thin = 2;
  double hmc_target_accept = 0.9;
  std::string hmc_start = "annealed";  // annealed (AIS from the prior, resampled by weight) | posterior (q(z|x))
  int64_t hmc_anneal_steps = 200;
  int64_t mixture_components = 3;
  double mixture_shrink = 0.8;
  bool hmc_any_latent = false;  // allow the reciprocal estimator for J > 5 (warned)
  int64_t quadrature_points = 64;  // per dimension
  double quadrature_width = 10;    // the box: mu_q +- width sigma_q
};

struct EvalConfig {
  std::string model_path, data_dir, split = "test";
  std::string k_text = "1,10,100,1000,5000";
  std::vector<int64_t> ks;  // parsed k_text: strictly increasing, >= 1
  uint64_t seed = 1234;           // importance-sampling, prior-sampling and ELBO noise
  std::string binarize = "auto";  // auto | dynamic | none
  uint64_t binarize_seed = 1234;  // the trainer's --eval-seed: same binarized test set
  int elbo_samples = 1;
  int64_t prior_samples = 0;
  int64_t theta_samples = 0;  // Bayesian models: S samples of theta for the predictive log E_q p_theta(x)
  int64_t max_points = -1;
  int64_t chunk_rows = 2000;
  std::string memory_budget = "1GiB";  // per rank, for the points' rows (cli/options.hpp parse_byte_size)
  int threads = 1;
  double progress_every = 10;  // seconds between progress lines on stderr; 0 = none
  double watchdog_seconds = 1800;  // a block without progress this long ends the job; 0 = off
  // Estimators: a subset of is, ais, bdmc, hmc, quadrature (parsed estimator_text).
  std::string estimator_text = "is";
  std::vector<std::string> estimators;
  bool uses(const std::string& e) const;
  McmcOptions mcmc;
  int64_t simulate = 0;  // > 0: evaluate this many points simulated from the model instead of --data
  std::string out_path = "results.h5";
  bool force = false;  // replace an existing results file
};

// "1,10,100" -> {1, 10, 100}; usage_error unless a strictly increasing list of
// integers >= 1.
std::vector<int64_t> parse_k_list(const std::string& text);

// "is,ais" -> {"is", "ais"}; usage_error for an unknown or repeated name or an empty list.
std::vector<std::string> parse_estimator_list(const std::string& text);

// The allowed values of aevb-eval's options (docs/options.md).
const OptionRules& eval_option_rules();

// Returns false when --help was asked for (printed if print_help). usage_error
// (exit 2) on any bad option.
bool parse_eval_config(int argc, char** argv, EvalConfig& c, bool print_help);

}  // namespace aevb
