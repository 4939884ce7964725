// aevb-eval's MCMC estimators (core/hmc.hpp, core/mcmc_estimators.hpp) against
// exact math: probabilistic PCA, whose log p(x) and posterior are closed form,
// and a 2-D Bernoulli model integrated on a fine grid.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "aevb/base/rng.hpp"
#include "aevb/core/hmc.hpp"
#include "aevb/core/importance_sampling.hpp"
#include "aevb/core/likelihood.hpp"
#include "aevb/core/mcmc_estimators.hpp"
#include "ppca_model.hpp"

using namespace aevb;
using namespace aevb::testing;

namespace {

// n points simulated from the PPCA model with the z that made them.
struct Simulated {
  std::vector<float> x, z;
};
Simulated simulate(const Ppca& p, int64_t n, uint64_t seed) {
  Simulated s;
  s.x.resize(static_cast<size_t>(n * Ppca::D));
  s.z.resize(static_cast<size_t>(n * Ppca::J));
  normals({seed, Purpose::kSimulate, 0, 0, 0}, s.z.data(), n * Ppca::J);
  normals({seed, Purpose::kSimulate, 1, 0, 0}, s.x.data(), n * Ppca::D);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t d = 0; d < Ppca::D; ++d) {
      double v = p.b[d] + std::sqrt(p.s2) * s.x[static_cast<size_t>(i * Ppca::D + d)];
      for (int64_t j = 0; j < Ppca::J; ++j) v += p.W[d][j] * s.z[static_cast<size_t>(i * Ppca::J + j)];
      s.x[static_cast<size_t>(i * Ppca::D + d)] = static_cast<float>(v);
    }
  return s;
}

std::vector<double> exact(const Ppca& p, const std::vector<float>& x) {
  std::vector<double> e(x.size() / Ppca::D);
  for (size_t i = 0; i < e.size(); ++i) e[i] = p.exact_log_px(x.data() + i * Ppca::D);
  return e;
}

double mean_of(const std::vector<double>& v) {
  double s = 0;
  for (double a : v) s += a;
  return s / static_cast<double>(v.size());
}

}  // namespace

// The exact PPCA posterior N(A(x - b), diag(1/m_j)) is left invariant: chains
// started in it keep its moments, and with the right gradient the acceptance
// rate at a moderate step is high (a wrong gradient would still be a valid
// sampler, but a poor one).
TEST(Hmc, LeavesTheExactPpcaPosteriorInvariant) {
  Ppca p;
  const int64_t G = 3, C = 64, J = Ppca::J, steps = 300;
  const Simulated s = simulate(p, G, 5);
  const auto idx = iota(G);
  const float* enc = p.m->encoder.forward(s.x.data(), G);
  std::vector<float> mu(static_cast<size_t>(G * J)), lv(static_cast<size_t>(G * J));
  for (int64_t i = 0; i < G; ++i)
    for (int64_t j = 0; j < J; ++j)
      mu[static_cast<size_t>(i * J + j)] = enc[i * 2 * J + j], lv[static_cast<size_t>(i * J + j)] = enc[i * 2 * J + J + j];
  HmcChains h(*p.m, G, C, 5, 77);
  h.set_points(s.x.data(), idx.data(), G, mu.data(), lv.data());
  h.start(nullptr);  // z ~ q0 = the exact posterior
  // 5 leapfrog steps of 0.15: a trajectory of about a third of the posterior's
  // oscillation period (2 pi sd ~ 2.5), far from the half period at which
  // HMC on a Gaussian just reflects each chain about the mean.
  std::vector<float> step(static_cast<size_t>(G), 0.15f);
  std::vector<uint8_t> acc(static_cast<size_t>(G * C));
  std::vector<double> m1(static_cast<size_t>(G * J), 0.0), m2(static_cast<size_t>(G * J), 0.0);
  int64_t accepted = 0;
  for (int64_t t = 0; t < steps; ++t) {
    h.transition(1.0, step.data(), static_cast<uint64_t>(t), acc.data());
    for (uint8_t a : acc) accepted += a;
    for (int64_t r = 0; r < G * C; ++r)
      for (int64_t j = 0; j < J; ++j) {
        const double v = h.z()[r * J + j];
        m1[static_cast<size_t>((r / C) * J + j)] += v;
        m2[static_cast<size_t>((r / C) * J + j)] += v * v;
      }
  }
  const double n = static_cast<double>(steps * C);
  EXPECT_GT(static_cast<double>(accepted) / (n * G), 0.9);
  for (int64_t i = 0; i < G; ++i)
    for (int64_t j = 0; j < J; ++j) {
      const size_t k = static_cast<size_t>(i * J + j);
      const double mean = m1[k] / n, var = m2[k] / n - mean * mean, sd = std::sqrt(1.0 / p.mj(j));
      EXPECT_NEAR(mean, mu[k], 0.1 * sd) << "point " << i << " dim " << j;
      EXPECT_NEAR(var / (sd * sd), 1.0, 0.1) << "point " << i << " dim " << j;
    }
}

