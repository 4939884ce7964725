#include "aevb/eval/evaluator.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <cstdio>
#include <iostream>
#include <sstream>

#include "aevb/io/dataset.hpp"
#include "aevb/core/dnnl_context.hpp"
#include "aevb/io/durable_file.hpp"
#include "aevb/base/error.hpp"
#include "aevb/io/eval_results.hpp"
#include "aevb/core/importance_sampling.hpp"
#include "aevb/io/model_file.hpp"
#include "aevb/base/rng.hpp"
#include "aevb/core/sgvb.hpp"
#include "aevb/base/partition.hpp"
#include "aevb/io/binarization.hpp"

namespace aevb {

namespace {

using json = nlohmann::json;
constexpr const char* kTool = "aevb-eval";

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

struct Inputs {
  LoadedModel model;
  std::string dataset_name;
  DataMatrix data;
  bool binarized = false;
};

// Everything that can fail on bad input, before any compute.
Inputs load_inputs(const EvalConfig& cfg, const MpiComm& comm) {
  Inputs in;
  collectively(comm, kTool, [&] {
    if (comm.rank() == 0) {
      require_writable_dir(parent_dir(cfg.out_path), "cannot write the results file " + cfg.out_path);
      if (std::filesystem::is_directory(cfg.out_path))
        throw output_error("--out " + cfg.out_path + " is a directory; expected a results file path (e.g. " +
                           cfg.out_path + "/eval.h5)");
    }
    in.model = load_model_or_checkpoint(cfg.model_path);
    const ModelSpec& spec = in.model.model->spec();
    const bool bernoulli = spec.decoder == DecoderKind::kBernoulli;
    if (cfg.binarize == "dynamic" && !bernoulli)
      throw usage_error("--binarize dynamic: only meaningful for a model with a Bernoulli decoder");
    const Manifest manifest = Manifest::load(cfg.data_dir);
    in.dataset_name = manifest.name;
    const SplitInfo& info = manifest.split(cfg.split);
    // Check the dimension before reading (and validating) the rows: a Gaussian
    // split must not be reported as "outside [0,1]" for a Bernoulli model it
    // does not even fit.
    if (info.cols != spec.x_dim)
      throw input_error("model " + cfg.model_path + " has " + std::to_string(spec.x_dim) +
                        " values per data point but split '" + cfg.split + "' of " + cfg.data_dir + " has " +
                        std::to_string(info.cols));
    ValidateOptions v;
    v.require_unit_interval = bernoulli;
    in.data = load_split(manifest, cfg.split, v, cfg.max_points);
    if (in.data.rows == 0) throw input_error(cfg.data_dir + ": split '" + cfg.split + "' has no rows");
    // auto: what the model was trained on (checkpoints without that record fall
    // back on the split's own description, as aevb-train decides).
    const std::string& trained = in.model.meta.binarization;
    in.binarized = binarization_applies(cfg.binarize, bernoulli, trained.empty() ? info.binarization : trained);
    if (in.binarized) binarize_for_evaluation(in.data, cfg.binarize_seed);
  });
  return in;
}


std::string fmt(const char* f, double a, double b = 0) {
  char buf[128];
  std::snprintf(buf, sizeof buf, f, a, b);
  return buf;
}

}  // namespace

json run_evaluation(const EvalConfig& cfg, const MpiComm& comm) {
  const double t_start = now_s();
  const bool root = comm.rank() == 0;
  set_compute_threads(cfg.threads);
  Inputs in = load_inputs(cfg, comm);
  Vae& m = *in.model.model;
  const ModelSpec& spec = m.spec();
  const int64_t N = in.data.rows, D = in.data.cols, nK = static_cast<int64_t>(cfg.ks.size());

  ImportanceSampler is(m, Proposal::kPosterior, cfg.ks, cfg.seed, cfg.chunk_rows);
  // Points go to ranks in whole groups of `unit` consecutive points, the same
  // groups for every rank count: each decoder call then holds the same
  // (point, sample) rows in the same places whatever P is, and the per-point
  // results are bit-identical across rank counts.
  int64_t unit = is.plan().points;
  std::unique_ptr<ImportanceSampler> prior;
  if (cfg.prior_samples > 0) {
    // Its group size made a multiple or divisor of the IS one so both align.
    int64_t g = plan_chunks(cfg.prior_samples, cfg.chunk_rows).points;
    g = g >= unit ? g / unit * unit : std::max<int64_t>(1, [&] {
      int64_t d = g;
      while (unit % d) --d;
      return d;
    }());
    prior = std::make_unique<ImportanceSampler>(m, Proposal::kPrior, std::vector<int64_t>{cfg.prior_samples}, cfg.seed,
                                                cfg.chunk_rows, g);
    unit = std::max(unit, g);
  }
  const int64_t units = (N + unit - 1) / unit;
  // Whole units per rank, so a point's group (and so its result) does not depend on P.
  const Range mine = part_of(0, units, comm.rank(), comm.size());
  const int64_t lo = std::min(N, mine.lo * unit), hi = std::min(N, mine.hi * unit);
  const int64_t n = hi - lo;

  if (root) {
    std::ostringstream s;
    s << kTool << ": model " << cfg.model_path << " (" << in.model.meta.format << ", step " << in.model.meta.step
      << ", " << spec.x_dim << "-" << (spec.hidden.empty() ? std::string("linear") : spec.hidden_string()) << "-"
      << spec.latent << ", " << to_string(spec.decoder) << " decoder)\n"
      << kTool << ": data " << cfg.data_dir << " split '" << cfg.split << "': " << N << " points, "
      << (in.binarized ? "binarized (seed " + std::to_string(cfg.binarize_seed) + ")" : std::string("not binarized"))
      << "\n"
      << kTool << ": K = " << cfg.k_text << " from one stream (seed " << cfg.seed << "); " << is.plan().points
      << " point(s) x " << is.plan().samples << " samples per decoder call, " << is.plan().passes
      << " call(s) per group; " << comm.size() << " rank(s)\n";
    std::cerr << s.str() << std::flush;
  }

  // ---- importance sampling, in blocks of whole units (for progress lines) ----
  std::vector<double> log_px(static_cast<size_t>(n * nK));
  const int64_t kmax = cfg.ks.back();
  const int64_t block = unit * std::max<int64_t>(1, 200000 / (kmax * unit));  // ~200k samples between checks
  const double t_is = now_s();
  double last_progress = t_is;
  for (int64_t b = 0; b < n; b += block) {
    const int64_t nb = std::min(block, n - b);
    is.run(in.data.x.data() + (lo + b) * D, in.data.global_index.data() + lo + b, nb, log_px.data() + b * nK);
    if (root && cfg.progress_every > 0 && now_s() - last_progress >= cfg.progress_every) {
      last_progress = now_s();
      std::cerr << kTool << ": rank 0: " << b + nb << "/" << n << " points, "
                << fmt("%.0f sample evaluations/s", static_cast<double>(is.sample_evals()) / (last_progress - t_is))
                << std::endl;
    }
  }
  const double is_seconds = comm.allreduce_max(now_s() - t_is);
  double evals = static_cast<double>(is.sample_evals());
  comm.allreduce_sum(&evals, 1);

  // ---- ELBO (estimator B, as aevb-train's test ELBO: same noise for the same seed) ----
  std::vector<double> elbo(static_cast<size_t>(n)), rec(static_cast<size_t>(n)), kl(static_cast<size_t>(n));
  {
    Sgvb sg(m, Estimator::kB, cfg.elbo_samples);
    std::vector<PointElbo> terms(static_cast<size_t>(unit));
    for (int64_t b = 0; b < n; b += unit) {
      const int64_t nb = std::min(unit, n - b);
      sg.evaluate({in.data.row(lo + b), in.data.global_index.data() + lo + b, nb}, {cfg.seed, Purpose::kEvalLatentNoise, 0},
                  terms.data());
      for (int64_t i = 0; i < nb; ++i) {
        const PointElbo& t = terms[static_cast<size_t>(i)];
        elbo[static_cast<size_t>(b + i)] = t.elbo;
        rec[static_cast<size_t>(b + i)] = t.rec;
        kl[static_cast<size_t>(b + i)] = t.kl;
      }
    }
  }

  // ---- naive prior sampling (optional) ----
  std::vector<double> log_px_prior;
  if (prior) {
    log_px_prior.resize(static_cast<size_t>(n));
    for (int64_t b = 0; b < n; b += unit)
      prior->run(in.data.x.data() + (lo + b) * D, in.data.global_index.data() + lo + b, std::min(unit, n - b),
                 log_px_prior.data() + b);
  }

  // ---- gather in global order, write, summarize ----
  std::vector<int64_t> index(in.data.global_index.begin() + lo, in.data.global_index.begin() + hi);
  EvalResults r;
  r.index = comm.gather(index);
  r.log_px = comm.gather(log_px);
  r.elbo = comm.gather(elbo);
  r.rec = comm.gather(rec);
  r.kl = comm.gather(kl);
  if (prior) r.log_px_prior = comm.gather(log_px_prior);
  if (!root) return json::object();

  r.k_values = cfg.ks;
  r.model_path = cfg.model_path;
  r.model_format = in.model.meta.format;
  r.model_params_sha256 = in.model.meta.params_sha256;
  r.model_step = in.model.meta.step;
  r.dataset = in.dataset_name;
  r.data_dir = cfg.data_dir;
  r.split = cfg.split;
  r.binarization = in.binarized ? "dynamic" : "none";
  r.seed = cfg.seed;
  r.binarize_seed = cfg.binarize_seed;
  r.elbo_samples = cfg.elbo_samples;
  r.prior_samples = cfg.prior_samples;
  r.sample_evals = static_cast<int64_t>(evals);
  r.sample_evals_per_s = is_seconds > 0 ? evals / is_seconds : 0;
  r.wall_seconds = now_s() - t_start;
  write_eval_results(cfg.out_path, r);

  json s{{"tool", kTool}, {"model", cfg.model_path}, {"data", cfg.data_dir}, {"split", cfg.split}, {"points", N}};
  json nll = json::object();
  for (int64_t j = 0; j < nK; ++j) {
    const MeanSe ms = mean_se(r.log_px.data(), N, nK, j);
    nll[std::to_string(cfg.ks[static_cast<size_t>(j)])] = {{"mean", -ms.mean}, {"se", ms.se}};
    std::cerr << kTool << ": K = " << cfg.ks[static_cast<size_t>(j)] << fmt(": NLL %.4f +- %.4f nats", -ms.mean, ms.se)
              << std::endl;
  }
  s["nll"] = nll;
  const MeanSe e = mean_se(r.elbo.data(), N);
  s["elbo"] = {{"mean", e.mean}, {"se", e.se}};
  std::cerr << kTool << ": ELBO " << fmt("%.4f +- %.4f nats", e.mean, e.se) << " (analytic KL, L = " << cfg.elbo_samples
            << ")" << std::endl;
  if (prior) {
    const MeanSe p = mean_se(r.log_px_prior.data(), N);
    s["nll_prior"] = {{std::to_string(cfg.prior_samples), {{"mean", -p.mean}, {"se", p.se}}}};
    std::cerr << kTool << ": prior sampling, K = " << cfg.prior_samples
              << fmt(": NLL %.4f +- %.4f nats", -p.mean, p.se) << std::endl;
  }
  s["sample_evals"] = r.sample_evals;
  s["sample_evals_per_s"] = r.sample_evals_per_s;
  s["is_seconds"] = is_seconds;
  s["wall_seconds"] = r.wall_seconds;
  s["out"] = cfg.out_path;
  std::cerr << kTool << ": " << r.sample_evals << " importance-sample evaluations in " << fmt("%.1f s", is_seconds)
            << fmt(" (%.0f/s); %.1f s in all; wrote ", r.sample_evals_per_s, r.wall_seconds) << cfg.out_path
            << std::endl;
  return s;
}

}  // namespace aevb
