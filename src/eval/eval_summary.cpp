// aevb-eval's summary statistics: the numbers of the JSON summary, each also
// printed as a line on stderr.
#include "eval_summary.hpp"

#include <algorithm>
#include <cstdio>
#include <iostream>

namespace aevb {

std::string fmt(const char* f, double a, double b) {
  char buf[128];
  std::snprintf(buf, sizeof buf, f, a, b);
  return buf;
}

namespace {

double mean_of(const std::vector<double>& v) { return mean_se(v.data(), static_cast<int64_t>(v.size())).mean; }

// One estimator's NLL (mean and standard error over the points), the mean of
// its per-point standard errors, and its diagnostics.
void summarize_mcmc(const EvalResults& r, nlohmann::json& s) {
  constexpr const char* kTool = "aevb-eval";
  const int64_t N = r.points();
  auto col = [&](const char* name) -> const std::vector<double>* {
    auto it = r.columns.find(name);
    return it == r.columns.end() ? nullptr : &it->second;
  };
  auto nll = [&](const char* label, const char* est, const char* se, const char* extra_name, const char* extra) {
    const MeanSe m = mean_se(col(est)->data(), N);
    nlohmann::json j{{"mean", -m.mean}, {"se", m.se}};
    std::cerr << kTool << ": " << label << fmt(": NLL %.4f +- %.4f nats", -m.mean, m.se);
    if (se) {
      j["mean_point_se"] = mean_of(*col(se));
      std::cerr << fmt(" (mean per-point se %.4f)", mean_of(*col(se)));
    }
    if (extra) {
      j[extra_name] = mean_of(*col(extra));
      std::cerr << ", mean " << extra_name << fmt(" %.4g", mean_of(*col(extra)));
    }
    std::cerr << std::endl;
    return j;
  };
  if (col("log_px_ais")) s["nll_ais"] = nll("AIS (lower bound)", "log_px_ais", "log_px_ais_se", "accept", "ais_accept");
  if (col("log_px_ais_reverse")) {
    s["nll_ais_reverse"] = nll("reverse AIS (upper bound)", "log_px_ais_reverse", "log_px_ais_reverse_se", "", nullptr);
    const double gap = mean_of(*col("log_px_ais_reverse")) - mean_of(*col("log_px_ais"));
    s["bdmc_gap"] = gap;
    std::cerr << kTool << fmt(": BDMC gap (reverse - forward, mean over points) %.4f nats", gap, 0) << std::endl;
  }
  if (col("log_px_hmc")) {
    s["nll_hmc"] = nll("Appendix D reciprocal (HMC)", "log_px_hmc", "log_px_hmc_se", "accept", "hmc_accept");
    s["nll_hmc"]["ess"] = mean_of(*col("hmc_ess"));
    s["nll_hmc"]["components"] = mean_of(*col("hmc_components"));
  }
  if (col("log_px_quadrature")) {
    s["nll_quadrature"] = nll("quadrature", "log_px_quadrature", nullptr, "", nullptr);
    const std::vector<double>& e = *col("quadrature_edge_fraction");
    s["nll_quadrature"]["max_edge_fraction"] = e.empty() ? 0.0 : *std::max_element(e.begin(), e.end());
    const std::vector<double>& res = *col("quadrature_resolution");
    const double worst = res.empty() ? 0.0 : *std::max_element(res.begin(), res.end());
    s["nll_quadrature"]["max_resolution"] = worst;
    std::cerr << kTool << fmt(": quadrature: largest edge fraction %.2g, largest resolution change %.2g nats",
                              s["nll_quadrature"]["max_edge_fraction"].get<double>(), worst)
              << (worst > 0.01 ? " (some posteriors are narrower than the grid: more --quadrature-points)" : "")
              << std::endl;
  }
}

}  // namespace

nlohmann::json summarize_results(const EvalConfig& cfg, const EvalResults& r) {
  using json = nlohmann::json;
  constexpr const char* kTool = "aevb-eval";
  const int64_t N = r.points(), nK = static_cast<int64_t>(cfg.ks.size());
  json s{{"tool", kTool}, {"model", cfg.model_path}, {"data", cfg.data_dir}, {"split", cfg.split}, {"points", N},
         {"estimators", cfg.estimators}};
  if (cfg.simulate > 0) s["simulated"] = cfg.simulate;
  json nll = json::object();
  for (int64_t j = 0; j < nK; ++j) {
    const MeanSe ms = mean_se(r.log_px.data(), N, nK, j);
    nll[std::to_string(cfg.ks[static_cast<size_t>(j)])] = {{"mean", -ms.mean}, {"se", ms.se}};
    const auto se = r.columns.find("log_px_se");  // per point, for the largest K
    if (j + 1 == nK && se != r.columns.end())
      nll[std::to_string(cfg.ks.back())]["mean_point_se"] = mean_se(se->second.data(), N).mean;
    std::cerr << kTool << ": K = " << cfg.ks[static_cast<size_t>(j)] << fmt(": NLL %.4f +- %.4f nats", -ms.mean, ms.se)
              << std::endl;
  }
  s["nll"] = nll;
  const MeanSe e = mean_se(r.elbo.data(), N);
  s["elbo"] = {{"mean", e.mean}, {"se", e.se}};
  std::cerr << kTool << ": ELBO " << fmt("%.4f +- %.4f nats", e.mean, e.se) << " (analytic KL, L = " << cfg.elbo_samples
            << ")" << std::endl;
  if (!r.elbo_full.empty()) {
    // A Bayesian model: "nll" and "elbo" above are the plug-in model's, theta = mu_theta.
    const MeanSe fb = mean_se(r.elbo_full.data(), N);
    json b{{"bound", {{"mean", fb.mean}, {"se", fb.se}}}, {"weight_kl_per_point", r.weight_kl_per_point}};
    std::cerr << kTool << ": full bound " << fmt("%.4f +- %.4f nats", fb.mean, fb.se) << " (data term under q(theta) - KL/N, "
              << fmt("KL/N = %.4f); NLL and ELBO above are at theta = mu_theta", r.weight_kl_per_point) << std::endl;
    if (!r.log_px_predictive.empty()) {
      const MeanSe pr = mean_se(r.log_px_predictive.data(), N);
      b["nll_predictive"] = {{"mean", -pr.mean}, {"se", pr.se}, {"theta_samples", r.theta_samples}};
      std::cerr << kTool << ": predictive, S = " << r.theta_samples << ", K = " << cfg.ks.back()
                << fmt(": NLL %.4f +- %.4f nats", -pr.mean, pr.se) << std::endl;
    }
    s["bayes"] = b;
  }
  if (!r.log_px_prior.empty()) {
    const MeanSe p = mean_se(r.log_px_prior.data(), N);
    s["nll_prior"] = {{std::to_string(cfg.prior_samples), {{"mean", -p.mean}, {"se", p.se}}}};
    std::cerr << kTool << ": prior sampling, K = " << cfg.prior_samples
              << fmt(": NLL %.4f +- %.4f nats", -p.mean, p.se) << std::endl;
  }
  summarize_mcmc(r, s);
  const ActiveUnits au = active_units(r.mu, r.latent);
  s["active_units"] = au.active;
  s["latent_mean_variance"] = au.variance;
  std::cerr << kTool << ": " << au.active << " of " << r.latent
            << " latent units active (variance of E_q[z_j|x] over the points > 0.01)" << std::endl;
  return s;
}

}  // namespace aevb
