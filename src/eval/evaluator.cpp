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
#include "aevb/base/clock.hpp"
#include "aevb/base/partition.hpp"
#include "aevb/io/binarization.hpp"

namespace aevb {

namespace {

using json = nlohmann::json;
constexpr const char* kTool = "aevb-eval";


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

// The samplers and how points are split over ranks. Points go to ranks in whole
// groups of `unit` consecutive points, the same groups for every rank count:
// each decoder call then holds the same (point, sample) rows in the same places
// whatever P is, and the per-point results are bit-identical across rank counts.
struct Plan {
  std::unique_ptr<ImportanceSampler> is, prior;
  int64_t unit = 1, lo = 0, hi = 0;  // this rank's points [lo, hi)
  int64_t n() const { return hi - lo; }
};

Plan make_plan(const EvalConfig& cfg, Vae& m, int64_t N, const MpiComm& comm) {
  Plan p;
  p.is = std::make_unique<ImportanceSampler>(m, Proposal::kPosterior, cfg.ks, cfg.seed, cfg.chunk_rows);
  p.unit = p.is->plan().points;
  if (cfg.prior_samples > 0) {
    // Its group size made a multiple or divisor of the IS one so both align.
    int64_t g = plan_chunks(cfg.prior_samples, cfg.chunk_rows).points;
    if (g >= p.unit) {
      g = g / p.unit * p.unit;
    } else {
      while (p.unit % g) --g;
      g = std::max<int64_t>(1, g);
    }
    p.prior = std::make_unique<ImportanceSampler>(m, Proposal::kPrior, std::vector<int64_t>{cfg.prior_samples},
                                                  cfg.seed, cfg.chunk_rows, g);
    p.unit = std::max(p.unit, g);
  }
  const int64_t units = (N + p.unit - 1) / p.unit;
  const Range mine = part_of(0, units, comm.rank(), comm.size());
  p.lo = std::min(N, mine.lo * p.unit);
  p.hi = std::min(N, mine.hi * p.unit);
  return p;
}

void print_header(const EvalConfig& cfg, const Inputs& in, const Plan& p, const MpiComm& comm) {
  const ModelSpec& spec = in.model.model->spec();
  std::ostringstream s;
  s << kTool << ": model " << cfg.model_path << " (" << in.model.meta.format << ", step " << in.model.meta.step << ", "
    << spec.x_dim << "-" << (spec.hidden.empty() ? std::string("linear") : spec.hidden_string()) << "-" << spec.latent
    << ", " << to_string(spec.decoder) << " decoder)\n"
    << kTool << ": data " << cfg.data_dir << " split '" << cfg.split << "': " << in.data.rows << " points, "
    << (in.binarized ? "binarized (seed " + std::to_string(cfg.binarize_seed) + ")" : std::string("not binarized"))
    << "\n"
    << kTool << ": K = " << cfg.k_text << " from one stream (seed " << cfg.seed << "); " << p.is->plan().points
    << " point(s) x " << p.is->plan().samples << " samples per decoder call, " << p.is->plan().passes
    << " call(s) per group; " << comm.size() << " rank(s)\n";
  std::cerr << s.str() << std::flush;
}

struct IsResult {
  std::vector<double> log_px;  // n x nK
  double seconds = 0, evals = 0;  // slowest rank; sample evaluations over all ranks
};

// Importance sampling of this rank's points, in blocks of whole units (progress lines between blocks).
IsResult importance_sample(const EvalConfig& cfg, const Inputs& in, Plan& p, const MpiComm& comm) {
  const int64_t n = p.n(), nK = static_cast<int64_t>(cfg.ks.size()), D = in.data.cols;
  IsResult r;
  r.log_px.resize(static_cast<size_t>(n * nK));
  const int64_t block = p.unit * std::max<int64_t>(1, 200000 / (cfg.ks.back() * p.unit));  // ~200k samples
  const double t0 = now_s();
  double last_progress = t0;
  for (int64_t b = 0; b < n; b += block) {
    const int64_t nb = std::min(block, n - b);
    p.is->run(in.data.x.data() + (p.lo + b) * D, in.data.global_index.data() + p.lo + b, nb,
              r.log_px.data() + b * nK);
    if (comm.rank() == 0 && cfg.progress_every > 0 && now_s() - last_progress >= cfg.progress_every) {
      last_progress = now_s();
      std::cerr << kTool << ": rank 0: " << b + nb << "/" << n << " points, "
                << fmt("%.0f sample evaluations/s", static_cast<double>(p.is->sample_evals()) / (last_progress - t0))
                << std::endl;
    }
  }
  r.seconds = comm.allreduce_max(now_s() - t0);
  r.evals = static_cast<double>(p.is->sample_evals());
  comm.allreduce_sum(&r.evals, 1);
  return r;
}

// Per-point ELBO (estimator B, as aevb-train's test ELBO: same noise for the same seed).
void per_point_elbo(const EvalConfig& cfg, const Inputs& in, const Plan& p, Vae& m, EvalResults& local) {
  const int64_t n = p.n();
  local.elbo.resize(static_cast<size_t>(n));
  local.rec.resize(static_cast<size_t>(n));
  local.kl.resize(static_cast<size_t>(n));
  Sgvb sg(m, Estimator::kB, cfg.elbo_samples);
  std::vector<PointElbo> terms(static_cast<size_t>(p.unit));
  for (int64_t b = 0; b < n; b += p.unit) {
    const int64_t nb = std::min(p.unit, n - b);
    sg.evaluate({in.data.row(p.lo + b), in.data.global_index.data() + p.lo + b, nb},
                {cfg.seed, Purpose::kEvalLatentNoise, 0}, terms.data());
    for (int64_t i = 0; i < nb; ++i) {
      const PointElbo& t = terms[static_cast<size_t>(i)];
      local.elbo[static_cast<size_t>(b + i)] = t.elbo;
      local.rec[static_cast<size_t>(b + i)] = t.rec;
      local.kl[static_cast<size_t>(b + i)] = t.kl;
    }
  }
}

// Naive Monte Carlo with the prior as proposal (--prior-samples).
std::vector<double> prior_sampling(const Inputs& in, Plan& p) {
  std::vector<double> out(static_cast<size_t>(p.n()));
  for (int64_t b = 0; b < p.n(); b += p.unit)
    p.prior->run(in.data.row(p.lo + b), in.data.global_index.data() + p.lo + b, std::min(p.unit, p.n() - b),
                 out.data() + b);
  return out;
}

// Rank 0: the results file and the JSON summary (with the same numbers on stderr).
json write_and_summarize(const EvalConfig& cfg, const Inputs& in, EvalResults& r, const IsResult& is,
                         double t_start) {
  const int64_t N = in.data.rows, nK = static_cast<int64_t>(cfg.ks.size());
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
  r.sample_evals = static_cast<int64_t>(is.evals);
  r.sample_evals_per_s = is.seconds > 0 ? is.evals / is.seconds : 0;
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
  if (!r.log_px_prior.empty()) {
    const MeanSe p = mean_se(r.log_px_prior.data(), N);
    s["nll_prior"] = {{std::to_string(cfg.prior_samples), {{"mean", -p.mean}, {"se", p.se}}}};
    std::cerr << kTool << ": prior sampling, K = " << cfg.prior_samples
              << fmt(": NLL %.4f +- %.4f nats", -p.mean, p.se) << std::endl;
  }
  s["sample_evals"] = r.sample_evals;
  s["sample_evals_per_s"] = r.sample_evals_per_s;
  s["is_seconds"] = is.seconds;
  s["wall_seconds"] = r.wall_seconds;
  s["out"] = cfg.out_path;
  std::cerr << kTool << ": " << r.sample_evals << " importance-sample evaluations in " << fmt("%.1f s", is.seconds)
            << fmt(" (%.0f/s); %.1f s in all; wrote ", r.sample_evals_per_s, r.wall_seconds) << cfg.out_path
            << std::endl;
  return s;
}

}  // namespace

json run_evaluation(const EvalConfig& cfg, const MpiComm& comm) {
  const double t_start = now_s();
  set_compute_threads(cfg.threads);
  Inputs in = load_inputs(cfg, comm);
  Vae& m = *in.model.model;
  Plan plan = make_plan(cfg, m, in.data.rows, comm);
  if (comm.rank() == 0) print_header(cfg, in, plan, comm);

  const IsResult is = importance_sample(cfg, in, plan, comm);
  EvalResults local;
  per_point_elbo(cfg, in, plan, m, local);
  if (plan.prior) local.log_px_prior = prior_sampling(in, plan);

  // Gathered on rank 0 in global order.
  EvalResults r;
  r.index = comm.gather(std::vector<int64_t>(in.data.global_index.begin() + plan.lo,
                                             in.data.global_index.begin() + plan.hi));
  r.log_px = comm.gather(is.log_px);
  r.elbo = comm.gather(local.elbo);
  r.rec = comm.gather(local.rec);
  r.kl = comm.gather(local.kl);
  if (plan.prior) r.log_px_prior = comm.gather(local.log_px_prior);
  if (comm.rank() != 0) return json::object();
  return write_and_summarize(cfg, in, r, is, t_start);
}

}  // namespace aevb
