#include "aevb/train/train_inputs.hpp"

#include <algorithm>
#include <filesystem>
#include <iostream>

#include "aevb/base/error.hpp"
#include "aevb/base/partition.hpp"
#include "aevb/io/binarization.hpp"
#include "aevb/io/checksum.hpp"
#include "aevb/io/durable_file.hpp"
#include "aevb/io/row_reader.hpp"

namespace aevb {
namespace {

constexpr const char* kTool = "aevb-train";

void prepare_outputs(const TrainConfig& cfg) {
  make_output_dir(cfg.out_dir);
  require_writable_dir(cfg.out_dir, "cannot write the run directory");
  make_output_dir(checkpoint_dir(cfg.out_dir));
  // Checked now, not when the run ends: a model file path that names a
  // directory would otherwise fail only after the whole run.
  for (const auto& [option, path] : {std::pair<const char*, const std::string&>{"model-out", cfg.model_path},
                                     {"metrics", cfg.metrics_path}}) {
    if (std::filesystem::is_directory(path))
      throw output_error(std::string("--") + option + " " + path + ": is a directory; expected a file path (e.g. " +
                         path + "/" + (option == std::string("metrics") ? "metrics.jsonl" : "model.h5") + ")");
    require_writable_dir(parent_dir(path), std::string("--") + option + ": cannot write " + path);
  }
}

void size_train_split(const TrainConfig& cfg, TrainInputs& in) {
  in.n_train = cfg.max_train_rows >= 0 ? std::min(cfg.max_train_rows, in.train_info.rows) : in.train_info.rows;
  if (in.n_train == 0) throw input_error(cfg.data_dir + ": split '" + cfg.train_split + "' has no rows");
  if (in.n_train >= (int64_t{1} << 32))
    throw input_error(cfg.data_dir + ": split '" + cfg.train_split + "' has " + std::to_string(in.n_train) +
                      " rows; at most 2^32 - 1 are supported (noise is keyed by 32-bit sample indices)");
  // The rows are checked as they are read (TrainRows); shards without
  // per-chunk checksums are verified whole there first, spread over the ranks.
  std::string f = std::to_string(in.n_train);
  for (const auto& s : in.train_info.shards) f += ":" + s.data_sha256;
  in.fingerprint = sha256_hex(f.data(), f.size());
}

// The rows of an evaluation split (test or validation) that are used.
int64_t check_eval_split(const TrainConfig& cfg, const TrainInputs& in, const std::string& split, const char* role,
                         int64_t max_rows) {
  const SplitInfo& ti = in.manifest.split(split);
  const int64_t cols = ti.row_shape.empty() ? 0 : ti.cols;
  if (cols != in.train_info.cols)
    throw input_error(cfg.data_dir + ": split '" + split + "' has " + std::to_string(cols) +
                      " values per row but '" + cfg.train_split + "' has " + std::to_string(in.train_info.cols));
  const int64_t n = max_rows >= 0 ? std::min(max_rows, ti.rows) : ti.rows;
  // An ELBO over no points would be reported as 0, a perfect score.
  if (n == 0)
    throw input_error(cfg.data_dir + ": " + role + " split '" + split + "' has no rows; to train without one use --" +
                      role + "-split ''");
  return n;
}

}  // namespace

DirLock claim_run_dir(const TrainConfig& cfg, const MpiComm& comm) {
  DirLock lock;
  // Before anything reads the run directory: a second run would otherwise
  // resume the first one's in-flight checkpoint and set its newer ones aside.
  collectively(comm, kTool, [&] {
    if (comm.rank() != 0) return;
    prepare_outputs(cfg);
    lock = DirLock::acquire(cfg.out_dir, kTool, "run directory",
                            "two runs in one directory would overwrite each other's checkpoints and metrics: "
                            "wait for that run to end, stop it, or choose another --out");
  });
  if (comm.rank() == 0 && !lock.notice().empty()) std::cerr << kTool << ": warning: " << lock.notice() << std::endl;
  return lock;
}

TrainInputs load_train_inputs(const TrainConfig& cfg, const MpiComm& comm) {
  TrainInputs in;
  collectively(comm, kTool, [&] {
    in.manifest = Manifest::load(cfg.data_dir);
    in.train_info = in.manifest.split(cfg.train_split);
    const bool bernoulli = cfg.model.decoder == DecoderKind::kBernoulli;
    in.dynamic_binarization = binarization_applies(cfg.binarize, bernoulli, in.train_info.binarization);
    in.validate.require_unit_interval = bernoulli;
    size_train_split(cfg, in);
    if (!cfg.test_split.empty()) in.n_test = check_eval_split(cfg, in, cfg.test_split, "test", cfg.max_test_rows);
    if (!cfg.valid_split.empty()) in.n_valid = check_eval_split(cfg, in, cfg.valid_split, "valid", -1);
  });
  return in;
}

RunIdentity run_identity(const TrainConfig& cfg, const TrainInputs& in, const MpiComm& comm) {
  RunIdentity id;
  id.dataset = in.manifest.name;
  id.train_split = cfg.train_split;
  // Grey levels of a "dynamic" split that a Gaussian decoder models as real
  // values were not binarized: the model file must say none.
  id.binarization = in.dynamic_binarization                   ? "dynamic"
                    : in.train_info.binarization == "dynamic" ? "none"
                                                              : in.train_info.binarization;
  id.data_fingerprint = in.fingerprint;
  id.optimizer = cfg.optimizer;
  id.config_ini = cfg.to_ini();
  id.train_rows = in.n_train;
  id.x_dim = in.train_info.cols;
  id.batch = cfg.batch;
  id.ranks = comm.size();
  id.seed = cfg.seed;
  id.shuffle = cfg.shuffle;
  return id;
}

std::unique_ptr<RowRange> open_eval_part(const TrainConfig& cfg, const TrainInputs& in, const std::string& split,
                                         int64_t rows, const MpiComm& comm) {
  std::unique_ptr<RowRange> out;
  collectively(comm, kTool, [&] {
    const Range part = part_of(0, rows, comm.rank(), comm.size());
    out = std::make_unique<RowRange>(in.manifest, split, in.validate, part.lo, part.hi,
                                     cfg.memory_budget_bytes() / 8);
  });
  return out;
}

std::vector<double> mean_training_input(const TrainConfig& cfg, const TrainInputs& in, const MpiComm& comm) {
  const int64_t N = in.n_train;
  RowReader reader(in.manifest, cfg.train_split, in.validate);
  const RowFormat& f = reader.format();
  const Range part = part_of(0, N, comm.rank(), comm.size());
  constexpr int64_t kChunk = 4096;
  std::vector<uint8_t> raw(static_cast<size_t>(std::min(kChunk, std::max<int64_t>(part.size(), 1)) * f.row_bytes));
  std::vector<float> x(static_cast<size_t>(f.cols));
  std::vector<double> mean(static_cast<size_t>(f.cols), 0.0);
  collectively(comm, kTool, [&] {
    for (int64_t r = part.lo; r < part.hi; r += kChunk) {
      const int64_t n = std::min(kChunk, part.hi - r);
      reader.read_range(r, n, raw.data());
      for (int64_t i = 0; i < n; ++i) {
        stored_to_float(f, raw.data() + i * f.row_bytes, x.data());
        for (int64_t j = 0; j < f.cols; ++j) mean[static_cast<size_t>(j)] += x[static_cast<size_t>(j)];
      }
    }
  });
  comm.allreduce_sum(mean.data(), static_cast<int64_t>(mean.size()));
  for (auto& v : mean) v /= static_cast<double>(N);
  return mean;
}

}  // namespace aevb
