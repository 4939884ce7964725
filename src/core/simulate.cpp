// Data simulated from a trained model: core/mcmc_estimators.hpp.
#include <cmath>
#include <vector>

#include "aevb/base/rng.hpp"
#include "aevb/core/mcmc_estimators.hpp"

namespace aevb {

void simulate_from_model(Vae& m, uint64_t seed, const int64_t* index, int64_t n, float* x, float* z) {
  const ModelSpec& s = m.spec();
  const int64_t D = s.x_dim, J = s.latent;
  std::vector<float> u(static_cast<size_t>(D));
  for (int64_t i = 0; i < n; ++i) {
    const auto g = static_cast<uint64_t>(index[i]);
    float* zi = z + i * J;
    float* xi = x + i * D;
    normals({seed, Purpose::kSimulate, 0, g, 0}, zi, J);
    const float* out = m.decoder.forward(zi, 1);
    if (s.decoder == DecoderKind::kBernoulli) {
      uniforms({seed, Purpose::kSimulate, 1, g, 0}, u.data(), D);
      for (int64_t d = 0; d < D; ++d) xi[d] = u[static_cast<size_t>(d)] < 1.0 / (1.0 + std::exp(-double(out[d]))) ? 1.f : 0.f;
    } else {
      normals({seed, Purpose::kSimulate, 1, g, 0}, u.data(), D);
      for (int64_t d = 0; d < D; ++d) {
        const double mean = s.gaussian_sigmoid_mean ? 1.0 / (1.0 + std::exp(-double(out[d]))) : double(out[d]);
        xi[d] = static_cast<float>(mean + std::exp(0.5 * double(out[D + d])) * u[static_cast<size_t>(d)]);
      }
    }
  }
}

}  // namespace aevb
