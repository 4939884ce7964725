// aevb-infer's command line: one subcommand (encode, sample, reconstruct,
// manifold, interpolate, inpaint, denoise) and its options. Every option is
// range-checked (infer_option_rules(), docs/options.md).
#pragma once
#include <cstdint>
#include <string>

#include "aevb/cli/option_rules.hpp"

namespace aevb {

struct InferConfig {
  std::string command;
  // Inputs
  std::string model_path, data_dir, split = "test", binarize = "auto";
  uint64_t binarize_seed = 1234;  // aevb-train's --eval-seed: the same binarized test set as aevb-eval
  int64_t points = -1;            // rows of the split used (-1 = the subcommand's default)
  uint64_t seed = 1;
  int threads = 1;
  std::string out;
  bool force = false;
  int64_t cols = 0;  // tiles per grid row (0 = the subcommand's default)
  // encode
  int64_t z_samples = 0, shard_rows = 65536, chunk_rows = 256;
  // sample
  bool binary = false;
  // reconstruct
  int64_t rec_samples = 10;
  // manifold
  int64_t grid = 20;
  std::string dims_text = "0,1";
  int64_t dim_a = 0, dim_b = 1;
  // interpolate
  int64_t steps = 10;
  bool spherical = false;
  // inpaint
  std::string mask = "bottom", sampler = "both", baseline_split = "train";
  double missing_fraction = 0.5;
  int64_t iterations = 1000, burn_in = 100, is_samples = 1000, group = 16, baseline_rows = -1;
  // denoise
  double noise = 0.1;
  int64_t denoise_samples = 1000;
};

const OptionRules& infer_option_rules();

// Parses argv (argv[1] is the subcommand); false after --help / --version.
// usage_error on a bad command line.
bool parse_infer_config(int argc, char** argv, InferConfig& c, bool print_help);

}  // namespace aevb
