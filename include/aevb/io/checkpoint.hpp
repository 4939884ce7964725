// Training checkpoints (HDF5, format "aevb-checkpoint" version 1): everything a
// run needs to continue as if it had never stopped.
//
//   /params                   float32 [P]  the flat parameter buffer
//   /optimizer/<state>        float32 [P]  e.g. adagrad_sum_sq, adam_m, adam_v
//   root attrs: format, format_version, the architecture (as in model files),
//     step (steps completed), epoch, step_in_epoch (position in the epoch's
//     permutation, in steps), optimizer, optimizer_steps, rng ("philox4x32-10"),
//     rng_seed (the key; counters derive from step and global sample index),
//     batch, dataset, train_split, train_rows, x_dim, data_fingerprint,
//     binarization (as in model files: aevb-eval --binarize auto follows it),
//     epoch_elbo_sum, epoch_rec_sum, epoch_kl_sum, epoch_points (the partial
//     epoch's metrics), train_seconds, ranks, config_ini, params_sha256,
//     checksum_sha256 (over params and all optimizer state, in that order)
//
// Written by rank 0 to a temp file, fsynced, renamed to
// <run>/checkpoints/ckpt-<step, 10 digits>.h5; the newest K are kept.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "aevb/core/optimizer.hpp"
#include "aevb/core/sgvb.hpp"
#include "aevb/core/vae.hpp"

namespace aevb {

// Where training stands between two steps.
struct TrainProgress {
  int64_t step = 0, epoch = 0, step_in_epoch = 0;
  ElboSums epoch_partial;  // global sums over the epoch's completed steps
  double train_seconds = 0;
  // --keep-best: the best validation bound so far (per point) and the epoch it
  // was reached after; best_valid_epoch 0 = none yet.
  double best_valid = 0;
  int64_t best_valid_epoch = 0;
};

// What the checkpoint must match to be resumed from.
struct RunIdentity {
  std::string dataset, train_split, data_fingerprint, optimizer, config_ini;
  std::string binarization;  // of the training data as the model saw it ("dynamic" = binarized each step)
  std::string shuffle = "global";  // the data order (--shuffle, canonical form)
  int64_t train_rows = 0, x_dim = 0, batch = 0, ranks = 1;
  uint64_t seed = 0;
};

void write_checkpoint(const std::string& path, const Vae& m, Optimizer& opt, const TrainProgress& p,
                      const RunIdentity& id);

struct Checkpoint {
  std::string path;
  ModelSpec spec;
  RunIdentity id;
  TrainProgress progress;
  std::vector<float> params;
  std::vector<std::pair<std::string, std::vector<float>>> opt_state;
  int64_t optimizer_steps = 0;
};
// Reads and verifies (format, version, checksum); input_error naming the file.
Checkpoint read_checkpoint(const std::string& path);

// Throws input_error listing every difference that makes resuming wrong
// (architecture, dataset, batch size, optimizer, seed).
void check_resumable(const Checkpoint& c, const ModelSpec& spec, const RunIdentity& id);

std::string checkpoint_dir(const std::string& run_dir);
std::string checkpoint_path(const std::string& run_dir, int64_t step);
// The step in a checkpoint's file name (ckpt-<step>.h5).
int64_t read_step_from_name(const std::string& path);
// Complete checkpoints of a run directory, newest (highest step) first.
std::vector<std::string> list_checkpoints(const std::string& run_dir);
// Removes all but the newest `keep`, and temp files left by a killed writer.
void prune_checkpoints(const std::string& run_dir, int64_t keep);

}  // namespace aevb
