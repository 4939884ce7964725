// aevb-eval's summary of a results file (private to the eval layer): means and
// standard errors of every estimate, active units, and the same numbers as
// lines on stderr.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "aevb/eval/eval_config.hpp"
#include "aevb/io/eval_results.hpp"

namespace aevb {

// printf of up to two numbers into a string.
std::string fmt(const char* f, double a, double b = 0);

// {"tool", "model", "data", "split", "points", "nll", "elbo", "bayes" (Bayesian
// models), "nll_prior", "active_units", "latent_mean_variance"}.
nlohmann::json summarize_results(const EvalConfig& cfg, const EvalResults& r);

}  // namespace aevb
