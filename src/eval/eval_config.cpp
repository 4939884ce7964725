#include "aevb/eval/eval_config.hpp"

#include <boost/program_options.hpp>
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
  cmdline.add(in).add(est).add(run);
  po::variables_map vm;
  try {
    po::store(parse_last_wins(argc, argv, cmdline, eval_option_rules()), vm);
    if (vm.count("version")) {
      if (print_help) std::cout << "aevb-eval " << version() << std::endl;
      return false;
    }
    if (vm.count("help")) {
      if (print_help)
        std::cout << "aevb-eval: importance-sampled log-likelihood (and ELBO) of a trained VAE on a dataset split,\n"
                     "data-parallel over MPI.\n\n"
                     "Usage: [mpirun -np P] aevb-eval --model FILE --data DIR [options]\n"
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
  if (c.data_dir.empty()) throw usage_error("--data: required (a dataset directory written by aevb-data)");
  c.ks = parse_k_list(c.k_text);
  // Ranges and words: eval_option_rules(), checked as the options are read.
  if (c.out_path.empty()) throw usage_error("--out: expected a results file path, got ''");
  return true;
}

}  // namespace aevb
