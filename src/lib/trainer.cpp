#include "aevb/trainer.hpp"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "aevb/checkpoint.hpp"
#include "aevb/checksum.hpp"
#include "aevb/dataset.hpp"
#include "aevb/dnnl_context.hpp"
#include "aevb/durable_file.hpp"
#include "aevb/elbo_eval.hpp"
#include "aevb/error.hpp"
#include "aevb/model_file.hpp"
#include "aevb/optimizer.hpp"
#include "aevb/rng.hpp"
#include "aevb/sgvb.hpp"
#include "aevb/stop_signal.hpp"
#include "aevb/train_step.hpp"

namespace aevb {
namespace {

using json = nlohmann::json;
constexpr const char* kTool = "aevb-train";

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string human_seconds(double s) {
  char buf[32];
  const long t = static_cast<long>(s);
  if (t >= 3600)
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", t / 3600, (t / 60) % 60);
  else
    std::snprintf(buf, sizeof buf, "%ldm%02lds", t / 60, t % 60);
  return buf;
}

// The rows [lo, hi) of the global minibatch [b0, b0 + m) that rank r of P owns:
// a balanced split, so M not divisible by P is fine and a rank may get none.
struct Slice {
  int64_t lo, hi;
};
Slice rank_slice(int64_t b0, int64_t m, int r, int p) { return {b0 + m * r / p, b0 + m * (r + 1) / p}; }

// Everything the run reads before the first step, validated collectively so a
// bad file stops every rank with one message before any training.
struct Inputs {
  Manifest manifest;
  SplitInfo train_info;
  int64_t n_train = 0;
  ValidateOptions validate;
  DataMatrix train;  // one rank: all rows, loaded once; several: reloaded per epoch (EpochRows)
  EvalData test;     // this rank's slice of the test split
  bool dynamic_binarization = false;
  std::string fingerprint;  // identifies the training data in checkpoints
};

Inputs load_inputs(const TrainConfig& cfg, const MpiComm& comm) {
  Inputs in;
  collectively(comm, kTool, [&] {
    if (comm.rank() == 0) {
      make_output_dir(cfg.out_dir);
      require_writable_dir(cfg.out_dir, "cannot write the run directory");
      make_output_dir(checkpoint_dir(cfg.out_dir));
      require_writable_dir(parent_dir(cfg.model_path), "cannot write the model file " + cfg.model_path);
      require_writable_dir(parent_dir(cfg.metrics_path), "cannot write the metrics file " + cfg.metrics_path);
    }
    in.manifest = Manifest::load(cfg.data_dir);
    in.train_info = in.manifest.split(cfg.train_split);
    const bool bernoulli = cfg.model.decoder == DecoderKind::kBernoulli;
    if (cfg.binarize == "dynamic" && !bernoulli)
      throw usage_error("--binarize dynamic: only meaningful with --decoder bernoulli");
    in.dynamic_binarization =
        bernoulli && (cfg.binarize == "dynamic" || (cfg.binarize == "auto" && in.train_info.binarization == "dynamic"));
    in.validate.require_unit_interval = bernoulli;
    in.n_train = cfg.max_train_rows >= 0 ? std::min(cfg.max_train_rows, in.train_info.rows) : in.train_info.rows;
    if (in.n_train == 0) throw input_error(cfg.data_dir + ": split '" + cfg.train_split + "' has no rows");
    if (in.n_train >= (int64_t{1} << 32))
      throw input_error(cfg.data_dir + ": split '" + cfg.train_split + "' has " + std::to_string(in.n_train) +
                        " rows; at most 2^32 - 1 are supported (noise is keyed by 32-bit sample indices)");
    if (comm.size() == 1) {
      in.train = load_split(in.manifest, cfg.train_split, in.validate, in.n_train);
    } else if (comm.rank() == 0) {
      // Each rank later reads only its own rows; one rank checks them all now.
      if (cfg.max_train_rows < 0) verify_split(in.manifest, cfg.train_split, in.validate);
      else load_split(in.manifest, cfg.train_split, in.validate, in.n_train);
    }
    in.fingerprint = std::to_string(in.n_train);
    for (const auto& s : in.train_info.shards) in.fingerprint += ":" + s.data_sha256;
    in.fingerprint = sha256_hex(in.fingerprint.data(), in.fingerprint.size());
    if (!cfg.test_split.empty()) {
      const SplitInfo& ti = in.manifest.split(cfg.test_split);
      const int64_t cols = ti.row_shape.empty() ? 0 : ti.cols;
      if (cols != in.train_info.cols)
        throw input_error(cfg.data_dir + ": split '" + cfg.test_split + "' has " + std::to_string(cols) +
                          " values per row but '" + cfg.train_split + "' has " + std::to_string(in.train_info.cols));
      const int64_t n = cfg.max_test_rows >= 0 ? std::min(cfg.max_test_rows, ti.rows) : ti.rows;
      std::vector<int64_t> mine;
      for (int64_t i = n * comm.rank() / comm.size(); i < n * (comm.rank() + 1) / comm.size(); ++i) mine.push_back(i);
      DataMatrix t = load_rows(in.manifest, cfg.test_split, mine, in.validate);
      in.test.rows = t.rows;
      in.test.cols = ti.cols;
      in.test.index = std::move(t.global_index);
      in.test.x = std::move(t.x);
      // A dynamically binarized model is evaluated on ONE fixed binarization of
      // the test set (--eval-seed, recorded in the config) so evaluations compare.
      if (in.dynamic_binarization)
        for (int64_t i = 0; i < in.test.rows; ++i) {
          float* r = in.test.x.data() + i * in.test.cols;
          binarize({cfg.eval_seed, Purpose::kEvalBinarize, 0, static_cast<uint64_t>(in.test.index[i]), 0}, r, r,
                   in.test.cols);
        }
    }
  });
  return in;
}

// With several ranks, each holds only the rows it uses in the current epoch.
class EpochRows {
 public:
  EpochRows(const Inputs& in, const TrainConfig& cfg, const MpiComm& comm) : in_(in), cfg_(cfg), comm_(comm) {}

