#include "eval_inputs.hpp"

#include <filesystem>
#include <iostream>

#include "aevb/base/error.hpp"
#include "aevb/cli/options.hpp"
#include "aevb/io/binarization.hpp"
#include "aevb/io/checksum.hpp"
#include "aevb/io/durable_file.hpp"

namespace aevb {
namespace {
constexpr const char* kTool = "aevb-eval";
// The MCMC estimators' limits on the latent dimension (docs/estimators.md).
void check_estimators_fit(const EvalConfig& cfg, const ModelSpec& spec, bool print) {
  const int64_t J = spec.latent;
  if (cfg.uses("quadrature") && J > 3)
    throw usage_error("--estimator quadrature: the grid has quadrature-points^J cells; it is for a latent dimension "
                      "<= 3, and " + cfg.model_path + " has J = " + std::to_string(J));
  if (cfg.uses("hmc") && J > 5) {
    if (!cfg.mcmc.hmc_any_latent)
      throw usage_error("--estimator hmc: AEVB's Appendix D estimator (a density fitted to posterior samples) is "
                        "for a low-dimensional latent space, J <= 5, and " + cfg.model_path + " has J = " +
                        std::to_string(J) + "; use ais, or --hmc-any-latent to run it anyway");
    if (print)
      std::cerr << kTool << ": warning: --estimator hmc with J = " << J
                << ": the mixture fit and the reciprocal estimator degrade with J; compare with ais" << std::endl;
  }
}

}  // namespace

Inputs load_inputs(const EvalConfig& cfg, const MpiComm& comm) {
  Inputs in;
  collectively(comm, kTool, [&] {
    if (comm.rank() == 0) {
      require_writable_dir(parent_dir(cfg.out_path), "cannot write the results file " + cfg.out_path);
      if (std::filesystem::is_directory(cfg.out_path))
        throw output_error("--out " + cfg.out_path + " is a directory; expected a results file path (e.g. " +
                           cfg.out_path + "/eval.h5)");
      // One evaluation per results file (they would overwrite each other's
      // OUT.partial); other files of the directory stay free for other writers.
      const std::filesystem::path out(cfg.out_path);
      in.lock = DirLock::acquire_file(
          (out.parent_path().empty() ? std::filesystem::path(".") : out.parent_path()) /
              ("." + out.filename().string() + ".lock"),
          cfg.out_path, kTool, "results file", "wait for that evaluation to end, stop it, or choose another --out");
      if (!in.lock.notice().empty()) std::cerr << kTool << ": warning: " << in.lock.notice() << std::endl;
      // Checked before any compute: a finished evaluation is not replaced silently.
      if (std::filesystem::exists(cfg.out_path) && !cfg.force)
        throw output_error("--out " + cfg.out_path + " exists (a finished evaluation); use --force to replace it, "
                           "or choose another --out");
    }
    in.model = load_model_or_checkpoint(cfg.model_path);
    const ModelSpec& spec = in.model.model->spec();
    const bool bernoulli = spec.decoder == DecoderKind::kBernoulli;
    check_estimators_fit(cfg, spec, comm.rank() == 0);
    if (cfg.simulate > 0) {  // points drawn from the model itself: no files to read
      if (cfg.binarize == "dynamic")
        throw usage_error("--binarize dynamic: --simulate data are drawn from the model (binary for a Bernoulli decoder)");
      in.dataset_name = "simulated";
      in.points = cfg.max_points >= 0 ? std::min(cfg.max_points, cfg.simulate) : cfg.simulate;
      return;
    }
    if (cfg.binarize == "dynamic" && !bernoulli)
      throw usage_error("--binarize dynamic: only meaningful for a model with a Bernoulli decoder");
    in.manifest = Manifest::load(cfg.data_dir);
    in.dataset_name = in.manifest.name;
    const SplitInfo& info = in.manifest.split(cfg.split);
    std::string shards;
    for (const auto& sh : info.shards) shards += sh.data_sha256 + ":";
    in.data_sha256 = sha256_hex(shards.data(), shards.size());
    // Check the dimension before reading (and validating) the rows: a Gaussian
    // split must not be reported as "outside [0,1]" for a Bernoulli model it
    // does not even fit.
    if (info.cols != spec.x_dim)
      throw input_error("model " + cfg.model_path + " has " + std::to_string(spec.x_dim) +
                        " values per data point but split '" + cfg.split + "' of " + cfg.data_dir + " has " +
                        std::to_string(info.cols));
    in.validate.require_unit_interval = bernoulli;
    (void)parse_byte_size("memory-budget", cfg.memory_budget);
    in.points = cfg.max_points >= 0 ? std::min(cfg.max_points, info.rows) : info.rows;
    if (in.points == 0) throw input_error(cfg.data_dir + ": split '" + cfg.split + "' has no rows");
    // auto: what the model was trained on (checkpoints without that record fall
    // back on the split's own description, as aevb-train decides).
    const std::string& trained = in.model.meta.binarization;
    in.binarized = binarization_applies(cfg.binarize, bernoulli, trained.empty() ? info.binarization : trained);
  });
  return in;
}

}  // namespace aevb
