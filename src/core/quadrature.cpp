// log p(x) by the midpoint rule on a grid (J <= 3): core/mcmc_estimators.hpp.
#include <algorithm>
#include <cassert>
#include <cmath>

#include "aevb/core/importance_sampling.hpp"
#include "aevb/core/likelihood.hpp"
#include "aevb/core/mcmc_estimators.hpp"

namespace aevb {

namespace {
constexpr double kLog2Pi = 1.8378770664093453;
}  // namespace

QuadratureEstimator::QuadratureEstimator(Vae& model, const QuadratureConfig& cfg) : m_(model), cfg_(cfg) {
  assert(model.spec().latent <= 3 && cfg.points_per_dim >= 2 && cfg.chunk_rows >= 1);
}

namespace {
struct Box {
  std::vector<double> lo, h;  // per dimension: the lower edge and the cell width
};
struct Integral {
  double log_px = 0, edge_fraction = 0;
  std::vector<double> mean, sd;  // of the posterior, from the grid
};
}  // namespace

// p(x) = int p(z) p(x|z) dz over a box, as the sum of the integrand at the
// cells' midpoints times the cell volume. The integrand is smooth, so the rule
// converges fast once the box holds the posterior's mass; the mass of the
// outermost cells says whether it does. The box starts at mu_q +- width
// sigma_q and, while the edge holds more than 1e-4 of the mass (a posterior
// wider than q(z|x), or away from it), is recentred on the posterior mean
// found so far and doubled, up to 8 times (256 x the first box). A mode outside
// every box is missed: edge_fraction is what is left to see; a mode narrower
// than the grid's cells is not resolved: resolution (the change when the grid
// is shifted by half a cell, one more pass) shows it.
void QuadratureEstimator::run(const float* x, int64_t n, QuadraturePoint* out) {
  const int64_t J = m_.spec().latent, D = m_.spec().x_dim, K = cfg_.points_per_dim, R = cfg_.chunk_rows;
  int64_t cells = 1;
  for (int64_t j = 0; j < J; ++j) cells *= K;
  DecoderLikelihood lik(m_.spec());
  std::vector<float> z(static_cast<size_t>(R * J));
  std::vector<double> ll(static_cast<size_t>(R));
  // offset 0.5: the cells' midpoints; 0: their corners (the rule shifted by half a cell).
  auto integrate = [&](const float* xi, const Box& b, double offset) {
    Integral g;
    double log_volume = 0;
    for (int64_t j = 0; j < J; ++j) log_volume += std::log(b.h[static_cast<size_t>(j)]);
    std::vector<double> w(static_cast<size_t>(cells));
    for (int64_t c0 = 0; c0 < cells; c0 += R) {
      const int64_t used = std::min(R, cells - c0);
      for (int64_t r = 0; r < R; ++r) {
        int64_t c = c0 + (r < used ? r : 0);  // padding rows: any cell, never counted
        for (int64_t j = 0; j < J; ++j, c /= K)
          z[static_cast<size_t>(r * J + j)] = static_cast<float>(
              b.lo[static_cast<size_t>(j)] + (static_cast<double>(c % K) + offset) * b.h[static_cast<size_t>(j)]);
      }
      const float* dec = m_.decoder.forward(z.data(), R);
      lik.log_prob(xi, R, dec, R, ll.data());  // all R rows belong to point 0 (xi)
      decoder_rows_ += used;
      for (int64_t r = 0; r < used; ++r) {
        double v = ll[static_cast<size_t>(r)];
        for (int64_t j = 0; j < J; ++j) {
          const double zj = z[static_cast<size_t>(r * J + j)];
          v -= 0.5 * (kLog2Pi + zj * zj);
        }
        w[static_cast<size_t>(c0 + r)] = v;
      }
    }
    LogSumExp all, edge;
    for (int64_t c = 0; c < cells; ++c) all.add(w[static_cast<size_t>(c)]);
    g.mean.assign(static_cast<size_t>(J), 0.0);
    g.sd.assign(static_cast<size_t>(J), 0.0);
    std::vector<double> m2(static_cast<size_t>(J), 0.0);
    for (int64_t c = 0; c < cells; ++c) {
      const double p = std::exp(w[static_cast<size_t>(c)] - all.value());  // the cell's posterior mass
      bool on_edge = false;
      int64_t cc = c;
      for (int64_t j = 0; j < J; ++j, cc /= K) {
        const double zj = b.lo[static_cast<size_t>(j)] + (static_cast<double>(cc % K) + offset) * b.h[static_cast<size_t>(j)];
        g.mean[static_cast<size_t>(j)] += p * zj;
        m2[static_cast<size_t>(j)] += p * zj * zj;
        on_edge = on_edge || cc % K == 0 || cc % K == K - 1;
      }
      if (on_edge) edge.add(w[static_cast<size_t>(c)]);
    }
    for (int64_t j = 0; j < J; ++j)
      g.sd[static_cast<size_t>(j)] =
          std::sqrt(std::max(0.0, m2[static_cast<size_t>(j)] - g.mean[static_cast<size_t>(j)] * g.mean[static_cast<size_t>(j)]));
    g.log_px = all.value() + log_volume;
    g.edge_fraction = edge.sum > 0 ? std::exp(edge.value() - all.value()) : 0.0;
    return g;
  };
  for (int64_t i = 0; i < n; ++i) {
    const float* xi = x + i * D;
    const float* enc = m_.encoder.forward(xi, 1);
    Box b;
    std::vector<double> half(static_cast<size_t>(J));
    for (int64_t j = 0; j < J; ++j) {
      half[static_cast<size_t>(j)] = cfg_.width * std::exp(0.5 * double(enc[J + j]));
      b.lo.push_back(enc[j] - half[static_cast<size_t>(j)]);
      b.h.push_back(2 * half[static_cast<size_t>(j)] / static_cast<double>(K));
    }
    Integral g = integrate(xi, b, 0.5);
    for (int pass = 0; pass < 8 && g.edge_fraction > 1e-4; ++pass) {
      for (int64_t j = 0; j < J; ++j) {
        half[static_cast<size_t>(j)] *= 2;
        b.lo[static_cast<size_t>(j)] = g.mean[static_cast<size_t>(j)] - half[static_cast<size_t>(j)];
        b.h[static_cast<size_t>(j)] = 2 * half[static_cast<size_t>(j)] / static_cast<double>(K);
      }
      g = integrate(xi, b, 0.5);
    }
    out[i].log_px = g.log_px;
    out[i].edge_fraction = g.edge_fraction;
    // The same rule shifted by half a cell: an independent sample of the grid.
    out[i].resolution = std::abs(g.log_px - integrate(xi, b, 0.0).log_px);
  }
}

}  // namespace aevb
