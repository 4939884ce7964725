#include "aevb/train/train_inputs.hpp"

#include <algorithm>
#include <filesystem>
#include <iostream>

#include "aevb/base/error.hpp"
#include "aevb/base/partition.hpp"
#include "aevb/io/binarization.hpp"
#include "aevb/io/checksum.hpp"
#include "aevb/io/durable_file.hpp"

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

void load_train_split(const TrainConfig& cfg, const MpiComm& comm, TrainInputs& in) {
  in.n_train = cfg.max_train_rows >= 0 ? std::min(cfg.max_train_rows, in.train_info.rows) : in.train_info.rows;
  if (in.n_train == 0) throw input_error(cfg.data_dir + ": split '" + cfg.train_split + "' has no rows");
  if (in.n_train >= (int64_t{1} << 32))
    throw input_error(cfg.data_dir + ": split '" + cfg.train_split + "' has " + std::to_string(in.n_train) +
                      " rows; at most 2^32 - 1 are supported (noise is keyed by 32-bit sample indices)");
  if (comm.size() == 1) {
    in.train = load_split(in.manifest, cfg.train_split, in.validate, in.n_train);
  } else if (comm.rank() == 0) {
    // Each rank later reads only its own rows; one rank checks them all now.
    if (cfg.max_train_rows < 0)
      verify_split(in.manifest, cfg.train_split, in.validate);
    else
      load_split(in.manifest, cfg.train_split, in.validate, in.n_train);
  }
  // After the rows are validated (a bad file is the more basic error).
  // One smaller batch per epoch is not what --batch asked for.
  if (cfg.batch > in.n_train)
    throw usage_error("--batch " + std::to_string(cfg.batch) + ": larger than the " + std::to_string(in.n_train) +
                      " training rows of split '" + cfg.train_split + "' of " + cfg.data_dir +
                      "; use --batch " + std::to_string(in.n_train) + " or less");
  std::string f = std::to_string(in.n_train);
  for (const auto& s : in.train_info.shards) f += ":" + s.data_sha256;
  in.fingerprint = sha256_hex(f.data(), f.size());
}

void load_test_part(const TrainConfig& cfg, const MpiComm& comm, TrainInputs& in) {
  const SplitInfo& ti = in.manifest.split(cfg.test_split);
  const int64_t cols = ti.row_shape.empty() ? 0 : ti.cols;
  if (cols != in.train_info.cols)
    throw input_error(cfg.data_dir + ": split '" + cfg.test_split + "' has " + std::to_string(cols) +
                      " values per row but '" + cfg.train_split + "' has " + std::to_string(in.train_info.cols));
  const int64_t n = cfg.max_test_rows >= 0 ? std::min(cfg.max_test_rows, ti.rows) : ti.rows;
  // An ELBO over no points would be reported as 0, a perfect score.
  if (n == 0)
    throw input_error(cfg.data_dir + ": test split '" + cfg.test_split +
                      "' has no rows; to train without a test set use --test-split ''");
  const Range part = part_of(0, n, comm.rank(), comm.size());
  std::vector<int64_t> mine;
  for (int64_t i = part.lo; i < part.hi; ++i) mine.push_back(i);
  in.test = load_rows(in.manifest, cfg.test_split, mine, in.validate);
  in.test.cols = ti.cols;
  if (in.dynamic_binarization) binarize_for_evaluation(in.test, cfg.eval_seed);
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
    load_train_split(cfg, comm, in);
    if (!cfg.test_split.empty()) load_test_part(cfg, comm, in);
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
  return id;
}

std::vector<double> mean_training_input(const TrainConfig& cfg, const TrainInputs& in, const MpiComm& comm) {
  const int64_t N = in.n_train;
  DataMatrix part;
  if (comm.size() > 1) {
    const Range r = part_of(0, N, comm.rank(), comm.size());
    std::vector<int64_t> rows;
    for (int64_t i = r.lo; i < r.hi; ++i) rows.push_back(i);
    ValidateOptions v = in.validate;
    v.verify_checksums = false;
    part = load_rows(in.manifest, cfg.train_split, rows, v);
  }
  const DataMatrix& d = comm.size() > 1 ? part : in.train;  // one rank has them all already
  std::vector<double> mean(static_cast<size_t>(in.train_info.cols), 0.0);
  for (int64_t i = 0; i < d.rows; ++i)
    for (int64_t j = 0; j < d.cols; ++j) mean[static_cast<size_t>(j)] += d.x[static_cast<size_t>(i * d.cols + j)];
  comm.allreduce_sum(mean.data(), static_cast<int64_t>(mean.size()));
  for (auto& v : mean) v /= static_cast<double>(N);
  return mean;
}

const DataMatrix& EpochRows::load(const std::vector<int64_t>& perm, int64_t first_step, int64_t steps) {
  if (comm_.size() == 1) return in_.train;
  std::vector<int64_t> rows;
  for (int64_t s = first_step; s < steps; ++s) {
    const int64_t b0 = s * cfg_.batch, m = std::min(cfg_.batch, in_.n_train - b0);
    const Range r = part_of(b0, m, comm_.rank(), comm_.size());
    rows.insert(rows.end(), perm.begin() + r.lo, perm.begin() + r.hi);
  }
  std::sort(rows.begin(), rows.end());
  ValidateOptions v = in_.validate;
  v.verify_checksums = false;  // verified once at start
  data_ = load_rows(in_.manifest, cfg_.train_split, rows, v);
  return data_;
}

void EpochRows::rows_of_step(const std::vector<int64_t>& perm, int64_t step_in_epoch, std::vector<int64_t>& out) const {
  const int64_t b0 = step_in_epoch * cfg_.batch, m = std::min(cfg_.batch, in_.n_train - b0);
  const Range r = part_of(b0, m, comm_.rank(), comm_.size());
  out.resize(static_cast<size_t>(r.size()));
  for (int64_t i = r.lo; i < r.hi; ++i) out[static_cast<size_t>(i - r.lo)] = local(perm[static_cast<size_t>(i)]);
}

int64_t EpochRows::local(int64_t g) const {
  if (comm_.size() == 1) return g;
  return std::lower_bound(data_.global_index.begin(), data_.global_index.end(), g) - data_.global_index.begin();
}

}  // namespace aevb
