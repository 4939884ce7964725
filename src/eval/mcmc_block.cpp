#include "mcmc_block.hpp"

#include <nlohmann/json.hpp>

namespace aevb {

int64_t McmcPlan::decoder_rows() const {
  return (ais ? ais->decoder_rows() : 0) + (hmc ? hmc->decoder_rows() : 0) + (quad ? quad->decoder_rows() : 0);
}

std::vector<std::string> McmcPlan::columns() const {
  std::vector<std::string> c;
  if (ais) c.insert(c.end(), {"log_px_ais", "log_px_ais_se", "ais_accept"});
  if (ais && reverse) c.insert(c.end(), {"log_px_ais_reverse", "log_px_ais_reverse_se"});
  if (hmc) c.insert(c.end(), {"log_px_hmc", "log_px_hmc_se", "hmc_accept", "hmc_ess", "hmc_components"});
  if (quad) c.insert(c.end(), {"log_px_quadrature", "quadrature_edge_fraction", "quadrature_resolution"});
  return c;
}

McmcPlan make_mcmc_plan(const EvalConfig& cfg, Vae& m) {
  const McmcOptions& o = cfg.mcmc;
  McmcPlan p;
  p.group = o.group;
  if (cfg.uses("ais") || cfg.uses("bdmc")) {
    AisConfig a;
    a.steps = o.ais_steps;
    a.chains = o.ais_chains;
    a.leapfrog = o.leapfrog;
    a.schedule = o.ais_schedule == "linear" ? AisSchedule::kLinear : AisSchedule::kSigmoid;
    a.start = o.ais_start == "prior" ? McmcStart::kPrior : McmcStart::kPosterior;
    a.target_accept = o.ais_target_accept;
    a.seed = cfg.seed;
    p.ais = std::make_unique<AisSampler>(m, a, o.group);
    p.reverse = cfg.uses("bdmc");
  }
  if (cfg.uses("hmc")) {
    ReciprocalConfig r;
    r.chains = o.hmc_chains;
    r.burn_in = o.hmc_burn_in;
    r.samples = o.hmc_samples;
    r.thin = o.hmc_thin;
    r.leapfrog = o.leapfrog;
    r.target_accept = o.hmc_target_accept;
    r.components = o.mixture_components;
    r.start = o.hmc_start == "annealed" ? McmcStart::kPrior : McmcStart::kPosterior;
    r.anneal_steps = o.hmc_anneal_steps;
    r.shrink = o.mixture_shrink;
    r.seed = cfg.seed;
    p.hmc = std::make_unique<ReciprocalEstimator>(m, r, o.group);
  }
  if (cfg.uses("quadrature")) {
    QuadratureConfig q;
    q.points_per_dim = o.quadrature_points;
    q.width = o.quadrature_width;
    p.quad = std::make_unique<QuadratureEstimator>(m, q);
  }
  return p;
}

std::string mcmc_settings_json(const EvalConfig& cfg) {
  const McmcOptions& o = cfg.mcmc;
  nlohmann::json j = nlohmann::json::object();
  if (cfg.uses("ais") || cfg.uses("bdmc") || cfg.uses("hmc")) j["mcmc_group"] = o.group, j["leapfrog"] = o.leapfrog;
  if (cfg.uses("ais") || cfg.uses("bdmc"))
    j["ais"] = {{"steps", o.ais_steps},           {"chains", o.ais_chains}, {"schedule", o.ais_schedule},
                {"start", o.ais_start},           {"target_accept", o.ais_target_accept}};
  if (cfg.uses("hmc"))
    j["hmc"] = {{"chains", o.hmc_chains},
                {"burn_in", o.hmc_burn_in},
                {"samples", o.hmc_samples},
                {"thin", o.hmc_thin},
                {"target_accept", o.hmc_target_accept},
                {"mixture_components", o.mixture_components},
                {"mixture_shrink", o.mixture_shrink},
                {"start", o.hmc_start},
                {"anneal_steps", o.hmc_anneal_steps}};
  if (cfg.uses("quadrature")) j["quadrature"] = {{"points", o.quadrature_points}, {"width", o.quadrature_width}};
  return j.dump();
}

void run_mcmc_block(McmcPlan& p, const float* x, const int64_t* index, int64_t nb, const float* z_exact, int64_t b,
                    std::map<std::string, std::vector<double>>& cols) {
  auto set = [&](const char* name, int64_t i, double v) { cols[name][static_cast<size_t>(b + i)] = v; };
  if (p.ais) {
    std::vector<AisPoint> out(static_cast<size_t>(nb));
    p.ais->run(x, index, nb, p.reverse ? z_exact : nullptr, out.data());
    for (int64_t i = 0; i < nb; ++i) {
      const AisPoint& a = out[static_cast<size_t>(i)];
      set("log_px_ais", i, a.log_px);
      set("log_px_ais_se", i, a.se);
      set("ais_accept", i, a.accept);
      if (p.reverse) set("log_px_ais_reverse", i, a.log_px_upper), set("log_px_ais_reverse_se", i, a.se_upper);
    }
  }
  if (p.hmc) {
    std::vector<ReciprocalPoint> out(static_cast<size_t>(nb));
    p.hmc->run(x, index, nb, out.data());
    for (int64_t i = 0; i < nb; ++i) {
      const ReciprocalPoint& r = out[static_cast<size_t>(i)];
      set("log_px_hmc", i, r.log_px);
      set("log_px_hmc_se", i, r.se);
      set("hmc_accept", i, r.accept);
      set("hmc_ess", i, r.ess);
      set("hmc_components", i, static_cast<double>(r.components));
    }
  }
  if (p.quad) {
    std::vector<QuadraturePoint> out(static_cast<size_t>(nb));
    p.quad->run(x, nb, out.data());
    for (int64_t i = 0; i < nb; ++i) {
      set("log_px_quadrature", i, out[static_cast<size_t>(i)].log_px);
      set("quadrature_edge_fraction", i, out[static_cast<size_t>(i)].edge_fraction);
      set("quadrature_resolution", i, out[static_cast<size_t>(i)].resolution);
    }
  }
}

}  // namespace aevb
