// Closed forms and hand-computed values for the estimator, likelihood,
// optimizer and RNG code.
#include <Random123/boxmuller.hpp>
#include <Random123/philox.h>
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <set>

#include "aevb/core/likelihood.hpp"
#include "aevb/core/optimizer.hpp"
#include "aevb/base/rng.hpp"
#include "aevb/core/latent_math.hpp"  // kl_normal_std
#include "aevb/core/sgvb.hpp"
#include "aevb/core/vae.hpp"

namespace aevb {
namespace {

// KL(N(mu, s^2) || N(0,1)) in closed form equals the Monte Carlo average of
// log q(z) - log p(z) over z ~ q. 200k samples: standard error ~ 0.004.
TEST(Kl, ClosedFormMatchesMonteCarlo) {
  const float mu[3] = {0.5f, -1.2f, 0.0f};
  const float lv[3] = {-0.7f, 0.4f, -2.0f};
  const double exact = kl_normal_std(mu, lv, 3);
  // Hand-derived value: 0.5 * sum(mu^2 + e^lv - 1 - lv).
  double hand = 0;
  for (int j = 0; j < 3; ++j) hand += 0.5 * (mu[j] * mu[j] + std::exp(lv[j]) - 1 - lv[j]);
  EXPECT_NEAR(exact, hand, 1e-6);  // hand sum mixes float products
  const int n = 200000;
  double sum = 0, sum_sq = 0;
  float e[3];
  for (int i = 0; i < n; ++i) {
    normals({42, Purpose::kLatentNoise, 0, static_cast<uint64_t>(i), 0}, e, 3);
    double v = 0;
    for (int j = 0; j < 3; ++j) {
      const double z = mu[j] + std::exp(0.5 * lv[j]) * e[j];
      v += 0.5 * (z * z - double(e[j]) * e[j] - lv[j]);
    }
    sum += v;
    sum_sq += v * v;
  }
  const double mean = sum / n, se = std::sqrt((sum_sq / n - mean * mean) / n);
  EXPECT_NEAR(mean, exact, 4 * se);
  EXPECT_LT(se, 0.01);
}

// Estimators A and B are both unbiased for the same ELBO: averaged over many
// independent noise draws (steps) they agree within Monte Carlo error.
TEST(Sgvb, EstimatorsAgreeInExpectation) {
  ModelSpec spec;
  spec.x_dim = 10;
  spec.hidden = {8};
  spec.latent = 4;
  Vae m(spec);
  init_params(m, InitScheme::kNormal, 0.5f, 3);
  std::vector<float> x(3 * 10);
  uniforms({9, Purpose::kBinarize, 0, 0, 0}, x.data(), 30);
  for (auto& v : x) v = v < 0.4f ? 1.f : 0.f;
  std::vector<int64_t> idx{0, 1, 2};
  Sgvb a(m, Estimator::kA, 1), b(m, Estimator::kB, 1);
  const int steps = 4000;
  double sa = 0, sb = 0, sa2 = 0, sb2 = 0;
  for (int s = 0; s < steps; ++s) {
    const double va = a.evaluate({x.data(), idx.data(), 3}, {1, Purpose::kLatentNoise, uint64_t(s)}).elbo;
    const double vb = b.evaluate({x.data(), idx.data(), 3}, {1, Purpose::kLatentNoise, uint64_t(s)}).elbo;
    sa += va, sb += vb, sa2 += va * va, sb2 += vb * vb;
  }
  const double ma = sa / steps, mb = sb / steps;
  const double se = std::sqrt((sa2 / steps - ma * ma + sb2 / steps - mb * mb) / steps);
  EXPECT_NEAR(ma, mb, 4 * se) << "se " << se;
  // B has lower variance than A here (the KL is exact).
  EXPECT_LT(sb2 / steps - mb * mb, sa2 / steps - ma * ma);
}

// The Bernoulli log-likelihood stays finite and exact at extreme logits.
TEST(Likelihood, BernoulliStableAtExtremeLogits) {
  ModelSpec spec;
  spec.x_dim = 6;
  DecoderLikelihood lik(spec);
  const float logits[6] = {100.f, -100.f, 100.f, -100.f, 0.f, 30.f};
  const float x[6] = {1, 0, 0, 1, 1, 0};
  double ll = 0;
  float g[6];
  const float w = 1.f;
  lik.log_prob(x, 1, logits, 1, &ll);
  lik.loss_grad(x, 1, logits, 1, &w, g);
  // Exact: 0 + 0 - 100 - 100 - log 2 - 30 (up to e^-30).
  const double exact = -200.0 - std::log(2.0) - softplus_ref(30.0);
  ASSERT_TRUE(std::isfinite(ll));
  EXPECT_NEAR(ll, exact, 1e-4);
  const float expect_g[6] = {0, 0, 1, -1, -0.5f, 1};
  for (int d = 0; d < 6; ++d) {
    ASSERT_TRUE(std::isfinite(g[d]));
    EXPECT_NEAR(g[d], expect_g[d], 1e-6) << d;
  }
}

TEST(Likelihood, GaussianMatchesClosedForm) {
  ModelSpec spec;
  spec.x_dim = 2;
  spec.decoder = DecoderKind::kGaussian;
  spec.gaussian_sigmoid_mean = false;
  DecoderLikelihood lik(spec);
  const float out[4] = {0.3f, -0.2f, std::log(0.25f), 0.f};  // mean (0.3,-0.2), var (0.25, 1)
  const float x[2] = {0.5f, 1.0f};
  double ll = 0;
  lik.log_prob(x, 1, out, 1, &ll);
  const double exact = -0.5 * (2 * std::log(2 * M_PI) + std::log(0.25) + 0.04 / 0.25 + 1.44);
  EXPECT_NEAR(ll, exact, 1e-5);
}

// Optimizers against updates computed by hand for three steps.
TEST(Optimizer, AdagradByHand) {
  OptimizerConfig c;
  c.kind = OptimizerKind::kAdagrad;
  c.prior_precision = 0.f;  // the update by hand below has no prior term
  Optimizer o(c, 2);
  float p[2] = {1.f, -2.f};
  const float g[3][2] = {{0.5f, -1.f}, {0.1f, 2.f}, {-0.3f, 0.f}};
  double s[2] = {0, 0}, q[2] = {1, -2};
  for (int t = 0; t < 3; ++t) {
    o.step(p, g[t], 0.1f);
    for (int i = 0; i < 2; ++i) {
      s[i] += g[t][i] * g[t][i];
      q[i] -= 0.1 * g[t][i] / (std::sqrt(s[i]) + 1e-10);
      EXPECT_NEAR(p[i], q[i], 1e-6);
    }
  }
}

TEST(Optimizer, AdamByHand) {
  OptimizerConfig c;
  c.kind = OptimizerKind::kAdam;
  c.prior_precision = 0.f;  // the update by hand below has no prior term
  Optimizer o(c, 1);
  float p = 0.5f;
  const float g[3] = {1.f, -0.5f, 0.25f};
  double m = 0, v = 0, q = 0.5;
  for (int t = 1; t <= 3; ++t) {
    o.step(&p, &g[t - 1], 0.01f);
    m = 0.9 * m + 0.1 * g[t - 1];
    v = 0.999 * v + 0.001 * g[t - 1] * g[t - 1];
    q -= 0.01 * (m / (1 - std::pow(0.9, t))) / (std::sqrt(v / (1 - std::pow(0.999, t))) + 1e-8);
    EXPECT_NEAR(p, q, 1e-6);
  }
}

TEST(Optimizer, SgdMomentumWithWeightPrior) {
  OptimizerConfig c;
  c.kind = OptimizerKind::kSgd;
  c.momentum = 0.5f;
  c.prior_precision = 2.f;  // adds 2 * theta to the gradient
  Optimizer o(c, 1);
  float p = 1.f;
  const float g = 0.f;
  // step 1: g' = 2*1 = 2; v = 2; p = 1 - 0.1*2 = 0.8
  o.step(&p, &g, 0.1f);
  EXPECT_NEAR(p, 0.8f, 1e-6);
  // step 2: g' = 1.6; v = 0.5*2 + 1.6 = 2.6; p = 0.8 - 0.26 = 0.54
  o.step(&p, &g, 0.1f);
  EXPECT_NEAR(p, 0.54f, 1e-6);
}

TEST(Schedule, IwaeStagesAndStepDecay) {
  Schedule s;
  s.kind = ScheduleKind::kIwae;
  s.base_lr = 1e-3f;
  EXPECT_FLOAT_EQ(s.lr_at_epoch(0), 1e-3f);                          // stage 0: epoch 0
  EXPECT_FLOAT_EQ(s.lr_at_epoch(1), 1e-3f * std::pow(10.f, -1 / 7.f));  // stage 1: epochs 1..3
  EXPECT_FLOAT_EQ(s.lr_at_epoch(3), 1e-3f * std::pow(10.f, -1 / 7.f));
  EXPECT_FLOAT_EQ(s.lr_at_epoch(4), 1e-3f * std::pow(10.f, -2 / 7.f));  // stage 2: epochs 4..12
  EXPECT_FLOAT_EQ(s.lr_at_epoch(12), 1e-3f * std::pow(10.f, -2 / 7.f));
  EXPECT_FLOAT_EQ(s.lr_at_epoch(13), 1e-3f * std::pow(10.f, -3 / 7.f));
  EXPECT_FLOAT_EQ(s.lr_at_epoch(3279), 1e-4f);  // stage 7 ends at 3280 epochs
  EXPECT_FLOAT_EQ(s.lr_at_epoch(5000), 1e-4f);
  Schedule st;
  st.kind = ScheduleKind::kStep;
  st.base_lr = 1.f;
  st.step_gamma = 0.5f;
  st.step_epochs = 10;
  EXPECT_FLOAT_EQ(st.lr_at_epoch(9), 1.f);
  EXPECT_FLOAT_EQ(st.lr_at_epoch(25), 0.25f);
}

// Warm-up ramps the rate linearly over whole epochs of steps, then leaves it.
TEST(Schedule, WarmupRampsLinearlyThenStops) {
  Schedule s;
  EXPECT_EQ(s.warmup_factor(0, 600), 1.f);  // 0 epochs: none
  s.warmup_epochs = 2;
  EXPECT_FLOAT_EQ(s.warmup_factor(0, 600), 1.f / 1200);
  EXPECT_FLOAT_EQ(s.warmup_factor(599, 600), 0.5f);
  EXPECT_FLOAT_EQ(s.warmup_factor(1199, 600), 1.f);
  EXPECT_EQ(s.warmup_factor(1200, 600), 1.f);
  EXPECT_EQ(s.warmup_factor(5000000, 600), 1.f);
}

// The noise a point gets depends on (seed, purpose, step, index, sample) only.
TEST(Rng, NoiseIndependentOfBatchComposition) {
  ModelSpec spec;
  spec.x_dim = 4;
  spec.hidden = {3};
  spec.latent = 5;
  Vae m(spec);
  init_params(m, InitScheme::kNormal, 0.1f, 1);
  std::vector<float> x(3 * 4, 1.f);
  Sgvb sg(m, Estimator::kB, 2);
  std::vector<int64_t> batch1{7, 100, 3};
  sg.evaluate({x.data(), batch1.data(), 3}, {5, Purpose::kLatentNoise, 9});
  const std::vector<float> eps_of_100(sg.eps().begin() + 1 * 2 * 5, sg.eps().begin() + 2 * 2 * 5);
  std::vector<int64_t> batch2{100};
  sg.evaluate({x.data(), batch2.data(), 1}, {5, Purpose::kLatentNoise, 9});
  for (int i = 0; i < 10; ++i) EXPECT_EQ(sg.eps()[i], eps_of_100[i]);
  // A different step, sample or purpose gives different noise.
  float a[8], b[8], c[8];
  normals({5, Purpose::kLatentNoise, 9, 100, 0}, a, 8);
  normals({5, Purpose::kLatentNoise, 10, 100, 0}, b, 8);
  normals({5, Purpose::kBinarize, 9, 100, 0}, c, 8);
  EXPECT_NE(a[0], b[0]);
  EXPECT_NE(a[0], c[0]);
}

TEST(Rng, NormalsAndUniformsHaveTheRightMoments) {
  const int n = 100000;
  std::vector<float> z(n), u(n);
  normals({1, Purpose::kLatentNoise, 0, 0, 0}, z.data(), n);
  uniforms({1, Purpose::kBinarize, 0, 0, 0}, u.data(), n);
  double mz = 0, vz = 0, mu = 0;
  for (int i = 0; i < n; ++i) mz += z[i], vz += double(z[i]) * z[i], mu += u[i];
  mz /= n, vz = vz / n - mz * mz, mu /= n;
  EXPECT_NEAR(mz, 0, 0.015);
  EXPECT_NEAR(vz, 1, 0.02);
  EXPECT_NEAR(mu, 0.5, 0.005);
  for (float v : u) ASSERT_TRUE(v >= 0.f && v < 1.f);
}

TEST(Rng, BinarizeHasProbabilityX) {
  const int n = 100000;
  std::vector<float> x(n, 0.3f), b(n);
  binarize({2, Purpose::kBinarize, 1, 4, 0}, x.data(), b.data(), n);
  EXPECT_NEAR(std::accumulate(b.begin(), b.end(), 0.0) / n, 0.3, 0.006);
  std::vector<float> zero(8, 0.f), one(8, 1.f), out(8);
  binarize({2, Purpose::kBinarize, 1, 4, 0}, zero.data(), out.data(), 8);
  for (float v : out) EXPECT_EQ(v, 0.f);
  binarize({2, Purpose::kBinarize, 1, 4, 0}, one.data(), out.data(), 8);
  for (float v : out) EXPECT_EQ(v, 1.f);
}

// binarize() draws only the blocks holding a value strictly between 0 and 1
// (base/rng.cpp): the bits must still be those of drawing every block, for
// MNIST-like rows (runs of 0 and 1 around a few grey values, more than a lane
// width of drawn blocks), for values at, below and above the ends, NaN,
// infinities, -0, denormals and the float just below 1, and in place (out = x,
// as the training step and the evaluation splits call it).
TEST(Rng, BinarizeSkipsOnlyBlocksThatNeedNoDraw) {
  const NoiseKey k{7, Purpose::kBinarize, 3, 11, 0};
  const float odd[] = {std::nanf(""), INFINITY, -INFINITY, -0.f, 1e-40f, std::nextafter(1.f, 0.f), -0.5f, 2.f};
  for (bool in_place : {false, true})
    for (int64_t n : {1, 5, 783, 784, 1001, 1024, 2500}) {
      std::vector<float> x(static_cast<size_t>(n)), b(x.size());
      for (int64_t j = 0; j < n; ++j) {
        const int64_t r = (j * 7919) % 31;
        x[static_cast<size_t>(j)] = r < 15 ? 0.f : r < 20 ? 1.f : r < 22 ? odd[j % 8] : static_cast<float>(r) / 31.f;
      }
      const std::vector<float> x0 = x;
      if (in_place) {
        binarize(k, x.data(), x.data(), n);
        b = x;
      } else {
        binarize(k, x.data(), b.data(), n);
      }
      std::vector<uint32_t> w(static_cast<size_t>((n + 3) / 4 * 4));
      philox_words_reference(k, w.data(), (n + 3) / 4);
      for (int64_t j = 0; j < n; ++j) {
        const size_t s = static_cast<size_t>(j);
        const float u = static_cast<float>(w[s] >> 8) * (1.0f / 16777216.0f);
        ASSERT_EQ(b[s], u < x0[s] ? 1.f : 0.f) << "n " << n << " value " << j << " x " << x0[s] << " in place " << in_place;
      }
    }
  // The statistics in place: a grey level keeps its probability.
  std::vector<float> g(100000, 0.3f);
  binarize(k, g.data(), g.data(), static_cast<int64_t>(g.size()));
  EXPECT_NEAR(std::accumulate(g.begin(), g.end(), 0.0) / static_cast<double>(g.size()), 0.3, 0.006);
}

// The vectorized Philox (base/rng.cpp) is Random123's philox4x32-10 bit for
// bit, for every block count around the lane width and keys using all of the
// counter's fields; uniforms and binarize are the scalar definitions
// applied to those words, normals within a few ulp of them (libmvec).
TEST(Rng, LanesMatchRandom123) {
  const NoiseKey keys[] = {{1, Purpose::kBinarize, 0, 0, 0},
                           {0xFEDCBA9876543210ull, Purpose::kLatentNoise, 0xFFFFFFFFull, 123456789, 7},
                           {42, Purpose::kImportance, 77, 0xFFFFFFFFull, 0xFFFFFF}};
  for (const NoiseKey& k : keys)
    for (int64_t nb : {1, 3, 15, 16, 17, 31, 32, 33, 196, 1000}) {
      std::vector<uint32_t> fast(static_cast<size_t>(4 * nb)), ref(fast.size());
      philox_words(k, fast.data(), nb);
      philox_words_reference(k, ref.data(), nb);
      ASSERT_EQ(fast, ref) << "blocks " << nb;
      // Random123's own call for the last block.
      r123::Philox4x32 rng;
      const r123::Philox4x32::ctr_type c = {{static_cast<uint32_t>(nb - 1), static_cast<uint32_t>(k.index),
                                             static_cast<uint32_t>(k.step),
                                             (static_cast<uint32_t>(k.purpose) << 24) | (k.sample & 0xFFFFFFu)}};
      const auto r = rng(c, {{static_cast<uint32_t>(k.seed), static_cast<uint32_t>(k.seed >> 32)}});
      for (int j = 0; j < 4; ++j) ASSERT_EQ(ref[static_cast<size_t>(4 * (nb - 1) + j)], r.v[j]);
      for (int64_t n : {4 * nb - 3, 4 * nb}) {
        std::vector<float> u(static_cast<size_t>(n)), x(static_cast<size_t>(n)), b(x.size()), z(x.size());
        uniforms(k, u.data(), n);
        for (int64_t j = 0; j < n; ++j) x[static_cast<size_t>(j)] = static_cast<float>(j % 97) / 96.f;
        binarize(k, x.data(), b.data(), n);
        normals(k, z.data(), n);
        for (int64_t j = 0; j < n; ++j) {
          const size_t s = static_cast<size_t>(j);
          const float uj = static_cast<float>(ref[s] >> 8) * (1.0f / 16777216.0f);
          ASSERT_EQ(u[s], uj);
          ASSERT_EQ(b[s], uj < x[s] ? 1.f : 0.f);
          const size_t p = s / 2 * 2;
          const r123::float2 bm = r123::boxmuller(ref[p], ref[p + 1]);
          // libmvec's vector logf, sinf and cosf: within 4 ulp each of libm's (base/vector_math.hpp).
          const float zr = s % 2 ? bm.y : bm.x;
          ASSERT_NEAR(z[s], zr, 4e-6f * (1.f + std::fabs(zr))) << j;
        }
      }
    }
}

TEST(Rng, PermutationIsAPermutationAndDependsOnEpoch) {
  const auto p = permutation(1, 0, 1000), q = permutation(1, 1, 1000), r = permutation(1, 0, 1000);
  std::set<int64_t> s(p.begin(), p.end());
  EXPECT_EQ(s.size(), 1000u);
  EXPECT_EQ(*s.begin(), 0);
  EXPECT_EQ(*s.rbegin(), 999);
  EXPECT_EQ(p, r);
  EXPECT_NE(p, q);
}

}  // namespace
}  // namespace aevb
