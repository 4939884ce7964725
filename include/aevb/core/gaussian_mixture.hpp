// A Gaussian mixture with full covariances, fitted by EM: stage 2 of Kingma &
// Welling's Appendix D marginal-likelihood estimator. Posterior samples z (from
// HMC) are fitted by a density q(z); q's log density is then evaluated at fresh
// posterior samples. Meant for low-dimensional data (dim 1..~10, n ~50..10,000);
// everything is double precision.
#pragma once
#include <cstdint>
#include <vector>

namespace aevb {

// A mixture of K full-covariance Gaussians in `dim` dimensions.
struct GaussianMixture {
  int64_t dim = 0;
  std::vector<double> weight;  // K, sum 1
  std::vector<double> mean;    // K x dim
  // K x dim x dim, row-major: the lower-triangular Cholesky factor L of each covariance (Sigma = L L^T).
  std::vector<double> chol;
  int64_t components() const { return static_cast<int64_t>(weight.size()); }
  // log q(z) for one point z[dim].
  double log_density(const double* z) const;
  // Sigma_k -> factor * Sigma_k for every component (factor > 0): lighter tails for the reciprocal estimator.
  void scale_covariances(double factor);
};

struct MixtureFit {
  int iterations = 100;         // EM iterations at most
  double tolerance = 1e-6;      // stop when the mean log-likelihood per point improves by less than this
  // Added to each covariance's diagonal, relative to the data's mean variance (keeps Cholesky defined); > 0.
  double regularization = 1e-6;
};

// EM for K = components (>= 1) on n points x (n x dim, row-major). Deterministic: seeded by k-means++ whose
// random draws are aevb::uniforms({seed, Purpose::kMixtureInit, 0, draw_number, 0}, &u, 1); components is
// clamped to at most n (and to the number of distinct points k-means++ can find). EM starts from the hard
// assignment of Lloyd's k-means (at most 20 passes) run from those centers. A component whose weight collapses
// (fewer than 1 effective point, or a non-positive-definite covariance after regularization) is removed, so the
// result may have fewer components. The regularization's "mean variance" is trace(data covariance) / dim, or 1
// if all points are equal. Returns the fitted mixture; `log_likelihood` (if non-null) receives the final mean
// log q(x_i) of the returned mixture.
GaussianMixture fit_gaussian_mixture(const double* x, int64_t n, int64_t dim, int64_t components, uint64_t seed,
                                     const MixtureFit& opt = {}, double* log_likelihood = nullptr);

}  // namespace aevb
