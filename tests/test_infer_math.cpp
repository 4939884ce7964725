// aevb-infer's math against exact answers: on probabilistic PCA (a linear VAE
// whose x is jointly Gaussian) the conditional p(x_miss | x_obs) and the
// denoising posterior p(x | y) are closed-form Gaussians; the quantile
// function, the latent paths and the masked nearest neighbour against direct
// computation.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <vector>

#include "aevb/core/conditional.hpp"
#include "aevb/core/model_use.hpp"
#include "aevb/core/nearest.hpp"
#include "ppca_model.hpp"

namespace aevb::testing {
namespace {

constexpr int64_t D = Ppca::D;

// The marginal covariance of PPCA's x: W W^T + s2 I.
std::vector<double> covariance(const Ppca& p, double extra_noise = 0) {
  std::vector<double> C(D * D);
  for (int64_t i = 0; i < D; ++i)
    for (int64_t k = 0; k < D; ++k) {
      C[i * D + k] = i == k ? p.s2 + extra_noise : 0.0;
      for (int64_t j = 0; j < Ppca::J; ++j) C[i * D + k] += p.W[i][j] * p.W[k][j];
    }
  return C;
}

// Solves A X = B for a small SPD A (n x n) and B (n x m) by Gaussian
// elimination; returns X and log det A.
std::vector<double> solve(std::vector<double> A, std::vector<double> B, int64_t n, int64_t m, double* logdet) {
  double ld = 0;
  for (int64_t c = 0; c < n; ++c) {
    const double piv = A[c * n + c];
    ld += std::log(piv);
    for (int64_t r = c + 1; r < n; ++r) {
      const double f = A[r * n + c] / piv;
      for (int64_t k = c; k < n; ++k) A[r * n + k] -= f * A[c * n + k];
      for (int64_t k = 0; k < m; ++k) B[r * m + k] -= f * B[c * m + k];
    }
  }
  for (int64_t c = n - 1; c >= 0; --c)
    for (int64_t k = 0; k < m; ++k) {
      double s = B[c * m + k];
      for (int64_t t = c + 1; t < n; ++t) s -= A[c * n + t] * B[t * m + k];
      B[c * m + k] = s / A[c * n + c];
    }
  if (logdet) *logdet = ld;
  return B;
}

// log N(v; 0, S) for the sub-vector/sub-matrix of the indices `idx`.
double log_normal(const std::vector<double>& v, const std::vector<double>& S, const std::vector<int64_t>& idx) {
  const int64_t n = int64_t(idx.size());
  std::vector<double> A(n * n), b(n);
  for (int64_t i = 0; i < n; ++i) {
    b[i] = v[idx[i]];
    for (int64_t k = 0; k < n; ++k) A[i * n + k] = S[idx[i] * D + idx[k]];
  }
  double ld = 0;
  const std::vector<double> y = solve(A, b, n, 1, &ld);
  double q = 0;
  for (int64_t i = 0; i < n; ++i) q += b[i] * y[i];
  return -0.5 * (double(n) * kLog2Pi + ld + q);
}

// E[x_miss | x_obs] of a Gaussian N(b, C) at the indices miss.
std::vector<double> conditional_mean(const Ppca& p, const float* x, const std::vector<int64_t>& obs,
                                     const std::vector<int64_t>& miss) {
  const std::vector<double> C = covariance(p);
  const int64_t no = int64_t(obs.size()), nm = int64_t(miss.size());
  std::vector<double> Coo(no * no), r(no);
  for (int64_t i = 0; i < no; ++i) {
    r[i] = x[obs[i]] - p.b[obs[i]];
    for (int64_t k = 0; k < no; ++k) Coo[i * no + k] = C[obs[i] * D + obs[k]];
  }
  const std::vector<double> a = solve(Coo, r, no, 1, nullptr);
  std::vector<double> out(nm);
  for (int64_t i = 0; i < nm; ++i) {
    out[i] = p.b[miss[i]];
    for (int64_t k = 0; k < no; ++k) out[i] += C[miss[i] * D + obs[k]] * a[k];
  }
  return out;
}

TEST(ConditionalInference, MaskedMarginalIsExactForTheFullPointWithTheExactPosterior) {
  // With q(z|x) = p(z|x) every importance weight equals p(x): any K is exact.
  Ppca p;
  const std::vector<float> x = p.sample(4);
  std::vector<double> lp(4), se(4);
  const std::vector<int64_t> idx = iota(4);
  masked_log_marginal(*p.m, x.data(), 1, x.data(), nullptr, 4, idx.data(), 3, 1, 0, lp.data(), se.data());
  for (int64_t i = 0; i < 4; ++i) {
    EXPECT_NEAR(lp[i], p.exact_log_px(&x[i * D]), 1e-4);
    EXPECT_LT(se[i], 1e-4);
  }
}

TEST(ConditionalInference, MaskedMarginalMatchesTheGaussianMarginalOfTheObservedPart) {
  Ppca p;
  const int64_t n = 6;
  const std::vector<float> x = p.sample(n);
  const std::vector<int64_t> obs = {0, 2, 3}, idx = iota(n);
  std::vector<uint8_t> include(n * D, 0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t d : obs) include[i * D + d] = 1;
  std::vector<double> lp(n), se(n), lp1(n), se1(n);
  // The proposal: the mixture of q(z | x_obs, x_miss^m) over the sampler's completions.
  InpaintOptions o;
  o.iterations = 400;
  o.keep_draws = 64;
  const InpaintResult r = inpaint(*p.m, x.data(), include.data(), n, idx.data(), o);
  ASSERT_EQ(r.draws.size(), size_t(n * 64 * D));
  // K = 20001: not a multiple of M, so the components draw 1251 or 1250 samples each.
  masked_log_marginal(*p.m, r.draws.data(), 64, x.data(), include.data(), n, idx.data(), 20001, 7, 0, lp.data(), se.data());
  // One completion only (the true point): the too-narrow proposal this replaced.
  masked_log_marginal(*p.m, x.data(), 1, x.data(), include.data(), n, idx.data(), 20000, 7, 0, lp1.data(), se1.data());
  const std::vector<double> C = covariance(p);
  double worst_mixture = 0, worst_single = 0;
  for (int64_t i = 0; i < n; ++i) {
    std::vector<double> v(D);
    for (int64_t d = 0; d < D; ++d) v[d] = x[i * D + d] - p.b[d];
    const double exact = log_normal(v, C, obs);
    EXPECT_NEAR(lp[i], exact, 0.02) << "point " << i;
    EXPECT_LT(se[i], 0.02) << "point " << i;
    worst_mixture = std::max(worst_mixture, std::abs(lp[i] - exact));
    worst_single = std::max(worst_single, std::abs(lp1[i] - exact));
  }
  EXPECT_GT(worst_single, 2 * worst_mixture);
}

// The samplers' imputation against the exact conditional mean. The encoder is
// made wrong on purpose (means shrunk, variances inflated): Metropolis-within-
// Gibbs corrects for it, pseudo-Gibbs does not.
TEST(ConditionalInference, MetropolisWithinGibbsTargetsTheExactConditionalAndPseudoGibbsDoesNot) {
  Ppca p;
  p.set_encoder(0.5, 1.0);
  const int64_t n = 8;
  const std::vector<float> x = p.sample(n);
  const std::vector<int64_t> obs = {0, 1, 4}, miss = {2, 3}, idx = iota(n);
  std::vector<uint8_t> observed(n * D, 0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t d : obs) observed[i * D + d] = 1;
  InpaintOptions o;
  o.iterations = 6000;
  o.burn_in = 200;
  o.metropolis = true;
  const InpaintResult mwg = inpaint(*p.m, x.data(), observed.data(), n, idx.data(), o);
  o.metropolis = false;
  const InpaintResult pg = inpaint(*p.m, x.data(), observed.data(), n, idx.data(), o);
  double err_mwg = 0, err_pg = 0;
  for (int64_t i = 0; i < n; ++i) {
    const std::vector<double> exact = conditional_mean(p, &x[i * D], obs, miss);
    for (size_t k = 0; k < miss.size(); ++k) {
      err_mwg = std::max(err_mwg, std::abs(mwg.imputed[i * D + miss[k]] - exact[k]));
      err_pg = std::max(err_pg, std::abs(pg.imputed[i * D + miss[k]] - exact[k]));
    }
    for (int64_t d : obs) EXPECT_EQ(mwg.imputed[i * D + d], x[i * D + d]);  // observed pixels kept
    EXPECT_GT(mwg.accept[i], 0.05);
    EXPECT_LT(mwg.accept[i], 1.0);
    EXPECT_EQ(pg.accept[i], 1.0);
  }
  printf("largest error of the imputed mean: MwG %.4f, pseudo-Gibbs %.4f\n", err_mwg, err_pg);
  EXPECT_LT(err_mwg, 0.04);
  EXPECT_GT(err_pg, 3 * err_mwg);
}

// With the exact posterior as its proposal, Metropolis-within-Gibbs is plain
// Gibbs: the acceptance ratio is 1 (to float rounding) and every proposal is taken.
TEST(ConditionalInference, MetropolisWithinGibbsAcceptsEverythingWithAnExactEncoder) {
  Ppca p;
  const int64_t n = 4;
  const std::vector<float> x = p.sample(n);
  const std::vector<int64_t> idx = iota(n);
  std::vector<uint8_t> observed(n * D, 1);
  for (int64_t i = 0; i < n; ++i) observed[i * D + 1] = observed[i * D + 3] = 0;
  InpaintOptions o;
  o.iterations = 500;
  o.burn_in = 10;
  const InpaintResult r = inpaint(*p.m, x.data(), observed.data(), n, idx.data(), o);
  for (int64_t i = 0; i < n; ++i) EXPECT_GT(r.accept[i], 0.99) << "point " << i;
}

TEST(ConditionalInference, InpaintingOfAPointDoesNotDependOnItsGroup) {
  Ppca p;
  const std::vector<float> x = p.sample(5);
  std::vector<uint8_t> observed(5 * D, 1);
  for (int64_t i = 0; i < 5; ++i) observed[i * D + 4] = 0;
  const std::vector<int64_t> idx = {10, 11, 12, 13, 14};
  InpaintOptions o;
  o.iterations = 50;
  o.burn_in = 10;
  const InpaintResult all = inpaint(*p.m, x.data(), observed.data(), 5, idx.data(), o);
  const InpaintResult one = inpaint(*p.m, &x[3 * D], &observed[3 * D], 1, &idx[3], o);
  // A group of 1 and a group of 5 are different GEMM shapes: equal to float precision.
  for (int64_t d = 0; d < D; ++d) EXPECT_NEAR(all.imputed[3 * D + d], one.imputed[d], 1e-4);
}

TEST(ConditionalInference, GaussianDenoisingMatchesTheClosedFormPosterior) {
  Ppca p;
  const int64_t n = 5;
  const double s = 0.5;
  const std::vector<float> x = p.sample(n);
  const std::vector<int64_t> idx = iota(n);
  std::vector<float> y(n * D), post(n * D);
  corrupt(Corruption::kGaussian, s, x.data(), n, D, idx.data(), 3, y.data());
  DenoiseOptions o{Corruption::kGaussian, s, 20000, 5};
  std::vector<double> lp(n);
  denoise(*p.m, y.data(), x.data(), n, idx.data(), o, post.data(), lp.data());
  // x, y jointly Gaussian: E[x|y] = b + C (C + s^2 I)^-1 (y - b),
  // Cov[x|y] = C - C (C + s^2 I)^-1 C.
  const std::vector<double> C = covariance(p), Cy = covariance(p, s * s);
  const std::vector<double> K = solve(Cy, C, D, D, nullptr);  // (C + s^2 I)^-1 C (symmetric matrices)
  std::vector<double> S(D * D);
  for (int64_t i = 0; i < D; ++i)
    for (int64_t k = 0; k < D; ++k) {
      S[i * D + k] = C[i * D + k];
      for (int64_t t = 0; t < D; ++t) S[i * D + k] -= C[i * D + t] * K[t * D + k];
    }
  for (int64_t i = 0; i < n; ++i) {
    std::vector<double> r(D), mean(D), v(D);
    for (int64_t d = 0; d < D; ++d) r[d] = y[i * D + d] - p.b[d];
    for (int64_t d = 0; d < D; ++d) {
      mean[d] = p.b[d];
      for (int64_t t = 0; t < D; ++t) mean[d] += K[t * D + d] * r[t];
      EXPECT_NEAR(post[i * D + d], mean[d], 0.02) << "point " << i << " pixel " << d;
      v[d] = x[i * D + d] - mean[d];
    }
    EXPECT_NEAR(lp[i], log_normal(v, S, iota(D)), 0.05) << "point " << i;
  }
}

TEST(ConditionalInference, FlipCorruptionFlipsTheExpectedFraction) {
  const int64_t n = 200, d = 100;
  std::vector<float> x(n * d, 0.f), y(n * d);
  for (int64_t i = 0; i < n * d; i += 3) x[i] = 1.f;
  const std::vector<int64_t> idx = iota(n);
  corrupt(Corruption::kFlip, 0.1, x.data(), n, d, idx.data(), 1, y.data());
  int64_t flipped = 0;
  for (int64_t i = 0; i < n * d; ++i) {
    EXPECT_TRUE(y[i] == 0.f || y[i] == 1.f);
    flipped += y[i] != x[i];
  }
  EXPECT_NEAR(double(flipped) / double(n * d), 0.1, 0.01);  // sd 0.002
}

TEST(ModelUse, NormalQuantileMatchesKnownValues) {
  EXPECT_NEAR(normal_quantile(0.5), 0.0, 1e-14);
  EXPECT_NEAR(normal_quantile(0.975), 1.959963984540054, 1e-12);
  EXPECT_NEAR(normal_quantile(0.025), -1.959963984540054, 1e-12);
  EXPECT_NEAR(normal_quantile(1e-6), -4.753424308822899, 1e-9);
  for (double q : {0.01, 0.2, 0.7, 0.999}) EXPECT_NEAR(0.5 * std::erfc(-normal_quantile(q) / std::sqrt(2.0)), q, 1e-14);
}

TEST(ModelUse, ManifoldGridCoversEqualPriorMass) {
  const int64_t n = 4, J = 3;
  const std::vector<float> z = manifold_grid(J, n, 2, 0);
  ASSERT_EQ(int64_t(z.size()), n * n * J);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      const float* r = &z[(i * n + j) * J];
      EXPECT_FLOAT_EQ(r[2], float(normal_quantile((n - 1 - i + 0.5) / n)));  // rows: top = largest
      EXPECT_FLOAT_EQ(r[0], float(normal_quantile((j + 0.5) / n)));
      EXPECT_EQ(r[1], 0.f);
    }
}

TEST(ModelUse, InterpolationEndsAtThePointsAndSlerpKeepsTheNormsLinear) {
  const float a[3] = {1, 0, 0}, b[3] = {0, 2, 0};
  std::vector<float> lin(5 * 3), sph(5 * 3);
  interpolate_latents(a, b, 3, 5, false, lin.data());
  interpolate_latents(a, b, 3, 5, true, sph.data());
  for (int64_t j = 0; j < 3; ++j) {
    EXPECT_FLOAT_EQ(lin[j], a[j]);
    EXPECT_FLOAT_EQ(lin[12 + j], b[j]);
    EXPECT_NEAR(sph[j], a[j], 1e-6);
    EXPECT_NEAR(sph[12 + j], b[j], 1e-6);
  }
  EXPECT_FLOAT_EQ(lin[6], 0.5f);  // the midpoint of the chord
  EXPECT_FLOAT_EQ(lin[7], 1.0f);
  for (int64_t s = 0; s < 5; ++s) {
    const double t = s / 4.0, norm = std::hypot(sph[s * 3], sph[s * 3 + 1]);
    EXPECT_NEAR(norm, 1 + t, 1e-5);                                          // length linear in t
    EXPECT_NEAR(std::atan2(sph[s * 3 + 1], sph[s * 3]), t * M_PI / 2, 1e-5);  // angle uniform in t
  }
}

TEST(ModelUse, DecodeMeansAreTheSigmoidOfTheLogits) {
  Bernoulli2d b(1);
  const float z[4] = {0.3f, -1.f, 2.f, 0.5f};
  std::vector<float> mean(2 * 6);
  decode_means(*b.m, z, 2, mean.data());
  const float* logits = b.m->decoder.forward(z, 2);
  for (int64_t i = 0; i < 12; ++i) EXPECT_NEAR(mean[i], 1 / (1 + std::exp(-logits[i])), 1e-6);
}

TEST(MaskedNearest, FindsTheClosestCandidateOnTheMaskedCoordinatesAcrossBlocks) {
  const int64_t n = 7, d = 13, rows = 300;
  std::vector<float> q(n * d), c(rows * d);
  normals({1, Purpose::kInit, 0, 0, 0}, q.data(), n * d);
  normals({1, Purpose::kInit, 0, 1, 0}, c.data(), rows * d);
  std::vector<uint8_t> mask(n * d);
  for (int64_t i = 0; i < n * d; ++i) mask[i] = (i * 5 + i / d) % 3 != 0;
  MaskedNearest nn(q.data(), mask.data(), n, d);
  for (int64_t r0 = 0; r0 < rows; r0 += 128) nn.offer(&c[r0 * d], std::min<int64_t>(128, rows - r0), r0);
  for (int64_t i = 0; i < n; ++i) {
    double best = 1e300;
    int64_t arg = -1;
    for (int64_t t = 0; t < rows; ++t) {
      double s = 0;
      for (int64_t k = 0; k < d; ++k)
        if (mask[i * d + k]) s += (double(q[i * d + k]) - c[t * d + k]) * (double(q[i * d + k]) - c[t * d + k]);
      if (s < best) best = s, arg = t;
    }
    EXPECT_EQ(nn.best_index()[i], arg);
    EXPECT_NEAR(nn.best_distance()[i], best, 1e-3);
    for (int64_t k = 0; k < d; ++k) EXPECT_EQ(nn.best_rows()[i * d + k], c[arg * d + k]);
  }
}

}  // namespace
}  // namespace aevb::testing
