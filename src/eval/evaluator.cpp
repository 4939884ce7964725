#include "aevb/eval/evaluator.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <limits>
#include <sstream>
#include <numeric>
#include <unordered_map>

#include "aevb/io/dataset.hpp"
#include "aevb/io/row_reader.hpp"
#include "aevb/core/dnnl_context.hpp"
#include "aevb/io/checksum.hpp"
#include "aevb/io/dir_lock.hpp"
#include "aevb/io/durable_file.hpp"
#include "aevb/base/error.hpp"
#include "aevb/cli/options.hpp"
#include "eval_inputs.hpp"
#include "eval_summary.hpp"
#include "aevb/io/eval_results.hpp"
#include "aevb/core/importance_sampling.hpp"
#include "aevb/io/model_file.hpp"
#include "aevb/base/rng.hpp"
#include "aevb/core/sgvb.hpp"
#include "aevb/base/clock.hpp"
#include "aevb/base/partition.hpp"
#include "aevb/io/binarization.hpp"
#include "aevb/base/watchdog.hpp"
#include "aevb/dist/stop_signal.hpp"

namespace aevb {
namespace {

using json = nlohmann::json;
constexpr const char* kTool = "aevb-eval";


// The samplers and how points are split over ranks. Points go to ranks in whole
// groups of `unit` consecutive points, the same groups for every rank count:
// each decoder call then holds the same (point, sample) rows in the same places
// whatever P is, and the per-point results are bit-identical across rank counts.
struct Plan {
  std::unique_ptr<ImportanceSampler> is, prior;
  // A Bayesian model: the decoder with weight noise (the full bound), and the
  // S parameter buffers theta_s ~ q(theta) of the predictive (encoder as is).
  std::unique_ptr<BayesDecoder> bayes;
  std::vector<FloatBuffer> thetas;
  double kl_per_point = 0;
  int64_t unit = 1, lo = 0, hi = 0;  // this rank's points [lo, hi)
  int64_t n() const { return hi - lo; }
};

Plan make_plan(const EvalConfig& cfg, Vae& m, int64_t N, int64_t train_rows, const MpiComm& comm) {
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
  if (m.spec().bayes) {
    p.bayes = std::make_unique<BayesDecoder>(m);
    p.kl_per_point = weight_kl(m, m.spec().prior_precision, WeightKl::kAnalytic, 0, 0, nullptr) /
                     static_cast<double>(std::max<int64_t>(train_rows, 1));
    for (int64_t s = 0; s < cfg.theta_samples; ++s) p.thetas.push_back(sample_theta(m, cfg.seed, s));
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
    << kTool << ": data " << cfg.data_dir << " split '" << cfg.split << "': " << in.points << " points, "
    << (in.binarized ? "binarized (seed " + std::to_string(cfg.binarize_seed) + ")" : std::string("not binarized"))
    << "\n"
    << kTool << ": K = " << cfg.k_text << " from one stream (seed " << cfg.seed << "); " << p.is->plan().points
    << " point(s) x " << p.is->plan().samples << " samples per decoder call, " << p.is->plan().passes
    << " call(s) per group; " << comm.size() << " rank(s)\n";
  std::cerr << s.str() << std::flush;
}

// Finished points of an interrupted evaluation (OUT.partial) with the same
// settings: they are copied, not recomputed.
struct Finished {
  EvalResults r;
  std::unordered_map<int64_t, size_t> row;  // global index -> row of r
  bool has(int64_t g) const { return row.count(g) != 0; }
};

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

// This rank's points [lo, hi): per-point results, in the rank's order.
struct Local {
  EvalResults r;
  std::vector<uint8_t> have;  // the point's results are final
  double is_seconds = 0, evals = 0;
  bool stopped = false;  // a stop signal ended the loop before every point was done
};

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
}

// All three estimates of one block of points: importance sampling, the
// per-point ELBO (estimator B, as aevb-train's test ELBO: same noise for the
// same seed) and, with --prior-samples, naive Monte Carlo with z ~ p(z).
// x: the block's rows (this rank's points b..b+nb-1), binarized if the model is.
void evaluate_block(const EvalConfig& cfg, const DataMatrix& x, Plan& p, Sgvb& sg, Sgvb& full, int64_t b, int64_t nb,
                    Local& L) {
  const int64_t nK = static_cast<int64_t>(cfg.ks.size());
  const int64_t* gi = x.global_index.data();  // gi[u - b]: point u of this rank
  const double t = now_s();
  p.is->run(x.x.data(), gi, nb, L.r.log_px.data() + b * nK);
  if (!p.thetas.empty()) {
    // The predictive: the same sampler with the decoder at each theta_s, the
    // estimates at the largest K averaged over s in probability space.
    Vae& m = p.bayes->model();
    std::vector<double> one(static_cast<size_t>(nb * nK));
    std::vector<LogSumExp> acc(static_cast<size_t>(nb));
    for (FloatBuffer& theta : p.thetas) {
      m.decoder.bind(theta.data(), m.grads.data());
      p.is->run(x.x.data(), gi, nb, one.data());
      for (int64_t i = 0; i < nb; ++i) acc[static_cast<size_t>(i)].add(one[static_cast<size_t>(i * nK + nK - 1)]);
    }
    m.decoder.bind(m.params.data(), m.grads.data());
    for (int64_t i = 0; i < nb; ++i)
      L.r.log_px_predictive[static_cast<size_t>(b + i)] =
          acc[static_cast<size_t>(i)].value() - std::log(static_cast<double>(p.thetas.size()));
  }
  L.is_seconds += now_s() - t;
  std::vector<PointElbo> terms(static_cast<size_t>(p.unit));
  for (int64_t u = b; u < b + nb; u += p.unit) {
    const int64_t nu = std::min(p.unit, b + nb - u);
    sg.evaluate({x.row(u - b), gi + (u - b), nu}, {cfg.seed, Purpose::kEvalLatentNoise, 0}, terms.data());
    const int64_t J = L.r.latent;
    for (int64_t i = 0; i < nu; ++i)
      for (int64_t j = 0; j < J; ++j)
        L.r.mu[static_cast<size_t>((u + i) * J + j)] = sg.encoder_output()[i * 2 * J + j];
    for (int64_t i = 0; i < nu; ++i) {
      const PointElbo& e = terms[static_cast<size_t>(i)];
      L.r.elbo[static_cast<size_t>(u + i)] = e.elbo;
      L.r.rec[static_cast<size_t>(u + i)] = e.rec;
      L.r.kl[static_cast<size_t>(u + i)] = e.kl;
    }
    if (p.prior) p.prior->run(x.row(u - b), gi + (u - b), nu, L.r.log_px_prior.data() + u);
    if (p.bayes) {
      // The full bound: the data term with each point's own theta (local
      // reparameterization), minus the KL over theta per training point.
      full.evaluate({x.row(u - b), gi + (u - b), nu}, {cfg.seed, Purpose::kEvalLatentNoise, 0}, terms.data());
      for (int64_t i = 0; i < nu; ++i)
        L.r.elbo_full[static_cast<size_t>(u + i)] = terms[static_cast<size_t>(i)].elbo - p.kl_per_point;
    }
  }
}

// This rank's points in blocks of whole units (~200k samples). Between blocks:
// progress, the watchdog, and a stop check that every rank takes together
// (the same number of blocks on every rank, idle ones included).
Local evaluate_points(const EvalConfig& cfg, const Inputs& in, Plan& p, Vae& m, const Finished& fin,
                      const MpiComm& comm, Watchdog& dog) {
  const int64_t n = p.n(), nK = static_cast<int64_t>(cfg.ks.size());
  const bool prior = p.prior != nullptr;
  Local L;
  L.r.index.resize(static_cast<size_t>(n));
  std::iota(L.r.index.begin(), L.r.index.end(), p.lo);
  // This rank's rows: held as stored if they fit half the budget, else read
  // block by block (the same blocks, so the same results, either way).
  std::unique_ptr<RowRange> rows;
  collectively(comm, kTool, [&] {
    rows = std::make_unique<RowRange>(in.manifest, cfg.split, in.validate, p.lo, p.hi,
                                      parse_byte_size("memory-budget", cfg.memory_budget) / 2);
  });
  L.r.log_px.resize(static_cast<size_t>(n * nK));
  L.r.elbo.resize(static_cast<size_t>(n));
  L.r.rec.resize(static_cast<size_t>(n));
  L.r.kl.resize(static_cast<size_t>(n));
  if (prior) L.r.log_px_prior.resize(static_cast<size_t>(n));
  L.r.latent = m.spec().latent;
  L.r.mu.resize(static_cast<size_t>(n * L.r.latent));
  if (p.bayes) L.r.elbo_full.resize(static_cast<size_t>(n));
  if (!p.thetas.empty()) L.r.log_px_predictive.resize(static_cast<size_t>(n));
  L.have.assign(static_cast<size_t>(n), 0);
  Sgvb sg(m, Estimator::kB, cfg.elbo_samples), full(m, Estimator::kB, cfg.elbo_samples);
  full.set_bayes_decoder(p.bayes.get());
  const int64_t block = p.unit * std::max<int64_t>(1, 200000 / (cfg.ks.back() * p.unit));
  const int64_t blocks = static_cast<int64_t>(comm.allreduce_max(static_cast<double>((n + block - 1) / block)));
  const double t0 = now_s();
  double last_progress = t0;
  int read_code = 0;
  std::string read_error;
  for (int64_t k = 0; k < blocks; ++k) {
    const int64_t b = std::min(n, k * block), nb = std::min(block, n - b);
    dog.phase("importance sampling a block of points", false);
    bool all_finished = nb > 0;
    for (int64_t i = b; i < b + nb && all_finished; ++i) all_finished = fin.has(L.r.index[static_cast<size_t>(i)]);
    if (all_finished) {
      for (int64_t i = b; i < b + nb; ++i)
        copy_point(fin.r, fin.row.at(L.r.index[static_cast<size_t>(i)]), L.r, static_cast<size_t>(i), nK, prior);
    } else if (nb > 0) {
      try {
        DataMatrix& x = rows->chunk(p.lo + b, nb);
        if (in.binarized) binarize_for_evaluation(x, cfg.binarize_seed);
        evaluate_block(cfg, x, p, sg, full, b, nb, L);
      } catch (const Error& e) {  // a read failed: agreed below, every rank stops
        read_code = e.code();
        read_error = e.what();
      }
    }
    dog.phase("agreeing on read errors (waiting for the other ranks)", true);
    collectively(comm, kTool, [&] {
      if (read_code) throw Error(read_code, read_error);
    });
    std::fill(L.have.begin() + b, L.have.begin() + b + nb, 1);
    if (comm.rank() == 0 && cfg.progress_every > 0 && now_s() - last_progress >= cfg.progress_every) {
      last_progress = now_s();
      std::cerr << kTool << ": rank 0: " << b + nb << "/" << n << " points, "
                << fmt("%.0f sample evaluations/s", static_cast<double>(p.is->sample_evals()) / (last_progress - t0))
                << std::endl;
    }
    dog.phase("the stop check between blocks (waiting for the other ranks)", true);
    if (k + 1 < blocks && comm.allreduce_max(stop_signal_received() ? 1.0 : 0.0) > 0) {
      L.stopped = true;
      break;
    }
  }
  dog.phase("gathering the results (waiting for the other ranks)", true);
  L.is_seconds = comm.allreduce_max(L.is_seconds);
  L.evals = static_cast<double>(p.is->sample_evals());
  comm.allreduce_sum(&L.evals, 1);
  return L;
}

// Only the points with final results, gathered on rank 0 in global order.
EvalResults gather_done(const Local& L, int64_t nK, bool prior, const MpiComm& comm) {
  EvalResults mine;
  const size_t n = L.have.size();
  for (size_t i = 0; i < n; ++i) {
    if (!L.have[i]) continue;
    mine.index.push_back(L.r.index[i]);
    for (int64_t k = 0; k < nK; ++k) mine.log_px.push_back(L.r.log_px[i * nK + k]);
    mine.elbo.push_back(L.r.elbo[i]);
    mine.rec.push_back(L.r.rec[i]);
    mine.kl.push_back(L.r.kl[i]);
    if (prior) mine.log_px_prior.push_back(L.r.log_px_prior[i]);
    if (!L.r.elbo_full.empty()) mine.elbo_full.push_back(L.r.elbo_full[i]);
    if (!L.r.log_px_predictive.empty()) mine.log_px_predictive.push_back(L.r.log_px_predictive[i]);
    const size_t J = static_cast<size_t>(L.r.latent);
    mine.mu.insert(mine.mu.end(), L.r.mu.begin() + static_cast<std::ptrdiff_t>(i * J),
                   L.r.mu.begin() + static_cast<std::ptrdiff_t>((i + 1) * J));
  }
  EvalResults r;
  r.index = comm.gather(mine.index);
  r.log_px = comm.gather(mine.log_px);
  r.elbo = comm.gather(mine.elbo);
  r.rec = comm.gather(mine.rec);
  r.kl = comm.gather(mine.kl);
  if (prior) r.log_px_prior = comm.gather(mine.log_px_prior);
  r.mu = comm.gather(mine.mu);
  // (Every rank has the same model: the same arrays are present everywhere.)
  if (!L.r.elbo_full.empty()) r.elbo_full = comm.gather(mine.elbo_full);
  if (!L.r.log_px_predictive.empty()) r.log_px_predictive = comm.gather(mine.log_px_predictive);
  r.latent = L.r.latent;
  return r;
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

// Rank 0: the results file and the JSON summary (with the same numbers on stderr).
json write_and_summarize(const EvalConfig& cfg, const Inputs& in, EvalResults done, const Local& is,
                         double t_start) {
  EvalResults& r = done;
  describe_run(cfg, in, r);
  r.sample_evals = static_cast<int64_t>(is.evals);
  r.sample_evals_per_s = is.is_seconds > 0 ? is.evals / is.is_seconds : 0;
  r.wall_seconds = now_s() - t_start;
  write_eval_results(cfg.out_path, r);
  std::error_code ec;
  std::filesystem::remove(partial_path(cfg), ec);  // its points are in the results now

  json s = summarize_results(cfg, r);
  s["sample_evals"] = r.sample_evals;
  s["sample_evals_per_s"] = r.sample_evals_per_s;
  s["is_seconds"] = is.is_seconds;
  s["wall_seconds"] = r.wall_seconds;
  s["out"] = cfg.out_path;
  std::cerr << kTool << ": " << r.sample_evals << " importance-sample evaluations in " << fmt("%.1f s", is.is_seconds)
            << fmt(" (%.0f/s); %.1f s in all; wrote ", r.sample_evals_per_s, r.wall_seconds) << cfg.out_path
            << std::endl;
  return s;
}

}  // namespace

json run_evaluation(const EvalConfig& cfg, const MpiComm& comm) {
  const double t_start = now_s();
  set_compute_threads(cfg.threads);
  install_stop_signal_handlers();
  Inputs in = load_inputs(cfg, comm);
  const Finished fin = load_finished(cfg, in, comm);
  Vae& m = *in.model.model;
  collectively(comm, kTool, [&] {
    if (cfg.theta_samples > 0 && !m.spec().bayes)
      throw usage_error("--theta-samples " + std::to_string(cfg.theta_samples) + ": " + cfg.model_path +
                        " has no posterior over its weights (trained without --bayes full)");
    if (m.spec().bayes && in.model.meta.train_rows <= 0)
      throw input_error(cfg.model_path + ": a Bayesian model without the train_rows attribute (the N of KL / N)");
  });
  Plan plan = make_plan(cfg, m, in.points, in.model.meta.train_rows, comm);
  if (comm.rank() == 0) print_header(cfg, in, plan, comm);

  Watchdog dog(kTool, comm.rank(), cfg.watchdog_seconds);
  const Local L = evaluate_points(cfg, in, plan, m, fin, comm, dog);
  EvalResults done = gather_done(L, static_cast<int64_t>(cfg.ks.size()), plan.prior != nullptr, comm);
  if (comm.rank() == 0) dog.phase("writing the results");
  json summary;
  if (comm.rank() == 0)
    summary = L.stopped ? write_partial(cfg, in, std::move(done), fin, t_start)
                        : write_and_summarize(cfg, in, std::move(done), L, t_start);
  // Every rank returns the exit code (75 after a stop); rank 0's summary is printed.
  if (comm.rank() != 0) summary = json{{"exit_code", L.stopped ? kExitRequeue : 0}};
  return summary;
}

}  // namespace aevb
