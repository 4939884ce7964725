// aevb-train's configuration: every option exists on the command line and in an
// INI config file (--config; the command line wins). The effective configuration
// is printed at start and stored with the outputs (config.ini, model and
// checkpoint files) so a run can be reproduced and a resume can be checked.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "aevb/cli/option_rules.hpp"
#include "aevb/core/optimizer.hpp"
#include "aevb/core/sgvb.hpp"
#include "aevb/core/vae.hpp"
#include "aevb/train/data_order.hpp"

namespace aevb {

struct TrainConfig {
  // data
  std::string data_dir, train_split = "train", test_split = "test";
  std::string valid_split;  // empty: none
  std::string keep_best = "off";  // on: <out>/model_best.h5 holds the model with the best validation bound
  int64_t max_train_rows = -1, max_test_rows = -1;
  std::string binarize = "auto";  // auto | dynamic | none
  std::string shuffle = "global";   // the data order: global | blocks[:B,W] | none (train/data_order.hpp)
  std::string memory_budget = "1GiB"; // per rank, for the training rows (train/train_rows.hpp)
  // model
  ModelSpec model;
  std::string hidden = "500", activation = "tanh", decoder = "bernoulli", gaussian_mean = "sigmoid";
  // full variational Bayes over the decoder's weights (core/bayes_decoder.hpp)
  std::string bayes = "map", bayes_kl = "analytic";
  float bayes_init_std = 1e-3f;
  // estimator
  std::string estimator = "B";
  int samples = 1;
  std::string objective = "elbo";  // elbo | iwae (core/sgvb.hpp)
  int iwae_k = 5;                  // K, importance samples per point of --objective iwae
  int64_t batch = 100;
  // initialization
  std::string init = "normal", output_bias_init = "zero";
  float init_std = 0.01f;
  // optimizer
  OptimizerConfig opt;
  std::string optimizer = "adagrad", lr_schedule = "constant";
  Schedule schedule;
  // training
  int64_t epochs = 50, max_steps = -1;
  uint64_t seed = 1, eval_seed = 1234;
  int64_t eval_every = 1;
  int threads = 1;
  // outputs
  std::string out_dir = "runs/default", metrics_path, model_path;
  double progress_every = 10;  // seconds between progress lines; 0 = off
  // checkpoints, resume and data parallelism
  int64_t checkpoint_every_steps = 0;
  double checkpoint_every_seconds = 0;
  double watchdog_seconds = 1800;  // no progress this long -> end the job naming the rank; 0 = off
  int64_t keep_checkpoints = 3;
  int64_t samples_every = 0;    // epochs between sample grids in <out>/samples/ (0 = none)
  std::string resume = "auto";  // auto | none | <path>
  int64_t check_every = 1000;   // steps between cross-rank parameter hash checks
  std::string reduction = "auto";  // auto | allreduce | gather (train/activation_exchange.hpp)
  std::string overlap = "auto"; // on | off | auto: overlap the decoder allreduce with encoder backward

  // Whether this run's steps exchange activations (on P > 1 ranks: --reduction
  // gather, or auto with a small global batch: train/layout_advice.hpp).
  bool use_gather(int ranks) const;
  // Whether the decoder block's allreduce starts before the encoder's backward
  // (--overlap on). auto is off: on one node Open MPI's non-blocking allreduce
  // progresses only inside MPI calls, so it waits for the encoder anyway, and
  // the step pays for two reductions instead of one (2 ranks at M = 100: 5-15 %
  // fewer samples/s with it, README "Layouts").
  bool overlap_on() const { return overlap == "on"; }

  Estimator estimator_kind() const { return parse_estimator(estimator); }
  Objective objective_kind() const { return parse_objective(objective); }
  WeightKl weight_kl_kind() const { return parse_weight_kl(bayes_kl); }
  // The optimizer's settings: with --bayes full the weight prior enters through
  // KL(q(theta) || p(theta)) instead of the MAP decay (and the encoder's
  // variational parameters have no prior).
  OptimizerConfig optimizer_config() const {
    OptimizerConfig o = opt;
    if (model.bayes) o.prior_precision = 0.f;
    return o;
  }
  // Samples of z per point in the training loss: L for the ELBO, K for IWAE.
  int samples_per_point() const { return objective_kind() == Objective::kIwae ? iwae_k : samples; }
  ShuffleSpec shuffle_spec() const { return ShuffleSpec::parse(shuffle); }
  int64_t memory_budget_bytes() const;  // usage_error naming --memory-budget
  std::string to_ini() const;  // the effective configuration, loadable with --config
};

// Parses argv (and --config FILE). Returns false if --help was given (the help
// text has been printed to stdout). Throws usage_error for anything invalid.
// The allowed values of aevb-train's options (docs/options.md).
const OptionRules& train_option_rules();

bool parse_train_config(int argc, char** argv, TrainConfig& cfg, bool print_help);

}  // namespace aevb
