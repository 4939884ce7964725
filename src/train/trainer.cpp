// The training loop of aevb-train: epochs of steps, with evaluation, metrics,
// checkpoints and signals between steps. One step, from data to update, is
// TrainStep::run (train_step.cpp).
#include "aevb/train/trainer.hpp"

#include <algorithm>
#include <iostream>
#include <memory>
#include <optional>

#include "aevb/base/error.hpp"
#include "aevb/base/process_stats.hpp"
#include "aevb/base/rng.hpp"
#include "aevb/core/dnnl_context.hpp"
#include "aevb/core/optimizer.hpp"
#include "aevb/core/sgvb.hpp"
#include "aevb/dist/stop_signal.hpp"
#include "aevb/io/checkpoint.hpp"
#include "aevb/io/durable_file.hpp"
#include "aevb/io/model_file.hpp"
#include "aevb/train/elbo_eval.hpp"
#include "aevb/train/layout_advice.hpp"
#include "aevb/train/sample_grid.hpp"
#include "aevb/train/train_inputs.hpp"
#include "aevb/train/train_report.hpp"
#include "aevb/train/train_resume.hpp"
#include "aevb/train/train_step.hpp"

namespace aevb {
namespace {

using json = nlohmann::json;
constexpr const char* kTool = "aevb-train";

class Trainer {
 public:
  Trainer(const TrainConfig& cfg, const MpiComm& comm);
  json run();

 private:
  void init_model();
  std::optional<json> run_epoch();
  void check_replicas();
  void report_progress(int64_t epoch, int64_t epoch_steps, double t_epoch, const ElboSums& epoch_sums, float lr);
  void end_epoch(const ElboSums& train, int64_t epoch_steps, double epoch_s, float lr, double data_wait_s);
  BoundSpec bound() const { return {cfg_.objective_kind(), cfg_.samples_per_point(), bayes_.get()}; }
  void put_weight_posterior(json& j) const;
  json eval_metrics();
  void keep_if_best(const json& metrics);
  ModelMeta model_meta() const;
  std::string best_model_path() const { return cfg_.out_dir + "/model_best.h5"; }
  std::string save_checkpoint(const ElboSums& partial_local, double epoch_elapsed);
  std::optional<json> checkpoint_now(const ElboSums& partial_local, double epoch_elapsed, bool stop);
  json finish();

