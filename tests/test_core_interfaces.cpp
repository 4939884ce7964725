// The core interfaces that the marginal-likelihood estimators (HMC, AIS) and
// full variational Bayes build on: the decoder's backward pass to z alone, and
// running a network with other weights of the same layout.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "aevb/base/rng.hpp"
#include "aevb/core/likelihood.hpp"
#include "aevb/core/sgvb.hpp"
#include "aevb/core/vae.hpp"

namespace aevb {
namespace {

struct Fixture {
  ModelSpec spec;
  std::unique_ptr<Vae> m;
  std::vector<float> x, z;
  int64_t rows = 3;
  Fixture() {
    spec.x_dim = 6;
    spec.hidden = {5};
    spec.latent = 2;
    m = std::make_unique<Vae>(spec);
    init_params(*m, InitScheme::kNormal, 0.5f, 3);
    x.resize(static_cast<size_t>(rows * spec.x_dim));
    uniforms({4, Purpose::kBinarize, 0, 0, 0}, x.data(), static_cast<int64_t>(x.size()));
    for (auto& v : x) v = v < 0.5f ? 0.f : 1.f;
    z.resize(static_cast<size_t>(rows * spec.latent));
    normals({4, Purpose::kLatentNoise, 0, 0, 0}, z.data(), static_cast<int64_t>(z.size()));
  }
  // -sum_r log p(x_r | z_r), and its gradient with respect to z by backward_data.
  double neg_log_lik(const std::vector<float>& zz) {
    DecoderLikelihood lik(spec);
    const float* out = m->decoder.forward(zz.data(), rows);
    std::vector<double> ll(static_cast<size_t>(rows));
    lik.log_prob(x.data(), 1, out, rows, ll.data());
    double s = 0;
    for (double v : ll) s -= v;
    return s;
  }
  std::vector<float> grad_z() {
    DecoderLikelihood lik(spec);
    const float* out = m->decoder.forward(z.data(), rows);
    std::vector<double> ll(static_cast<size_t>(rows));
    lik.log_prob(x.data(), 1, out, rows, ll.data());
    std::vector<float> w(static_cast<size_t>(rows), 1.f), dout(static_cast<size_t>(rows * spec.x_dim));
    lik.loss_grad(x.data(), 1, out, rows, w.data(), dout.data());
    const float* dz = m->decoder.backward_data(dout.data(), rows);
    return std::vector<float>(dz, dz + rows * spec.latent);
  }
};

TEST(DecoderBackwardData, MatchesFiniteDifferencesOfLogLikelihoodInZ) {
  Fixture f;
  const std::vector<float> g = f.grad_z();
  const float h = 1e-3f;
  for (size_t i = 0; i < f.z.size(); ++i) {
    std::vector<float> zp = f.z, zm = f.z;
    zp[i] += h;
    zm[i] -= h;
    const double num = (f.neg_log_lik(zp) - f.neg_log_lik(zm)) / (2.0 * h);
    EXPECT_NEAR(g[i], num, 2e-3 + 2e-2 * std::abs(num)) << "z[" << i << "]";
  }
}

TEST(DecoderBackwardData, LeavesWeightGradientsUntouchedAndEqualsFullBackward) {
  Fixture f;
  for (auto& v : f.m->grads) v = 7.f;  // sentinel
  const std::vector<float> g = f.grad_z();
  for (float v : f.m->grads) ASSERT_EQ(v, 7.f);
  // The full backward pass gives the same dL/dz (and writes weight gradients).
  DecoderLikelihood lik(f.spec);
  const float* out = f.m->decoder.forward(f.z.data(), f.rows);
  std::vector<double> ll(static_cast<size_t>(f.rows));
  lik.log_prob(f.x.data(), 1, out, f.rows, ll.data());
  std::vector<float> w(static_cast<size_t>(f.rows), 1.f), dout(static_cast<size_t>(f.rows * f.spec.x_dim));
  lik.loss_grad(f.x.data(), 1, out, f.rows, w.data(), dout.data());
  const float* dz = f.m->decoder.backward(dout.data(), f.rows, /*need_dx=*/true);
  for (size_t i = 0; i < g.size(); ++i) EXPECT_FLOAT_EQ(dz[i], g[i]);
  EXPECT_NE(f.m->grads[static_cast<size_t>(f.m->decoder_begin())], 7.f);
}

// A network runs with other weights of the same layout (e.g. sampled from a
// posterior over weights) when bound to them, and exactly as before when
// bound back.
TEST(MlpBind, RunsWithOtherWeightsAndBack) {
  Fixture f;
  const int64_t D = f.spec.x_dim;
  const float* out0 = f.m->decoder.forward(f.z.data(), f.rows);
  const std::vector<float> before(out0, out0 + f.rows * D);
  std::vector<float> sampled(f.m->params.begin(), f.m->params.end());
  std::vector<float> scratch(sampled.size());
  for (auto& v : sampled) v *= 2.f;
  f.m->decoder.bind(sampled.data(), scratch.data());
  const float* out1 = f.m->decoder.forward(f.z.data(), f.rows);
  double diff = 0;
  for (int64_t i = 0; i < f.rows * D; ++i) diff += std::abs(out1[i] - before[static_cast<size_t>(i)]);
  EXPECT_GT(diff, 1e-3);
  f.m->bind_gradients(nullptr);  // rebinds both networks to the model's own buffers
  const float* out2 = f.m->decoder.forward(f.z.data(), f.rows);
  for (int64_t i = 0; i < f.rows * D; ++i) EXPECT_EQ(out2[i], before[static_cast<size_t>(i)]);
}

// Per-sample weights: the gradient of -sum_r w_r log p(x|out_r) is linear in w.
TEST(LikelihoodLossGrad, IsLinearInTheSampleWeights) {
  for (DecoderKind kind : {DecoderKind::kBernoulli, DecoderKind::kGaussian}) {
    ModelSpec spec;
    spec.x_dim = 5;
    spec.decoder = kind;
    const int64_t R = 4, C = kind == DecoderKind::kBernoulli ? 5 : 10;
    std::vector<float> x(10), out(static_cast<size_t>(R * C));
    uniforms({1, Purpose::kBinarize, 0, 0, 0}, x.data(), 10);
    normals({2, Purpose::kLatentNoise, 0, 0, 0}, out.data(), R * C);
    DecoderLikelihood lik(spec);
    std::vector<double> ll(static_cast<size_t>(R));
    lik.log_prob(x.data(), 2, out.data(), R, ll.data());
    std::vector<float> ones(static_cast<size_t>(R), 1.f), w{0.5f, -2.f, 3.f, 0.f};
    std::vector<float> g1(out.size()), gw(out.size());
    lik.loss_grad(x.data(), 2, out.data(), R, ones.data(), g1.data());
    lik.loss_grad(x.data(), 2, out.data(), R, w.data(), gw.data());
    for (int64_t r = 0; r < R; ++r)
      for (int64_t c = 0; c < C; ++c)
        EXPECT_NEAR(gw[static_cast<size_t>(r * C + c)], w[static_cast<size_t>(r)] * g1[static_cast<size_t>(r * C + c)],
                    1e-5)
            << to_string(kind) << " row " << r;
  }
}

// Binding a copy of the weights between the forward and the backward pass keeps
// the network's workspaces (the activations): the gradient is unchanged, and
// lands in the newly bound gradient buffer.
TEST(MlpBind, RebindingBetweenForwardAndBackwardKeepsTheActivations) {
  Fixture f;
  const int64_t D = f.spec.x_dim;
  std::vector<float> dout(static_cast<size_t>(f.rows * D));
  normals({9, Purpose::kLatentNoise, 1, 0, 0}, dout.data(), f.rows * D);
  std::vector<float> d1 = dout, d2 = dout;
  f.m->decoder.forward(f.z.data(), f.rows);
  f.m->decoder.backward(d1.data(), f.rows, false);
  const std::vector<float> g_plain(f.m->grads.begin(), f.m->grads.end());

  std::vector<float> copy(f.m->params.begin(), f.m->params.end()), g_copy(copy.size(), 0.f);
  f.m->decoder.forward(f.z.data(), f.rows);
  f.m->decoder.bind(copy.data(), g_copy.data());
  f.m->decoder.backward(d2.data(), f.rows, false);
  for (int64_t i = f.m->decoder_begin(); i < f.m->num_params(); ++i)
    EXPECT_EQ(g_copy[static_cast<size_t>(i)], g_plain[static_cast<size_t>(i)]) << i;
}

// The samples' log importance weights log p(x|z) + log p(z) - log q(z|x): their
// mean over a point's samples is estimator A's ELBO of that point.
TEST(SgvbSampleLogWeights, AverageToEstimatorAsElbo) {
  Fixture f;
  const int L = 3;
  Sgvb a(*f.m, Estimator::kA, L);
  std::vector<int64_t> idx{4, 9, 1};
  std::vector<PointElbo> per(static_cast<size_t>(f.rows));
  a.evaluate({f.x.data(), idx.data(), f.rows}, {2, Purpose::kLatentNoise, 5}, per.data());
  const std::vector<double>& lw = a.sample_log_weights();
  ASSERT_EQ(lw.size(), static_cast<size_t>(f.rows * L));
  for (int64_t i = 0; i < f.rows; ++i) {
    double mean = 0;
    for (int l = 0; l < L; ++l) mean += lw[static_cast<size_t>(i * L + l)] / L;
    EXPECT_NEAR(mean, per[static_cast<size_t>(i)].elbo, 1e-9 * std::abs(mean)) << "point " << i;
  }
}

// set_sample_weights: doubling every sample's weight doubles the decoder's
// gradient (the weights are the loss's coefficients per sample).
TEST(SgvbSampleWeights, ScaleTheDecoderGradient) {
  Fixture f;
  Sgvb b(*f.m, Estimator::kB, 2);
  std::vector<int64_t> idx{0, 1, 2};
  b.forward({f.x.data(), idx.data(), f.rows}, {3, Purpose::kLatentNoise, 0}, 1.5f);
  b.backward_decoder();
  const std::vector<float> g1(f.m->grads.begin() + f.m->decoder_begin(), f.m->grads.end());
  b.forward({f.x.data(), idx.data(), f.rows}, {3, Purpose::kLatentNoise, 0}, 1.5f);
  const std::vector<float> w(static_cast<size_t>(f.rows * 2), 2 * 1.5f / 2);
  b.set_sample_weights(w.data());
  b.backward_decoder();
  for (size_t i = 0; i < g1.size(); ++i)
    EXPECT_NEAR(f.m->grads[static_cast<size_t>(f.m->decoder_begin()) + i], 2 * g1[i], 1e-5 + 1e-5 * std::abs(g1[i]));
}

}  // namespace
}  // namespace aevb

namespace {
// The count a file's architecture is checked with before a Vae is built must be
// exactly what the Vae allocates (blocks padded as ParamLayout pads them).
TEST(ParamCount, MatchesTheVaeLayoutAndRefusesOverflow) {
  for (const auto& hidden : {std::vector<int64_t>{}, {7}, {500}, {13, 200, 3}}) {
    for (auto dec : {aevb::DecoderKind::kBernoulli, aevb::DecoderKind::kGaussian}) {
      aevb::ModelSpec s;
      s.x_dim = 31;
      s.hidden = hidden;
      s.latent = 5;
      s.decoder = dec;
      EXPECT_EQ(aevb::param_count(s), aevb::Vae(s).num_params());
    }
  }
  aevb::ModelSpec huge;
  huge.x_dim = int64_t{1} << 40;
  huge.hidden = {int64_t{1} << 40};
  EXPECT_EQ(aevb::param_count(huge), -1);
}
}  // namespace
