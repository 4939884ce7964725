// Full variational Bayes over the decoder's weights (core/bayes_decoder.hpp):
// the gradient of the whole objective against finite differences (both KL
// estimators), the small-sigma limit against the MAP gradient, the sampled KL
// against its closed form, and a conjugate model whose posterior is known.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <vector>

#include "aevb/base/rng.hpp"
#include "aevb/core/bayes_decoder.hpp"
#include "aevb/core/optimizer.hpp"
#include "aevb/core/sgvb.hpp"

namespace aevb {
namespace {

struct BayesCase {
  DecoderKind dec;
  Activation act;
  WeightKl kl;
  int L;
};
std::string name_of(const BayesCase& c) {
  return to_string(c.dec) + "_" + to_string(c.act) + (c.kl == WeightKl::kAnalytic ? "_analytic_kl" : "_sampled_kl") +
         "_L" + std::to_string(c.L);
}
void PrintTo(const BayesCase& c, std::ostream* os) { *os << name_of(c); }

ModelSpec small_spec(DecoderKind dec, Activation act) {
  ModelSpec s;
  s.x_dim = 6;
  s.hidden = {5};
  s.latent = 2;
  s.activation = act;
  s.decoder = dec;
  s.gaussian_sigmoid_mean = false;
  s.bayes = true;
  return s;
}

// Generic parameters: random weights, biases and rho (sigma between ~0.02 and ~0.2).
void randomize(Vae& m) {
  init_params(m, InitScheme::kNormal, 0.4f, 11);
  for (const auto& b : m.layout().blocks()) {
    std::vector<float> u(static_cast<size_t>(b.size()));
    uniforms({5, Purpose::kInit, 1, static_cast<uint64_t>(b.offset), 0}, u.data(), b.size());
    for (int64_t i = 0; i < b.size(); ++i) {
      float& p = m.params[static_cast<size_t>(b.offset + i)];
      if (b.offset >= m.rho_begin()) p = softplus_inverse(0.02f + 0.18f * u[static_cast<size_t>(i)]);
      else if (b.rows == 1) p = 0.6f * (u[static_cast<size_t>(i)] - 0.5f);
    }
  }
}

std::vector<float> points(const ModelSpec& s, int64_t rows) {
  std::vector<float> x(static_cast<size_t>(rows * s.x_dim));
  uniforms({3, Purpose::kBinarize, 0, 0, 0}, x.data(), static_cast<int64_t>(x.size()));
  if (s.decoder == DecoderKind::kBernoulli)
    for (auto& v : x) v = v < 0.5f ? 0.f : 1.f;
  return x;
}

class BayesGradCheck : public ::testing::TestWithParam<BayesCase> {};

// loss = -scale * sum_i ELBO_i(theta ~ q) + KL(q(theta) || p(theta)), all noise
// fixed by its keys: its gradient with respect to the encoder, mu_theta and
// rho_theta against central differences (tolerances as in test_gradcheck.cpp).
TEST_P(BayesGradCheck, WholeObjectiveMatchesCentralDifferences) {
  const BayesCase c = GetParam();
  const ModelSpec spec = small_spec(c.dec, c.act);
  Vae m(spec);
  randomize(m);
  BayesDecoder bd(m);
  Sgvb sg(m, Estimator::kB, c.L);
  sg.set_bayes_decoder(&bd);
  const int64_t rows = 4;
  const std::vector<float> x = points(spec, rows);
  const std::vector<int64_t> idx{10, 3, 77, 5};
  const float scale = 2.5f, lambda = 1.5f;
  const SgvbNoise noise{7, Purpose::kLatentNoise, 3};
  sg.forward({x.data(), idx.data(), rows}, noise, scale);
  sg.backward_decoder();
  sg.backward_encoder();
  weight_kl(m, lambda, c.kl, 9, 3, m.grads.data());
  const std::vector<float> analytic(m.grads.begin(), m.grads.end());
  auto loss = [&] {
    return -scale * sg.evaluate({x.data(), idx.data(), rows}, noise).elbo + weight_kl(m, lambda, c.kl, 9, 3, nullptr);
  };
  const float h = 2e-3f;
  int rho_blocks = 0;
  for (const auto& b : m.layout().blocks()) {
    rho_blocks += b.offset >= m.rho_begin();
    double num_sq = 0, err_sq = 0;
    for (int64_t i = 0; i < b.size(); ++i) {
      float& p = m.params[static_cast<size_t>(b.offset + i)];
      const float saved = p;
      p = saved + h;
      const double fp = loss();
      p = saved - h;
      const double fm = loss();
      p = saved;
      const double num = (fp - fm) / (2.0 * h), ana = analytic[static_cast<size_t>(b.offset + i)];
      EXPECT_LE(std::abs(ana - num), 3e-3 + 3e-2 * std::abs(num)) << b.name << "[" << i << "]";
      num_sq += num * num;
      err_sq += (ana - num) * (ana - num);
    }
    EXPECT_LE(std::sqrt(err_sq), 1e-2 * std::sqrt(num_sq) + 1e-3) << b.name;
  }
  EXPECT_EQ(rho_blocks, 4);  // W and b of both decoder layers
}

INSTANTIATE_TEST_SUITE_P(
    DecodersAndKl, BayesGradCheck,
    ::testing::Values(BayesCase{DecoderKind::kBernoulli, Activation::kTanh, WeightKl::kAnalytic, 1},
                      BayesCase{DecoderKind::kBernoulli, Activation::kTanh, WeightKl::kSampled, 2},
                      BayesCase{DecoderKind::kBernoulli, Activation::kSoftplus, WeightKl::kAnalytic, 1},
                      BayesCase{DecoderKind::kGaussian, Activation::kRelu, WeightKl::kSampled, 1},
                      BayesCase{DecoderKind::kGaussian, Activation::kTanh, WeightKl::kAnalytic, 2}),
    [](const ::testing::TestParamInfo<BayesCase>& i) { return name_of(i.param); });

// As sigma_theta -> 0 the data term's gradient with respect to the encoder and
// mu_theta is the MAP model's at theta = mu_theta, and the closed-form KL's
// gradient with respect to mu_theta is the MAP weight prior's, lambda * mu.
TEST(BayesLimit, SmallSigmaGivesTheMapGradient) {
  ModelSpec spec = small_spec(DecoderKind::kBernoulli, Activation::kTanh);
  Vae bayes(spec);
  randomize(bayes);
  init_weight_posterior(bayes, 1e-5f);
  spec.bayes = false;
  Vae map(spec);
  std::copy(bayes.params.begin(), bayes.params.begin() + map.num_params(), map.params.begin());
  const std::vector<float> x = points(spec, 4);
  const std::vector<int64_t> idx{1, 2, 3, 4};
  BayesDecoder bd(bayes);
  Sgvb sb(bayes, Estimator::kB, 1), sm(map, Estimator::kB, 1);
  sb.set_bayes_decoder(&bd);
  for (Sgvb* s : {&sb, &sm}) {
    s->forward({x.data(), idx.data(), 4}, {2, Purpose::kLatentNoise, 0}, 1.f);
    s->backward_decoder();
    s->backward_encoder();
  }
  double num = 0, den = 0;
  for (int64_t i = 0; i < map.num_params(); ++i) {
    const double d = double(bayes.grads[static_cast<size_t>(i)]) - map.grads[static_cast<size_t>(i)];
    num += d * d;
    den += double(map.grads[static_cast<size_t>(i)]) * map.grads[static_cast<size_t>(i)];
  }
  EXPECT_LT(std::sqrt(num / den), 1e-3);
  std::vector<float> g(static_cast<size_t>(bayes.num_params()), 0.f);
  weight_kl(bayes, 2.f, WeightKl::kAnalytic, 0, 0, g.data());
  for (int64_t p = bayes.decoder_begin(); p < bayes.rho_begin(); ++p)
    EXPECT_FLOAT_EQ(g[static_cast<size_t>(p)], 2.f * bayes.params[static_cast<size_t>(p)]) << p;
}

// The sampled KL and its gradient average, over many steps, to the closed form
// and its gradient (within 4 standard errors).
TEST(WeightKlEstimate, SampledAveragesToTheClosedForm) {
  Vae m(small_spec(DecoderKind::kBernoulli, Activation::kTanh));
  randomize(m);
  const float lambda = 3.f;
  const int64_t n = m.num_params();
  std::vector<float> ga(static_cast<size_t>(n), 0.f);
  const double exact = weight_kl(m, lambda, WeightKl::kAnalytic, 0, 0, ga.data());
  const int steps = 4000;
  double sum = 0, sum_sq = 0;
  std::vector<double> gsum(static_cast<size_t>(n), 0.0);
  std::vector<float> g(static_cast<size_t>(n));
  for (int t = 0; t < steps; ++t) {
    std::fill(g.begin(), g.end(), 0.f);
    const double v = weight_kl(m, lambda, WeightKl::kSampled, 4, static_cast<uint64_t>(t), g.data());
    sum += v, sum_sq += v * v;
    for (int64_t i = 0; i < n; ++i) gsum[static_cast<size_t>(i)] += g[static_cast<size_t>(i)];
  }
  const double mean = sum / steps, se = std::sqrt((sum_sq / steps - mean * mean) / steps);
  EXPECT_NEAR(mean, exact, 4 * se) << "se " << se;
  EXPECT_GT(exact, 0);
  double num = 0, den = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double d = gsum[static_cast<size_t>(i)] / steps - ga[static_cast<size_t>(i)];
    num += d * d, den += double(ga[static_cast<size_t>(i)]) * ga[static_cast<size_t>(i)];
  }
  EXPECT_LT(std::sqrt(num / den), 0.05);
}

// A conjugate model: a Gaussian decoder whose only free parameter is its mean
// output bias b (unit variance, every other weight fixed at 0, sigma ~ 0), prior
// b ~ N(0, 1). The exact posterior is b_d ~ N(sum_i x_id / (N + 1), 1 / (N + 1)),
// and q(b) must reach it: mean and variance within 2 %. A sigma collapsed to
// MAP (sigma -> 0) fails the variance check by 100 %.
TEST(BayesConjugate, OutputBiasPosteriorIsExact) {
  ModelSpec s;
  s.x_dim = 3;
  s.hidden = {};
  s.latent = 1;
  s.decoder = DecoderKind::kGaussian;
  s.gaussian_sigmoid_mean = false;
  s.bayes = true;
  Vae m(s);
  std::fill(m.params.begin(), m.params.end(), 0.f);
  init_weight_posterior(m, 1e-8f);
  const int64_t N = 50, D = s.x_dim;
  const int64_t b_mean = m.decoder.bias_offset(0);  // [mean (D) | log variance (D)]
  for (int64_t d = 0; d < D; ++d) m.params[static_cast<size_t>(rho_of(m, b_mean + d))] = softplus_inverse(0.3f);
  std::vector<float> x(static_cast<size_t>(N * D));
  normals({1, Purpose::kInit, 0, 0, 0}, x.data(), N * D);
  const float true_mean[3] = {1.f, -0.5f, 2.f};
  std::vector<double> sum_x(static_cast<size_t>(D), 0.0);
  for (int64_t i = 0; i < N; ++i)
    for (int64_t d = 0; d < D; ++d) sum_x[static_cast<size_t>(d)] += x[static_cast<size_t>(i * D + d)] += true_mean[d];
  std::vector<int64_t> idx(static_cast<size_t>(N));
  for (int64_t i = 0; i < N; ++i) idx[static_cast<size_t>(i)] = i;

  BayesDecoder bd(m);
  Sgvb sg(m, Estimator::kB, 1);
  sg.set_bayes_decoder(&bd);
  OptimizerConfig oc;
  oc.kind = OptimizerKind::kAdam;
  oc.prior_precision = 0.f;
  Optimizer opt(oc, m.num_params());
  const int steps = 12000;
  std::vector<double> mean_avg(static_cast<size_t>(D), 0.0), var_avg(static_cast<size_t>(D), 0.0);
  for (int t = 0; t < steps; ++t) {
    sg.forward({x.data(), idx.data(), N}, {3, Purpose::kLatentNoise, static_cast<uint64_t>(t)}, 1.f);
    sg.backward_decoder();
    sg.backward_encoder();
    weight_kl(m, 1.f, WeightKl::kAnalytic, 3, static_cast<uint64_t>(t), m.grads.data());
    // Only b's mean and rho are free.
    for (int64_t p = 0; p < m.num_params(); ++p) {
      const bool free = (p >= b_mean && p < b_mean + D) || (p >= rho_of(m, b_mean) && p < rho_of(m, b_mean) + D);
      if (!free) m.grads[static_cast<size_t>(p)] = 0.f;
    }
    const float lr = t < steps / 3 ? 0.02f : t < steps / 2 ? 0.002f : 0.0005f;
    ASSERT_TRUE(opt.step(m.params.data(), m.grads.data(), lr));
    if (t >= steps * 3 / 4)  // Polyak averaging of the last quarter
      for (int64_t d = 0; d < D; ++d) {
        const float sd = softplus(m.params[static_cast<size_t>(rho_of(m, b_mean + d))]);
        mean_avg[static_cast<size_t>(d)] += m.params[static_cast<size_t>(b_mean + d)] / (steps / 4.0);
        var_avg[static_cast<size_t>(d)] += double(sd) * sd / (steps / 4.0);
      }
  }
  for (int64_t d = 0; d < D; ++d) {
    const double post_mean = sum_x[static_cast<size_t>(d)] / (N + 1), post_var = 1.0 / (N + 1);
    EXPECT_NEAR(mean_avg[static_cast<size_t>(d)], post_mean, 0.02 * std::abs(post_mean)) << "dimension " << d;
    EXPECT_NEAR(var_avg[static_cast<size_t>(d)], post_var, 0.02 * post_var) << "dimension " << d;
    std::printf("dimension %lld: mean %.5f (exact %.5f), variance %.6f (exact %.6f)\n", static_cast<long long>(d),
                mean_avg[static_cast<size_t>(d)], post_mean, var_avg[static_cast<size_t>(d)], post_var);
  }
}

// The vectorized table against the scalar definitions in double, from sigma
// ~ 1e-13 (rho = -30) to rho = 30.
TEST(SoftplusTable, MatchesTheScalarDefinitions) {
  std::vector<float> rho;
  for (float r = -30.f; r <= 30.f; r += 0.37f) rho.push_back(r);
  const int64_t n = static_cast<int64_t>(rho.size());
  std::vector<float> s(rho.size()), lg(rho.size()), ls(rho.size());
  Eltwise elt;
  softplus_table(elt, rho.data(), n, s.data(), lg.data(), ls.data());
  for (int64_t i = 0; i < n; ++i) {
    const double r = rho[static_cast<size_t>(i)], sp = r > 30 ? r : std::log1p(std::exp(r));
    EXPECT_NEAR(s[static_cast<size_t>(i)], sp, 2e-6 * sp + 1e-7 * std::min(1.0, sp * 1e3)) << "rho " << r;
    EXPECT_NEAR(s[static_cast<size_t>(i)] / sp, 1.0, 2e-5) << "rho " << r;  // relative, also for tiny sigma
    EXPECT_NEAR(lg[static_cast<size_t>(i)], 1.0 / (1.0 + std::exp(-r)), 1e-6) << "rho " << r;
    EXPECT_NEAR(ls[static_cast<size_t>(i)], std::log(sp), 2e-5 * std::max(1.0, std::abs(std::log(sp)))) << "rho " << r;
  }
}

}  // namespace
}  // namespace aevb
