// Analytic gradients of every parameter block against central finite
// differences, for both decoders and both estimators, with the noise held fixed
// (it is keyed by (seed, step, index, sample), so re-running the forward pass
// with perturbed parameters reuses exactly the same eps).
//
// Tolerances: the forward pass is fp32 (oneDNN); with step h the central
// difference has truncation error O(h^2 f''') and roundoff ~ 1e-7 |f| / h. With
// h = 2e-3 and |f| ~ 10 both are ~1e-3, so we require per-element
// |analytic - numeric| <= 3e-3 + 3e-2 |numeric| and, per block, a relative
// error of the whole gradient vector below 1e-2. A wrong term in any backward
// formula produces errors of order 1 (checked by a negative control below).
#include <gtest/gtest.h>

#include <cmath>

#include "aevb/base/rng.hpp"
#include "aevb/core/sgvb.hpp"
#include "aevb/core/vae.hpp"

namespace aevb {
namespace {

struct Case {
  DecoderKind dec;
  Estimator est;
  bool sigmoid_mean;
  Activation act;
  std::vector<int64_t> hidden;
  int L;  // samples per point: K for the IWAE objective
  Objective obj = Objective::kElbo;
};

// decoder, estimator, hidden layers (activation and sizes, or linear), L
// samples and, for the Gaussian decoder, its mean's output function; e.g.
// bernoulli_estimatorB_tanh_h6_4_L3, gaussian_estimatorB_linear_L2_identity_mean.
std::string name_of(const Case& c) {
  std::string hidden = c.hidden.empty() ? "linear" : to_string(c.act) + "_h";
  for (size_t i = 0; i < c.hidden.size(); ++i) hidden += (i ? "_" : "") + std::to_string(c.hidden[i]);
  return to_string(c.dec) + (c.est == Estimator::kA ? "_estimatorA_" : "_estimatorB_") + hidden + "_L" +
         std::to_string(c.L) +
         (c.dec == DecoderKind::kGaussian ? (c.sigmoid_mean ? "_sigmoid_mean" : "_identity_mean") : "") +
         (c.obj == Objective::kIwae ? "_iwae" : "");
}
void PrintTo(const Case& c, std::ostream* os) { *os << name_of(c); }

class GradCheck : public ::testing::TestWithParam<Case> {};

// The three training phases in order: the gradient of -scale * sum ELBO.
void train_step_gradient(Sgvb& sg, const float* x, const int64_t* idx, int64_t rows, const SgvbNoise& noise,
                         float scale) {
  sg.forward({x, idx, rows}, noise, scale);
  sg.backward_decoder();
  sg.backward_encoder();
}

double loss(Sgvb& sg, const std::vector<float>& x, const std::vector<int64_t>& idx, int64_t rows, float scale) {
  return -scale * sg.evaluate({x.data(), idx.data(), rows}, {7, Purpose::kLatentNoise, 3}).elbo;
}

TEST_P(GradCheck, MatchesCentralDifferences) {
  const Case c = GetParam();
  ModelSpec spec;
  spec.x_dim = 7;
  spec.hidden = c.hidden;
  spec.latent = 3;
  spec.activation = c.act;
  spec.decoder = c.dec;
  spec.gaussian_sigmoid_mean = c.sigmoid_mean;
  Vae m(spec);
  init_params(m, InitScheme::kNormal, 0.4f, 11);
  // Non-zero biases so their gradients are exercised at generic points.
  for (const auto& b : m.layout().blocks())
    if (b.rows == 1) normals({5, Purpose::kInit, 1, static_cast<uint64_t>(b.offset), 0}, m.params.data() + b.offset, b.size());
  for (const auto& b : m.layout().blocks())
    if (b.rows == 1)
      for (int64_t i = 0; i < b.size(); ++i) m.params[b.offset + i] *= 0.3f;

  const int64_t rows = 4;
  std::vector<float> x(rows * spec.x_dim);
  uniforms({3, Purpose::kBinarize, 0, 0, 0}, x.data(), static_cast<int64_t>(x.size()));
  if (c.dec == DecoderKind::kBernoulli)
    for (auto& v : x) v = v < 0.5f ? 0.f : 1.f;
  std::vector<int64_t> idx{10, 3, 77, 5};
  const float scale = 2.5f;

  Sgvb sg(m, c.est, c.L, c.obj);
  train_step_gradient(sg, x.data(), idx.data(), rows, {7, Purpose::kLatentNoise, 3}, scale);
  const std::vector<float> analytic(m.grads.begin(), m.grads.end());

  const float h = 2e-3f;
  for (const auto& b : m.layout().blocks()) {
    double num_sq = 0, err_sq = 0;
    for (int64_t i = 0; i < b.size(); ++i) {
      float& p = m.params[static_cast<size_t>(b.offset + i)];
      const float saved = p;
      p = saved + h;
      const double fp = loss(sg, x, idx, rows, scale);
      p = saved - h;
      const double fm = loss(sg, x, idx, rows, scale);
      p = saved;
      const double num = (fp - fm) / (2.0 * h);
      const double ana = analytic[static_cast<size_t>(b.offset + i)];
      EXPECT_LE(std::abs(ana - num), 3e-3 + 3e-2 * std::abs(num)) << b.name << "[" << i << "]";
      num_sq += num * num;
      err_sq += (ana - num) * (ana - num);
    }
    EXPECT_LE(std::sqrt(err_sq), 1e-2 * std::sqrt(num_sq) + 1e-3) << b.name;
  }
}

INSTANTIATE_TEST_SUITE_P(
    AllDecodersAndEstimators, GradCheck,
    ::testing::Values(Case{DecoderKind::kBernoulli, Estimator::kA, false, Activation::kTanh, {5}, 1},
                      Case{DecoderKind::kBernoulli, Estimator::kB, false, Activation::kTanh, {5}, 1},
                      Case{DecoderKind::kBernoulli, Estimator::kB, false, Activation::kTanh, {6, 4}, 3},
                      Case{DecoderKind::kBernoulli, Estimator::kA, false, Activation::kRelu, {6}, 2},
                      Case{DecoderKind::kBernoulli, Estimator::kB, false, Activation::kSoftplus, {5, 4}, 2},
                      Case{DecoderKind::kGaussian, Estimator::kA, true, Activation::kTanh, {5}, 2},
                      Case{DecoderKind::kGaussian, Estimator::kB, true, Activation::kTanh, {5}, 1},
                      Case{DecoderKind::kGaussian, Estimator::kB, false, Activation::kSoftplus, {5}, 2},
                      Case{DecoderKind::kGaussian, Estimator::kA, false, Activation::kRelu, {4, 4}, 1},
                      Case{DecoderKind::kGaussian, Estimator::kB, false, Activation::kTanh, {}, 2},
                      Case{DecoderKind::kBernoulli, Estimator::kA, false, Activation::kTanh, {}, 1},
                      // The importance-weighted bound (its loss: -scale * sum_i L_K(x_i)).
                      Case{DecoderKind::kBernoulli, Estimator::kA, false, Activation::kTanh, {5}, 4, Objective::kIwae},
                      Case{DecoderKind::kBernoulli, Estimator::kA, false, Activation::kRelu, {6, 4}, 2, Objective::kIwae},
                      Case{DecoderKind::kGaussian, Estimator::kA, true, Activation::kTanh, {5}, 3, Objective::kIwae}),
    [](const ::testing::TestParamInfo<Case>& i) { return name_of(i.param); });

// Negative control: the check above would catch a dropped term. Compare the
// estimator-A gradient against estimator B's finite differences: they differ.
TEST(GradCheckControl, DetectsAWrongGradient) {
  ModelSpec spec;
  spec.x_dim = 5;
  spec.hidden = {4};
  spec.latent = 2;
  Vae m(spec);
  init_params(m, InitScheme::kNormal, 0.5f, 1);
  std::vector<float> x{1, 0, 1, 1, 0};
  std::vector<int64_t> idx{0};
  Sgvb a(m, Estimator::kA, 1), b(m, Estimator::kB, 1);
  train_step_gradient(a, x.data(), idx.data(), 1, {1, Purpose::kLatentNoise, 0}, 1.f);
  const std::vector<float> ga(m.grads.begin(), m.grads.end());
  train_step_gradient(b, x.data(), idx.data(), 1, {1, Purpose::kLatentNoise, 0}, 1.f);
  double diff = 0;
  const int64_t enc_end = m.decoder_begin();
  for (int64_t i = 0; i < enc_end; ++i) diff += std::abs(ga[i] - m.grads[i]);
  EXPECT_GT(diff, 1e-2);
}

}  // namespace
}  // namespace aevb