  const double t_start_ = now_s();
  std::vector<std::string> advice_;  // layout_advice.hpp: printed at start, kept in the summary
  TrainConfig cfg_;
  const MpiComm& comm_;
  const bool root_;
  DirLock run_lock_;  // rank 0: held from before the resume until the run ends
  TrainInputs in_;
  // N training rows, global minibatch M. Full minibatches only: a final partial
  // one of m << M rows would get the gradient scale N/m and, squared into
  // Adagrad's accumulator, slow the rest of the run. Each epoch's permutation
  // differs, so every row is still used. (A split smaller than M is one
  // minibatch of N rows.)
  const int64_t N_, M_, steps_per_epoch_, total_steps_;
  const RunIdentity id_;
  Vae m_;
  Optimizer opt_;
  std::unique_ptr<BayesDecoder> bayes_;  // --bayes full
  Sgvb sgvb_;
  Watchdog watchdog_;  // armed by the first phase() (run()'s initial test ELBO or first epoch)
  TrainStep step_;
  TrainProgress progress_;
  std::unique_ptr<TrainRows> rows_;  // made once the resume point is known
  std::unique_ptr<RowRange> test_;   // this rank's part of the test split (none without one)
  std::unique_ptr<RowRange> valid_;  // this rank's part of the validation split (none without one)
  int64_t first_step_ = 0;
  std::unique_ptr<MetricsLog> metrics_;  // rank 0
  double first_step_at_ = -1;  // seconds from start to the first step's end
  double run_train_seconds_ = 0, last_progress_ = 0, last_checkpoint_ = 0;
  json last_;  // the last epoch's metrics
  std::string last_checkpoint_path_;
};

TrainInputs load_and_size(TrainConfig& cfg, const MpiComm& comm) {
  TrainInputs in = load_train_inputs(cfg, comm);
  cfg.model.x_dim = in.train_info.cols;
  return in;
}

int64_t total_steps_of(const TrainConfig& cfg, int64_t steps_per_epoch) {
  const int64_t all = cfg.epochs * steps_per_epoch;
  return cfg.max_steps >= 0 ? std::min(cfg.max_steps, all) : all;
}

Trainer::Trainer(const TrainConfig& cfg, const MpiComm& comm)
    : cfg_(cfg),
      comm_(comm),
      root_(comm.rank() == 0),
      run_lock_(claim_run_dir(cfg_, comm)),
      in_(load_and_size(cfg_, comm)),
      N_(in_.n_train),
      M_(cfg_.batch),
      steps_per_epoch_(std::max<int64_t>(1, N_ / M_)),
      total_steps_(total_steps_of(cfg_, steps_per_epoch_)),
      id_(run_identity(cfg_, in_, comm)),
      m_(cfg_.model),
      opt_(cfg_.optimizer_config(), m_.num_params()),
      bayes_(cfg_.model.bayes ? std::make_unique<BayesDecoder>(m_) : nullptr),
      sgvb_(m_, cfg_.estimator_kind(), cfg_.samples_per_point(), cfg_.objective_kind()),
      watchdog_(kTool, comm.rank(), cfg_.watchdog_seconds),
      step_({m_, sgvb_, opt_, comm, N_, cfg_.seed, in_.dynamic_binarization,
             comm.size() > 1 && cfg_.overlap_on(), &watchdog_, cfg_.opt.prior_precision,
             cfg_.weight_kl_kind(), cfg_.use_gather(comm.size())}) {
  sgvb_.set_bayes_decoder(bayes_.get());
  init_model();
  progress_ = resume_training(cfg_, id_, m_, opt_, comm_);
  first_step_ = progress_.step;
  collectively(comm_, kTool, [&] {
    rows_ = std::make_unique<TrainRows>(TrainRowsSetup{in_.manifest, cfg_.train_split, in_.validate, N_, M_,
                                                       steps_per_epoch_, total_steps_, first_step_, cfg_.seed,
                                                       cfg_.shuffle_spec(), cfg_.memory_budget_bytes(), &watchdog_},
                                        comm_);
  });
  if (!cfg_.test_split.empty()) test_ = open_eval_part(cfg_, in_, cfg_.test_split, in_.n_test, comm_);
  if (!cfg_.valid_split.empty()) valid_ = open_eval_part(cfg_, in_, cfg_.valid_split, in_.n_valid, comm_);
  // The fewest CPUs any rank may run on decides whether --threads can pay.
  const int cpus = static_cast<int>(comm_.allreduce_min(static_cast<int64_t>(cpus_in_affinity())));
  advice_ = layout_advice(
      {comm_.size(), cfg_.threads, M_, cpus, cfg_.use_gather(comm_.size()), cfg_.samples_per_point()});
  if (root_) {
    write_text_atomically(cfg_.out_dir + "/config.ini", cfg_.to_ini());
    metrics_ = std::make_unique<MetricsLog>(cfg_.metrics_path, progress_.step);
    std::cout << cfg_.to_ini() << std::flush;
    for (const std::string& a : advice_) std::cerr << kTool << ": advice: " << a << std::endl;
  }
  last_progress_ = last_checkpoint_ = now_s();
}

// Rank 0's initialization is broadcast, so every rank starts identical.
void Trainer::init_model() {
  init_params(m_, parse_init(cfg_.init), cfg_.init_std, cfg_.seed);
  if (bayes_) init_weight_posterior(m_, cfg_.bayes_init_std);
  if (cfg_.output_bias_init == "mean") init_output_bias_to_mean(m_, mean_training_input(cfg_, in_, comm_));
  comm_.bcast(m_.params.data(), m_.num_params());
}

// The bound of the training objective on the test and validation splits (for
// --objective iwae the K-sample importance-weighted bound, else the ELBO).
json Trainer::eval_metrics() {
  json j;
  if (test_) put_means(j, "test", evaluate_elbo(m_, *test_, in_.dynamic_binarization, cfg_.eval_seed, bound(), comm_));
  if (valid_)
    put_means(j, "valid", evaluate_elbo(m_, *valid_, in_.dynamic_binarization, cfg_.eval_seed, bound(), comm_));
  return j;
}

// --keep-best: a validation bound better than any before replaces
// <out>/model_best.h5 (atomically; rank 0). The best so far travels in the
// checkpoints, so a resumed run keeps comparing against it.
void Trainer::keep_if_best(const json& metrics) {
  if (cfg_.keep_best != "on" || !metrics.contains("valid_elbo")) return;
  const double v = metrics["valid_elbo"].get<double>();
  if (progress_.best_valid_epoch > 0 && !(v > progress_.best_valid)) return;
  progress_.best_valid = v;
  progress_.best_valid_epoch = progress_.epoch + 1;
  if (!root_) return;
  watchdog_.phase("writing model_best.h5", false, progress_.step);
  ModelMeta meta = model_meta();
  meta.epoch = progress_.epoch + 1;
  meta.selected_on = cfg_.valid_split;
  meta.selected_bound = v;
  save_model(best_model_path(), m_, meta);
}

// --bayes full: the bound per point includes -KL(q(theta) || p(theta)) / N (in
// closed form, at the parameters of the moment), so the *_elbo values of a
// metrics line are the full bound; the KL per point and the quantiles of
// sigma_theta are reported beside them.
void Trainer::put_weight_posterior(json& j) const {
  if (!bayes_) return;
  const double per_point = weight_kl(m_, cfg_.opt.prior_precision, WeightKl::kAnalytic, 0, 0, nullptr) / N_;
  for (const char* k : {"train_elbo", "test_elbo", "valid_elbo"})
    if (j.contains(k)) j[k] = j[k].get<double>() - per_point;
  j["weight_kl_per_point"] = per_point;
  std::vector<float> sigma;
  for (const ParamBlock& b : m_.layout().blocks())
    if (b.offset >= m_.rho_begin())
      for (int64_t i = 0; i < b.size(); ++i) sigma.push_back(softplus(m_.params[static_cast<size_t>(b.offset + i)]));
  std::sort(sigma.begin(), sigma.end());
  auto q = [&](double p) { return sigma[static_cast<size_t>(p * static_cast<double>(sigma.size() - 1))]; };
  j["sigma_theta_quantiles"] = {{"0.01", q(0.01)}, {"0.5", q(0.5)}, {"0.99", q(0.99)}};
}

ModelMeta Trainer::model_meta() const {
  ModelMeta meta;
  meta.row_shape = in_.train_info.row_shape;
  meta.data_scale = in_.train_info.scale;
  meta.dataset = in_.manifest.name;
  meta.binarization = id_.binarization;
  meta.config_ini = cfg_.to_ini();
  meta.step = progress_.step;
  meta.epoch = progress_.epoch;
  meta.train_rows = N_;
  return meta;
}

json Trainer::run() {
  // The initial model's test ELBO: the baseline every later epoch is read against.
  if (progress_.step == 0 && (test_ || valid_)) {
    watchdog_.phase("the initial test ELBO (then waiting for the other ranks)", true, 0);
    json line{{"epoch", 0}, {"step", 0}};
    line.update(eval_metrics());
    put_weight_posterior(line);
    line["wall_seconds"] = now_s() - t_start_;
    if (root_) metrics_->append(line);
  }
  while (progress_.epoch < cfg_.epochs && progress_.step < total_steps_)
    if (auto stopped = run_epoch()) return *stopped;
  return finish();
}

// One epoch (or what is left of it after a resume or before --max-steps).
// Returns the summary when a stop signal ended the run.
std::optional<json> Trainer::run_epoch() {
  const int64_t epoch = progress_.epoch;
  const double wait_at_start = rows_->wait_seconds();
  const float lr = cfg_.schedule.lr_at_epoch(epoch);
  ElboSums epoch_sums = progress_.epoch_partial;
  progress_.epoch_partial = {};
  const double t_epoch = now_s();
  int64_t epoch_steps = 0;
  bool checkpoint_due = false, stop_due = false;
  while (progress_.step_in_epoch < steps_per_epoch_ && progress_.step < total_steps_) {
    const StepRows& rows = rows_->rows(progress_.step);
    watchdog_.phase("the step's forward and backward passes", false, progress_.step);
    // Stop and checkpoint requests reach every rank through the step's reduction.
    const bool timer_due = root_ && cfg_.checkpoint_every_seconds > 0 &&
                           now_s() - last_checkpoint_ >= cfg_.checkpoint_every_seconds;
    const float step_lr = lr * cfg_.schedule.warmup_factor(progress_.step, steps_per_epoch_);
    const StepResult r = step_.run(
        {rows, rows_->format(), M_, progress_.step, step_lr, StepRequests{stop_signal_received(), timer_due}});
    if (first_step_at_ < 0) first_step_at_ = now_s() - t_start_;
    epoch_sums += r.sums;
    ++progress_.step, ++progress_.step_in_epoch, ++epoch_steps;
    check_replicas();
    stop_due = r.stop;
    checkpoint_due = r.stop || r.checkpoint ||
                     (cfg_.checkpoint_every_steps > 0 && progress_.step % cfg_.checkpoint_every_steps == 0);
    // At an epoch's last step the checkpoint waits until the epoch's metrics are
    // written, so it says "epoch e+1, step 0" and a resume neither repeats nor
    // loses an epoch's metrics line.
    if (checkpoint_due && progress_.step_in_epoch < steps_per_epoch_)
      if (auto stopped = checkpoint_now(epoch_sums, now_s() - t_epoch, stop_due)) return stopped;
    if (root_ && cfg_.progress_every > 0 && now_s() - last_progress_ >= cfg_.progress_every)
      report_progress(epoch, epoch_steps, t_epoch, epoch_sums, lr);
  }
  const double epoch_s = now_s() - t_epoch;
  progress_.train_seconds += epoch_s;
  run_train_seconds_ += epoch_s;
  if (progress_.step_in_epoch < steps_per_epoch_) {  // stopped mid-epoch by --max-steps
    progress_.epoch_partial = epoch_sums;
    return std::nullopt;
  }
  watchdog_.phase("the epoch's metrics (waiting for the other ranks)", true, progress_.step);
  end_epoch(allreduce_sum(epoch_sums, comm_), epoch_steps, epoch_s, lr, rows_->wait_seconds() - wait_at_start);
  if (checkpoint_due) return checkpoint_now(ElboSums{}, 0.0, stop_due);
  return std::nullopt;
}

// Every --check-every steps: do all ranks still hold the same parameters?
void Trainer::check_replicas() {
  if (cfg_.check_every <= 0 || comm_.size() == 1 || progress_.step % cfg_.check_every != 0) return;
  watchdog_.phase("the replica check (waiting for the other ranks)", true, progress_.step);
  const int64_t h = params_hash(m_);
  if (comm_.allreduce_min(h) != comm_.allreduce_max(h))
    agreed_failure(comm_, kTool, kExitInternal,
                   "parameters differ across ranks at step " + std::to_string(progress_.step) +
                       " (hash check); a rank computed a different update");
}

void Trainer::report_progress(int64_t epoch, int64_t epoch_steps, double t_epoch, const ElboSums& epoch_sums,
                              float lr) {
  last_progress_ = now_s();
  const double rate = static_cast<double>(epoch_steps * M_) / std::max(last_progress_ - t_epoch, 1e-9);
  const double eta = static_cast<double>(total_steps_ - progress_.step) * M_ / std::max(rate, 1e-9);
  std::cerr << progress_line(epoch + 1, cfg_.epochs, progress_.step, total_steps_, rate,
                             epoch_sums.elbo / std::max<int64_t>(1, epoch_sums.points), lr, eta)
            << std::endl;
}

// The epoch's metrics line (train sums over all ranks; the test ELBO every
// --eval-every epochs and at the end).
void Trainer::end_epoch(const ElboSums& train, int64_t epoch_steps, double epoch_s, float lr, double data_wait_s) {
  const int64_t epoch = progress_.epoch;
  last_ = json{{"epoch", epoch + 1}, {"step", progress_.step}};
  put_means(last_, "train", train);
  last_["samples_per_s"] = static_cast<double>(epoch_steps * M_) / std::max(epoch_s, 1e-9);
  last_["lr"] = lr;
  last_["epoch_seconds"] = epoch_s;
  // The share of the epoch the steps waited for rows (the slowest rank's).
  last_["data_wait_fraction"] = comm_.allreduce_max(data_wait_s) / std::max(epoch_s, 1e-9);
  last_["wall_seconds"] = now_s() - t_start_;
  const bool last_epoch = epoch + 1 == cfg_.epochs || progress_.step >= total_steps_;
  if ((test_ || valid_) && ((cfg_.eval_every > 0 && (epoch + 1) % cfg_.eval_every == 0) || last_epoch)) {
    // Mostly local work, but it ends in an allreduce: a collective limit, so a
    // rank stuck elsewhere reports first.
    watchdog_.phase("the test ELBO (then waiting for the other ranks)", true, progress_.step);
    last_.update(eval_metrics());
  }
  put_weight_posterior(last_);
  keep_if_best(last_);
  if (root_) {
    if (cfg_.samples_every > 0 && ((epoch + 1) % cfg_.samples_every == 0 || last_epoch)) {
      watchdog_.phase("writing a sample grid", false, progress_.step);
      // Rank 0 alone: a failure here must not stop it while the other ranks
      // wait in the next step's reduction; a picture is not worth the run.
      try {
        write_sample_grid(m_, in_.train_info.row_shape, cfg_.out_dir, epoch + 1, cfg_.seed);
      } catch (const std::exception& e) {
        std::cerr << "aevb-train: warning: no sample grid for epoch " << epoch + 1 << ": " << e.what() << std::endl;
      }
    }
    watchdog_.phase("writing metrics.jsonl", false, progress_.step);
    metrics_->append(last_);
    if (cfg_.progress_every > 0) {
      std::cerr << "epoch " << epoch + 1 << " done: train ELBO " << last_["train_elbo"].get<double>();
      if (last_.contains("test_elbo")) std::cerr << " | test ELBO " << last_["test_elbo"].get<double>();
      if (last_.contains("valid_elbo")) std::cerr << " | valid ELBO " << last_["valid_elbo"].get<double>();
      std::cerr << " | " << static_cast<long>(last_["samples_per_s"].get<double>()) << " samples/s" << std::endl;
    }
  }
  ++progress_.epoch;
  progress_.step_in_epoch = 0;
}

// partial_local: this rank's sums over the current epoch's completed steps,
// summed over ranks so that a resume with any rank count continues them;
// epoch_elapsed: training seconds of the current epoch so far. Rank 0 writes.
std::string Trainer::save_checkpoint(const ElboSums& partial_local, double epoch_elapsed) {
  TrainProgress p = progress_;
  watchdog_.phase("a checkpoint's sums (waiting for the other ranks)", true, p.step);
  p.epoch_partial = allreduce_sum(partial_local, comm_);
  p.train_seconds += epoch_elapsed;
  const std::string path = checkpoint_path(cfg_.out_dir, p.step);
  if (root_) watchdog_.phase("writing a checkpoint", false, p.step);
  if (root_) {
    write_checkpoint(path, m_, opt_, p, id_);
    prune_checkpoints(cfg_.out_dir, cfg_.keep_checkpoints);
  }
  return path;
}

// Checkpoints at a step boundary; after a stop signal, returns the summary
// that ends the run with exit 75 (requeue).
std::optional<json> Trainer::checkpoint_now(const ElboSums& partial_local, double epoch_elapsed, bool stop) {
  last_checkpoint_path_ = save_checkpoint(partial_local, epoch_elapsed);
  last_checkpoint_ = now_s();
  if (!stop) return std::nullopt;
  if (root_)
    std::cerr << kTool << ": stop signal received: checkpointed step " << progress_.step << " to "
              << last_checkpoint_path_ << "; exiting with " << kExitRequeue << " (requeue)" << std::endl;
  return json{{"tool", kTool},          {"status", "checkpointed"},           {"exit_code", kExitRequeue},
              {"steps", progress_.step}, {"epoch", progress_.epoch},           {"checkpoint", last_checkpoint_path_},
              {"ranks", comm_.size()},  {"wall_seconds", now_s() - t_start_}, {"out", cfg_.out_dir}};
}

// The end: a final checkpoint (so a longer run can continue from here), the
// model file, and the summary.
json Trainer::finish() {
  last_checkpoint_path_ = save_checkpoint(progress_.epoch_partial, 0.0);
  if (root_) watchdog_.phase("writing the model file", false, progress_.step);
  if (root_) save_model(cfg_.model_path, m_, model_meta());
  const int64_t steps_now = progress_.step - first_step_;
  // How the data was served, over all ranks (summed bytes, the worst rank's
  // memory and wait): the numbers docs/memory.md and bench/streaming talk about.
  double io[2] = {static_cast<double>(rows_->bytes_read()), static_cast<double>(storage_read_bytes())};
  comm_.allreduce_sum(io, 2);
  const double peak_rss = comm_.allreduce_max(static_cast<double>(peak_rss_bytes()));
  const double data_wait = comm_.allreduce_max(rows_->wait_seconds());
  json out{{"tool", kTool},
           {"status", "done"},
           {"exit_code", 0},
           {"epochs", progress_.epoch},
           {"steps", progress_.step},
           {"steps_this_run", steps_now},
           {"resumed_from_step", first_step_},
           {"ranks", comm_.size()},
           {"threads", cfg_.threads},
           {"train_rows", N_},
           {"train_seconds", progress_.train_seconds},
           {"wall_seconds", now_s() - t_start_},
           {"samples_per_s", static_cast<double>(steps_now * M_) / std::max(run_train_seconds_, 1e-9)},
           {"out", cfg_.out_dir},
           {"model", cfg_.model_path},
           {"checkpoint", last_checkpoint_path_},
           {"metrics", cfg_.metrics_path},
           {"data_mode", rows_->resident() ? "resident" : "streamed"}, {"advice", advice_},
           {"reduction", cfg_.use_gather(comm_.size()) ? "gather" : "allreduce"},
           {"shuffle", cfg_.shuffle},
           {"first_step_seconds", first_step_at_},
           {"data_wait_seconds", data_wait},
           {"data_wait_fraction", data_wait / std::max(run_train_seconds_, 1e-9)},
           {"rows_bytes_read", io[0]},
           {"storage_bytes_read", io[1]},
           {"peak_rss_bytes", peak_rss}};
  out["objective"] = cfg_.objective == "iwae" ? "iwae-" + std::to_string(cfg_.iwae_k) : "elbo";
  out["bayes"] = cfg_.bayes;
  for (const char* k : {"train_elbo", "train_rec", "train_kl", "test_elbo", "test_rec", "test_kl", "valid_elbo",
                        "valid_rec", "valid_kl", "weight_kl_per_point", "sigma_theta_quantiles"})
    if (last_.contains(k)) out[k] = last_[k];
  if (cfg_.keep_best == "on" && progress_.best_valid_epoch > 0) {
    out["best_model"] = best_model_path();
    out["best_valid_elbo"] = progress_.best_valid;
    out["best_valid_epoch"] = progress_.best_valid_epoch;
  }
  return out;
}

}  // namespace

json run_training(const TrainConfig& cfg, const MpiComm& comm) {
  set_compute_threads(cfg.threads);
  install_stop_signal_handlers();
  Trainer t(cfg, comm);
  return t.run();
}

}  // namespace aevb
