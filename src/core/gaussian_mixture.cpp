#include "aevb/core/gaussian_mixture.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>
#include <numbers>

#include "aevb/base/rng.hpp"

namespace aevb {
namespace {

// A component explaining fewer effective points than dim + 1 is dropped: its covariance would be (nearly)
// regularization only, a spike in q(z) wherever a few repeated HMC states (rejections) put it.
// Lloyd (k-means) passes between the k-means++ seeding and EM, at most.
constexpr int kLloydPasses = 20;

// In-place Cholesky of the symmetric d x d matrix a (lower triangle read, upper zeroed). False if not positive
// definite (a pivot <= 0 or NaN), which removes the component.
bool cholesky(double* a, int64_t d) {
  for (int64_t j = 0; j < d; ++j) {
    double s = a[j * d + j];
    for (int64_t k = 0; k < j; ++k) s -= a[j * d + k] * a[j * d + k];
    if (!(s > 0)) return false;
    const double ljj = std::sqrt(s);
    a[j * d + j] = ljj;
    for (int64_t i = j + 1; i < d; ++i) {
      double t = a[i * d + j];
      for (int64_t k = 0; k < j; ++k) t -= a[i * d + k] * a[j * d + k];
      a[i * d + j] = t / ljj;
    }
    for (int64_t i = 0; i < j; ++i) a[i * d + j] = 0;
  }
  return true;
}

// log N(z; mu, L L^T) + log w: solve L y = z - mu by forward substitution, so |y|^2 is the Mahalanobis distance
// and log det Sigma = 2 sum log L_ii; no inverse is ever formed. y is scratch of length d.
double log_weighted_normal(const GaussianMixture& g, int64_t k, const double* z, double* y) {
  const int64_t d = g.dim;
  const double* mu = g.mean.data() + k * d;
  const double* l = g.chol.data() + k * d * d;
  double q = 0, log_det_half = 0;
  for (int64_t i = 0; i < d; ++i) {
    double t = z[i] - mu[i];
    for (int64_t j = 0; j < i; ++j) t -= l[i * d + j] * y[j];
    y[i] = t / l[i * d + i];
    q += y[i] * y[i];
    log_det_half += std::log(l[i * d + i]);
  }
  const double log_2pi = std::log(2 * std::numbers::pi);
  return std::log(g.weight[static_cast<size_t>(k)]) - 0.5 * (static_cast<double>(d) * log_2pi + q) - log_det_half;
}

// E-step: resp (n x K) <- posterior component probabilities, by log-sum-exp so that far-away points (every term
// underflowing exp) keep finite responsibilities. Returns the mean log q(x_i).
double e_step(const GaussianMixture& g, const double* x, int64_t n, std::vector<double>& resp) {
  const int64_t d = g.dim, kk = g.components();
  std::vector<double> y(static_cast<size_t>(d));
  resp.assign(static_cast<size_t>(n * kk), 0.0);
  double total = 0;
  for (int64_t i = 0; i < n; ++i) {
    double* r = resp.data() + i * kk;
    double m = -std::numeric_limits<double>::infinity();
    for (int64_t k = 0; k < kk; ++k) m = std::max(m, r[k] = log_weighted_normal(g, k, x + i * d, y.data()));
    double s = 0;
    for (int64_t k = 0; k < kk; ++k) s += r[k] = std::exp(r[k] - m);
    for (int64_t k = 0; k < kk; ++k) r[k] /= s;
    total += m + std::log(s);
  }
  return total / static_cast<double>(n);
}

// M-step from resp (n x K): weights N_k / n, weighted means, covariance = weighted scatter / N_k + ridge * I.
// The scatter is taken about the new mean (two passes) for accuracy. Collapsed components are left out.
GaussianMixture m_step(const double* x, int64_t n, int64_t d, const std::vector<double>& resp, int64_t kk,
                       double ridge) {
  GaussianMixture g;
  g.dim = d;
  std::vector<double> mu_v(static_cast<size_t>(d)), cov_v(static_cast<size_t>(d * d));
  double *mu = mu_v.data(), *cov = cov_v.data();
  for (int64_t k = 0; k < kk; ++k) {
    double nk = 0;
    std::fill(mu, mu + d, 0.0);
    for (int64_t i = 0; i < n; ++i) {
      const double r = resp[static_cast<size_t>(i * kk + k)];
      nk += r;
      for (int64_t a = 0; a < d; ++a) mu[a] += r * x[i * d + a];
    }
    if (!(nk >= static_cast<double>(std::min(d + 1, n)))) continue;
    for (int64_t a = 0; a < d; ++a) mu[a] /= nk;
    std::fill(cov, cov + d * d, 0.0);
    for (int64_t i = 0; i < n; ++i) {
      const double r = resp[static_cast<size_t>(i * kk + k)];
      if (r == 0) continue;  // hard assignments: most points do not belong to this component
      const double* xi = x + i * d;
      for (int64_t a = 0; a < d; ++a)
        for (int64_t b = 0; b <= a; ++b) cov[a * d + b] += r * (xi[a] - mu[a]) * (xi[b] - mu[b]);
    }
    for (int64_t a = 0; a < d * d; ++a) cov[a] /= nk;
    for (int64_t a = 0; a < d; ++a) cov[a * d + a] += ridge;
    if (!cholesky(cov, d)) continue;
    g.weight.push_back(nk);
    g.mean.insert(g.mean.end(), mu, mu + d);
    g.chol.insert(g.chol.end(), cov, cov + d * d);
  }
  double sum = 0;  // the survivors' N_k: renormalizes the weights after removals
  for (double w : g.weight) sum += w;
  for (double& w : g.weight) w /= sum;
  return g;
}

double squared_distance(const double* a, const double* b, int64_t d) {
  double s = 0;
  for (int64_t j = 0; j < d; ++j) s += (a[j] - b[j]) * (a[j] - b[j]);
  return s;
}

// k-means++ centers (k x d): the first uniformly, each next with probability proportional to D^2, the squared
// distance to the nearest center so far. Points at a center have D^2 = 0 and are never chosen again, so data with
// fewer than k distinct points get fewer centers instead of identical components.
std::vector<double> kmeans_pp(const double* x, int64_t n, int64_t d, int64_t k, uint64_t seed) {
  auto draw = [&](int64_t number) {
    float u = 0;
    uniforms(NoiseKey{seed, Purpose::kMixtureInit, 0, static_cast<uint64_t>(number), 0}, &u, 1);
    return static_cast<double>(u);
  };
  const int64_t first = std::min(static_cast<int64_t>(draw(0) * static_cast<double>(n)), n - 1);
  std::vector<double> c(x + first * d, x + (first + 1) * d);
  std::vector<double> d2_v(static_cast<size_t>(n), std::numeric_limits<double>::infinity());
  double* d2 = d2_v.data();
  for (int64_t m = 1; m < k; ++m) {
    double total = 0;
    int64_t pick = -1;  // the last point with D^2 > 0, in case rounding leaves the running sum below target
    for (int64_t i = 0; i < n; ++i) {
      d2[i] = std::min(d2[i], squared_distance(x + i * d, c.data() + (m - 1) * d, d));
      total += d2[i];
      if (d2[i] > 0) pick = i;
    }
    if (pick < 0) break;
    const double target = draw(m) * total;
    double run = 0;
    for (int64_t i = 0; i < n; ++i) {
      run += d2[i];
      if (run > target && d2[i] > 0) {
        pick = i;
        break;
      }
    }
    c.insert(c.end(), x + pick * d, x + (pick + 1) * d);
  }
  return c;
}

// Lloyd's k-means from centers c (k x d, updated); returns each point's nearest center (ties to the lower one).
// k-means++ alone often puts two centers in one cluster (a draw in a cluster's tail), which EM takes many passes
// to undo; Lloyd's cheap passes fix it first. An emptied cluster keeps its center (and its component is dropped).
std::vector<int64_t> lloyd(const double* x, int64_t n, int64_t d, std::vector<double>& c) {
  const int64_t k = static_cast<int64_t>(c.size()) / d;
  std::vector<int64_t> assign_v(static_cast<size_t>(n), -1), count_v(static_cast<size_t>(k));
  std::vector<double> sum_v(c.size());
  int64_t *assign = assign_v.data(), *count = count_v.data();
  double *sum = sum_v.data(), *ctr = c.data();
  for (int pass = 0; pass < kLloydPasses; ++pass) {
    bool changed = false;
    for (int64_t i = 0; i < n; ++i) {
      int64_t best = 0;
      double best_d = std::numeric_limits<double>::infinity();
      for (int64_t j = 0; j < k; ++j) {
        const double dj = squared_distance(x + i * d, ctr + j * d, d);
        if (dj < best_d) best_d = dj, best = j;
      }
      changed |= assign[i] != best;
      assign[i] = best;
    }
    if (!changed) break;
    std::fill(sum, sum + k * d, 0.0);
    std::fill(count, count + k, 0);
    for (int64_t i = 0; i < n; ++i) {
      ++count[assign[i]];
      for (int64_t a = 0; a < d; ++a) sum[assign[i] * d + a] += x[i * d + a];
    }
    for (int64_t e = 0; e < k * d; ++e)
      if (count[e / d] > 0) ctr[e] = sum[e] / static_cast<double>(count[e / d]);
  }
  return assign_v;
}

}  // namespace

double GaussianMixture::log_density(const double* z) const {
  assert(components() > 0);
  std::vector<double> y(static_cast<size_t>(dim));
  double m = -std::numeric_limits<double>::infinity(), s = 0;
  for (int64_t k = 0; k < components(); ++k) {  // running log-sum-exp over the components
    const double t = log_weighted_normal(*this, k, z, y.data());
    if (t > m) {
      s = s * std::exp(m - t) + 1.0;
      m = t;
    } else {
      s += std::exp(t - m);
    }
  }
  return m + std::log(s);
}

void GaussianMixture::scale_covariances(double factor) {
  assert(factor > 0);
  const double c = std::sqrt(factor);  // (c L)(c L)^T = factor Sigma, and c L stays lower-triangular
  for (double& v : chol) v *= c;
}

GaussianMixture fit_gaussian_mixture(const double* x, int64_t n, int64_t dim, int64_t components, uint64_t seed,
                                     const MixtureFit& opt, double* log_likelihood) {
  assert(n >= 1 && dim >= 1 && components >= 1 && opt.regularization > 0);
  // The ridge is relative to the data's scale so that it means the same for any units; all-equal data use 1.
  double mean_var = 0;
  for (int64_t a = 0; a < dim; ++a) {
    double m = 0, v = 0;
    for (int64_t i = 0; i < n; ++i) m += x[i * dim + a];
    m /= static_cast<double>(n);
    for (int64_t i = 0; i < n; ++i) v += (x[i * dim + a] - m) * (x[i * dim + a] - m);
    mean_var += v / static_cast<double>(n * dim);
  }
  const double ridge = opt.regularization * (mean_var > 0 ? mean_var : 1.0);

  // Seeding: k-means++, Lloyd, and the hard assignment as EM's first responsibilities.
  std::vector<double> centers = kmeans_pp(x, n, dim, std::min(components, n), seed);
  const std::vector<int64_t> assign = lloyd(x, n, dim, centers);
  const int64_t k0 = static_cast<int64_t>(centers.size()) / dim;
  std::vector<double> resp(static_cast<size_t>(n * k0), 0.0);
  for (int64_t i = 0; i < n; ++i) resp[static_cast<size_t>(i * k0 + assign[static_cast<size_t>(i)])] = 1.0;

  // EM. Each pass: M-step, then the E-step of the new mixture, whose mean log-likelihood is therefore that of the
  // mixture returned. Pass 0 is the initial M-step; `iterations` further passes at most.
  GaussianMixture g;
  double ll = -std::numeric_limits<double>::infinity();
  for (int it = 0;; ++it) {
    GaussianMixture next = m_step(x, n, dim, resp, it == 0 ? k0 : g.components(), ridge);
    if (next.components() == 0 && it == 0) {
      // Every seeded cluster too small (more components than the data support): one Gaussian over all points.
      std::vector<double> one(static_cast<size_t>(n), 1.0);
      next = m_step(x, n, dim, one, 1, ridge);
    }
    if (next.components() == 0) break;  // numerically degenerate data: keep the previous mixture
    g = std::move(next);
    const double new_ll = e_step(g, x, n, resp);
    const bool done = it >= opt.iterations || new_ll - ll < opt.tolerance;
    ll = new_ll;
    if (done) break;
  }
  assert(g.components() > 0);
  if (log_likelihood) *log_likelihood = ll;
  return g;
}

}  // namespace aevb