TEST(Hmc, StepSizesAdaptPerPointTowardsTheTarget) {
  std::vector<uint8_t> acc = {1, 1, 1, 0, 0, 0, 0, 1};  // point 0: 3/4, point 1: 1/4
  std::vector<float> step = {0.1f, 0.1f};
  std::vector<double> rate(2);
  adapt_step_sizes(acc.data(), 2, 4, 0.65, step.data(), rate.data());
  EXPECT_DOUBLE_EQ(rate[0], 0.75);
  EXPECT_DOUBLE_EQ(rate[1], 0.25);
  EXPECT_FLOAT_EQ(step[0], 0.1f * 1.02f);
  EXPECT_FLOAT_EQ(step[1], 0.1f * 0.98f);
}

TEST(Ais, SchedulesRunFromZeroToOneIncreasing) {
  for (AisSchedule s : {AisSchedule::kSigmoid, AisSchedule::kLinear}) {
    const std::vector<double> b = ais_schedule(s, 100);
    ASSERT_EQ(b.size(), 101u);
    EXPECT_EQ(b.front(), 0.0);
    EXPECT_EQ(b.back(), 1.0);
    for (size_t t = 1; t < b.size(); ++t) EXPECT_GT(b[t], b[t - 1]);
  }
  // The sigmoid schedule takes smaller steps at the ends than in the middle.
  const std::vector<double> b = ais_schedule(AisSchedule::kSigmoid, 100);
  EXPECT_LT(b[1] - b[0], 0.5 * (b[51] - b[50]));
}

// AIS from the prior (q0 far from the posterior) reaches the exact log p(x);
// reverse AIS from the exact sample is above it, forward below, and the gap
// shrinks as T grows (BDMC).
TEST(Ais, PpcaForwardAndReverseSandwichTheExactLogLikelihood) {
  Ppca p;
  const int64_t n = 16;
  const Simulated s = simulate(p, n, 6);
  const auto idx = iota(n);
  const std::vector<double> ex = exact(p, s.x);
  double prev_gap = 1e9;
  for (int64_t T : {30, 1000}) {
    AisConfig c;
    c.steps = T;
    c.chains = 64;
    c.leapfrog = 5;
    c.start = McmcStart::kPrior;
    AisSampler ais(*p.m, c, 4);
    std::vector<AisPoint> out(static_cast<size_t>(n));
    ais.run(s.x.data(), idx.data(), n, s.z.data(), out.data());
    std::vector<double> lo(out.size()), hi(out.size());
    for (size_t i = 0; i < out.size(); ++i) lo[i] = out[i].log_px - ex[i], hi[i] = out[i].log_px_upper - ex[i];
    const double gap = mean_of(hi) - mean_of(lo);
    EXPECT_LT(mean_of(lo), 0.02) << "T = " << T;
    EXPECT_GT(mean_of(hi), -0.02) << "T = " << T;
    EXPECT_LT(gap, prev_gap) << "T = " << T;
    if (T == 1000) {
      EXPECT_NEAR(mean_of(lo), 0.0, 0.05);
      EXPECT_NEAR(mean_of(hi), 0.0, 0.05);
      for (const AisPoint& a : out) EXPECT_GT(a.accept, 0.4);
    }
    prev_gap = gap;
  }
}

// Started at the exact posterior, every AIS weight is p(x): the estimate is exact at any T.
TEST(Ais, ExactInitialDistributionGivesTheExactValue) {
  Ppca p;
  const int64_t n = 4;
  const Simulated s = simulate(p, n, 7);
  const auto idx = iota(n);
  AisConfig c;
  c.steps = 5;
  c.chains = 4;
  AisSampler ais(*p.m, c, 2);
  std::vector<AisPoint> out(static_cast<size_t>(n));
  ais.run(s.x.data(), idx.data(), n, nullptr, out.data());
  const std::vector<double> ex = exact(p, s.x);
  for (int64_t i = 0; i < n; ++i) {
    EXPECT_NEAR(out[static_cast<size_t>(i)].log_px, ex[static_cast<size_t>(i)], 2e-4);
    EXPECT_LT(out[static_cast<size_t>(i)].se, 1e-3);
    EXPECT_TRUE(std::isnan(out[static_cast<size_t>(i)].log_px_upper));
  }
}

