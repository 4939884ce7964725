// aevb-eval's results file (HDF5, format "aevb-eval-results" version 1) and the
// summary statistics printed from it.
//
//   /log_px        float64 [points x nK]  importance-sampled log p(x), column j uses K = k_values[j]
//   /k_values      int64   [nK]
//   /elbo /rec /kl float64 [points]       analytic-KL ELBO and its terms
//   /index         int64   [points]       global index of each point in the split
//   /log_px_se     float64 [points]       the standard error of /log_px's last column (largest K), delta method
//   /log_px_prior  float64 [points]       naive estimator (z ~ p(z)), only with --prior-samples
//   /elbo_full     float64 [points]       a Bayesian model (bayes = full): the full bound, the data term
//                                         under q(theta) minus KL(q(theta) || p(theta)) / train_rows
//   /log_px_predictive float64 [points]   a Bayesian model with --theta-samples S: log 1/S sum_s p_theta_s(x)
//   /posterior_mean float64 [points x J]  E_q[z|x], the encoder's mean (NaN rows: points an
//                                         interrupted run of an older aevb-eval finished)
//   MCMC estimators (--estimator; docs/estimators.md), float64 [points] each, present when run:
//     ais:        /log_px_ais /log_px_ais_se /ais_accept
//     bdmc:       the ais arrays plus /log_px_ais_reverse /log_px_ais_reverse_se (a stochastic upper bound)
//     hmc:        /log_px_hmc /log_px_hmc_se /hmc_accept /hmc_ess /hmc_components
//     quadrature: /log_px_quadrature /quadrature_edge_fraction /quadrature_resolution
//   /log_px and /k_values are absent when is was not run (k_values attribute empty).
//   root attrs: format, format_version, model, model_format, model_params_sha256,
//     model_step, dataset, data_dir, split, seed, k_values, elbo_samples,
//     prior_samples, binarization, binarize_seed, points, sample_evals,
//     sample_evals_per_s, wall_seconds, created_by, data_sha256, chunk_rows, complete (1; 0 in an
//     interrupted evaluation's OUT.partial, which holds only the finished points), estimators ("is,ais"),
//     estimator_settings (JSON text: every MCMC option that changes the numbers), simulated (N > 0: points
//     simulated from the model, --simulate)
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace aevb {

struct EvalResults {
  // Per point, in global order.
  std::vector<int64_t> index;
  std::vector<double> log_px;  // points x k_values.size(), row-major
  std::vector<double> elbo, rec, kl;
  std::vector<double> log_px_prior;  // empty unless prior_samples > 0
  std::vector<double> elbo_full, log_px_predictive;  // Bayesian models (else empty)
  int64_t theta_samples = 0;
  double weight_kl_per_point = 0;    // KL(q(theta) || p(theta)) / train_rows (Bayesian models)
  std::vector<double> mu;            // points x latent: the encoder's mean of each point
  int64_t latent = 0;
  // Per-point arrays by dataset name (point_columns()): /log_px_se and the MCMC estimators'.
  std::map<std::string, std::vector<double>> columns;
  std::string estimators = "is", estimator_settings = "{}";
  int64_t simulated = 0;
  // What was evaluated, and how.
  std::vector<int64_t> k_values;
  std::string model_path, model_format, model_params_sha256, dataset, data_dir, split, binarization;
  std::string data_sha256;  // over the split's shard checksums: which rows were evaluated
  int64_t model_step = 0, elbo_samples = 1, prior_samples = 0, sample_evals = 0;
  int64_t chunk_rows = 0;   // decoder rows per call: part of what makes results bit-reproducible
  uint64_t seed = 0, binarize_seed = 0;
  double sample_evals_per_s = 0, wall_seconds = 0;
  bool complete = true;  // false: the finished points of an interrupted evaluation

  int64_t points() const { return static_cast<int64_t>(index.size()); }
};

// Every per-point array of `columns` (/log_px_se and the MCMC estimators').
const std::vector<std::string>& point_columns();

// Written atomically (temp file + rename): a reader never sees half a file.
// output_error (exit 4) if it cannot be written.
void write_eval_results(const std::string& path, const EvalResults& r);

// The whole file, its shapes checked against each other; input_error (exit 3)
// naming the file for anything missing or inconsistent.
EvalResults read_eval_results(const std::string& path);

struct MeanSe {
  double mean = 0, se = 0;  // se = sample standard deviation / sqrt(n)
};
// Over values[i * stride + offset], i < n.
MeanSe mean_se(const double* values, int64_t n, int64_t stride = 1, int64_t offset = 0);

// Active latent units (Burda, Grosse & Salakhutdinov 2016, section 5.2): unit j
// is active when Cov_x(E_q[z_j|x]) > threshold (0.01 in the paper), the
// variance over the points of their posterior means. Rows with a NaN are skipped.
struct ActiveUnits {
  int64_t active = 0;
  std::vector<double> variance;  // per unit
};
ActiveUnits active_units(const std::vector<double>& mu, int64_t latent, double threshold = 0.01);

}  // namespace aevb
