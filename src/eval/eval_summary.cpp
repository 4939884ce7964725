// aevb-eval's summary statistics: the numbers of the JSON summary, each also
// printed as a line on stderr.
#include "eval_summary.hpp"

#include <cstdio>
#include <iostream>

namespace aevb {

std::string fmt(const char* f, double a, double b) {
  char buf[128];
  std::snprintf(buf, sizeof buf, f, a, b);
  return buf;
}

nlohmann::json summarize_results(const EvalConfig& cfg, const EvalResults& r) {
  using json = nlohmann::json;
  constexpr const char* kTool = "aevb-eval";
  const int64_t N = r.points(), nK = static_cast<int64_t>(cfg.ks.size());
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
  const ActiveUnits au = active_units(r.mu, r.latent);
  s["active_units"] = au.active;
  s["latent_mean_variance"] = au.variance;
  std::cerr << kTool << ": " << au.active << " of " << r.latent
            << " latent units active (variance of E_q[z_j|x] over the points > 0.01)" << std::endl;
  return s;
}

}  // namespace aevb