  // The data holding this rank's rows of steps [first_step, steps) of the epoch.
  const DataMatrix& load(const std::vector<int64_t>& perm, int64_t first_step, int64_t steps) {
    if (comm_.size() == 1) return in_.train;  // all rows, loaded once
    std::vector<int64_t> rows;
    for (int64_t s = first_step; s < steps; ++s) {
      const int64_t b0 = s * cfg_.batch, m = std::min(cfg_.batch, in_.n_train - b0);
      const Slice sl = rank_slice(b0, m, comm_.rank(), comm_.size());
      rows.insert(rows.end(), perm.begin() + sl.lo, perm.begin() + sl.hi);
    }
    std::sort(rows.begin(), rows.end());
    ValidateOptions v = in_.validate;
    v.verify_checksums = false;  // verified once at start
    data_ = load_rows(in_.manifest, cfg_.train_split, rows, v);
    return data_;
  }
  // Position in the loaded data of global row g.
  int64_t local(int64_t g) const {
    if (comm_.size() == 1) return g;
    return std::lower_bound(data_.global_index.begin(), data_.global_index.end(), g) - data_.global_index.begin();
  }

 private:
  const Inputs& in_;
  const TrainConfig& cfg_;
  const MpiComm& comm_;
  DataMatrix data_;
};

RunIdentity identity_of(const TrainConfig& cfg, const Inputs& in, const MpiComm& comm) {
  RunIdentity id;
  id.dataset = in.manifest.name;
  id.train_split = cfg.train_split;
  id.binarization = in.dynamic_binarization ? "dynamic" : in.train_info.binarization;
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

// Options whose change on resume breaks "the same bits as never stopping"
// without making the checkpoint unusable: listed as a warning. (Architecture,
// data, batch, optimizer and seed are refused by check_resumable.)
void warn_about_changed_options(const std::string& before_ini, const std::string& now_ini, const std::string& path) {
  auto parse = [](const std::string& ini) {
    std::map<std::string, std::string> kv;
    std::istringstream in(ini);
    for (std::string line; std::getline(in, line);) {
      const auto eq = line.find(" = ");
      if (line.empty() || line[0] == '#' || eq == std::string::npos) continue;
      kv[line.substr(0, eq)] = line.substr(eq + 3);
    }
    return kv;
  };
  static const std::set<std::string> kFree = {"out",       "metrics",    "model-out",       "progress-every", "resume",
                                               "threads",   "overlap",    "check-every",     "epochs",         "max-steps",
                                               "keep-checkpoints", "checkpoint-every-steps", "checkpoint-every-seconds"};
  const auto a = parse(before_ini), b = parse(now_ini);
  std::string changed;
  for (const auto& [k, v] : b)
    if (!kFree.count(k) && a.count(k) && a.at(k) != v) changed += " " + k + " (" + a.at(k) + " -> " + v + ")";
  if (!changed.empty())
    std::cerr << kTool << ": warning: resuming " << path << " with changed options:" << changed
              << "; the run will differ from one that never stopped" << std::endl;
}

// Moves the checkpoints newer than `step` (all of them for step < 0) into
// checkpoints/abandoned-<time>/.
void set_aside_checkpoints_after(const std::string& run_dir, int64_t step) {
  std::vector<std::string> newer;
  for (const auto& p : list_checkpoints(run_dir))
    if (step < 0 || read_step_from_name(p) > step) newer.push_back(p);
  if (newer.empty()) return;
  const std::string dest = checkpoint_dir(run_dir) + "/abandoned-" + std::to_string(std::time(nullptr));
  make_output_dir(dest);
  for (const auto& p : newer) rename_durably(p, dest + "/" + std::filesystem::path(p).filename().string());
  std::cerr << kTool << ": " << newer.size() << " newer checkpoint(s) moved to " << dest << std::endl;
}

// Finds the checkpoint to resume from (rank 0), loads it into m and opt on every
// rank, and returns where training stands. A corrupted newest checkpoint is
// reported and the previous one is used; a mismatched one is refused.
TrainProgress resume(const TrainConfig& cfg, const RunIdentity& id, Vae& m, Optimizer& opt, const MpiComm& comm) {
  Checkpoint c;
  bool found = false;
  collectively(comm, kTool, [&] {
    if (comm.rank() != 0 || cfg.resume == "none") return;
    const bool automatic = cfg.resume == "auto";
    const std::vector<std::string> candidates =
        automatic ? list_checkpoints(cfg.out_dir) : std::vector<std::string>{cfg.resume};
    for (const auto& path : candidates) {
      try {
        c = read_checkpoint(path);
      } catch (const std::exception& e) {  // also bad_alloc from corrupted sizes
        if (!automatic) throw;
        std::cerr << kTool << ": warning: " << e.what() << "; trying the previous checkpoint" << std::endl;
        continue;
      }
      check_resumable(c, m.spec(), id);
      warn_about_changed_options(c.id.config_ini, id.config_ini, c.path);
      found = true;
      return;
    }
    if (!candidates.empty())
      throw input_error(checkpoint_dir(cfg.out_dir) + ": none of the " + std::to_string(candidates.size()) +
                        " checkpoints is readable; move them away or pass --resume none to start over");
  });
  // Going back (an older checkpoint, or --resume none) starts a new line of
  // work in this run directory: the newer checkpoints move aside, so pruning
  // cannot delete the new ones and --resume auto cannot jump back to the old line.
  if (comm.rank() == 0) set_aside_checkpoints_after(cfg.out_dir, found ? c.progress.step : -1);
  float flag = found ? 1.f : 0.f;
  comm.bcast(&flag, 1);
  if (flag == 0.f) return {};
  if (comm.rank() == 0) {
    std::copy(c.params.begin(), c.params.end(), m.params.begin());
    auto state = opt.state();
    for (size_t i = 0; i < state.size(); ++i)
      std::copy(c.opt_state[i].second.begin(), c.opt_state[i].second.end(), state[i].second->begin());
  }
  comm.bcast(m.params.data(), m.num_params());
  for (auto& [name, buf] : opt.state()) comm.bcast(buf->data(), m.num_params());
  const TrainProgress& p = c.progress;
  double exact[9] = {double(p.step),         double(p.epoch),        double(p.step_in_epoch),
                     double(c.optimizer_steps), p.epoch_partial.elbo, p.epoch_partial.rec,
                     p.epoch_partial.kl,     double(p.epoch_partial.points), p.train_seconds};
  if (comm.size() > 1) MPI_Bcast(exact, 9, MPI_DOUBLE, 0, comm.get());
  TrainProgress out;
  out.step = static_cast<int64_t>(exact[0]);
  out.epoch = static_cast<int64_t>(exact[1]);
  out.step_in_epoch = static_cast<int64_t>(exact[2]);
  opt.set_steps(static_cast<int64_t>(exact[3]));
  // The partial epoch's global sums continue on rank 0 (they are reduced at the epoch end).
  if (comm.rank() == 0) out.epoch_partial = {exact[4], exact[5], exact[6], static_cast<int64_t>(exact[7])};
  out.train_seconds = exact[8];
  if (comm.rank() == 0)
    std::cerr << kTool << ": resuming from " << c.path << " (step " << out.step << ", epoch " << out.epoch + 1 << ")"
              << std::endl;
  return out;
}

// A cheap hash of the parameter bits, compared across ranks: identical
// replicas are an invariant of data-parallel SGD that a bug or a bad node breaks.
int64_t params_hash(const Vae& m) {
  uint64_t h = 1469598103934665603ull;
  for (int64_t i = 0; i < m.num_params(); ++i) h = (h ^ std::bit_cast<uint32_t>(m.params[i])) * 1099511628211ull;
  return static_cast<int64_t>(h >> 1);
}

// On resume, metrics.jsonl keeps only the lines up to the resumed step (a
// kill after an epoch's line but before its checkpoint, or going back to an
// older checkpoint, would otherwise repeat lines); a fresh start empties it.
void trim_metrics(const std::string& path, int64_t step) {
  std::ifstream in(path);
  if (!in) return;
  std::string kept;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || step == 0) continue;
    try {
      if (json::parse(line).value("step", int64_t{0}) <= step) kept += line + "\n";
    } catch (const json::exception&) {
      // a torn last line from a killed run: dropped
    }
  }
  write_text_atomically(path, kept);
}

}  // namespace

