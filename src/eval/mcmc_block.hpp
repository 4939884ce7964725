// aevb-eval's MCMC estimators over a block of points (private to the eval
// layer): which samplers --estimator asks for, built once, and their per-point
// results written into the named arrays of the results file.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "aevb/core/mcmc_estimators.hpp"
#include "aevb/eval/eval_config.hpp"

namespace aevb {

struct McmcPlan {
  std::unique_ptr<AisSampler> ais;  // ais or bdmc
  bool reverse = false;             // bdmc: reverse AIS from the exact z as well
  std::unique_ptr<ReciprocalEstimator> hmc;
  std::unique_ptr<QuadratureEstimator> quad;
  int64_t group = 1;  // points per batch of the AIS and HMC samplers
  bool any() const { return ais || hmc || quad; }
  int64_t decoder_rows() const;
  std::vector<std::string> columns() const;  // the arrays it writes (names from point_columns())
};

McmcPlan make_mcmc_plan(const EvalConfig& cfg, Vae& m);

// The MCMC settings that change the per-point numbers, as JSON text: an
// interrupted evaluation resumes only with the same ones.
std::string mcmc_settings_json(const EvalConfig& cfg);

// Points b..b+nb-1 of the rank: x (nb x D), their global indices, the exact z
// (nb x J, simulated data) or nullptr. Writes cols[name][b + i].
void run_mcmc_block(McmcPlan& p, const float* x, const int64_t* index, int64_t nb, const float* z_exact, int64_t b,
                    std::map<std::string, std::vector<double>>& cols);

}  // namespace aevb
