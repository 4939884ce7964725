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
#include "eval_resume.hpp"
#include "mcmc_block.hpp"
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
  std::unique_ptr<ImportanceSampler> is, prior;  // is: nullptr unless --estimator lists it
  McmcPlan mcmc;
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
  if (cfg.uses("is")) {
    p.is = std::make_unique<ImportanceSampler>(m, Proposal::kPosterior, cfg.ks, cfg.seed, cfg.chunk_rows);
    p.unit = p.is->plan().points;
  }
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
  p.mcmc = make_mcmc_plan(cfg, m);
  if (p.mcmc.ais || p.mcmc.hmc) p.unit = std::lcm(p.unit, p.mcmc.group);  // whole batches of every sampler
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
    << kTool << ": data "
    << (cfg.simulate > 0 ? "simulated from the model (seed " + std::to_string(cfg.seed) + ")"
                         : cfg.data_dir + " split '" + cfg.split + "'")
    << ": " << in.points << " points, "
    << (in.binarized ? "binarized (seed " + std::to_string(cfg.binarize_seed) + ")" : std::string("not binarized"))
    << "\n" << kTool << ": estimators " << cfg.estimator_text << "; " << comm.size() << " rank(s), " << p.unit
    << " point(s) per unit of work\n";
  if (p.is)
    s << kTool << ": K = " << cfg.k_text << " from one stream (seed " << cfg.seed << "); " << p.is->plan().points
      << " point(s) x " << p.is->plan().samples << " samples per decoder call, " << p.is->plan().passes
      << " call(s) per group\n";
  if (p.mcmc.any()) s << kTool << ": MCMC settings " << mcmc_settings_json(cfg) << "\n";
  std::cerr << s.str() << std::flush;
}

// This rank's points [lo, hi): per-point results, in the rank's order.
struct Local {
  EvalResults r;
  std::vector<uint8_t> have;  // the point's results are final
  double is_seconds = 0, evals = 0, mcmc_seconds = 0, mcmc_rows = 0;
  bool stopped = false;  // a stop signal ended the loop before every point was done
};

// All three estimates of one block of points: importance sampling, the
// per-point ELBO (estimator B, as aevb-train's test ELBO: same noise for the
// same seed) and, with --prior-samples, naive Monte Carlo with z ~ p(z).
// x: the block's rows (this rank's points b..b+nb-1), binarized if the model is.
void evaluate_block(const EvalConfig& cfg, const DataMatrix& x, const float* z_exact, Plan& p, Sgvb& sg, Sgvb& full,
                    int64_t b, int64_t nb, Local& L) {
  const int64_t nK = static_cast<int64_t>(cfg.ks.size());
  const int64_t* gi = x.global_index.data();  // gi[u - b]: point u of this rank
  if (p.mcmc.any()) {
    const double t = now_s();
    run_mcmc_block(p.mcmc, x.x.data(), gi, nb, z_exact, b, L.r.columns);
    L.mcmc_seconds += now_s() - t;
  }
  const double t = now_s();
  if (p.is) p.is->run(x.x.data(), gi, nb, L.r.log_px.data() + b * nK, L.r.columns["log_px_se"].data() + b);
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
    if (cfg.simulate > 0) return;  // the points are drawn block by block below
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
  for (const std::string& c : p.mcmc.columns()) L.r.columns[c].assign(static_cast<size_t>(n), 0.0);
  if (p.is) L.r.columns["log_px_se"].assign(static_cast<size_t>(n), 0.0);
  L.have.assign(static_cast<size_t>(n), 0);
  Sgvb sg(m, Estimator::kB, cfg.elbo_samples), full(m, Estimator::kB, cfg.elbo_samples);
  full.set_bayes_decoder(p.bayes.get());
  // ~200k importance samples per block; one unit of work with an MCMC estimator
  // (seconds to minutes each: progress, stop checks and the watchdog in between).
  const int64_t k_max = cfg.ks.empty() ? 1 : cfg.ks.back();
  const int64_t block = p.mcmc.any() ? p.unit : p.unit * std::max<int64_t>(1, 200000 / (k_max * p.unit));
  DataMatrix sim;  // --simulate: the block's points, drawn from the model, and the z that made them
  std::vector<float> sim_z;
  const int64_t blocks = static_cast<int64_t>(comm.allreduce_max(static_cast<double>((n + block - 1) / block)));
  const double t0 = now_s();
  double last_progress = t0;
  int read_code = 0;
  std::string read_error;
  for (int64_t k = 0; k < blocks; ++k) {
    const int64_t b = std::min(n, k * block), nb = std::min(block, n - b);
    dog.phase("estimating a block of points", false);
    bool all_finished = nb > 0;
    for (int64_t i = b; i < b + nb && all_finished; ++i) all_finished = fin.has(L.r.index[static_cast<size_t>(i)]);
    if (all_finished) {
      for (int64_t i = b; i < b + nb; ++i)
        copy_point(fin.r, fin.row.at(L.r.index[static_cast<size_t>(i)]), L.r, static_cast<size_t>(i), nK, prior);
    } else if (nb > 0) {
      try {
        if (cfg.simulate > 0) {
          sim.rows = nb, sim.cols = m.spec().x_dim;
          sim.x.resize(static_cast<size_t>(nb * sim.cols));
          sim.global_index.resize(static_cast<size_t>(nb));
          std::iota(sim.global_index.begin(), sim.global_index.end(), p.lo + b);
          sim_z.resize(static_cast<size_t>(nb * m.spec().latent));
          simulate_from_model(m, cfg.seed, sim.global_index.data(), nb, sim.x.data(), sim_z.data());
          evaluate_block(cfg, sim, sim_z.data(), p, sg, full, b, nb, L);
        } else {
          DataMatrix& x = rows->chunk(p.lo + b, nb);
          if (in.binarized) binarize_for_evaluation(x, cfg.binarize_seed);
          evaluate_block(cfg, x, nullptr, p, sg, full, b, nb, L);
        }
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
                << fmt("%.0f decoder rows/s",
                       static_cast<double>((p.is ? p.is->sample_evals() : 0) + p.mcmc.decoder_rows()) /
                           (last_progress - t0))
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
  L.mcmc_seconds = comm.allreduce_max(L.mcmc_seconds);
  double counts[2] = {static_cast<double>(p.is ? p.is->sample_evals() : 0), static_cast<double>(p.mcmc.decoder_rows())};
  comm.allreduce_sum(counts, 2);
  L.evals = counts[0], L.mcmc_rows = counts[1];
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
    for (const auto& [name, v] : L.r.columns) mine.columns[name].push_back(v[i]);
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
  for (const auto& [name, v] : L.r.columns) r.columns[name] = comm.gather(mine.columns[name]);
  r.latent = L.r.latent;
  return r;
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
  if (is.mcmc_rows > 0) {
    // Decoder rows of the MCMC estimators: each a forward pass (and for HMC a backward_data pass).
    s["mcmc_decoder_rows"] = is.mcmc_rows;
    s["mcmc_seconds"] = is.mcmc_seconds;
    s["mcmc_decoder_rows_per_s"] = is.mcmc_seconds > 0 ? is.mcmc_rows / is.mcmc_seconds : 0;
    std::cerr << kTool << ": MCMC: " << fmt("%.4g decoder rows in %.1f s", is.mcmc_rows, is.mcmc_seconds)
              << fmt(" (%.0f/s)", is.mcmc_seconds > 0 ? is.mcmc_rows / is.mcmc_seconds : 0) << std::endl;
  }
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
