// The importance-weighted objective (Burda, Grosse & Salakhutdinov 2016) in
// Sgvb: its bound against the evaluator's importance sampler and a model with a
// known likelihood, Jensen's inequality, K = 1 against estimator A, and its
// weights. (Its gradient is checked by finite differences in test_gradcheck.)
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "aevb/base/error.hpp"
#include "aevb/core/importance_sampling.hpp"
#include "aevb/core/sgvb.hpp"
#include "ppca_model.hpp"

namespace aevb {
namespace {

using namespace aevb::testing;

struct Small {
  ModelSpec spec;
  std::unique_ptr<Vae> m;
  std::vector<float> x;
  std::vector<int64_t> idx;
  int64_t n = 9;
  Small() {
    spec.x_dim = 12;
    spec.hidden = {10};
    spec.latent = 3;
    m = std::make_unique<Vae>(spec);
    init_params(*m, InitScheme::kNormal, 0.5f, 4);
    x.resize(static_cast<size_t>(n * spec.x_dim));
    uniforms({8, Purpose::kBinarize, 0, 0, 0}, x.data(), static_cast<int64_t>(x.size()));
    for (auto& v : x) v = v < 0.4f ? 1.f : 0.f;
    for (int64_t i = 0; i < n; ++i) idx.push_back(500 + 7 * i);  // global indices key the noise
  }
  Batch batch() const { return {x.data(), idx.data(), n}; }
};

// With the same noise key, the training objective's bound of a point is the
// evaluator's importance-sampled log p(x) with K samples: one estimator, two uses.
TEST(Iwae, BoundIsTheEvaluatorsEstimateForTheSameNoise) {
  Small f;
  for (int K : {1, 5, 16}) {
    Sgvb iw(*f.m, Estimator::kA, K, Objective::kIwae);
    std::vector<PointElbo> e(static_cast<size_t>(f.n));
    iw.evaluate(f.batch(), {21, Purpose::kImportance, 0}, e.data());
    ImportanceSampler is(*f.m, Proposal::kPosterior, {K}, 21, 64);
    std::vector<double> out(static_cast<size_t>(f.n));
    is.run(f.x.data(), f.idx.data(), f.n, out.data());
    for (int64_t i = 0; i < f.n; ++i)
      EXPECT_NEAR(e[static_cast<size_t>(i)].elbo, out[static_cast<size_t>(i)], 1e-6 * std::abs(out[static_cast<size_t>(i)]))
          << "K " << K << " point " << i;
  }
}

// log 1/K sum_k w_k >= 1/K sum_k log w_k for the same samples (Jensen): the
// bound is never below the K-sample ELBO (rec - kl), and equals it at K = 1.
TEST(Iwae, BoundIsAtLeastTheElboOfTheSameSamples) {
  Small f;
  for (int K : {1, 2, 8}) {
    Sgvb iw(*f.m, Estimator::kA, K, Objective::kIwae);
    std::vector<PointElbo> e(static_cast<size_t>(f.n));
    iw.evaluate(f.batch(), {3, Purpose::kLatentNoise, 2}, e.data());
    for (const PointElbo& p : e) {
      if (K == 1) EXPECT_EQ(p.elbo, p.rec - p.kl);
      else EXPECT_GT(p.elbo, p.rec - p.kl);
    }
  }
}

// K = 1 is estimator A with L = 1: the same loss and the same gradient, bit for bit.
TEST(Iwae, KEqualsOneIsEstimatorA) {
  Small f;
  Sgvb a(*f.m, Estimator::kA, 1), iw(*f.m, Estimator::kA, 1, Objective::kIwae);
  const SgvbNoise noise{5, Purpose::kLatentNoise, 9};
  const ElboSums sa = a.forward(f.batch(), noise, 3.f);
  a.backward_decoder();
  a.backward_encoder();
  const std::vector<float> ga(f.m->grads.begin(), f.m->grads.end());
  const ElboSums si = iw.forward(f.batch(), noise, 3.f);
  iw.backward_decoder();
  iw.backward_encoder();
  EXPECT_EQ(sa.elbo, si.elbo);
  EXPECT_EQ(ga, std::vector<float>(f.m->grads.begin(), f.m->grads.end()));
}

// On probabilistic PCA with the encoder at the exact posterior every weight is
// p(x): the bound is the closed-form log p(x) for every K.
TEST(Iwae, ExactPosteriorGivesTheExactLogLikelihood) {
  Ppca p;
  const int64_t n = 12;
  const auto x = p.sample(n);
  const auto idx = iota(n);
  for (int K : {1, 3, 20}) {
    Sgvb iw(*p.m, Estimator::kA, K, Objective::kIwae);
    std::vector<PointElbo> e(static_cast<size_t>(n));
    iw.evaluate({x.data(), idx.data(), n}, {4, Purpose::kLatentNoise, 0}, e.data());
    for (int64_t i = 0; i < n; ++i) {
      const double exact = p.exact_log_px(x.data() + i * Ppca::D);
      EXPECT_NEAR(e[static_cast<size_t>(i)].elbo, exact, 1e-4 * std::abs(exact) + 1e-5) << "K " << K << " point " << i;
    }
  }
}

// The weights forward() gives the samples are the normalized importance
// weights times the loss scale: a point's weights add up to the scale, and the
// sample with the largest log weight gets the largest share.
TEST(Iwae, SampleWeightsAreNormalizedImportanceWeights) {
  Small f;
  const int K = 6;
  const float scale = 2.5f;
  Sgvb iw(*f.m, Estimator::kA, K, Objective::kIwae);
  iw.forward(f.batch(), {11, Purpose::kLatentNoise, 1}, scale);
  const std::vector<double>& lw = iw.sample_log_weights();
  // The decoder gradient with explicit softmax weights equals the one forward() set.
  iw.backward_decoder();
  const std::vector<float> g_auto(f.m->grads.begin() + f.m->decoder_begin(), f.m->grads.end());
  std::vector<float> w(static_cast<size_t>(f.n * K));
  for (int64_t i = 0; i < f.n; ++i) {
    double mx = -INFINITY, sum = 0;
    for (int k = 0; k < K; ++k) mx = std::max(mx, lw[static_cast<size_t>(i * K + k)]);
    for (int k = 0; k < K; ++k) sum += std::exp(lw[static_cast<size_t>(i * K + k)] - mx);
    double total = 0;
    for (int k = 0; k < K; ++k) {
      w[static_cast<size_t>(i * K + k)] = static_cast<float>(scale * std::exp(lw[static_cast<size_t>(i * K + k)] - mx) / sum);
      total += w[static_cast<size_t>(i * K + k)];
    }
    EXPECT_NEAR(total, scale, 1e-5);
  }
  iw.forward(f.batch(), {11, Purpose::kLatentNoise, 1}, scale);
  iw.set_sample_weights(w.data());
  iw.backward_decoder();
  for (size_t j = 0; j < g_auto.size(); ++j)
    EXPECT_NEAR(f.m->grads[static_cast<size_t>(f.m->decoder_begin()) + j], g_auto[j], 1e-6 + 1e-6 * std::abs(g_auto[j]));
  // Uniform weights (the ELBO's) give another gradient: the weights matter.
  std::fill(w.begin(), w.end(), scale / K);
  iw.forward(f.batch(), {11, Purpose::kLatentNoise, 1}, scale);
  iw.set_sample_weights(w.data());
  iw.backward_decoder();
  double diff = 0;
  for (size_t j = 0; j < g_auto.size(); ++j) diff += std::abs(f.m->grads[static_cast<size_t>(f.m->decoder_begin()) + j] - g_auto[j]);
  EXPECT_GT(diff, 1e-3);
}

TEST(Iwae, NeedsEstimatorA) {
  Small f;
  EXPECT_THROW(Sgvb(*f.m, Estimator::kB, 5, Objective::kIwae), Error);
}

}  // namespace
}  // namespace aevb