json run_training(const TrainConfig& cfg_in, const MpiComm& comm) {
  const double t_start = now_s();
  TrainConfig cfg = cfg_in;
  set_compute_threads(cfg.threads);
  install_stop_signal_handlers();
  const bool root = comm.rank() == 0;

  Inputs in = load_inputs(cfg, comm);
  cfg.model.x_dim = in.train_info.cols;
  const int64_t N = in.n_train, M = cfg.batch;
  // Full minibatches only: a final partial one of m << M rows would get the
  // gradient scale N/m and, squared into Adagrad's accumulator, slow the rest
  // of the run. Each epoch's permutation differs, so every row is still used.
  // (A split smaller than M is one minibatch of N rows.)
  const int64_t steps_per_epoch = std::max<int64_t>(1, N / M);
  const RunIdentity id = identity_of(cfg, in, comm);

  // Model: rank 0's initialization is broadcast, so every rank starts identical.
  Vae m(cfg.model);
  init_params(m, parse_init(cfg.init), cfg.init_std, cfg.seed);
  if (cfg.output_bias_init == "mean") {
    // The mean training input: each rank sums its 1/P of the rows (one rank
    // has them all in memory already), one reduction adds the sums.
    DataMatrix slice;
    if (comm.size() > 1) {
      std::vector<int64_t> rows;
      for (int64_t i = N * comm.rank() / comm.size(); i < N * (comm.rank() + 1) / comm.size(); ++i) rows.push_back(i);
      ValidateOptions v = in.validate;
      v.verify_checksums = false;
      slice = load_rows(in.manifest, cfg.train_split, rows, v);
    }
    const DataMatrix& d = comm.size() > 1 ? slice : in.train;
    std::vector<double> mean(static_cast<size_t>(in.train_info.cols), 0.0);
    for (int64_t i = 0; i < d.rows; ++i)
      for (int64_t j = 0; j < d.cols; ++j) mean[static_cast<size_t>(j)] += d.x[static_cast<size_t>(i * d.cols + j)];
    comm.allreduce_sum(mean.data(), static_cast<int64_t>(mean.size()));
    for (auto& v : mean) v /= static_cast<double>(N);
    init_output_bias_to_mean(m, mean);
  }
  comm.bcast(m.params.data(), m.num_params());
  Optimizer opt(cfg.opt, m.num_params());
  Sgvb sgvb(m, cfg.estimator_kind(), cfg.samples);
  TrainProgress progress = resume(cfg, id, m, opt, comm);
  const bool fresh = progress.step == 0;

  std::ofstream metrics;
  if (root) {
    write_text_atomically(cfg.out_dir + "/config.ini", cfg.to_ini());
    trim_metrics(cfg.metrics_path, progress.step);
    metrics.open(cfg.metrics_path, std::ios::app);  // a resumed run continues the file
    if (!metrics) throw output_error("cannot open the metrics file " + cfg.metrics_path + " for appending");
    std::cout << cfg.to_ini() << std::flush;
  }
  auto write_metrics_line = [&](const json& line) {
    metrics << line.dump() << "\n" << std::flush;
    if (!metrics) throw output_error("cannot append to the metrics file " + cfg.metrics_path + ": " + std::strerror(errno));
  };
  // partial_local: this rank's sums over the current epoch's completed steps;
  // epoch_elapsed: training seconds of the current epoch so far.
  auto save_checkpoint = [&](ElboSums partial_local, double epoch_elapsed) {
    // The partial epoch's metrics are summed over ranks so a resume with any
    // rank count continues them; rank 0 writes.
    double v[4] = {partial_local.elbo, partial_local.rec, partial_local.kl, static_cast<double>(partial_local.points)};
    comm.allreduce_sum(v, 4);
    TrainProgress p = progress;
    p.epoch_partial = {v[0], v[1], v[2], static_cast<int64_t>(v[3])};
    p.train_seconds += epoch_elapsed;
    const std::string path = checkpoint_path(cfg.out_dir, p.step);
    if (root) {
      write_checkpoint(path, m, opt, p, id);
      prune_checkpoints(cfg.out_dir, cfg.keep_checkpoints);
    }
    return path;
  };

  const bool overlap = comm.size() > 1 && cfg.overlap != "off";
  EpochRows epoch_rows(in, cfg, comm);
  std::vector<int64_t> my_rows(static_cast<size_t>(M / comm.size() + 1));
  const int64_t total_steps = cfg.max_steps >= 0 ? std::min(cfg.max_steps, cfg.epochs * steps_per_epoch)
                                                 : cfg.epochs * steps_per_epoch;
  const int64_t first_step = progress.step;
  double run_train_seconds = 0, last_progress = now_s(), last_checkpoint = now_s();
  json last;  // the last epoch's metrics
  std::string last_checkpoint_path;

  // The initial model's test ELBO: the baseline every later epoch is read against.
  if (fresh && !cfg.test_split.empty()) {
    const ElboSums t0 = evaluate_elbo(m, in.test, cfg.eval_seed, cfg.samples, comm, false);
    const double tp = static_cast<double>(std::max<int64_t>(1, t0.points));
    if (root)
      write_metrics_line(json{{"epoch", 0}, {"step", 0}, {"test_elbo", t0.elbo / tp}, {"test_rec", t0.rec / tp},
                              {"test_kl", t0.kl / tp}, {"wall_seconds", now_s() - t_start}});
  }

  // Checkpoint (and, after a stop signal, leave) at a step boundary. At an
  // epoch's last step this waits until the epoch's metrics are written, so the
  // checkpoint says "epoch e+1, step 0" and a resume neither repeats nor loses
  // an epoch's metrics line.
  bool pending_checkpoint = false, pending_stop = false;
  auto checkpoint_now = [&](ElboSums partial_local, double epoch_elapsed) -> std::optional<json> {
    last_checkpoint_path = save_checkpoint(partial_local, epoch_elapsed);
    last_checkpoint = now_s();
    pending_checkpoint = false;
    if (!pending_stop) return std::nullopt;
    if (root)
      std::cerr << kTool << ": stop signal received: checkpointed step " << progress.step << " to "
                << last_checkpoint_path << "; exiting with " << kExitRequeue << " (requeue)" << std::endl;
    return json{{"tool", kTool},         {"status", "checkpointed"},       {"exit_code", kExitRequeue},
                {"steps", progress.step}, {"epoch", progress.epoch},          {"checkpoint", last_checkpoint_path},
                {"ranks", comm.size()},  {"wall_seconds", now_s() - t_start}, {"out", cfg.out_dir}};
  };

  while (progress.epoch < cfg.epochs && progress.step < total_steps) {
    const int64_t epoch = progress.epoch;
    const std::vector<int64_t> perm = permutation(cfg.seed, static_cast<uint64_t>(epoch), N);
    const DataMatrix& data = epoch_rows.load(perm, progress.step_in_epoch, steps_per_epoch);
    TrainStep train_step({m, sgvb, opt, comm, data, N, cfg.seed, in.dynamic_binarization, overlap});
    const float lr = cfg.schedule.lr_at_epoch(epoch);
    ElboSums epoch_sums = progress.epoch_partial;
    progress.epoch_partial = {};
    const double t_epoch = now_s();
    int64_t epoch_steps = 0;
    while (progress.step_in_epoch < steps_per_epoch && progress.step < total_steps) {
      // This rank's slice of the global minibatch: entries [b0, b0 + m_t) of the
      // epoch's permutation, split evenly over ranks.
      const int64_t b0 = progress.step_in_epoch * M, m_t = std::min(M, N - b0);
      const Slice sl = rank_slice(b0, m_t, comm.rank(), comm.size());
      for (int64_t i = sl.lo; i < sl.hi; ++i)
        my_rows[static_cast<size_t>(i - sl.lo)] = epoch_rows.local(perm[static_cast<size_t>(i)]);
      const bool timer_due = root && cfg.checkpoint_every_seconds > 0 &&
                             now_s() - last_checkpoint >= cfg.checkpoint_every_seconds;
      epoch_sums += train_step.run(my_rows.data(), sl.hi - sl.lo, m_t, progress.step, lr, timer_due);
      ++progress.step, ++progress.step_in_epoch, ++epoch_steps;

      if (cfg.check_every > 0 && comm.size() > 1 && progress.step % cfg.check_every == 0) {
        const int64_t h = params_hash(m);
        if (comm.allreduce_min(h) != comm.allreduce_max(h))
          agreed_failure(comm, kTool, kExitInternal,
                         "parameters differ across ranks at step " + std::to_string(progress.step) +
                             " (hash check); a rank computed a different update");
      }
      pending_stop = train_step.stop_requested();
      pending_checkpoint = pending_stop || train_step.checkpoint_requested() ||
                           (cfg.checkpoint_every_steps > 0 && progress.step % cfg.checkpoint_every_steps == 0);
      if (pending_checkpoint && progress.step_in_epoch < steps_per_epoch)
        if (auto done = checkpoint_now(epoch_sums, now_s() - t_epoch)) return *done;
      if (root && cfg.progress_every > 0 && now_s() - last_progress >= cfg.progress_every) {
        last_progress = now_s();
        const double rate = static_cast<double>(epoch_steps * M) / std::max(last_progress - t_epoch, 1e-9);
        const double eta = static_cast<double>(total_steps - progress.step) * M / std::max(rate, 1e-9);
        char line[256];
        std::snprintf(line, sizeof line,
                      "epoch %lld/%lld step %lld/%lld | %.1fk samples/s | ELBO %.2f (rank 0 slice) | lr %.3g | ETA %s",
                      static_cast<long long>(epoch + 1), static_cast<long long>(cfg.epochs),
                      static_cast<long long>(progress.step), static_cast<long long>(total_steps), rate / 1000.0,
                      epoch_sums.elbo / std::max<int64_t>(1, epoch_sums.points), lr, human_seconds(eta).c_str());
        std::cerr << line << std::endl;
      }
    }
    const double epoch_s = now_s() - t_epoch;
    progress.train_seconds += epoch_s;
    run_train_seconds += epoch_s;
    if (progress.step_in_epoch < steps_per_epoch) {  // stopped mid-epoch by --max-steps
      progress.epoch_partial = epoch_sums;
      break;
    }
    double v[4] = {epoch_sums.elbo, epoch_sums.rec, epoch_sums.kl, static_cast<double>(epoch_sums.points)};
    comm.allreduce_sum(v, 4);
    const double pts = std::max(1.0, v[3]);
    last = json{{"epoch", epoch + 1},
                {"step", progress.step},
                {"train_elbo", v[0] / pts},
                {"train_rec", v[1] / pts},
                {"train_kl", v[2] / pts},
                {"samples_per_s", static_cast<double>(epoch_steps * M) / std::max(epoch_s, 1e-9)},
                {"lr", lr},
                {"epoch_seconds", epoch_s},
                {"wall_seconds", now_s() - t_start}};
    const bool last_epoch = epoch + 1 == cfg.epochs || progress.step >= total_steps;
    if (!cfg.test_split.empty() && ((cfg.eval_every > 0 && (epoch + 1) % cfg.eval_every == 0) || last_epoch)) {
      const ElboSums t = evaluate_elbo(m, in.test, cfg.eval_seed, cfg.samples, comm, false);
      const double tp = static_cast<double>(std::max<int64_t>(1, t.points));
      last["test_elbo"] = t.elbo / tp;
      last["test_rec"] = t.rec / tp;
      last["test_kl"] = t.kl / tp;
    }
    if (root) {
      write_metrics_line(last);
      if (cfg.progress_every > 0) {
        std::cerr << "epoch " << epoch + 1 << " done: train ELBO " << v[0] / pts;
        if (last.contains("test_elbo")) std::cerr << " | test ELBO " << last["test_elbo"].get<double>();
        std::cerr << " | " << static_cast<long>(last["samples_per_s"].get<double>()) << " samples/s" << std::endl;
      }
    }
    ++progress.epoch;
    progress.step_in_epoch = 0;
    if (pending_checkpoint)
      if (auto done = checkpoint_now(ElboSums{}, 0.0)) return *done;
  }

  // The end: a final checkpoint (so a longer run can continue from here) and the model file.
  last_checkpoint_path = save_checkpoint(progress.epoch_partial, 0.0);
  if (root) {
    ModelMeta meta;
    meta.row_shape = in.train_info.row_shape;
    meta.data_scale = in.train_info.scale;
    meta.dataset = in.manifest.name;
    meta.binarization = id.binarization;
    meta.config_ini = cfg.to_ini();
    meta.step = progress.step;
    meta.epoch = progress.epoch;
    save_model(cfg.model_path, m, meta);
  }
  json out{{"tool", kTool},
           {"status", "done"},
           {"exit_code", 0},
           {"epochs", progress.epoch},
           {"steps", progress.step},
           {"steps_this_run", progress.step - first_step},
           {"resumed_from_step", first_step},
           {"ranks", comm.size()},
           {"threads", cfg.threads},
           {"train_rows", N},
           {"train_seconds", progress.train_seconds},
           {"wall_seconds", now_s() - t_start},
           {"samples_per_s", static_cast<double>((progress.step - first_step) * M) / std::max(run_train_seconds, 1e-9)},
           {"out", cfg.out_dir},
           {"model", cfg.model_path},
           {"checkpoint", last_checkpoint_path},
           {"metrics", cfg.metrics_path}};
  for (const char* k : {"train_elbo", "train_rec", "train_kl", "test_elbo", "test_rec", "test_kl"})
    if (last.contains(k)) out[k] = last[k];
  return out;
}

}  // namespace aevb
