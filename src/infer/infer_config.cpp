#include "aevb/infer/infer_config.hpp"

#include <boost/program_options.hpp>
#include <algorithm>
#include <iostream>
#include <map>
#include <vector>

#include "aevb/base/error.hpp"
#include "aevb/base/version.hpp"
#include "aevb/cli/options.hpp"

namespace aevb {

namespace po = boost::program_options;

namespace {

const std::map<std::string, std::string>& commands() {
  static const std::map<std::string, std::string> c = {
      {"encode", "the encoder's mu and log sigma^2 of every row of a split, to HDF5 shards (MPI, streaming)"},
      {"sample", "N samples from the prior through the decoder: a PNG grid and HDF5"},
      {"reconstruct", "N points of a split beside their reconstructions (PNG) and their log-likelihoods (HDF5)"},
      {"manifold", "the decoder's means over a grid of latent values (the paper's Figure 4)"},
      {"interpolate", "paths in latent space between pairs of points, as PNG strips"},
      {"inpaint", "impute missing pixels by approximate marginal inference; log p(x_miss|x_obs) against baselines"},
      {"denoise", "the clean x given a corrupted one (posterior inference), against the naive reconstruction"},
  };
  return c;
}

const char* kExitCodes =
    "\nExit codes: 0 done, 2 bad option, 3 bad input file (missing, corrupted, model and data of different\n"
    "dimension), 4 cannot write the output (or it exists: --force), 1 internal error.\n"
    "Progress goes to stderr; the last line on stdout is a JSON summary.\n";

}  // namespace

const OptionRules& infer_option_rules() {
  using R = OptionRule;
  static const OptionRules rules = {
      R::words("binarize", {"auto", "dynamic", "none"}),
      R::integer("binarize-seed").ge(0),
      R::integer("points").ge(1).le(int64_t{1} << 40).or_value(-1, "the command's default"),
      R::integer("seed").ge(0),
      R::integer("threads").ge(1).le(1024),
      R::integer("cols").ge(1).le(1000).or_value(0, "the command's default"),
      R::integer("z-samples").ge(0).le(10000),
      R::integer("shard-rows").ge(1).le(int64_t{1} << 32),
      R::integer("chunk-rows").ge(1).le(65536),
      R::integer("samples").ge(1).le(100000),
      R::integer("grid").ge(2).le(200),
      R::integer("steps").ge(2).le(1000),
      R::real("missing-fraction").gt(0).lt(1),
      R::words("sampler", {"both", "mwg", "pseudo-gibbs"}),
      R::integer("iterations").ge(1).le(1000000),
      R::integer("burn-in").ge(0).le(1000000),
      R::integer("is-samples").ge(1).lt(1 << 24),
      R::integer("group").ge(1).le(4096),
      R::integer("baseline-rows").ge(1).le(int64_t{1} << 40).or_value(-1, "all"),
      R::real("noise").gt(0).le(10),
  };
  return rules;
}

bool parse_infer_config(int argc, char** argv, InferConfig& c, bool print_help) {
  const std::string first = argc > 1 ? argv[1] : "";
  if (first == "--version") {
    if (print_help) std::cout << "aevb-infer " << version() << std::endl;
    return false;
  }
  if (first.empty() || first == "--help" || first == "-h" || first == "help") {
    if (first.empty())
      throw usage_error("a command is required: encode, sample, reconstruct, manifold, interpolate, inpaint or denoise "
                        "(aevb-infer --help)");
    if (print_help) {
      std::cout << "aevb-infer: use a trained VAE (a model file or a checkpoint of aevb-train).\n\n"
                   "Usage: [mpirun -np P] aevb-infer COMMAND --model FILE [options]\n"
                   "       aevb-infer COMMAND --help   (the command's options)\n\nCommands:\n";
      for (const auto& [name, what] : commands())
        std::cout << "  " << name << std::string(13 - name.size(), ' ') << what << "\n";
      std::cout << kExitCodes;
    }
    return false;
  }
  if (!commands().count(first))
    throw usage_error("unknown command '" + first + "': expected encode, sample, reconstruct, manifold, interpolate, "
                      "inpaint or denoise (aevb-infer --help)");
  c.command = first;
  const std::string& cmd = c.command;
  const bool uses_data = cmd != "sample" && cmd != "manifold";

  po::options_description common("Options");
  common.add_options()
    ("help,h", "print this help and exit")("version", "print the version and exit")
    ("model", po::value(&c.model_path), "model file written by aevb-train, or a training checkpoint")
    ("out", po::value(&c.out), cmd == "encode" ? "output directory: latents.h5 and the shards latents-NNNNN.h5"
                                              : "output prefix: writes PREFIX.png and PREFIX.h5")
    ("force", po::bool_switch(&c.force), "replace existing outputs")
    ("seed", po::value(&c.seed)->default_value(c.seed), "seed of every random draw (noise keyed per point)")
    ("threads", po::value(&c.threads)->default_value(c.threads), "compute threads per rank");
  if (cmd == "sample" || cmd == "reconstruct" || cmd == "inpaint" || cmd == "denoise")
    common.add_options()("cols", po::value(&c.cols)->default_value(c.cols),
                         cmd == "sample" ? "pictures per row of the PNG grid (0 = 8)"
                         : cmd == "reconstruct" ? "pairs (original, reconstruction) per row of the PNG grid (0 = 8)"
                                                : "points pictured, one column each (0 = 10)");
  if (uses_data) {
    common.add_options()
      ("data", po::value(&c.data_dir), "dataset directory (holds manifest.json; see aevb-data)")
      ("split", po::value(&c.split)->default_value(c.split), "split to read")
      ("points", po::value(&c.points)->default_value(c.points),
       cmd == "encode" ? "encode only the first N rows (-1 = all)"
                       : "use the first N rows of the split (-1 = the command's default)")
      ("binarize", po::value(&c.binarize)->default_value(c.binarize),
       "auto (binarize as aevb-eval does when the model was trained with dynamic binarization) | dynamic | none")
      ("binarize-seed", po::value(&c.binarize_seed)->default_value(c.binarize_seed),
       "seed of the fixed binarization of the split (aevb-eval's default: the same binary points)");
  } else {
    common.add_options()("points", po::value(&c.points)->default_value(c.points),
                         cmd == "sample" ? "how many samples (-1 = 64)" : "--dims auto: rows used (-1 = 1000)");
  }
  po::options_description own(cmd);
  if (cmd == "encode")
    own.add_options()
      ("z-samples", po::value(&c.z_samples)->default_value(c.z_samples), "also write S samples z ~ q(z|x) per row (/z)")
      ("shard-rows", po::value(&c.shard_rows)->default_value(c.shard_rows), "rows per output shard")
      ("chunk-rows", po::value(&c.chunk_rows)->default_value(c.chunk_rows),
       "rows per encoder call: fixed global chunks, so the output is the same bits for any rank count");
  if (cmd == "sample")
    own.add_options()("binary", po::bool_switch(&c.binary),
                      "Bernoulli decoder: also draw binary x ~ p(x|z) (/binary, PREFIX-binary.png)");
  if (cmd == "reconstruct")
    own.add_options()("samples", po::value(&c.rec_samples)->default_value(c.rec_samples),
                      "L draws z ~ q(z|x) for E_q[log p(x|z)] (/log_lik_sampled)");
  if (cmd == "manifold")
    own.add_options()
      ("grid", po::value(&c.grid)->default_value(c.grid), "n: an n x n grid at the prior's quantiles (i + 0.5) / n")
      ("dims", po::value(&c.dims_text)->default_value(c.dims_text),
       "the two latent dimensions varied (rows, columns); the others are 0. auto: the two whose encoder means vary "
       "most over the first --points rows (default 1000) of --data's --split")
      ("data", po::value(&c.data_dir), "dataset directory (--dims auto only)")
      ("split", po::value(&c.split)->default_value(c.split), "split to read (--dims auto only)")
      ("binarize", po::value(&c.binarize)->default_value(c.binarize), "as for the other commands (--dims auto only)")
      ("binarize-seed", po::value(&c.binarize_seed)->default_value(c.binarize_seed), "as for the other commands (--dims auto only)");
  if (cmd == "interpolate")
    own.add_options()
      ("steps", po::value(&c.steps)->default_value(c.steps), "latent points per path, both ends included")
      ("spherical", po::bool_switch(&c.spherical), "spherical interpolation (slerp) instead of linear");
  if (cmd == "inpaint")
    own.add_options()
      ("mask", po::value(&c.mask)->default_value(c.mask),
       "missing pixels: bottom | top | left | right (half of the picture) | random (--missing-fraction) | file:PATH "
       "(an 8-bit grey PNG of the picture's size, black = missing)")
      ("missing-fraction", po::value(&c.missing_fraction)->default_value(c.missing_fraction, default_text(c.missing_fraction)),
       "--mask random: each pixel missing with this probability")
      ("sampler", po::value(&c.sampler)->default_value(c.sampler),
       "mwg (Metropolis-within-Gibbs, Mattei & Frellsen 2018) | pseudo-gibbs (Rezende et al. 2014) | both")
      ("iterations", po::value(&c.iterations)->default_value(c.iterations), "sampler sweeps")
      ("burn-in", po::value(&c.burn_in)->default_value(c.burn_in), "sweeps before the imputation average starts")
      ("is-samples", po::value(&c.is_samples)->default_value(c.is_samples),
       "K of the importance-sampled log p(x_miss|x_obs)")
      ("group", po::value(&c.group)->default_value(c.group), "points per batch (one decoder call per sweep)")
      ("baseline-split", po::value(&c.baseline_split)->default_value(c.baseline_split),
       "split of the baselines' training images (the mean image; the nearest neighbour on the observed pixels)")
      ("baseline-rows", po::value(&c.baseline_rows)->default_value(c.baseline_rows), "use its first N rows (-1 = all)");
  if (cmd == "denoise")
    own.add_options()
      ("noise", po::value(&c.noise)->default_value(c.noise, default_text(c.noise)),
       "the corruption: binary data, each pixel flipped with this probability (< 0.5); real data, the standard "
       "deviation of added Gaussian noise")
      ("samples", po::value(&c.denoise_samples)->default_value(c.denoise_samples),
       "K importance samples z ~ q(z|y) per point")
      ("group", po::value(&c.group)->default_value(c.group), "points per batch");
  po::options_description all;
  all.add(common);
  if (!own.options().empty()) all.add(own);
  po::variables_map vm;
  try {
    po::store(parse_last_wins(argc - 1, argv + 1, all, infer_option_rules()), vm);
    if (vm.count("version")) {
      if (print_help) std::cout << "aevb-infer " << version() << std::endl;
      return false;
    }
    if (vm.count("help")) {
      if (print_help)
        std::cout << "aevb-infer " << cmd << ": " << commands().at(cmd) << ".\n\nUsage: [mpirun -np P] aevb-infer "
                  << cmd << " --model FILE" << (uses_data ? " --data DIR" : "") << " --out "
                  << (cmd == "encode" ? "DIR" : "PREFIX") << " [options]\n"
                  << all << kExitCodes;
      return false;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    throw usage_error(e.what());
  }
  if (c.model_path.empty()) throw usage_error("--model: required (a model file written by aevb-train, or a checkpoint)");
  if (uses_data && c.data_dir.empty()) throw usage_error("--data: required (a dataset directory written by aevb-data)");
  if (c.out.empty())
    throw usage_error(std::string("--out: required (") + (cmd == "encode" ? "a directory" : "a file prefix") + ")");
  if (cmd == "manifold" && c.dims_text == "auto" && c.data_dir.empty())
    throw usage_error("--dims auto: needs --data (the rows whose encoder means choose the dimensions)");
  if (cmd == "manifold" && c.dims_text != "auto") {
    const size_t comma = c.dims_text.find(',');
    try {
      size_t u1 = 0, u2 = 0;
      if (comma == std::string::npos) throw std::invalid_argument("");
      c.dim_a = std::stoll(c.dims_text.substr(0, comma), &u1);
      c.dim_b = std::stoll(c.dims_text.substr(comma + 1), &u2);
      if (u1 != comma || u2 != c.dims_text.size() - comma - 1) throw std::invalid_argument("");
    } catch (const std::exception&) {
      throw usage_error("--dims: expected two latent dimensions 'A,B', got '" + c.dims_text + "'");
    }
    if (c.dim_a < 0 || c.dim_b < 0 || c.dim_a == c.dim_b)
      throw usage_error("--dims: expected two different dimensions >= 0, got '" + c.dims_text + "'");
  }
  if (cmd == "inpaint") {
    static const std::vector<std::string> halves = {"bottom", "top", "left", "right", "random"};
    if (std::find(halves.begin(), halves.end(), c.mask) == halves.end() &&
        !(c.mask.rfind("file:", 0) == 0 && c.mask.size() > 5))
      throw usage_error("--mask: expected bottom, top, left, right, random or file:PATH, got '" + c.mask + "'");
    if (c.burn_in >= c.iterations)
      throw usage_error("--burn-in " + std::to_string(c.burn_in) + ": must be below --iterations " +
                        std::to_string(c.iterations));
  }
  return true;
}

}  // namespace aevb
