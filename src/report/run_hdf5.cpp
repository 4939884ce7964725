// The HDF5 files of a run directory (run_data.hpp), read through the io layer:
// model.h5 and the newest checkpoint (attributes, checksum verified by the
// loader), latents-SPLIT/latents.h5 (aevb-infer encode) and eval*.h5 (aevb-eval).
// A file that cannot be read becomes a warning on the page, not a failure.
#include <algorithm>
#include <filesystem>

#include "aevb/base/error.hpp"
#include "aevb/cli/options.hpp"
#include "aevb/io/checkpoint.hpp"
#include "aevb/io/eval_results.hpp"
#include "aevb/io/h5.hpp"
#include "aevb/io/model_file.hpp"
#include "html.hpp"
#include "run_data.hpp"

namespace aevb::report {

namespace fs = std::filesystem;

namespace {

// The model file's root attributes worth showing (config_ini is shown as config.ini).
const std::vector<std::string> kModelAttrs = {
    "format",     "format_version", "created_by", "dataset",       "binarization",  "train_rows",
    "step",       "epoch",          "x_dim",      "row_shape",     "data_scale",    "hidden",
    "latent",     "activation",     "decoder",    "gaussian_mean", "bayes",         "weight_prior_precision",
    "selected_on", "selected_bound", "params_sha256"};
// A checkpoint's: the training state that model.h5 does not record.
const std::vector<std::string> kCheckpointAttrs = {
    "format",         "created_by",      "step",      "epoch",           "step_in_epoch",   "ranks",
    "batch",          "optimizer",       "optimizer_steps", "rng",       "rng_seed",        "shuffle",
    "train_split",    "train_rows",      "binarization", "train_seconds", "best_valid_epoch", "best_valid_bound",
    "data_fingerprint", "params_sha256", "checksum_sha256"};

std::string join_ints(const std::vector<int64_t>& v) {
  std::string s;
  for (const int64_t x : v) s += (s.empty() ? "" : ", ") + std::to_string(x);
  return v.size() == 1 ? s : "[" + s + "]";
}

std::string join_doubles(const std::vector<double>& v) {
  std::string s;
  for (const double x : v) s += (s.empty() ? "" : ", ") + default_text(x);
  return v.size() == 1 ? s : "[" + s + "]";
}

// An attribute as text, whatever its kind: the readers throw on the wrong kind
// (string, integer, float), so each is tried in turn.
std::string attr_text(hid_t f, const std::string& name) {
  try {
    return h5::read_attr_string(f, name);
  } catch (const Error&) {
  }
  try {
    return join_ints(h5::read_attr_ints(f, name));
  } catch (const Error&) {
  }
  return join_doubles(h5::read_attr_doubles(f, name));
}

// Root attributes of `path` (those of `names` that are present), and whether
// the loader accepts the file: format, parameter count, params_sha256.
H5Summary summarize(const std::string& path, const std::vector<std::string>& names) {
  H5Summary s;
  s.path = path;
  {
    h5::Id f = h5::open_file_read(path);
    for (const auto& n : names) {
      if (!h5::has_attr(f, n)) continue;
      s.attrs.emplace_back(n, attr_text(f, n));
      if (n == "ranks") s.ranks = h5::read_attr_int(f, n);
      if (n == "batch") s.batch = h5::read_attr_int(f, n);
      if (n == "train_seconds") s.train_seconds = h5::read_attr_double(f, n);
      if (n == "data_fingerprint") s.data_fingerprint = h5::read_attr_string(f, n);
    }
  }
  try {
    const LoadedModel m = load_model_or_checkpoint(path);
    s.verified = true;
    s.verify_message = "params_sha256 " + m.meta.params_sha256.substr(0, 16) + "... verified against /params";
  } catch (const Error& e) {
    s.verify_message = std::string("does not verify: ") + e.what();
  }
  return s;
}

// The file names under `dir` that `keep` accepts, sorted.
template <class F>
std::vector<fs::path> files_in(const fs::path& dir, F keep) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (keep(e)) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

// The per-point estimates of an evaluation worth a mean, with their names on the page.
const std::vector<std::pair<std::string, std::string>> kEstimates = {
    {"elbo", "ELBO (analytic KL)"},
    {"elbo_full", "full-VB bound"},
    {"log_px_predictive", "predictive log p(x), theta ~ q(theta)"},
    {"log_px_prior", "IS from the prior"},
    {"log_px_ais", "AIS (stochastic lower bound)"},
    {"log_px_ais_reverse", "reverse AIS (stochastic upper bound)"},
    {"log_px_hmc", "HMC + reciprocal (AEVB App. D)"},
    {"log_px_quadrature", "quadrature"}};

const std::vector<double>* estimate_values(const EvalResults& e, const std::string& key) {
  if (key == "elbo") return &e.elbo;
  if (key == "elbo_full") return &e.elbo_full;
  if (key == "log_px_predictive") return &e.log_px_predictive;
  if (key == "log_px_prior") return &e.log_px_prior;
  const auto it = e.columns.find(key);
  return it == e.columns.end() ? nullptr : &it->second;
}

EvalSummary summarize_eval(const std::string& path) {
  const EvalResults e = read_eval_results(path);
  EvalSummary s;
  s.path = path;
  s.name = fs::path(path).filename().string();
  s.split = e.simulated > 0 ? "simulated from the model (--simulate)" : e.split;
  s.estimators = e.estimators;
  s.data_sha256 = e.data_sha256;
  s.model_params_sha256 = e.model_params_sha256;
  s.points = e.points();
  s.model_step = e.model_step;
  s.complete = e.complete;
  s.k = e.k_values;
  s.latent = e.latent;
  const int64_t n = e.points(), nk = static_cast<int64_t>(e.k_values.size());
  if (n > 0 && static_cast<int64_t>(e.log_px.size()) == n * nk)
    for (int64_t j = 0; j < nk; ++j) s.log_px.push_back(mean_se(e.log_px.data(), n, nk, j));
  else
    s.k.clear();
  for (const auto& [key, label] : kEstimates) {
    const std::vector<double>* v = estimate_values(e, key);
    if (v && !v->empty() && static_cast<int64_t>(v->size()) == n)
      s.estimates.emplace_back(label, mean_se(v->data(), n));
  }
  // Active units from the encoder means the evaluator kept (Burda et al. 2016).
  if (e.latent > 0 && static_cast<int64_t>(e.mu.size()) == n * e.latent && n > 1)
    s.active_units = active_units(e.mu, e.latent).active;
  return s;
}

}  // namespace

void load_model_info(RunData& r) {
  const fs::path path = fs::path(r.dir) / "model.h5";
  std::error_code ec;
  if (!fs::exists(path, ec)) return;  // still training: the checkpoint tells where it is
  try {
    r.model = summarize(path.string(), kModelAttrs);
    r.has_model = true;
  } catch (const Error& e) {
    r.warnings.push_back(std::string("model.h5: cannot read it: ") + e.what());
  }
}

void load_checkpoint_info(RunData& r) {
  const std::vector<std::string> all = list_checkpoints(r.dir);
  if (all.empty()) return;
  try {
    r.checkpoint = summarize(all.front(), kCheckpointAttrs);
    r.has_checkpoint = true;
  } catch (const Error& e) {
    r.warnings.push_back(std::string("newest checkpoint: cannot read it: ") + e.what());
  }
}

void load_latents(RunData& r) {
  const auto dirs = files_in(r.dir, [](const fs::directory_entry& e) {
    std::error_code ec;
    return e.is_directory(ec) && e.path().filename().string().rfind("latents-", 0) == 0 &&
           fs::is_regular_file(e.path() / "latents.h5", ec);
  });
  for (const fs::path& d : dirs) {
    LatentStats s;
    s.path = (d / "latents.h5").string();
    s.split = d.filename().string().substr(8);
    try {
      h5::Id f = h5::open_file_read(s.path);
      s.kl_per_dim = h5::read_dataset<double>(f, "kl_per_dim").data;
      if (h5::has_link(f, "mu_variance")) s.mu_variance = h5::read_dataset<double>(f, "mu_variance").data;
      if (h5::has_attr(f, "active_units")) s.active_units = h5::read_attr_int(f, "active_units");
      if (h5::has_attr(f, "active_threshold")) s.threshold = h5::read_attr_double(f, "active_threshold");
      if (h5::has_attr(f, "split")) s.split = h5::read_attr_string(f, "split");
      if (h5::has_attr(f, "rows")) s.rows = h5::read_attr_int(f, "rows");
      if (!s.mu_variance.empty() && s.mu_variance.size() != s.kl_per_dim.size())
        throw input_error(s.path + ": /mu_variance has " + std::to_string(s.mu_variance.size()) +
                          " values but /kl_per_dim has " + std::to_string(s.kl_per_dim.size()));
      if (s.active_units < 0 && !s.mu_variance.empty())
        s.active_units = std::count_if(s.mu_variance.begin(), s.mu_variance.end(),
                                       [&](double v) { return v > s.threshold; });
      r.latents.push_back(std::move(s));
    } catch (const Error& e) {
      r.warnings.push_back(std::string("cannot read ") + s.path + ": " + e.what());
    }
  }
}

void load_evals(RunData& r) {
  const auto files = files_in(r.dir, [](const fs::directory_entry& e) {
    std::error_code ec;
    const std::string n = e.path().filename().string();
    return e.is_regular_file(ec) && n.rfind("eval", 0) == 0 && e.path().extension() == ".h5";
  });
  for (const fs::path& p : files) {
    try {
      r.evals.push_back(summarize_eval(p.string()));
    } catch (const Error& e) {
      r.warnings.push_back(std::string("cannot read ") + p.string() + ": " + e.what());
    }
  }
}

}  // namespace aevb::report
