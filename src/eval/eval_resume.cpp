#include "eval_resume.hpp"

#include <filesystem>
#include <iostream>
#include <limits>

#include "aevb/base/clock.hpp"
#include "aevb/base/error.hpp"
#include "aevb/dist/stop_signal.hpp"
#include "aevb/core/bayes_decoder.hpp"
#include "mcmc_block.hpp"

namespace aevb {
namespace {
constexpr const char* kTool = "aevb-eval";
using json = nlohmann::json;
}  // namespace

void copy_point(const EvalResults& from, size_t i, EvalResults& to, size_t j, int64_t nK, bool prior) {
  for (int64_t k = 0; k < nK; ++k) to.log_px[j * nK + k] = from.log_px[i * nK + k];
  // (A partial file of an older aevb-eval has no posterior means: NaN.)
  const size_t J = static_cast<size_t>(to.latent);
  for (size_t u = 0; u < J; ++u)
    to.mu[j * J + u] = from.latent == to.latent ? from.mu[i * J + u] : std::numeric_limits<double>::quiet_NaN();
  to.elbo[j] = from.elbo[i];
  to.rec[j] = from.rec[i];
  to.kl[j] = from.kl[i];
  if (prior) to.log_px_prior[j] = from.log_px_prior[i];
  if (!to.elbo_full.empty()) to.elbo_full[j] = from.elbo_full[i];
  if (!to.log_px_predictive.empty()) to.log_px_predictive[j] = from.log_px_predictive[i];
  // Same settings: the same arrays (but a partial file of an older aevb-eval has no /log_px_se: NaN).
  for (auto& [name, v] : to.columns) {
    const auto it = from.columns.find(name);
    v[j] = it == from.columns.end() ? std::numeric_limits<double>::quiet_NaN() : it->second[i];
  }
}

std::string partial_path(const EvalConfig& cfg) { return cfg.out_path + ".partial"; }

// What identifies an evaluation: the same model, data and estimator settings
// give the same per-point numbers (they do not depend on the rank count).
// Sets these attributes of r; its per-point arrays are left as they are.
void describe_run(const EvalConfig& cfg, const Inputs& in, EvalResults& r) {
  r.k_values = cfg.ks;
  r.model_path = cfg.model_path;
  r.model_format = in.model.meta.format;
  r.model_params_sha256 = in.model.meta.params_sha256;
  r.model_step = in.model.meta.step;
  r.dataset = in.dataset_name;
  r.data_sha256 = in.data_sha256;
  r.chunk_rows = cfg.chunk_rows;
  r.data_dir = cfg.data_dir;
  r.split = cfg.split;
  r.binarization = in.binarized ? "dynamic" : "none";
  r.seed = cfg.seed;
  r.binarize_seed = cfg.binarize_seed;
  r.elbo_samples = cfg.elbo_samples;
  r.prior_samples = cfg.prior_samples;
  r.latent = in.model.model->spec().latent;
  r.theta_samples = cfg.theta_samples;
  r.estimators = cfg.estimator_text;
  r.estimator_settings = mcmc_settings_json(cfg);
  r.simulated = cfg.simulate;
  const Vae& m = *in.model.model;
  if (m.spec().bayes && in.model.meta.train_rows > 0)
    r.weight_kl_per_point = weight_kl(m, m.spec().prior_precision, WeightKl::kAnalytic, 0, 0, nullptr) /
                            static_cast<double>(in.model.meta.train_rows);
}

// Every rank reads OUT.partial (rank 0 writes, everyone reads); --force ignores it.
Finished load_finished(const EvalConfig& cfg, const Inputs& in, const MpiComm& comm) {
  Finished f;
  collectively(comm, kTool, [&] {
    if (cfg.force || !std::filesystem::exists(partial_path(cfg))) return;
    f.r = read_eval_results(partial_path(cfg));
    EvalResults want;
    describe_run(cfg, in, want);
    std::string diff;
    auto cmp = [&](const char* what, const auto& a, const auto& b) {
      if (!(a == b)) diff += std::string(diff.empty() ? "" : ", ") + what;
    };
    cmp("model parameters", f.r.model_params_sha256, want.model_params_sha256);
    cmp("dataset", f.r.dataset, want.dataset);
    cmp("data (shard checksums)", f.r.data_sha256, want.data_sha256);
    cmp("chunk-rows", f.r.chunk_rows, want.chunk_rows);
    cmp("split", f.r.split, want.split);
    cmp("k", f.r.k_values, want.k_values);
    cmp("seed", f.r.seed, want.seed);
    cmp("binarization", f.r.binarization, want.binarization);
    cmp("binarize-seed", f.r.binarize_seed, want.binarize_seed);
    cmp("elbo-samples", f.r.elbo_samples, want.elbo_samples);
    cmp("theta-samples", f.r.theta_samples, want.theta_samples);
    cmp("prior-samples", f.r.prior_samples, want.prior_samples);
    cmp("estimator", f.r.estimators, want.estimators);
    cmp("MCMC settings", f.r.estimator_settings, want.estimator_settings);
    cmp("simulate", f.r.simulated, want.simulated);
    if (!diff.empty())
      throw output_error(partial_path(cfg) + ": the finished points of an interrupted evaluation with other settings (" +
                         diff + " differ); resume it with the same options, remove it, or use --force");
  });
  for (size_t i = 0; i < f.r.index.size(); ++i) f.row.emplace(f.r.index[i], i);
  if (comm.rank() == 0 && !f.row.empty())
    std::cerr << kTool << ": resuming: " << f.row.size() << " point(s) already finished in " << partial_path(cfg)
              << std::endl;
  return f;
}

// Rank 0, after a stop signal: this run's finished points plus the earlier
// ones it did not reach, written atomically to OUT.partial.
json write_partial(const EvalConfig& cfg, const Inputs& in, EvalResults done, const Finished& fin, double t_start) {
  const int64_t nK = static_cast<int64_t>(cfg.ks.size());
  const bool prior = cfg.prior_samples > 0;
  std::unordered_map<int64_t, size_t> have;
  for (size_t i = 0; i < done.index.size(); ++i) have.emplace(done.index[i], i);
  for (size_t i = 0; i < fin.r.index.size(); ++i) {
    if (have.count(fin.r.index[i])) continue;
    const size_t j = done.index.size();
    done.index.push_back(fin.r.index[i]);
    done.log_px.resize(done.log_px.size() + static_cast<size_t>(nK));
    done.elbo.push_back(0), done.rec.push_back(0), done.kl.push_back(0);
    if (prior) done.log_px_prior.push_back(0);
    done.mu.resize(done.mu.size() + static_cast<size_t>(done.latent));
    if (!done.elbo_full.empty() || in.model.model->spec().bayes) done.elbo_full.resize(j + 1);
    if (cfg.theta_samples > 0) done.log_px_predictive.resize(j + 1);
    for (auto& [name, v] : done.columns) v.resize(j + 1);
    copy_point(fin.r, i, done, j, nK, prior);
  }
  EvalResults& r = done;
  describe_run(cfg, in, r);
  r.complete = false;
  r.wall_seconds = now_s() - t_start;
  write_eval_results(partial_path(cfg), r);
  std::cerr << kTool << ": stop signal received: " << r.points() << " of " << in.points
            << " point(s) finished, kept in " << partial_path(cfg) << "; run the same command to resume; exiting with "
            << kExitRequeue << std::endl;
  return json{{"tool", kTool},
              {"status", "stopped"},
              {"exit_code", kExitRequeue},
              {"points_done", r.points()},
              {"points", in.points},
              {"partial", partial_path(cfg)},
              {"wall_seconds", r.wall_seconds}};
}

}  // namespace aevb
