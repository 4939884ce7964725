// What aevb-report reads from one aevb-train run directory, and where it reads it:
//
//   run_files.cpp    config.ini, metrics.jsonl, pictures/*.png, samples/epoch-*.png
//   run_hdf5.cpp     model.h5, the newest checkpoints/ckpt-*.h5, latents-*/latents.h5, eval*.h5
//   dataset_info.cpp the dataset's manifest.json (config.ini `data = ...`)
//
// Only what makes a directory a run is an error (no metrics.jsonl: exit 2; an
// unreadable metrics line in the middle: exit 3). Everything else is optional
// (a run still training has no model.h5 yet) or reported on the page as a
// warning, so that one damaged file does not hide the rest of the report.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "aevb/io/eval_results.hpp"

namespace aevb::report {

using KeyValues = std::vector<std::pair<std::string, std::string>>;

struct Picture {
  std::string name, path, bytes;  // bytes: the whole PNG file
  int64_t width = 0, height = 0;
  int64_t epoch = -1;             // samples/epoch-NNNNNN.png only
};

// latents-SPLIT/latents.h5 (aevb-infer encode).
struct LatentStats {
  std::string path, split;
  std::vector<double> kl_per_dim, mu_variance;
  int64_t active_units = -1, rows = -1;
  double threshold = 0.01;
};

// One aevb-eval results file, reduced to means and standard errors over its points.
struct EvalSummary {
  std::string path, name, split, created_by, estimators, data_sha256, model_params_sha256;
  int64_t points = 0, model_step = 0, latent = 0, active_units = -1;
  bool complete = true;
  std::vector<int64_t> k;
  std::vector<MeanSe> log_px;                             // one per K
  std::vector<std::pair<std::string, MeanSe>> estimates;  // elbo, log_px_ais, ... (present ones)
};

// model.h5 or a checkpoint: its root attributes, and whether it verifies.
struct H5Summary {
  std::string path;
  KeyValues attrs;
  bool verified = false;
  std::string verify_message;  // "params_sha256 verified" or the loader's error
  int64_t ranks = -1, batch = -1;  // checkpoints record both
  std::string data_fingerprint;
  double train_seconds = -1;
};

struct ShardRow {
  std::string split, file, sha256;
  int64_t rows = 0;
};

struct DatasetInfo {
  std::string configured;  // config.ini's `data = ...`
  std::string dir;         // where its manifest.json was found ("" if nowhere)
  std::vector<std::string> tried;
  std::vector<ShardRow> shards;
  // Per split, the SHA-256 over its shards' data_sha256 (each followed by ':'),
  // as aevb-eval records it in data_sha256: which rows an evaluation saw.
  KeyValues split_sha256;
  std::string fingerprint;  // over the training rows, as aevb-train computes it ("" if unknown)
  std::string fingerprint_check;  // against the checkpoint's data_fingerprint
};

struct RunData {
  std::string dir, name, label;
  std::string config_text;
  KeyValues config;  // config.ini's name = value lines, in file order
  std::vector<nlohmann::json> metrics;
  int64_t batch = 0;
  bool has_model = false, has_checkpoint = false;
  H5Summary model, checkpoint;
  DatasetInfo dataset;
  std::vector<LatentStats> latents;
  std::vector<EvalSummary> evals;
  std::vector<Picture> pictures, sample_grids;
  int64_t sample_grids_total = 0;  // before --max-sample-grids chose some
  std::vector<std::string> warnings;

  // The config.ini value of `key`, or `fallback` when it is absent.
  std::string config_value(const std::string& key, const std::string& fallback = "") const;
};

// The run directories named by the arguments, in order: a run directory
// (holds metrics.jsonl) as is, a sweep directory as its run subdirectories
// (sorted by name). usage_error (exit 2) naming the path for anything else.
std::vector<std::string> find_run_dirs(const std::vector<std::string>& args);

// The default output folder: RUN/report for one run; SWEEP/report for one
// sweep directory; otherwise the first run's parent folder + /report.
std::string default_out_dir(const std::vector<std::string>& args, const std::vector<std::string>& runs);

// Everything the page shows of one run. max_sample_grids: how many of the
// training-progress grids to embed (evenly spaced, first and last kept; -1 all).
RunData load_run(const std::string& dir, int64_t max_sample_grids);

// Gives each run its chart label: the directory name plus its latent size
// (and the parent folder when two runs share a name).
void label_runs(std::vector<RunData>& runs);

// run_files.cpp
void load_config(RunData& r);
void load_metrics(RunData& r);
void load_pictures(RunData& r, int64_t max_sample_grids);
// run_hdf5.cpp
void load_model_info(RunData& r);
void load_checkpoint_info(RunData& r);
void load_latents(RunData& r);
void load_evals(RunData& r);
// dataset_info.cpp
void load_dataset_info(RunData& r);

}  // namespace aevb::report