// A point's result depends on its own chains only: the other points of its
// batch (here point 0 replaced) change nothing, bit for bit.
TEST(Ais, APointsResultDoesNotDependOnTheOtherPointsOfItsBatch) {
  Ppca p;
  p.set_encoder(0.8, 0.5);
  const int64_t n = 4;
  Simulated a = simulate(p, n, 8);
  Simulated b = a;
  for (int64_t d = 0; d < Ppca::D; ++d) b.x[static_cast<size_t>(d)] += 1.5f;
  const auto idx = iota(n);
  AisConfig c;
  c.steps = 20;
  c.chains = 4;
  std::vector<AisPoint> oa(4), ob(4);
  AisSampler s1(*p.m, c, 4), s2(*p.m, c, 4);
  s1.run(a.x.data(), idx.data(), n, a.z.data(), oa.data());
  s2.run(b.x.data(), idx.data(), n, a.z.data(), ob.data());
  EXPECT_NE(oa[0].log_px, ob[0].log_px);
  for (size_t i = 1; i < 4; ++i) {
    EXPECT_EQ(oa[i].log_px, ob[i].log_px) << i;
    EXPECT_EQ(oa[i].log_px_upper, ob[i].log_px_upper) << i;
    EXPECT_EQ(oa[i].accept, ob[i].accept) << i;
  }
}

// Appendix D's estimator on PPCA: the posterior is Gaussian. With one mixture
// component (the right family) every point is within 0.1 nats of the exact
// value; with the default three (EM then splits one Gaussian) within 0.05 on
// average over the points and 0.2 for each.
TEST(Reciprocal, PpcaWithinATenthOfANatOfExact) {
  Ppca p;
  p.set_encoder(0.8, 0.5);  // the chains start off the posterior
  const int64_t n = 8;
  const Simulated s = simulate(p, n, 9);
  const auto idx = iota(n);
  const std::vector<double> ex = exact(p, s.x);
  for (int64_t components : {1, 3}) {
    ReciprocalConfig c;
    c.components = components;
    ReciprocalEstimator est(*p.m, c, 4);
    std::vector<ReciprocalPoint> out(static_cast<size_t>(n));
    est.run(s.x.data(), idx.data(), n, out.data());
    double mean_err = 0;
    for (int64_t i = 0; i < n; ++i) {
      const ReciprocalPoint& o = out[static_cast<size_t>(i)];
      mean_err += (o.log_px - ex[static_cast<size_t>(i)]) / n;
      EXPECT_NEAR(o.log_px, ex[static_cast<size_t>(i)], components == 1 ? 0.1 : 0.2) << "point " << i;
      EXPECT_GT(o.accept, 0.7);
      EXPECT_GT(o.ess, 100.0);
      EXPECT_GE(o.components, 1);
      EXPECT_LE(o.components, components);
      EXPECT_GT(o.se, 0.0);
      EXPECT_LT(o.se, 0.2);
    }
    EXPECT_NEAR(mean_err, 0.0, 0.05) << components << " component(s)";
  }
}

TEST(Quadrature, PpcaMatchesTheClosedForm) {
  Ppca p;
  p.set_encoder(0.9, 0.3);
  const int64_t n = 5;
  const Simulated s = simulate(p, n, 10);
  QuadratureConfig c;
  c.points_per_dim = 96;
  QuadratureEstimator q(*p.m, c);
  std::vector<QuadraturePoint> out(static_cast<size_t>(n));
  q.run(s.x.data(), n, out.data());
  const std::vector<double> ex = exact(p, s.x);
  for (int64_t i = 0; i < n; ++i) {
    EXPECT_NEAR(out[static_cast<size_t>(i)].log_px, ex[static_cast<size_t>(i)], 1e-4);
    EXPECT_LT(out[static_cast<size_t>(i)].edge_fraction, 1e-8);
    EXPECT_LT(out[static_cast<size_t>(i)].resolution, 1e-4);
  }
}

// A grid too coarse for the posterior (cells of about 3 posterior standard
// deviations) says so: the rule on every other point disagrees.
TEST(Quadrature, ACoarseGridReportsItsResolution) {
  Ppca p;
  const Simulated s = simulate(p, 2, 11);
  QuadratureConfig c;
  c.points_per_dim = 6;
  QuadratureEstimator q(*p.m, c);
  std::vector<QuadraturePoint> out(2);
  q.run(s.x.data(), 2, out.data());
  for (const QuadraturePoint& o : out) EXPECT_GT(o.resolution, 0.01) << o.log_px << " exact " << p.exact_log_px(s.x.data()) << " edge " << o.edge_fraction;
}

