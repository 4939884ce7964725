#include "aevb/core/model_use.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "aevb/base/error.hpp"

namespace aevb {

void encode_rows(Vae& m, const float* x, int64_t rows, float* mu, float* logvar) {
  const int64_t J = m.spec().latent;
  const float* out = m.encoder.forward(x, rows);  // rows x [mu | logvar]
  for (int64_t r = 0; r < rows; ++r) {
    std::memcpy(mu + r * J, out + r * 2 * J, sizeof(float) * J);
    std::memcpy(logvar + r * J, out + r * 2 * J + J, sizeof(float) * J);
  }
}

void decode_means(Vae& m, const float* z, int64_t rows, float* mean, float* logvar) {
  const ModelSpec& s = m.spec();
  const int64_t D = s.x_dim;
  const float* out = m.decoder.forward(z, rows);
  const bool bern = s.decoder == DecoderKind::kBernoulli;
  const int64_t stride = bern ? D : 2 * D;
  for (int64_t r = 0; r < rows; ++r) {
    const float* o = out + r * stride;
    float* y = mean + r * D;
    if (bern || s.gaussian_sigmoid_mean) {
      for (int64_t d = 0; d < D; ++d) y[d] = 1.f / (1.f + std::exp(-o[d]));
    } else {
      std::memcpy(y, o, sizeof(float) * D);
    }
    if (!bern && logvar) std::memcpy(logvar + r * D, o + D, sizeof(float) * D);
  }
}

double normal_quantile(double p) {
  if (!(p > 0 && p < 1)) throw usage_error("normal_quantile: p must lie in (0, 1)");
  // Start: the logistic approximation, good to ~0.1; then Newton on
  // Phi(x) - p with Phi(x) = erfc(-x / sqrt 2) / 2, which converges
  // quadratically (a few steps to double precision).
  double x = std::log(p / (1 - p)) / 1.702;
  for (int it = 0; it < 50; ++it) {
    const double cdf = 0.5 * std::erfc(-x / std::sqrt(2.0));
    const double pdf = std::exp(-0.5 * x * x) / std::sqrt(2 * M_PI);
    if (pdf < 1e-300) break;
    const double step = (cdf - p) / pdf;
    x -= std::clamp(step, -1.0, 1.0);
    if (std::abs(step) < 1e-15 * std::max(1.0, std::abs(x))) break;
  }
  return x;
}

std::vector<float> manifold_grid(int64_t latent, int64_t n, int64_t dim_a, int64_t dim_b) {
  if (latent < 2 || dim_a == dim_b || dim_a < 0 || dim_b < 0 || dim_a >= latent || dim_b >= latent)
    throw usage_error("manifold_grid: needs two different latent dimensions below " + std::to_string(latent));
  std::vector<double> q(n);
  for (int64_t i = 0; i < n; ++i) q[i] = normal_quantile((i + 0.5) / n);
  std::vector<float> z(n * n * latent, 0.f);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      float* row = z.data() + (i * n + j) * latent;
      row[dim_a] = static_cast<float>(q[n - 1 - i]);  // top row = largest value, as on a plot's y axis
      row[dim_b] = static_cast<float>(q[j]);
    }
  return z;
}

void interpolate_latents(const float* a, const float* b, int64_t latent, int64_t steps, bool spherical, float* out) {
  double na = 0, nb = 0, dot = 0;
  for (int64_t j = 0; j < latent; ++j) {
    na += double(a[j]) * a[j];
    nb += double(b[j]) * b[j];
    dot += double(a[j]) * b[j];
  }
  na = std::sqrt(na);
  nb = std::sqrt(nb);
  const double cosw = (na > 0 && nb > 0) ? std::clamp(dot / (na * nb), -1.0, 1.0) : 1.0;
  const double omega = std::acos(cosw);
  const bool slerp = spherical && std::sin(omega) > 1e-6;
  for (int64_t s = 0; s < steps; ++s) {
    const double t = double(s) / double(steps - 1);
    float* o = out + s * latent;
    if (!slerp) {
      for (int64_t j = 0; j < latent; ++j) o[j] = static_cast<float>(a[j] + t * (double(b[j]) - a[j]));
      continue;
    }
    // Direction by slerp of the unit vectors, length linear between the norms:
    // keeps the path in the prior's typical shell instead of cutting through
    // its low-density centre as the chord does.
    const double wa = std::sin((1 - t) * omega) / std::sin(omega), wb = std::sin(t * omega) / std::sin(omega);
    const double len = (1 - t) * na + t * nb;
    for (int64_t j = 0; j < latent; ++j) o[j] = static_cast<float>(len * (wa * a[j] / na + wb * b[j] / nb));
  }
}

}  // namespace aevb
