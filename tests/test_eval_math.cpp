// The importance-sampling evaluator against models whose log p(x) is known:
// probabilistic PCA (closed form) and a 2-D-latent Bernoulli decoder (numerical
// integration on a grid); plus the estimator's construction properties.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "aevb/core/importance_sampling.hpp"
#include "aevb/core/likelihood.hpp"
#include "aevb/core/latent_math.hpp"  // kl_normal_std
#include "aevb/core/sgvb.hpp"
#include "aevb/io/eval_results.hpp"
#include "ppca_model.hpp"

namespace aevb {
namespace {

using namespace aevb::testing;

TEST(EvalPpca, ExactPosteriorGivesTheExactLogLikelihoodForEveryK) {
  Ppca p;
  const int64_t n = 20;
  const std::vector<int64_t> ks{1, 10, 100};
  const auto x = p.sample(n);
  const auto idx = iota(n);
  ImportanceSampler is(*p.m, Proposal::kPosterior, ks, 5, 500);
  std::vector<double> out(static_cast<size_t>(n) * ks.size());
  is.run(x.data(), idx.data(), n, out.data());
  for (int64_t i = 0; i < n; ++i) {
    const double exact = p.exact_log_px(x.data() + i * Ppca::D);
    for (size_t j = 0; j < ks.size(); ++j)
      EXPECT_NEAR(out[static_cast<size_t>(i) * ks.size() + j], exact, 1e-4 * std::abs(exact) + 1e-5)
          << "point " << i << " K " << ks[j];
  }
}

// The per-point standard error at the largest K predicts the spread of the
// estimate over independent seeds (a perturbed proposal: the weights vary).
TEST(EvalPpca, StandardErrorMatchesTheSpreadOverSeeds) {
  Ppca p;
  p.set_encoder(0.85, 0.4);
  const auto x = p.sample(1);
  const int64_t idx = 0, seeds = 300;
  double sum = 0, sum2 = 0, se_sum = 0;
  for (int64_t seed = 0; seed < seeds; ++seed) {
    ImportanceSampler is(*p.m, Proposal::kPosterior, {10, 200}, static_cast<uint64_t>(seed), 500);
    double out[2], se = 0;
    is.run(x.data(), &idx, 1, out, &se);
    sum += out[1], sum2 += out[1] * out[1], se_sum += se;
  }
  const double sd = std::sqrt((sum2 - sum * sum / seeds) / (seeds - 1));
  EXPECT_GT(sd, 1e-3);  // the test means something: the estimates do vary
  EXPECT_NEAR(se_sum / seeds, sd, 0.2 * sd);
}

TEST(EvalPpca, PerturbedEncoderConvergesFromBelowAndBoundsTheElbo) {
  Ppca p;
  p.set_encoder(0.85, 0.4);  // wrong mean, too wide: a real but imperfect proposal
  const int64_t n = 40;
  const std::vector<int64_t> ks{1, 10, 100, 5000};
  const auto x = p.sample(n);
  const auto idx = iota(n);
  ImportanceSampler is(*p.m, Proposal::kPosterior, ks, 5, 2000);
  std::vector<double> out(static_cast<size_t>(n) * ks.size());
  is.run(x.data(), idx.data(), n, out.data());
  Sgvb elbo(*p.m, Estimator::kB, 400);  // a precise ELBO per point
  std::vector<PointElbo> e(static_cast<size_t>(n));
  elbo.evaluate({x.data(), idx.data(), n}, {5, Purpose::kEvalLatentNoise, 0}, e.data());
  // The ELBO of this Gaussian q in closed form: E_q log p(x|z) - KL(q || p).
  const float* enc = p.m->encoder.forward(x.data(), n);
  std::vector<double> gap1(static_cast<size_t>(n)), gap(static_cast<size_t>(n));
  double mean_elbo = 0, mean_is = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double exact = p.exact_log_px(x.data() + i * Ppca::D);
    const double at5000 = out[static_cast<size_t>(i) * ks.size() + 3];
    EXPECT_NEAR(at5000, exact, 0.02) << "point " << i;
    const float* mu = enc + i * 2 * Ppca::J;
    const float* lv = mu + Ppca::J;
    double sq = 0;
    for (int64_t d = 0; d < Ppca::D; ++d) {
      double r = x[static_cast<size_t>(i * Ppca::D + d)] - p.b[d];
      for (int64_t j = 0; j < Ppca::J; ++j) r -= p.W[d][j] * mu[j];
      sq += r * r;
    }
    for (int64_t j = 0; j < Ppca::J; ++j) sq += std::exp(double(lv[j])) * (p.mj(j) - 1) * p.s2;  // |w_j|^2 var_j
    const double elbo_exact = -0.5 * Ppca::D * (kLog2Pi + std::log(p.s2)) - 0.5 * sq / p.s2 - kl_normal_std(mu, lv, Ppca::J);
    EXPECT_LT(elbo_exact, at5000) << "point " << i;
    EXPECT_NEAR(e[static_cast<size_t>(i)].elbo, elbo_exact, 0.3) << "point " << i;  // the evaluator's ELBO, sampled
    mean_elbo += e[static_cast<size_t>(i)].elbo / n;
    mean_is += at5000 / n;
    gap1[static_cast<size_t>(i)] = exact - out[static_cast<size_t>(i) * ks.size()];
    gap[static_cast<size_t>(i)] = at5000 - exact;
  }
  // The estimator is biased low (Jensen): on average below the exact value, by
  // no more than noise allows above it; and K = 1 is clearly worse than K = 5000.
  double mean = 0, ss = 0, mean1 = 0;
  for (int64_t i = 0; i < n; ++i) mean += gap[static_cast<size_t>(i)] / n, mean1 += gap1[static_cast<size_t>(i)] / n;
  for (int64_t i = 0; i < n; ++i) ss += (gap[static_cast<size_t>(i)] - mean) * (gap[static_cast<size_t>(i)] - mean);
  const double se = std::sqrt(ss / (n - 1) / n);
  EXPECT_LE(mean, 3 * se) << "mean excess " << mean << " se " << se;
  EXPECT_GT(mean1, 0.1);
  EXPECT_LT(mean_elbo, mean_is);
}

// A Bernoulli decoder with a 2-D latent: log p(x) by a sum over a fine grid of
// z (ppca_model.hpp), against importance sampling from a broad proposal.
TEST(EvalBernoulliGrid, LargeKMatchesNumericalIntegration) {
  const int64_t n = 6;
  Bernoulli2d b(n);
  const auto idx = iota(n);
  ImportanceSampler is(*b.m, Proposal::kPosterior, {200000}, 11, 2000);
  std::vector<double> est(static_cast<size_t>(n));
  is.run(b.x.data(), idx.data(), n, est.data());
  const std::vector<double> exact = b.grid_log_px();
  for (int64_t i = 0; i < n; ++i)
    EXPECT_NEAR(est[static_cast<size_t>(i)], exact[static_cast<size_t>(i)], 0.01) << "point " << i;
}

// A 12-10-3 Bernoulli model and n binary points for the construction tests.
ModelSpec small_spec() {
  ModelSpec s;
  s.x_dim = 12;
  s.hidden = {10};
  s.latent = 3;
  return s;
}
std::vector<float> binary_points(int64_t n, int64_t d) {
  std::vector<float> x(static_cast<size_t>(n * d));
  uniforms({8, Purpose::kBinarize, 0, 0, 0}, x.data(), static_cast<int64_t>(x.size()));
  for (auto& v : x) v = v < 0.4f ? 1.f : 0.f;
  return x;
}

// K = 1 is the generic (estimator A) ELBO with L = 1 under the same noise key:
// the same z, the same weight, by construction.
TEST(EvalConstruction, KEqualsOneIsTheSampledKlElbo) {
  const ModelSpec s = small_spec();
  Vae m(s);
  init_params(m, InitScheme::kNormal, 0.5f, 4);
  const int64_t n = 30;
  const std::vector<float> x = binary_points(n, s.x_dim);
  std::vector<int64_t> idx(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) idx[static_cast<size_t>(i)] = 1000 + 3 * i;  // global indices key the noise
  ImportanceSampler is(m, Proposal::kPosterior, {1, 5}, 21, 64);
  std::vector<double> out(static_cast<size_t>(2 * n));
  is.run(x.data(), idx.data(), n, out.data());
  Sgvb a(m, Estimator::kA, 1);
  std::vector<PointElbo> e(static_cast<size_t>(n));
  a.evaluate({x.data(), idx.data(), n}, {21, Purpose::kImportance, 0}, e.data());
  for (int64_t i = 0; i < n; ++i)
    EXPECT_NEAR(out[static_cast<size_t>(2 * i)], e[static_cast<size_t>(i)].elbo, 1e-5 * std::abs(e[static_cast<size_t>(i)].elbo))
        << "point " << i;
}

// A point's estimate depends on (seed, global index, k) only, not on how the
// samples were chunked or which other points shared its decoder calls.
TEST(EvalConstruction, EstimatesDoNotDependOnChunking) {
  const ModelSpec s = small_spec();
  Vae m(s);
  init_params(m, InitScheme::kNormal, 0.5f, 4);
  const int64_t n = 7;
  const std::vector<float> x = binary_points(n, s.x_dim);
  const auto idx = iota(n);
  const std::vector<int64_t> ks{1, 3, 50, 130};
  std::vector<double> ref;
  for (int64_t rows : {1, 7, 100, 130, 1000}) {
    ImportanceSampler is(m, Proposal::kPosterior, ks, 2, rows);
    std::vector<double> out(static_cast<size_t>(n) * ks.size());
    is.run(x.data(), idx.data(), n, out.data());
    if (ref.empty()) ref = out;
    for (size_t i = 0; i < out.size(); ++i) EXPECT_NEAR(out[i], ref[i], 1e-5 * std::abs(ref[i])) << "chunk rows " << rows;
  }
}

TEST(EvalConstruction, ChunkPlansUseAboutChunkRowsAndCoverK) {
  for (auto [k, c] : {std::pair<int64_t, int64_t>{5000, 2000}, {1, 2000}, {100, 2000}, {2000, 2000}, {2001, 2000},
                      {7, 3}, {130, 7}}) {
    const ChunkPlan p = plan_chunks(k, c);
    EXPECT_GE(p.samples * p.passes, k) << k << " " << c;
    EXPECT_LE(p.rows(), c) << k << " " << c;
    EXPECT_GT(p.rows(), c / 2) << k << " " << c;
  }
  EXPECT_EQ(plan_chunks(5000, 2000).samples, 1667);
  EXPECT_EQ(plan_chunks(100, 2000).points, 20);
}

TEST(EvalConstruction, LogSumExpIsStableAndExact) {
  LogSumExp a;
  for (double w : {-1000.0, -1000.0 + std::log(3.0), -2000.0}) a.add(w);
  EXPECT_NEAR(a.value(), -1000.0 + std::log(4.0), 1e-12);
  LogSumExp b;
  b.add(-std::numeric_limits<double>::infinity());
  b.add(5.0);
  EXPECT_DOUBLE_EQ(b.value(), 5.0);
}

// Active units against a hand count: unit 0 varies (variance 1), unit 1 barely
// (variance 0.0025 < 0.01), unit 2 is constant; a NaN row is skipped.
TEST(ActiveUnits, CountsUnitsWhosePosteriorMeansVary) {
  const std::vector<double> mu{1, 0.05, 3,  -1, -0.05, 3,  1, 0.05, 3,  -1, -0.05, 3,  NAN, 100, 3};
  const ActiveUnits a = active_units(mu, 3);
  EXPECT_EQ(a.active, 1);
  ASSERT_EQ(a.variance.size(), 3u);
  EXPECT_DOUBLE_EQ(a.variance[0], 1.0);
  EXPECT_NEAR(a.variance[1], 0.0025, 1e-15);
  EXPECT_EQ(a.variance[2], 0.0);
  EXPECT_EQ(active_units(mu, 3, 0.001).active, 2);
}

}  // namespace
}  // namespace aevb
