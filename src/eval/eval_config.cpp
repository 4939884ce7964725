#include "aevb/eval/eval_config.hpp"

#include <boost/program_options.hpp>
#include <algorithm>
#include <iostream>

#include "aevb/cli/options.hpp"
#include "aevb/base/error.hpp"
#include "aevb/base/version.hpp"

namespace aevb {

namespace po = boost::program_options;

std::vector<int64_t> parse_k_list(const std::string& text) {
  std::vector<int64_t> ks;
  size_t pos = 0;
  while (true) {
    const size_t comma = text.find(',', pos);
    const std::string item = text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    size_t used = 0;
    int64_t k = 0;
    try {
      k = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (item.empty() || used != item.size())
      throw usage_error("--k: cannot parse '" + text + "': expected a comma-separated list of sample counts, e.g. 1,10,100,1000,5000");
    if (k < 1) throw usage_error("--k: every K must be >= 1, got " + item);
    if (k >= (int64_t{1} << 24)) throw usage_error("--k: K must be < 16777216 (the noise key's sample field), got " + item);
    if (!ks.empty() && k <= ks.back())
      throw usage_error("--k: the K values must be strictly increasing (each estimate uses the first K samples of one stream), got '" + text + "'");
    ks.push_back(k);
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return ks;
}

std::vector<std::string> parse_estimator_list(const std::string& text) {
  static const std::vector<std::string> known = {"is", "ais", "bdmc", "hmc", "quadrature"};
  std::vector<std::string> out;
  size_t pos = 0;
  while (true) {
    const size_t comma = text.find(',', pos);
    const std::string item = text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    if (std::find(known.begin(), known.end(), item) == known.end())
      throw usage_error("--estimator: unknown estimator '" + item + "' in '" + text +
                        "': expected a comma-separated list of is, ais, bdmc, hmc, quadrature");
    if (std::find(out.begin(), out.end(), item) != out.end())
      throw usage_error("--estimator: '" + item + "' is listed twice in '" + text + "'");
    out.push_back(item);
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return out;
}

bool EvalConfig::uses(const std::string& e) const {
  return std::find(estimators.begin(), estimators.end(), e) != estimators.end();
}

const OptionRules& eval_option_rules() {
  using R = OptionRule;
  static const OptionRules rules = {
      R::integer("max-points").ge(1).or_value(-1, "all"),
      R::words("binarize", {"auto", "dynamic", "none"}),
      R::integer("binarize-seed").ge(0),
      R::integer("seed").ge(0),
      R::integer("elbo-samples").ge(1).lt(1 << 24),   // the noise key's sample field (base/rng.hpp)
      R::integer("prior-samples").ge(0).lt(1 << 24),
      R::integer("theta-samples").ge(0).le(100000),
      R::integer("chunk-rows").ge(1).le(int64_t{1} << 30),
      R::integer("threads").ge(1).le(1024),
      R::real("progress-every").ge(0),
      R::integer("simulate").ge(0).le(int64_t{1} << 32),
      R::integer("mcmc-group").ge(1).le(4096),
      R::integer("leapfrog").ge(1).le(1000),
      R::integer("ais-steps").ge(1).le(1000000),
      R::integer("ais-chains").ge(1).lt(1 << 24),
      R::words("ais-schedule", {"sigmoid", "linear"}),
      R::words("ais-start", {"posterior", "prior"}),
      R::real("ais-target-accept").gt(0).lt(1),
      R::integer("hmc-chains").ge(1).lt(1 << 24),
      R::integer("hmc-burn-in").ge(0).le(1000000),
      R::integer("hmc-samples").ge(2).le(10000000),
      R::integer("hmc-thin").ge(1).le(10000),
      R::real("hmc-target-accept").gt(0).lt(1),
      R::words("hmc-start", {"annealed", "posterior"}),
      R::integer("hmc-anneal-steps").ge(1).le(1000000),
      R::integer("mixture-components").ge(1).le(100),
      R::real("mixture-shrink").gt(0).le(1),
      R::integer("quadrature-points").ge(2).le(4096),
      R::real("quadrature-width").gt(0).le(100),
      R::real("watchdog-seconds").ge(0),
  };
  return rules;
}

bool parse_eval_config(int argc, char** argv, EvalConfig& c, bool print_help) {
  po::options_description in("Inputs");
  in.add_options()
    ("model", po::value(&c.model_path), "model file written by aevb-train, or a training checkpoint")
    ("data", po::value(&c.data_dir), "dataset directory (holds manifest.json; see aevb-data)")
    ("split", po::value(&c.split)->default_value(c.split), "split to evaluate")
    ("max-points", po::value(&c.max_points)->default_value(c.max_points), "evaluate only the first N points (-1 = all)")
    ("binarize", po::value(&c.binarize)->default_value(c.binarize),
     "auto (binarize if the model was trained with dynamic binarization) | dynamic | none")
    ("binarize-seed", po::value(&c.binarize_seed)->default_value(c.binarize_seed),
     "seed of the fixed binarization of the split (aevb-train's --eval-seed gives the same test set)");
  po::options_description est("Estimators");
  est.add_options()
    ("k", po::value(&c.k_text)->default_value(c.k_text),
     "importance samples K, increasing; all from one stream (the estimate for K uses its first K samples)")
    ("seed", po::value(&c.seed)->default_value(c.seed), "seed of the proposals z ~ q(z|x), z ~ p(z) and the ELBO's noise")
    ("elbo-samples", po::value(&c.elbo_samples)->default_value(c.elbo_samples), "L, samples per point of the ELBO (analytic KL)")
    ("prior-samples", po::value(&c.prior_samples)->default_value(c.prior_samples),
     "K of the naive estimator with z ~ p(z) (0 = off)")
    ("theta-samples", po::value(&c.theta_samples)->default_value(c.theta_samples),
     "a model trained with --bayes full: S samples theta_s ~ q(theta) for the predictive log-likelihood "
     "log 1/S sum_s p_theta_s(x), each p_theta_s(x) importance-sampled with the largest --k (0 = off)");
  McmcOptions& mc = c.mcmc;
  po::options_description mcmc("MCMC estimators (docs/estimators.md)");
  mcmc.add_options()
    ("estimator", po::value(&c.estimator_text)->default_value(c.estimator_text),
     "comma-separated list: is (importance sampling with q(z|x), --k) | ais (annealed importance sampling, a "
     "stochastic lower bound) | bdmc (forward and reverse AIS on --simulate data: lower and upper bounds) | hmc "
     "(AEVB Appendix D: HMC posterior samples, a mixture fitted by EM, the reciprocal estimator; J <= 5) | "
     "quadrature (the midpoint rule on a grid around q(z|x); J <= 3)")
    ("simulate", po::value(&c.simulate)->default_value(c.simulate),
     "evaluate N points simulated from the model itself (z ~ p(z), x ~ p(x|z), keyed by --seed) instead of --data "
     "(0 = off; bdmc needs it: its upper bound starts from the z that made each x)")
    ("mcmc-group", po::value(&mc.group)->default_value(mc.group),
     "points per MCMC batch: each leapfrog step is one decoder call over group x chains rows")
    ("leapfrog", po::value(&mc.leapfrog)->default_value(mc.leapfrog), "leapfrog steps per HMC transition")
    ("ais-steps", po::value(&mc.ais_steps)->default_value(mc.ais_steps), "T, intermediate distributions of AIS")
    ("ais-chains", po::value(&mc.ais_chains)->default_value(mc.ais_chains), "C, independent AIS chains per point")
    ("ais-schedule", po::value(&mc.ais_schedule)->default_value(mc.ais_schedule),
     "sigmoid (Grosse et al.: small steps at both ends) | linear")
    ("ais-start", po::value(&mc.ais_start)->default_value(mc.ais_start),
     "the initial distribution of AIS: posterior (the encoder's q(z|x)) | prior (p(z))")
    ("ais-target-accept", po::value(&mc.ais_target_accept)->default_value(mc.ais_target_accept, default_text(mc.ais_target_accept)),
     "HMC acceptance rate each point's AIS step size adapts to")
    ("hmc-chains", po::value(&mc.hmc_chains)->default_value(mc.hmc_chains), "HMC chains per point (hmc)")
    ("hmc-burn-in", po::value(&mc.hmc_burn_in)->default_value(mc.hmc_burn_in),
     "HMC transitions before sampling, adapting each point's step size (hmc)")
    ("hmc-samples", po::value(&mc.hmc_samples)->default_value(mc.hmc_samples),
     "L, posterior samples per point for the mixture fit, and L fresh ones for the estimate (hmc)")
    ("hmc-thin", po::value(&mc.hmc_thin)->default_value(mc.hmc_thin), "keep every N-th HMC state (hmc)")
    ("hmc-target-accept", po::value(&mc.hmc_target_accept)->default_value(mc.hmc_target_accept, default_text(mc.hmc_target_accept)),
     "HMC acceptance rate the burn-in adapts to (hmc; AEVB Appendix E used about 0.9)")
    ("hmc-start", po::value(&mc.hmc_start)->default_value(mc.hmc_start),
     "where the chains start (hmc): annealed (the final states of a short AIS run from the prior, resampled by "
     "weight: every mode in proportion to its mass) | posterior (z ~ q(z|x): quicker, but the chains stay in the "
     "mode q(z|x) covers)")
    ("hmc-anneal-steps", po::value(&mc.hmc_anneal_steps)->default_value(mc.hmc_anneal_steps),
     "distributions of that AIS run (hmc, --hmc-start annealed)")
    ("mixture-components", po::value(&mc.mixture_components)->default_value(mc.mixture_components),
     "components of the Gaussian mixture q(z) fitted by EM to the posterior samples (hmc)")
    ("mixture-shrink", po::value(&mc.mixture_shrink)->default_value(mc.mixture_shrink, default_text(mc.mixture_shrink)),
     "the fitted covariances times this factor: tails lighter than the posterior's keep the reciprocal "
     "estimator's variance finite (hmc)")
    ("hmc-any-latent", po::bool_switch(&mc.hmc_any_latent),
     "allow hmc for a latent dimension above 5 (the reciprocal estimator degrades with J; a warning is printed)")
    ("quadrature-points", po::value(&mc.quadrature_points)->default_value(mc.quadrature_points),
     "grid points per latent dimension (quadrature)")
    ("quadrature-width", po::value(&mc.quadrature_width)->default_value(mc.quadrature_width, default_text(mc.quadrature_width)),
     "the grid's box: the encoder's mean +- this many of its standard deviations per dimension (quadrature)");
  po::options_description run("Running");
  run.add_options()
    ("chunk-rows", po::value(&c.chunk_rows)->default_value(c.chunk_rows), "rows (point, sample) per decoder call")
    ("memory-budget", po::value(&c.memory_budget)->default_value(c.memory_budget),
     "memory per rank for the points' rows, e.g. 1GiB, 64KiB (a bare number is MiB): a rank's points are held as "
     "stored if they fit half of it, else read block by block (docs/memory.md)")
    ("threads", po::value(&c.threads)->default_value(c.threads), "compute threads per rank")
    ("progress-every", po::value(&c.progress_every)->default_value(c.progress_every, default_text(c.progress_every)),
     "seconds between progress lines (0 = none)")
    ("watchdog-seconds", po::value(&c.watchdog_seconds)->default_value(c.watchdog_seconds, default_text(c.watchdog_seconds)),
     "end the job with a message naming the rank when a block of points makes no progress for this long (0 = off)")
    ("out", po::value(&c.out_path)->default_value(c.out_path),
     "results file (HDF5, written atomically); an interrupted evaluation keeps its finished points in OUT.partial "
     "and the same command resumes from them")
    ("force", po::bool_switch(&c.force), "replace an existing results file --out");
  po::options_description cmdline;
  cmdline.add_options()("help,h", "print this help and exit")("version", "print the version and exit");
  cmdline.add(in).add(est).add(mcmc).add(run);
  po::variables_map vm;
  try {
    po::store(parse_last_wins(argc, argv, cmdline, eval_option_rules()), vm);
    if (vm.count("version")) {
      if (print_help) std::cout << "aevb-eval " << version() << std::endl;
      return false;
    }
    if (vm.count("help")) {
      if (print_help)
        std::cout << "aevb-eval: log p(x) of a trained VAE on a dataset split (or on data simulated from it), per\n"
                     "point with standard errors, data-parallel over MPI: importance sampling, annealed importance\n"
                     "sampling, BDMC bounds, AEVB's Appendix D estimator, quadrature (docs/estimators.md); the ELBO.\n\n"
                     "Usage: [mpirun -np P] aevb-eval --model FILE (--data DIR | --simulate N) [options]\n"
                  << cmdline
                  << "\nExit codes: 0 done, 2 bad option, 3 bad input file (missing, corrupted, model and data of\n"
                     "different dimension), 4 cannot write the results file (or it exists: --force), 6 no progress\n"
                     "for --watchdog-seconds, 75 stopped\n"
                     "by SIGINT/SIGTERM/SIGUSR1 with the finished points kept in OUT.partial (run the same\n"
                     "command again to resume), 1 internal error.\n"
                     "Summary lines go to stderr; the last line on stdout is a JSON summary.\n";
      return false;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    throw usage_error(e.what());
  }
  if (c.model_path.empty()) throw usage_error("--model: required (a model file written by aevb-train, or a checkpoint)");
  c.estimators = parse_estimator_list(c.estimator_text);
  if (c.simulate > 0 && !c.data_dir.empty())
    throw usage_error("--simulate " + std::to_string(c.simulate) + " evaluates points simulated from the model; "
                      "it replaces --data " + c.data_dir + " (give one of the two)");
  if (c.simulate == 0 && c.data_dir.empty())
    throw usage_error("--data: required (a dataset directory written by aevb-data), or --simulate N");
  if (c.uses("bdmc") && c.simulate == 0)
    throw usage_error("--estimator bdmc: needs data simulated from the model (--simulate N): its upper bound starts "
                      "from the exact posterior sample, the z that made each x");
  if (c.theta_samples > 0 && !c.uses("is"))
    throw usage_error("--theta-samples: the predictive is importance-sampled; add is to --estimator");
  c.ks = c.uses("is") ? parse_k_list(c.k_text) : std::vector<int64_t>{};
  // Ranges and words: eval_option_rules(), checked as the options are read.
  if (c.out_path.empty()) throw usage_error("--out: expected a results file path, got ''");
  return true;
}

}  // namespace aevb
