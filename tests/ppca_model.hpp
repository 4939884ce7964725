// Test models with a known likelihood, shared by the evaluator's and the
// importance-weighted objective's tests: probabilistic PCA as a linear VAE.
#pragma once
#include <cmath>
#include <memory>
#include <vector>

#include "aevb/base/rng.hpp"
#include "aevb/core/importance_sampling.hpp"
#include "aevb/core/likelihood.hpp"
#include "aevb/core/vae.hpp"

namespace aevb::testing {

constexpr double kLog2Pi = 1.8378770664093453;

// Row-major [in x out] weight block (i, o) and bias o of layer `l` of an Mlp.
inline float& weight(Vae& m, Mlp& net, size_t l, int64_t i, int64_t o) {
  return m.params[static_cast<size_t>(net.weight_offset(l) + i * net.sizes()[l + 1] + o)];
}
inline float& bias(Vae& m, Mlp& net, size_t l, int64_t o) {
  return m.params[static_cast<size_t>(net.bias_offset(l) + o)];
}

// Probabilistic PCA as a linear VAE: p(z) = N(0, I), p(x|z) = N(Wz + b, s2 I).
// W has orthogonal columns, so the true posterior N(A(x - b), diag(1/m_j)),
// m_j = 1 + |w_j|^2 / s2, A = diag(1/m) W^T / s2, is exactly representable by
// the linear diagonal-Gaussian encoder.
struct Ppca {
  static constexpr int64_t D = 5, J = 2;
  double W[D][J], b[D], s2 = 0.3;
  std::unique_ptr<Vae> m;

