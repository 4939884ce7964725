// aevb-eval's options (Boost.Program_options), checked before any file is read.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "aevb/cli/option_rules.hpp"

namespace aevb {

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
  std::string out_path = "results.h5";
  bool force = false;  // replace an existing results file
};

// "1,10,100" -> {1, 10, 100}; usage_error unless a strictly increasing list of
// integers >= 1.
std::vector<int64_t> parse_k_list(const std::string& text);

// The allowed values of aevb-eval's options (docs/options.md).
const OptionRules& eval_option_rules();

// Returns false when --help was asked for (printed if print_help). usage_error
// (exit 2) on any bad option.
bool parse_eval_config(int argc, char** argv, EvalConfig& c, bool print_help);

}  // namespace aevb
