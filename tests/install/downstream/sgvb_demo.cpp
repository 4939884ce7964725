// Uses an installed aevb: builds a small VAE (16-8-2, Bernoulli decoder) and
// prints the SGVB estimate (estimator B, L = 1) of the ELBO per point on four
// binary points. With the N(0, 0.01^2) initialization the decoder's logits are
// ~0, so the ELBO is close to 16 log(1/2) = -11.09 nats per point.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "aevb/core/dnnl_context.hpp"
#include "aevb/core/sgvb.hpp"
#include "aevb/core/vae.hpp"

int main() {
  aevb::set_compute_threads(1);
  aevb::ModelSpec spec;
  spec.x_dim = 16;
  spec.hidden = {8};
  spec.latent = 2;
  aevb::Vae vae(spec);
  aevb::init_params(vae, aevb::InitScheme::kNormal, 0.01f, 42);

  const int64_t n = 4;
  std::vector<float> x(n * spec.x_dim);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>((i * 7 + i / 5) % 2);
  std::vector<int64_t> index{0, 1, 2, 3};
  aevb::Sgvb sgvb(vae, aevb::Estimator::kB, 1);
  const aevb::ElboSums s = sgvb.evaluate({x.data(), index.data(), n}, {1, aevb::Purpose::kEvalLatentNoise, 0});

  const double per_point = s.elbo / static_cast<double>(s.points);
  std::printf("aevb downstream: %lld parameters, ELBO %.6f nats per point over %lld points\n",
              static_cast<long long>(vae.num_params()), per_point, static_cast<long long>(s.points));
  const double expected = 16 * std::log(0.5);
  if (!std::isfinite(per_point) || s.points != n || std::fabs(per_point - expected) > 0.5) {
    std::fprintf(stderr, "unexpected ELBO %f (expected about %f)\n", per_point, expected);
    return 1;
  }
  return 0;
}