  Ppca() {
    // Two orthogonal columns (w0 . w1 = 0) of different lengths.
    const double w0[D] = {1.0, 0.5, -0.5, 0.2, 0.0}, w1[D] = {0.5, -1.0, 0.0, 0.0, 0.7};
    for (int64_t d = 0; d < D; ++d) W[d][0] = w0[d], W[d][1] = w1[d], b[d] = 0.1 * static_cast<double>(d) - 0.2;
    ModelSpec s;
    s.x_dim = D;
    s.hidden = {};
    s.latent = J;
    s.decoder = DecoderKind::kGaussian;
    s.gaussian_sigmoid_mean = false;
    m = std::make_unique<Vae>(s);
    std::fill(m->params.begin(), m->params.end(), 0.f);
    for (int64_t d = 0; d < D; ++d) {
      for (int64_t j = 0; j < J; ++j) weight(*m, m->decoder, 0, j, d) = static_cast<float>(W[d][j]);
      bias(*m, m->decoder, 0, d) = static_cast<float>(b[d]);
      bias(*m, m->decoder, 0, D + d) = static_cast<float>(std::log(s2));
    }
    set_encoder(1.0, 0.0);
  }
  double mj(int64_t j) const {
    double n = 0;
    for (int64_t d = 0; d < D; ++d) n += W[d][j] * W[d][j];
    return 1 + n / s2;
  }
  // The exact posterior, its mean scaled by mu_scale and its log-variance shifted by lv_shift.
  void set_encoder(double mu_scale, double lv_shift) {
    for (int64_t j = 0; j < J; ++j) {
      double bj = 0;
      for (int64_t d = 0; d < D; ++d) {
        const double a = mu_scale * W[d][j] / (s2 * mj(j));
        weight(*m, m->encoder, 0, d, j) = static_cast<float>(a);
        bj -= a * b[d];
      }
      bias(*m, m->encoder, 0, j) = static_cast<float>(bj);
      bias(*m, m->encoder, 0, J + j) = static_cast<float>(-std::log(mj(j)) + lv_shift);
    }
  }
  // n points drawn from the model: x = W z + b + sqrt(s2) eps.
  std::vector<float> sample(int64_t n) const {
    std::vector<float> x(static_cast<size_t>(n * D)), z(static_cast<size_t>(n * J));
    normals({99, Purpose::kInit, 0, 0, 0}, x.data(), static_cast<int64_t>(x.size()));
    normals({99, Purpose::kInit, 0, 1, 0}, z.data(), static_cast<int64_t>(z.size()));
    for (int64_t i = 0; i < n; ++i)
      for (int64_t d = 0; d < D; ++d) {
        double v = b[d] + std::sqrt(s2) * x[static_cast<size_t>(i * D + d)];
        for (int64_t j = 0; j < J; ++j) v += W[d][j] * z[static_cast<size_t>(i * J + j)];
        x[static_cast<size_t>(i * D + d)] = static_cast<float>(v);
      }
    return x;
  }
  // log N(x; b, W W^T + s2 I) in double (Cholesky).
  double exact_log_px(const float* x) const {
    double C[D][D], L[D][D] = {};
    for (int64_t i = 0; i < D; ++i)
      for (int64_t k = 0; k < D; ++k) {
        C[i][k] = (i == k ? s2 : 0.0);
        for (int64_t j = 0; j < J; ++j) C[i][k] += W[i][j] * W[k][j];
      }
    for (int64_t i = 0; i < D; ++i)
      for (int64_t k = 0; k <= i; ++k) {
        double s = C[i][k];
        for (int64_t t = 0; t < k; ++t) s -= L[i][t] * L[k][t];
        L[i][k] = i == k ? std::sqrt(s) : s / L[k][k];
      }
    double y[D], logdet = 0, quad = 0;
    for (int64_t i = 0; i < D; ++i) {  // solve L y = x - b
      double s = x[i] - b[i];
      for (int64_t t = 0; t < i; ++t) s -= L[i][t] * y[t];
      y[i] = s / L[i][i];
      quad += y[i] * y[i];
      logdet += 2 * std::log(L[i][i]);
    }
    return -0.5 * (static_cast<double>(D) * kLog2Pi + logdet + quad);
  }
};

// A Bernoulli decoder with a 2-D latent (6-8-2) and real posterior structure,
// its encoder shrunk to a broad, roughly prior-like proposal, and n binary points.
struct Bernoulli2d {
  ModelSpec spec;
  std::unique_ptr<Vae> m;
  std::vector<float> x;
  explicit Bernoulli2d(int64_t n) {
    spec.x_dim = 6;
    spec.hidden = {8};
    spec.latent = 2;
    m = std::make_unique<Vae>(spec);
    init_params(*m, InitScheme::kNormal, 0.8f, 3);
    for (int64_t i = m->encoder.weight_offset(0); i < m->decoder_begin(); ++i) m->params[static_cast<size_t>(i)] *= 0.2f;
    x.resize(static_cast<size_t>(n * spec.x_dim));
    for (int64_t i = 0; i < n * spec.x_dim; ++i) x[static_cast<size_t>(i)] = ((i * 7 + i / 5) % 3 == 0) ? 1.f : 0.f;
  }
  // log p(x) of each point by the midpoint rule over [-7, 7]^2, spacing 0.04
  // (the integrand is smooth and decays like the prior), log-sum-exp in double.
  std::vector<double> grid_log_px() {
    const double h = 0.04, lo = -7;
    const int64_t K = static_cast<int64_t>(14 / h), D = spec.x_dim, n = static_cast<int64_t>(x.size()) / D;
    std::vector<float> z(static_cast<size_t>(K * K * 2));
    for (int64_t a = 0; a < K; ++a)
      for (int64_t c = 0; c < K; ++c) {
        z[static_cast<size_t>(2 * (a * K + c))] = static_cast<float>(lo + (a + 0.5) * h);
        z[static_cast<size_t>(2 * (a * K + c) + 1)] = static_cast<float>(lo + (c + 0.5) * h);
      }
    const float* dec = m->decoder.forward(z.data(), K * K);
    const std::vector<float> logits(dec, dec + K * K * D);
    DecoderLikelihood lik(spec);
    std::vector<double> ll(static_cast<size_t>(K * K)), out(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      lik.log_prob(x.data() + i * D, K * K, logits.data(), K * K, ll.data());
      LogSumExp acc;
      for (int64_t g = 0; g < K * K; ++g) {
        const double z0 = z[static_cast<size_t>(2 * g)], z1 = z[static_cast<size_t>(2 * g + 1)];
        acc.add(ll[static_cast<size_t>(g)] - kLog2Pi - 0.5 * (z0 * z0 + z1 * z1));
      }
      out[static_cast<size_t>(i)] = acc.value() + 2 * std::log(h);
    }
    return out;
  }
};

inline std::vector<int64_t> iota(int64_t n) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = i;
  return v;
}
}  // namespace aevb::testing
