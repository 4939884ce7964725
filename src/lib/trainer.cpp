#include "aevb/trainer.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "aevb/dataset.hpp"
#include "aevb/dnnl_context.hpp"
#include "aevb/durable_file.hpp"
#include "aevb/elbo_eval.hpp"
#include "aevb/error.hpp"
#include "aevb/model_file.hpp"
#include "aevb/optimizer.hpp"
#include "aevb/rng.hpp"
#include "aevb/sgvb.hpp"
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

// Everything the run reads before the first step, validated collectively.
struct Inputs {
  Manifest manifest;
  SplitInfo train_info;
  DataMatrix train;
  EvalData test;
  bool dynamic_binarization = false;
};

Inputs load_inputs(const TrainConfig& cfg, const MpiComm& comm) {
  Inputs in;
  collectively(comm, kTool, [&] {
    if (comm.rank() == 0) {
      make_output_dir(cfg.out_dir);
      require_writable_dir(cfg.out_dir, "cannot write the run directory");
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
    ValidateOptions v;
    v.require_unit_interval = bernoulli;
    in.train = load_split(in.manifest, cfg.train_split, v, cfg.max_train_rows);
    if (in.train.rows == 0) throw input_error(cfg.data_dir + ": split '" + cfg.train_split + "' has no rows");
    if (!cfg.test_split.empty()) {
      DataMatrix t = load_split(in.manifest, cfg.test_split, v, cfg.max_test_rows);
      if (t.cols != in.train.cols)
        throw input_error(cfg.data_dir + ": split '" + cfg.test_split + "' has " + std::to_string(t.cols) +
                          " values per row but '" + cfg.train_split + "' has " + std::to_string(in.train.cols));
      in.test.rows = t.rows;
      in.test.cols = t.cols;
      in.test.index = std::move(t.global_index);
      in.test.x = std::move(t.x);
      // A dynamically binarized model is evaluated on ONE fixed binarization of
      // the test set (seed recorded in the config) so evaluations compare.
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

// The rows [lo, hi) of the global minibatch [b0, b0 + m) that rank r of P owns:
// a balanced split, so M not divisible by P is fine and a rank may get none.
struct Slice {
  int64_t lo, hi;
};
Slice rank_slice(int64_t b0, int64_t m, int r, int p) { return {b0 + m * r / p, b0 + m * (r + 1) / p}; }

}  // namespace

json run_training(const TrainConfig& cfg_in, const MpiComm& comm) {
  const double t_start = now_s();
  TrainConfig cfg = cfg_in;
  set_compute_threads(cfg.threads);
  const bool root = comm.rank() == 0;

  Inputs in = load_inputs(cfg, comm);
  cfg.model.x_dim = in.train.cols;
  const int64_t N = in.train.rows, D = in.train.cols, M = cfg.batch;
  const int64_t steps_per_epoch = (N + M - 1) / M;

  // Model: rank 0's initialization is broadcast, so every rank starts identical.
  Vae m(cfg.model);
  init_params(m, parse_init(cfg.init), cfg.init_std, cfg.seed);
  if (cfg.output_bias_init == "mean") {
    std::vector<double> mean(static_cast<size_t>(D), 0.0);
    for (int64_t i = 0; i < N; ++i)
      for (int64_t d = 0; d < D; ++d) mean[static_cast<size_t>(d)] += in.train.x[static_cast<size_t>(i * D + d)];
    for (auto& v : mean) v /= static_cast<double>(N);
    init_output_bias_to_mean(m, mean);
  }
  comm.bcast(m.params.data(), m.num_params());
  Optimizer opt(cfg.opt, m.num_params());
  Sgvb sgvb(m, cfg.estimator_kind(), cfg.samples);

  std::ofstream metrics;
  if (root) {
    write_text_atomically(cfg.out_dir + "/config.ini", cfg.to_ini());
    metrics.open(cfg.metrics_path, std::ios::app);
    if (!metrics) throw output_error("cannot open the metrics file " + cfg.metrics_path + " for appending");
    std::cout << cfg.to_ini() << std::flush;
  }

  const bool overlap = comm.size() > 1 && cfg.overlap != "off";
  TrainStep train_step({m, sgvb, opt, comm, in.train, N, cfg.seed, in.dynamic_binarization, overlap});
  std::vector<int64_t> my_rows(static_cast<size_t>(M / comm.size() + 1));

  int64_t step = 0;
  const int64_t total_steps = cfg.max_steps >= 0 ? std::min(cfg.max_steps, cfg.epochs * steps_per_epoch)
                                                 : cfg.epochs * steps_per_epoch;
  double train_seconds = 0, last_progress = now_s();
  json last;  // the last epoch's metrics
  ElboSums test{};
  // The initial model's test ELBO: the baseline every later epoch is read against.
  if (in.test.rows > 0) {
    const ElboSums t0 = evaluate_elbo(m, in.test, cfg.eval_seed, cfg.samples, comm);
    const double tp = static_cast<double>(std::max<int64_t>(1, t0.points));
    if (root)
      metrics << json{{"epoch", 0}, {"step", 0}, {"test_elbo", t0.elbo / tp}, {"test_rec", t0.rec / tp},
                      {"test_kl", t0.kl / tp}, {"wall_seconds", now_s() - t_start}}.dump()
              << "\n" << std::flush;
  }
  int64_t epoch = 0;
  for (; epoch < cfg.epochs && step < total_steps; ++epoch) {
    const std::vector<int64_t> perm = permutation(cfg.seed, static_cast<uint64_t>(epoch), N);
    const float lr = cfg.schedule.lr_at_epoch(epoch);
    ElboSums epoch_sums;
    const double t_epoch = now_s();
    int64_t epoch_steps = 0;
    for (int64_t s = 0; s < steps_per_epoch && step < total_steps; ++s, ++step, ++epoch_steps) {
      // This rank's slice of the global minibatch: entries [b0, b0 + m_t) of the
      // epoch's permutation, split evenly over ranks.
      const int64_t b0 = s * M, m_t = std::min(M, N - b0);
      const Slice sl = rank_slice(b0, m_t, comm.rank(), comm.size());
      for (int64_t i = sl.lo; i < sl.hi; ++i) my_rows[static_cast<size_t>(i - sl.lo)] = perm[static_cast<size_t>(i)];
      const ElboSums sums = train_step.run(my_rows.data(), sl.hi - sl.lo, m_t, step, lr);
      epoch_sums += sums;

      if (root && cfg.progress_every > 0 && now_s() - last_progress >= cfg.progress_every) {
        last_progress = now_s();
        const double el = last_progress - t_epoch;
        const double rate = static_cast<double>((epoch_steps + 1) * M) / std::max(el, 1e-9);
        const double eta = static_cast<double>(total_steps - step - 1) * M / std::max(rate, 1e-9);
        char line[256];
        std::snprintf(line, sizeof line,
                      "epoch %lld/%lld step %lld/%lld | %.1fk samples/s | ELBO %.2f (rank 0 slice) | lr %.3g | ETA %s",
                      static_cast<long long>(epoch + 1), static_cast<long long>(cfg.epochs),
                      static_cast<long long>(step + 1), static_cast<long long>(total_steps), rate / 1000.0,
                      epoch_sums.elbo / std::max<int64_t>(1, epoch_sums.points), lr, human_seconds(eta).c_str());
        std::cerr << line << std::endl;
      }
    }
    const double epoch_s = now_s() - t_epoch;
    train_seconds += epoch_s;
    double v[4] = {epoch_sums.elbo, epoch_sums.rec, epoch_sums.kl, static_cast<double>(epoch_sums.points)};
    comm.allreduce_sum(v, 4);
    const double pts = std::max(1.0, v[3]);
    last = json{{"epoch", epoch + 1},
                {"step", step},
                {"train_elbo", v[0] / pts},
                {"train_rec", v[1] / pts},
                {"train_kl", v[2] / pts},
                {"samples_per_s", v[3] / std::max(epoch_s, 1e-9)},
                {"lr", lr},
                {"epoch_seconds", epoch_s},
                {"wall_seconds", now_s() - t_start}};
    const bool last_epoch = epoch + 1 == cfg.epochs || step >= total_steps;
    if (in.test.rows > 0 && ((cfg.eval_every > 0 && (epoch + 1) % cfg.eval_every == 0) || last_epoch)) {
      test = evaluate_elbo(m, in.test, cfg.eval_seed, cfg.samples, comm);
      const double tp = static_cast<double>(std::max<int64_t>(1, test.points));
      last["test_elbo"] = test.elbo / tp;
      last["test_rec"] = test.rec / tp;
      last["test_kl"] = test.kl / tp;
    }
    if (root) {
      metrics << last.dump() << "\n" << std::flush;
      if (cfg.progress_every > 0) {
        char line[256];
        std::snprintf(line, sizeof line, "epoch %lld done: train ELBO %.3f", static_cast<long long>(epoch + 1),
                      v[0] / pts);
        std::cerr << line;
        if (last.contains("test_elbo")) std::cerr << " | test ELBO " << last["test_elbo"].get<double>();
        std::cerr << " | " << static_cast<long>(v[3] / std::max(epoch_s, 1e-9)) << " samples/s" << std::endl;
      }
    }
  }

  if (root) {
    ModelMeta meta;
    meta.row_shape = in.train_info.row_shape;
    meta.data_scale = in.train_info.scale;
    meta.dataset = in.manifest.name;
    meta.binarization = in.dynamic_binarization ? "dynamic" : in.train_info.binarization;
    meta.config_ini = cfg.to_ini();
    meta.step = step;
    meta.epoch = epoch;
    save_model(cfg.model_path, m, meta);
  }
  json out{{"tool", kTool},
           {"status", "done"},
           {"epochs", epoch},
           {"steps", step},
           {"ranks", comm.size()},
           {"threads", cfg.threads},
           {"train_rows", N},
           {"train_seconds", train_seconds},
           {"wall_seconds", now_s() - t_start},
           {"samples_per_s", static_cast<double>(step * M) / std::max(train_seconds, 1e-9)},
           {"out", cfg.out_dir},
           {"model", cfg.model_path},
           {"metrics", cfg.metrics_path}};
  for (const char* k : {"train_elbo", "train_rec", "train_kl", "test_elbo", "test_rec", "test_kl"})
    if (last.contains(k)) out[k] = last[k];
  return out;
}

}  // namespace aevb
