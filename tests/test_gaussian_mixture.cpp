// The Appendix D estimator's density q(z): a full-covariance Gaussian mixture fitted by EM. Its log density
// against closed forms, the fit against a known mixture and the exact K = 1 solution, and robustness
// (determinism, clamping, duplicated points, normalization).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <vector>

#include "aevb/base/rng.hpp"
#include "aevb/core/gaussian_mixture.hpp"

namespace aevb {
namespace {

const double kLog2Pi = std::log(2 * std::numbers::pi);

// n standard normals (doubles) of point `index`, as the data generators below use them.
std::vector<double> normal_draws(uint64_t seed, int64_t index, int64_t n) {
  std::vector<float> f(static_cast<size_t>(n));
  normals(NoiseKey{seed, Purpose::kInit, 0, static_cast<uint64_t>(index), 0}, f.data(), n);
  return {f.begin(), f.end()};
}

// A 2-D Gaussian given by its mean and covariance [[s00, s01], [s01, s11]]: closed-form log density and the
// Cholesky factor GaussianMixture stores.
struct Normal2 {
  double m0, m1, s00, s01, s11;
  double log_pdf(const double* z) const {
    const double det = s00 * s11 - s01 * s01, d0 = z[0] - m0, d1 = z[1] - m1;
    const double q = (s11 * d0 * d0 - 2 * s01 * d0 * d1 + s00 * d1 * d1) / det;
    return -kLog2Pi - 0.5 * std::log(det) - 0.5 * q;
  }
  std::vector<double> chol() const {
    const double l00 = std::sqrt(s00), l10 = s01 / l00;
    return {l00, 0, l10, std::sqrt(s11 - l10 * l10)};
  }
  Normal2 scaled(double f) const { return {m0, m1, f * s00, f * s01, f * s11}; }
};

GaussianMixture mixture_of(const std::vector<double>& w, const std::vector<Normal2>& c) {
  GaussianMixture g;
  g.dim = 2;
  g.weight = w;
  for (const Normal2& n : c) {
    g.mean.insert(g.mean.end(), {n.m0, n.m1});
    const auto l = n.chol();
    g.chol.insert(g.chol.end(), l.begin(), l.end());
  }
  return g;
}

// Sigma_k = L_k L_k^T of a fitted mixture, element (a, b).
double covariance(const GaussianMixture& g, int64_t k, int64_t a, int64_t b) {
  const double* l = g.chol.data() + k * g.dim * g.dim;
  double s = 0;
  for (int64_t j = 0; j < g.dim; ++j) s += l[a * g.dim + j] * l[b * g.dim + j];
  return s;
}

double mean_log_density(const GaussianMixture& g, const std::vector<double>& x) {
  double s = 0;
  const int64_t n = static_cast<int64_t>(x.size()) / g.dim;
  for (int64_t i = 0; i < n; ++i) s += g.log_density(x.data() + i * g.dim);
  return s / static_cast<double>(n);
}

const std::vector<std::vector<double>> kProbes{{0, 0}, {0.5, -1}, {3, 2}, {-4, 1.5}, {10, -7}};

TEST(GaussianMixture, OneComponentLogDensityIsTheMultivariateNormal) {
  const Normal2 n{0.5, -1, 2, 0.6, 1};
  const GaussianMixture g = mixture_of({1.0}, {n});
  for (const auto& z : kProbes) EXPECT_NEAR(g.log_density(z.data()), n.log_pdf(z.data()), 1e-12) << z[0];
}

TEST(GaussianMixture, TwoComponentLogDensityAndCovarianceScaling) {
  const Normal2 a{-1, 0, 1, -0.3, 0.5}, b{2, 1, 0.4, 0.1, 3};
  GaussianMixture g = mixture_of({0.3, 0.7}, {a, b});
  auto direct = [&](const Normal2& p, const Normal2& q, const double* z) {
    return std::log(0.3 * std::exp(p.log_pdf(z)) + 0.7 * std::exp(q.log_pdf(z)));
  };
  for (const auto& z : kProbes) EXPECT_NEAR(g.log_density(z.data()), direct(a, b, z.data()), 1e-12) << z[0];
  g.scale_covariances(0.5);
  for (const auto& z : kProbes)
    EXPECT_NEAR(g.log_density(z.data()), direct(a.scaled(0.5), b.scaled(0.5), z.data()), 1e-12) << z[0];
}

TEST(GaussianMixture, FitRecoversAKnownTwoComponentMixture) {
  // Component 0 when the first normal is < -0.5: weight Phi(-0.5). Means 6 standard deviations apart.
  const double w0 = 0.5 * std::erfc(0.5 / std::numbers::sqrt2);
  const std::vector<Normal2> truth{{-3, 0, 1, 0.5, 1}, {3, 1, 0.5, -0.2, 2}};
  const int64_t n = 4000;
  std::vector<double> x;
  for (int64_t i = 0; i < n; ++i) {
    const auto e = normal_draws(11, i, 3);
    const Normal2& c = truth[e[0] < -0.5 ? 0 : 1];
    const auto l = c.chol();
    x.insert(x.end(), {c.m0 + l[0] * e[1], c.m1 + l[2] * e[1] + l[3] * e[2]});
  }
  double ll = 0;
  const GaussianMixture g = fit_gaussian_mixture(x.data(), n, 2, 2, 7, {}, &ll);
  ASSERT_EQ(g.components(), 2);
  EXPECT_NEAR(ll, mean_log_density(g, x), 1e-12);  // the reported likelihood is the returned mixture's
  const GaussianMixture t = mixture_of({w0, 1 - w0}, truth);
  EXPECT_NEAR(ll, mean_log_density(t, x), 0.05);
  EXPECT_GE(ll, mean_log_density(t, x) - 1e-3);  // EM's maximum is at least as likely as the truth
  for (int64_t c = 0; c < 2; ++c) {
    const Normal2& tc = truth[static_cast<size_t>(c)];
    const int64_t k = std::abs(g.mean[0] - tc.m0) < std::abs(g.mean[2] - tc.m0) ? 0 : 1;  // match by mean
    EXPECT_NEAR(g.weight[static_cast<size_t>(k)], c == 0 ? w0 : 1 - w0, 0.03);
    EXPECT_NEAR(g.mean[static_cast<size_t>(2 * k)], tc.m0, 0.1);
    EXPECT_NEAR(g.mean[static_cast<size_t>(2 * k + 1)], tc.m1, 0.1);
    const double s[2][2] = {{tc.s00, tc.s01}, {tc.s01, tc.s11}};
    for (int64_t a = 0; a < 2; ++a)
      for (int64_t b = 0; b < 2; ++b)  // off-diagonals relative to sqrt(s_aa s_bb)
        EXPECT_NEAR(covariance(g, k, a, b), s[a][b], 0.15 * std::sqrt(s[a][a] * s[b][b])) << c << a << b;
  }
}

TEST(GaussianMixture, OneComponentFitIsTheRegularizedSampleMoments) {
  const int64_t n = 200, d = 3;
  std::vector<double> x;
  for (int64_t i = 0; i < n; ++i) {
    const auto e = normal_draws(5, i, d);
    x.insert(x.end(), {4 + 2 * e[0], -1 + e[0] - 0.5 * e[1], 0.1 * e[2] + 0.3 * e[1]});
  }
  double mean[d] = {}, cov[d][d] = {};
  for (int64_t i = 0; i < n; ++i)
    for (int64_t a = 0; a < d; ++a) mean[a] += x[static_cast<size_t>(i * d + a)] / n;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t a = 0; a < d; ++a)
      for (int64_t b = 0; b < d; ++b)
        cov[a][b] += (x[static_cast<size_t>(i * d + a)] - mean[a]) * (x[static_cast<size_t>(i * d + b)] - mean[b]) / n;
  const double mean_var = (cov[0][0] + cov[1][1] + cov[2][2]) / d;
  for (double reg : {1e-6, 0.1}) {
    MixtureFit opt;
    opt.regularization = reg;
    double ll = 0;
    const GaussianMixture g = fit_gaussian_mixture(x.data(), n, d, 1, 3, opt, &ll);
    ASSERT_EQ(g.components(), 1);
    EXPECT_EQ(g.weight[0], 1.0);
    EXPECT_NEAR(ll, mean_log_density(g, x), 1e-12);
    for (int64_t a = 0; a < d; ++a) {
      EXPECT_NEAR(g.mean[static_cast<size_t>(a)], mean[a], 1e-9 * std::abs(mean[a]));
      for (int64_t b = 0; b < d; ++b) {
        const double want = cov[a][b] + (a == b ? reg * mean_var : 0.0);
        EXPECT_NEAR(covariance(g, 0, a, b), want, 1e-9 * std::sqrt(cov[a][a] * cov[b][b])) << reg << a << b;
      }
    }
  }
}

TEST(GaussianMixture, SameSeedGivesTheSameFitAndComponentsAreClampedToN) {
  const int64_t n = 300;
  std::vector<double> x;
  for (int64_t i = 0; i < n; ++i) {
    const auto e = normal_draws(21, i, 2);
    x.insert(x.end(), {e[0] + (i % 3) * 3.0, e[1] * (1 + i % 2)});
  }
  double ll1 = 0, ll2 = 0;
  const GaussianMixture a = fit_gaussian_mixture(x.data(), n, 2, 4, 9, {}, &ll1);
  const GaussianMixture b = fit_gaussian_mixture(x.data(), n, 2, 4, 9, {}, &ll2);
  EXPECT_EQ(a.weight, b.weight);
  EXPECT_EQ(a.mean, b.mean);
  EXPECT_EQ(a.chol, b.chol);
  EXPECT_EQ(ll1, ll2);
  // 5 points, 10 components asked for: at most 5, a proper mixture, finite everywhere.
  const GaussianMixture c = fit_gaussian_mixture(x.data(), 5, 2, 10, 9);
  EXPECT_GE(c.components(), 1);
  EXPECT_LE(c.components(), 5);
  double sum = 0;
  for (double w : c.weight) sum += w;
  EXPECT_NEAR(sum, 1.0, 1e-12);
  for (const auto& z : kProbes) EXPECT_TRUE(std::isfinite(c.log_density(z.data())));
}

TEST(GaussianMixture, DuplicatedPointsDoNotProduceNaN) {
  std::vector<double> x;
  for (int64_t i = 0; i < 100; ++i) x.insert(x.end(), {1.0, 2.0});  // 100 copies of one point
  for (int64_t i = 0; i < 100; ++i) {
    const auto e = normal_draws(31, i, 2);
    x.insert(x.end(), {2 * e[0], 2 * e[1]});
  }
  double ll = 0;
  const GaussianMixture g = fit_gaussian_mixture(x.data(), 200, 2, 3, 1, {}, &ll);
  EXPECT_GE(g.components(), 1);
  EXPECT_TRUE(std::isfinite(ll));
  for (int64_t i = 0; i < 200; ++i) EXPECT_TRUE(std::isfinite(g.log_density(x.data() + 2 * i))) << i;
  for (const auto& z : kProbes) EXPECT_TRUE(std::isfinite(g.log_density(z.data())));
  // All points equal: k-means++ finds one center; the ridge falls back to the unit scale.
  const GaussianMixture one = fit_gaussian_mixture(x.data(), 100, 2, 2, 1, {}, &ll);
  EXPECT_EQ(one.components(), 1);
  EXPECT_TRUE(std::isfinite(ll));
  for (const auto& z : kProbes) EXPECT_TRUE(std::isfinite(one.log_density(z.data())));
}

TEST(GaussianMixture, FittedOneDimensionalDensityIntegratesToOne) {
  const int64_t n = 600;
  std::vector<double> x;
  for (int64_t i = 0; i < n; ++i) {
    const double e = normal_draws(41, i, 1)[0];
    x.push_back(i % 2 ? -2 + 0.5 * e : 1.5 + e);
  }
  GaussianMixture g = fit_gaussian_mixture(x.data(), n, 1, 3, 2);
  ASSERT_GE(g.components(), 2);
  for (double scale : {1.0, 0.5}) {  // and again with the covariances halved
    g.scale_covariances(scale);
    double lo = 1e300, hi = -1e300;
    for (int64_t k = 0; k < g.components(); ++k) {
      lo = std::min(lo, g.mean[static_cast<size_t>(k)] - 12 * g.chol[static_cast<size_t>(k)]);
      hi = std::max(hi, g.mean[static_cast<size_t>(k)] + 12 * g.chol[static_cast<size_t>(k)]);
    }
    const double h = 1e-3;
    double sum = 0;
    for (double z = lo; z <= hi; z += h) sum += std::exp(g.log_density(&z)) * h;
    EXPECT_NEAR(sum, 1.0, 1e-4) << scale;
  }
}

}  // namespace
}  // namespace aevb
