#include "aevb/io/eval_results.hpp"
#include "aevb/base/version.hpp"

#include <algorithm>
#include <cmath>

#include "aevb/base/error.hpp"
#include "aevb/io/h5.hpp"

namespace aevb {

constexpr int64_t kEvalResultsVersion = 1;

const std::vector<std::string>& point_columns() {
  static const std::vector<std::string> names = {
      "log_px_se",
      "log_px_ais",        "log_px_ais_se",     "ais_accept",        "log_px_ais_reverse", "log_px_ais_reverse_se",
      "log_px_hmc",        "log_px_hmc_se",     "hmc_accept",        "hmc_ess",            "hmc_components",
      "log_px_quadrature", "quadrature_edge_fraction", "quadrature_resolution"};
  return names;
}

void write_eval_results(const std::string& path, const EvalResults& r) {
  h5::AtomicFile f(path);
  const hid_t root = f.id();
  const auto n = static_cast<hsize_t>(r.points()), nk = static_cast<hsize_t>(r.k_values.size());
  h5::write_attr_string(root, "format", "aevb-eval-results");
  h5::write_attr_int(root, "format_version", kEvalResultsVersion);
  h5::write_attr_string(root, "model", r.model_path);
  h5::write_attr_string(root, "model_format", r.model_format);
  h5::write_attr_string(root, "model_params_sha256", r.model_params_sha256);
  h5::write_attr_int(root, "model_step", r.model_step);
  h5::write_attr_string(root, "dataset", r.dataset);
  h5::write_attr_string(root, "data_dir", r.data_dir);
  h5::write_attr_string(root, "split", r.split);
  // Seeds are uint64 on the command line; stored as their int64 bit pattern
  // (every seed a user types fits).
  h5::write_attr_int(root, "seed", static_cast<int64_t>(r.seed));
  h5::write_attr_ints(root, "k_values", r.k_values);
  h5::write_attr_int(root, "elbo_samples", r.elbo_samples);
  h5::write_attr_int(root, "prior_samples", r.prior_samples);
  h5::write_attr_string(root, "binarization", r.binarization);
  h5::write_attr_int(root, "binarize_seed", static_cast<int64_t>(r.binarize_seed));
  h5::write_attr_int(root, "points", r.points());
  h5::write_attr_int(root, "sample_evals", r.sample_evals);
  h5::write_attr_double(root, "sample_evals_per_s", r.sample_evals_per_s);
  h5::write_attr_double(root, "wall_seconds", r.wall_seconds);
  h5::write_attr_string(root, "created_by", std::string("aevb-eval ") + version());
  h5::write_attr_int(root, "complete", r.complete ? 1 : 0);
  h5::write_attr_string(root, "data_sha256", r.data_sha256);
  h5::write_attr_int(root, "chunk_rows", r.chunk_rows);
  h5::write_attr_string(root, "estimators", r.estimators);
  h5::write_attr_string(root, "estimator_settings", r.estimator_settings);
  h5::write_attr_int(root, "simulated", r.simulated);
  if (nk > 0) {
    h5::write_dataset(root, "log_px", r.log_px.data(), {n, nk});
    h5::write_dataset(root, "k_values", r.k_values.data(), {nk});
  }
  for (const auto& [name, v] : r.columns) {
    if (v.size() != n)
      throw output_error(path + ": internal: /" + name + " has " + std::to_string(v.size()) + " values for " +
                         std::to_string(n) + " points");
    h5::write_dataset(root, name, v.data(), {n});
  }
  h5::write_dataset(root, "elbo", r.elbo.data(), {n});
  h5::write_dataset(root, "rec", r.rec.data(), {n});
  h5::write_dataset(root, "kl", r.kl.data(), {n});
  h5::write_dataset(root, "index", r.index.data(), {n});
  if (!r.log_px_prior.empty()) h5::write_dataset(root, "log_px_prior", r.log_px_prior.data(), {n});
  if (!r.elbo_full.empty()) {
    h5::write_dataset(root, "elbo_full", r.elbo_full.data(), {n});
    h5::write_attr_double(root, "weight_kl_per_point", r.weight_kl_per_point);
  }
  h5::write_attr_int(root, "theta_samples", r.theta_samples);
  if (!r.log_px_predictive.empty()) h5::write_dataset(root, "log_px_predictive", r.log_px_predictive.data(), {n});
  if (r.latent > 0)
    h5::write_dataset(root, "posterior_mean", r.mu.data(), {n, static_cast<hsize_t>(r.latent)});
  f.commit();
}

EvalResults read_eval_results(const std::string& path) {
  h5::Id f = h5::open_file_read(path);
  const hid_t root = f.get();
  if (!h5::has_attr(root, "format") || h5::read_attr_string(root, "format") != "aevb-eval-results")
    throw input_error(path + ": not an aevb-eval results file (attribute format != aevb-eval-results)");
  EvalResults r;
  r.model_path = h5::read_attr_string(root, "model");
  r.model_format = h5::read_attr_string(root, "model_format");
  r.model_params_sha256 = h5::read_attr_string(root, "model_params_sha256");
  r.model_step = h5::read_attr_int(root, "model_step");
  r.dataset = h5::read_attr_string(root, "dataset");
  r.data_dir = h5::read_attr_string(root, "data_dir");
  r.split = h5::read_attr_string(root, "split");
  r.seed = static_cast<uint64_t>(h5::read_attr_int(root, "seed"));
  r.elbo_samples = h5::read_attr_int(root, "elbo_samples");
  r.prior_samples = h5::read_attr_int(root, "prior_samples");
  r.binarization = h5::read_attr_string(root, "binarization");
  r.binarize_seed = static_cast<uint64_t>(h5::read_attr_int(root, "binarize_seed"));
  r.complete = !h5::has_attr(root, "complete") || h5::read_attr_int(root, "complete") != 0;
  if (h5::has_attr(root, "data_sha256")) r.data_sha256 = h5::read_attr_string(root, "data_sha256");
  if (h5::has_attr(root, "chunk_rows")) r.chunk_rows = h5::read_attr_int(root, "chunk_rows");
  if (h5::has_attr(root, "estimators")) r.estimators = h5::read_attr_string(root, "estimators");
  if (h5::has_attr(root, "estimator_settings")) r.estimator_settings = h5::read_attr_string(root, "estimator_settings");
  if (h5::has_attr(root, "simulated")) r.simulated = h5::read_attr_int(root, "simulated");
  if (h5::has_link(root, "k_values")) r.k_values = h5::read_dataset<int64_t>(root, "k_values").data;
  r.index = h5::read_dataset<int64_t>(root, "index").data;
  if (h5::has_link(root, "log_px")) r.log_px = h5::read_dataset<double>(root, "log_px").data;
  for (const std::string& name : point_columns())
    if (h5::has_link(root, name)) r.columns[name] = h5::read_dataset<double>(root, name).data;
  r.elbo = h5::read_dataset<double>(root, "elbo").data;
  r.rec = h5::read_dataset<double>(root, "rec").data;
  r.kl = h5::read_dataset<double>(root, "kl").data;
  if (h5::has_link(root, "log_px_prior")) r.log_px_prior = h5::read_dataset<double>(root, "log_px_prior").data;
  if (h5::has_link(root, "elbo_full")) {
    r.elbo_full = h5::read_dataset<double>(root, "elbo_full").data;
    r.weight_kl_per_point = h5::read_attr_double(root, "weight_kl_per_point");
  }
  if (h5::has_attr(root, "theta_samples")) r.theta_samples = h5::read_attr_int(root, "theta_samples");
  if (h5::has_link(root, "log_px_predictive")) r.log_px_predictive = h5::read_dataset<double>(root, "log_px_predictive").data;
  if (h5::has_link(root, "posterior_mean")) {  // absent in files of older releases
    auto mu = h5::read_dataset<double>(root, "posterior_mean");
    if (mu.dims.size() != 2) throw input_error(path + ": /posterior_mean is not 2-D (points x latent)");
    r.latent = static_cast<int64_t>(mu.dims[1]);
    r.mu = std::move(mu.data);
  }
  const size_t n = r.index.size();
  if (r.log_px.size() != n * r.k_values.size() || r.elbo.size() != n || r.rec.size() != n || r.kl.size() != n ||
      (r.prior_samples > 0 && r.log_px_prior.size() != n) || r.mu.size() != n * static_cast<size_t>(r.latent) ||
      (!r.elbo_full.empty() && r.elbo_full.size() != n) ||
      (r.theta_samples > 0 && r.log_px_predictive.size() != n) ||
      std::any_of(r.columns.begin(), r.columns.end(), [&](const auto& c) { return c.second.size() != n; }))
    throw input_error(path + ": per-point datasets disagree in length with /index (" + std::to_string(n) + " points)");
  return r;
}

MeanSe mean_se(const double* values, int64_t n, int64_t stride, int64_t offset) {
  MeanSe m;
  if (n <= 0) return m;
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += values[i * stride + offset];
  m.mean = sum / static_cast<double>(n);
  if (n < 2) return m;
  double ss = 0;  // two passes: no cancellation for large means (log p ~ -100)
  for (int64_t i = 0; i < n; ++i) {
    const double d = values[i * stride + offset] - m.mean;
    ss += d * d;
  }
  m.se = std::sqrt(ss / static_cast<double>(n - 1) / static_cast<double>(n));
  return m;
}

ActiveUnits active_units(const std::vector<double>& mu, int64_t latent, double threshold) {
  ActiveUnits a;
  if (latent <= 0) return a;
  const size_t J = static_cast<size_t>(latent), n = mu.size() / J;
  std::vector<double> mean(J, 0.0);
  int64_t used = 0;
  auto finite_row = [&](size_t i) {
    for (size_t j = 0; j < J; ++j)
      if (!std::isfinite(mu[i * J + j])) return false;
    return true;
  };
  for (size_t i = 0; i < n; ++i)
    if (finite_row(i)) {
      ++used;
      for (size_t j = 0; j < J; ++j) mean[j] += mu[i * J + j];
    }
  a.variance.assign(J, 0.0);
  if (used < 2) return a;
  for (size_t j = 0; j < J; ++j) mean[j] /= static_cast<double>(used);
  for (size_t i = 0; i < n; ++i)  // two passes: the means can be large against the spread
    if (finite_row(i))
      for (size_t j = 0; j < J; ++j) a.variance[j] += (mu[i * J + j] - mean[j]) * (mu[i * J + j] - mean[j]);
  for (size_t j = 0; j < J; ++j) {
    a.variance[j] /= static_cast<double>(used);
    if (a.variance[j] > threshold) ++a.active;
  }
  return a;
}

}  // namespace aevb