// A Bernoulli decoder with a 2-D latent and a real posterior shape: AIS, the
// reciprocal estimator and the quadrature estimator against a fine grid over
// [-7, 7]^2.
TEST(Mcmc, BernoulliTwoDimensionalModelAgainstGridIntegration) {
  const int64_t n = 4;
  Bernoulli2d model(n);
  Vae& m = *model.m;
  const std::vector<float>& x = model.x;
  const auto idx = iota(n);
  const std::vector<double> grid = model.grid_log_px();
  AisConfig ac;
  ac.chains = 64;
  AisSampler ais(m, ac, 2);
  std::vector<AisPoint> a(static_cast<size_t>(n));
  ais.run(x.data(), idx.data(), n, nullptr, a.data());
  ReciprocalConfig rc;
  ReciprocalEstimator rec(m, rc, 2);
  std::vector<ReciprocalPoint> r(static_cast<size_t>(n));
  rec.run(x.data(), idx.data(), n, r.data());
  QuadratureConfig qc;
  QuadratureEstimator quad(m, qc);
  std::vector<QuadraturePoint> q(static_cast<size_t>(n));
  quad.run(x.data(), n, q.data());
  // On average over the points within 0.05 nats (AIS's weights are heavy-tailed
  // on this small, sharp decoder: single points stray further).
  double ais_err = 0;
  for (int64_t i = 0; i < n; ++i) ais_err += (a[static_cast<size_t>(i)].log_px - grid[static_cast<size_t>(i)]) / n;
  EXPECT_NEAR(ais_err, 0.0, 0.05);
  for (int64_t i = 0; i < n; ++i) {
    const size_t k = static_cast<size_t>(i);
    EXPECT_NEAR(a[k].log_px, grid[k], 0.1) << "AIS, point " << i;
    EXPECT_NEAR(r[k].log_px, grid[k], 0.1) << "reciprocal, point " << i;
    EXPECT_NEAR(q[k].log_px, grid[k], 0.01) << "quadrature, point " << i;
  }
}

// A posterior with two equal, well-separated modes: p(x|z) = N(x; mean(z), 0.1)
// with mean(z) = softplus(3z) + softplus(-3z) - 2 log 2, even in z, and x = 6:
// modes near z = +-2 with a barrier of ~180 nats between them. q(z|x) covers
// the positive one only. Chains started from q(z|x) see half the mass (the
// estimate is log 2 too low); chains annealed from the prior and resampled by
// weight see both.
TEST(Reciprocal, AnnealedStartFindsBothModesOfABimodalPosterior) {
  ModelSpec sp;
  sp.x_dim = 1;
  sp.hidden = {2};
  sp.latent = 1;
  sp.activation = Activation::kSoftplus;
  sp.decoder = DecoderKind::kGaussian;
  sp.gaussian_sigmoid_mean = false;
  Vae m(sp);
  std::fill(m.params.begin(), m.params.end(), 0.f);
  weight(m, m.decoder, 0, 0, 0) = 3.f;
  weight(m, m.decoder, 0, 0, 1) = -3.f;
  weight(m, m.decoder, 1, 0, 0) = weight(m, m.decoder, 1, 1, 0) = 1.f;  // the mean column
  bias(m, m.decoder, 1, 0) = static_cast<float>(-2 * std::log(2.0));
  bias(m, m.decoder, 1, 1) = static_cast<float>(std::log(0.1));  // log variance
  bias(m, m.encoder, 1, 0) = 2.f;                                  // q(z|x) = N(2, 0.2^2)
  bias(m, m.encoder, 1, 1) = static_cast<float>(std::log(0.04));
  const std::vector<float> x = {6.f};
  const int64_t idx = 0;
  // The reference: the midpoint rule over [-8, 8], spacing 1e-3.
  double exact = 0;
  {
    const int64_t K = 16000;
    std::vector<float> z(static_cast<size_t>(K));
    for (int64_t k = 0; k < K; ++k) z[static_cast<size_t>(k)] = static_cast<float>(-8 + (k + 0.5) * 1e-3);
    const float* out = m.decoder.forward(z.data(), K);
    DecoderLikelihood lik(sp);
    std::vector<double> ll(static_cast<size_t>(K));
    lik.log_prob(x.data(), K, out, K, ll.data());
    LogSumExp acc;
    for (int64_t k = 0; k < K; ++k) {
      const double zk = z[static_cast<size_t>(k)];
      acc.add(ll[static_cast<size_t>(k)] - 0.5 * (kLog2Pi + zk * zk));
    }
    exact = acc.value() + std::log(1e-3);
  }
  std::vector<double> got;
  for (McmcStart start : {McmcStart::kPosterior, McmcStart::kPrior}) {
    ReciprocalConfig c;
    c.start = start;
    c.chains = 16;
    c.components = 2;
    ReciprocalEstimator est(m, c, 1);
    ReciprocalPoint o;
    est.run(x.data(), &idx, 1, &o);
    got.push_back(o.log_px);
  }
  EXPECT_NEAR(got[0], exact - std::log(2.0), 0.1) << "chains from q(z|x): one mode, half the mass";
  EXPECT_NEAR(got[1], exact, 0.1) << "chains annealed from the prior: both modes";
}
