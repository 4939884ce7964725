#include "aevb/core/conditional.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "aevb/base/error.hpp"
#include "aevb/base/rng.hpp"
#include "aevb/core/importance_sampling.hpp"
#include "aevb/core/model_use.hpp"

namespace aevb {

namespace {

constexpr double kLog2Pi = 1.8378770664093453;
// Decoder rows per call when a group's samples are split into blocks: large
// enough for the GEMMs to run near their peak, small enough for the L2/L3.
constexpr int64_t kRowsPerCall = 1024;

double softplus(double l) { return std::max(l, 0.0) + std::log1p(std::exp(-std::abs(l))); }
double sigmoid(double l) { return 1.0 / (1.0 + std::exp(-l)); }

// log N(z; 0, I) - log N(z; mu, exp(lv)), the prior-over-proposal part of a weight.
double log_prior_over_q(const float* z, const float* mu, const float* lv, int64_t J) {
  double s = 0;
  for (int64_t j = 0; j < J; ++j) {
    const double e = (double(z[j]) - mu[j]) * std::exp(-0.5 * double(lv[j]));
    s += -0.5 * double(z[j]) * z[j] + 0.5 * e * e + 0.5 * double(lv[j]);
  }
  return s;
}

int64_t out_stride(const ModelSpec& s) { return s.decoder == DecoderKind::kBernoulli ? s.x_dim : 2 * s.x_dim; }

// Rows of z = mu + sigma * eps for points [0, G), samples [k0, k0 + kb): row g * kb + i.
void draw_z(const float* mu, const float* lv, int64_t G, int64_t J, const int64_t* index, int64_t k0, int64_t kb,
            const NoiseKey& base, float* z) {
  for (int64_t g = 0; g < G; ++g)
    for (int64_t i = 0; i < kb; ++i) {
      NoiseKey key = base;
      key.index = uint64_t(index[g]);
      key.sample = uint32_t(k0 + i);
      float* row = z + (g * kb + i) * J;
      normals(key, row, J);
      for (int64_t j = 0; j < J; ++j)
        row[j] = mu[g * J + j] + std::exp(0.5f * lv[g * J + j]) * row[j];
    }
}

}  // namespace

void masked_log_prob(const ModelSpec& s, const float* x, const uint8_t* include, int64_t K, const float* out,
                     int64_t R, double* ll) {
  const int64_t D = s.x_dim, stride = out_stride(s);
  for (int64_t r = 0; r < R; ++r) {
    const float* xp = x + (r / K) * D;
    const uint8_t* in = include ? include + (r / K) * D : nullptr;
    const float* o = out + r * stride;
    double sum = 0;
    if (s.decoder == DecoderKind::kBernoulli) {
      for (int64_t d = 0; d < D; ++d)
        if (!in || in[d]) sum += double(xp[d]) * o[d] - softplus(o[d]);
    } else {
      for (int64_t d = 0; d < D; ++d) {
        if (in && !in[d]) continue;
        const double mean = s.gaussian_sigmoid_mean ? sigmoid(o[d]) : o[d], lv = o[D + d];
        const double e = xp[d] - mean;
        sum += -0.5 * (kLog2Pi + lv + e * e * std::exp(-lv));
      }
    }
    ll[r] = sum;
  }
}

void masked_log_marginal(Vae& m, const float* x_enc, int64_t M, const float* x, const uint8_t* include, int64_t G,
                         const int64_t* index, int64_t K, uint64_t seed, uint64_t step, double* logp, double* se) {
  const int64_t J = m.spec().latent;
  // The mixture's components: rows g * M + c.
  std::vector<float> mu(G * M * J), lv(G * M * J);
  encode_rows(m, x_enc, G * M, mu.data(), lv.data());
  const int64_t kb = std::max<int64_t>(1, std::min(K, kRowsPerCall / std::max<int64_t>(G, 1)));
  std::vector<float> z(G * kb * J), eps(J);
  std::vector<double> ll(G * kb), w(G * K);
  for (int64_t k0 = 0; k0 < K; k0 += kb) {
    const int64_t n = std::min(kb, K - k0);
    // Rows g * n + i: a block of n samples per point, sample k from component k mod M.
    for (int64_t g = 0; g < G; ++g)
      for (int64_t i = 0; i < n; ++i) {
        const int64_t c = (k0 + i) % M;
        normals({seed, Purpose::kConditional, step, uint64_t(index[g]), uint32_t(k0 + i)}, eps.data(), J);
        for (int64_t j = 0; j < J; ++j) {
          const int64_t q = (g * M + c) * J + j;
          z[(g * n + i) * J + j] = mu[q] + std::exp(0.5f * lv[q]) * eps[j];
        }
      }
    const float* out = m.decoder.forward(z.data(), G * n);
    masked_log_prob(m.spec(), x, include, n, out, G * n, ll.data());
    for (int64_t g = 0; g < G; ++g)
      for (int64_t i = 0; i < n; ++i) {
        // log p(z) - log (1/M) sum_c q_c(z), each log p(z) - log q_c(z) from the shared helper.
        // The mixture actually sampled: component c draws n_c of the K samples,
        // r(z) = sum_c (n_c / K) q_c(z) (equal weights only when M divides K).
        const float* zr = z.data() + (g * n + i) * J;
        LogSumExp q;
        for (int64_t c = 0; c < M; ++c) {
          const int64_t n_c = K / M + (c < K % M ? 1 : 0);
          if (n_c == 0) continue;
          // -log_prior_over_q = log q_c(z) - log p(z)
          q.add(std::log(double(n_c)) - log_prior_over_q(zr, &mu[(g * M + c) * J], &lv[(g * M + c) * J], J));
        }
        w[g * K + k0 + i] = ll[g * n + i] - (q.value() - std::log(double(K)));
      }
  }
  for (int64_t g = 0; g < G; ++g) {
    const LogMeanExp e = log_mean_exp(w.data() + g * K, K);
    logp[g] = e.value;
    if (se) se[g] = e.se;
  }
}

InpaintResult inpaint(Vae& m, const float* x, const uint8_t* observed, int64_t G, const int64_t* index,
                      const InpaintOptions& o) {
  const ModelSpec& s = m.spec();
  const int64_t D = s.x_dim, J = s.latent, stride = out_stride(s);
  const bool bern = s.decoder == DecoderKind::kBernoulli;
  InpaintResult res;
  res.imputed.assign(G * D, 0.f);
  res.accept.assign(G, 0.0);
  // Start the missing pixels at the decoder's mean at z = 0 (the model's
  // "typical" image), the same for every point: no information leaks in.
  std::vector<float> zero(J, 0.f), start(D);
  decode_means(m, zero.data(), 1, start.data());
  std::vector<float> xhat(x, x + G * D);
  for (int64_t g = 0; g < G; ++g)
    for (int64_t d = 0; d < D; ++d)
      if (!observed[g * D + d]) xhat[g * D + d] = start[d];

  std::vector<float> mu(G * J), lv(G * J), zt(G * J), z(G * J), out_cur(G * stride), u(G), draw(D);
  std::vector<double> ll_t(G), ll_cur(G);
  std::vector<int64_t> accepted(G, 0);
  // Completions kept at M evenly spaced sweeps after the burn-in.
  const int64_t M = std::max<int64_t>(1, std::min(o.keep_draws, std::max<int64_t>(1, o.iterations - o.burn_in)));
  res.draws.assign(G * M * D, 0.f);
  const int64_t span = std::max<int64_t>(1, o.iterations - o.burn_in);
  int64_t kept_draws = 0;
  for (int64_t t = 0; t <= o.iterations; ++t) {
    encode_rows(m, xhat.data(), G, mu.data(), lv.data());
    draw_z(mu.data(), lv.data(), G, J, index, 0, 1, {o.seed, Purpose::kInpaint, uint64_t(3 * t), 0, 0}, zt.data());
    // The current state scored against the current completion x^ (its x_miss
    // changed since z was accepted), then the proposal: both log p(x^ | z).
    if (t > 0 && o.metropolis) masked_log_prob(s, xhat.data(), nullptr, 1, out_cur.data(), G, ll_cur.data());
    const float* out = m.decoder.forward(zt.data(), G);
    masked_log_prob(s, xhat.data(), nullptr, 1, out, G, ll_t.data());
    for (int64_t g = 0; g < G; ++g) {
      bool take = true;
      // t = 0 initializes the chain; afterwards Metropolis compares the
      // proposal and the current state under the SAME proposal q(.|x^).
      if (t > 0 && o.metropolis) {
        const double lr = (ll_t[g] + log_prior_over_q(&zt[g * J], &mu[g * J], &lv[g * J], J)) -
                          (ll_cur[g] + log_prior_over_q(&z[g * J], &mu[g * J], &lv[g * J], J));
        uniforms({o.seed, Purpose::kInpaint, uint64_t(3 * t + 1), uint64_t(index[g]), 0}, &u[g], 1);
        take = std::log(double(u[g])) < lr;  // log 0 = -inf: u = 0 always accepts, as it should
      }
      if (take) {
        std::memcpy(&z[g * J], &zt[g * J], sizeof(float) * J);
        std::memcpy(&out_cur[g * stride], out + g * stride, sizeof(float) * stride);
        ll_cur[g] = ll_t[g];
        if (t > 0) ++accepted[g];
      }
      // x_miss ~ p(x_miss | z): Bernoulli draws or Gaussian draws around the mean.
      const float* oc = &out_cur[g * stride];
      NoiseKey key{o.seed, Purpose::kInpaint, uint64_t(3 * t + 2), uint64_t(index[g]), 0};
      if (bern) uniforms(key, draw.data(), D); else normals(key, draw.data(), D);
      for (int64_t d = 0; d < D; ++d) {
        if (observed[g * D + d]) continue;
        const double mean = (bern || s.gaussian_sigmoid_mean) ? sigmoid(oc[d]) : oc[d];
        xhat[g * D + d] = bern ? (draw[d] < mean ? 1.f : 0.f)
                               : static_cast<float>(mean + std::exp(0.5 * oc[D + d]) * draw[d]);
        if (t > o.burn_in) res.imputed[g * D + d] += static_cast<float>(mean);
      }
    }
    // Sweep t is kept when it is the m-th of M evenly spaced sweeps in (burn_in, iterations].
    if (t > o.burn_in && kept_draws < M && (t - o.burn_in) * M >= (kept_draws + 1) * span) {
      for (int64_t g = 0; g < G; ++g)
        std::copy_n(&xhat[g * D], D, &res.draws[(g * M + kept_draws) * D]);
      ++kept_draws;
    }
  }
  const double kept = double(std::max<int64_t>(1, o.iterations - o.burn_in));
  res.draw = xhat;
  for (int64_t g = 0; g < G; ++g) {
    res.accept[g] = o.iterations > 0 ? double(accepted[g]) / double(o.iterations) : 0.0;
    for (int64_t d = 0; d < D; ++d)
      res.imputed[g * D + d] = observed[g * D + d] ? x[g * D + d] : static_cast<float>(res.imputed[g * D + d] / kept);
  }
  return res;
}

void corrupt(Corruption c, double level, const float* x, int64_t G, int64_t D, const int64_t* index, uint64_t seed,
             float* y) {
  std::vector<float> n(D);
  for (int64_t g = 0; g < G; ++g) {
    NoiseKey key{seed, Purpose::kCorrupt, 0, uint64_t(index[g]), 0};
    if (c == Corruption::kFlip) uniforms(key, n.data(), D); else normals(key, n.data(), D);
    for (int64_t d = 0; d < D; ++d) {
      const float v = x[g * D + d];
      y[g * D + d] = c == Corruption::kFlip ? (n[d] < level ? 1.f - v : v) : static_cast<float>(v + level * n[d]);
    }
  }
}

void denoise(Vae& m, const float* y, const float* clean, int64_t G, const int64_t* index, const DenoiseOptions& o,
             float* posterior_mean, double* log_p_clean) {
  const ModelSpec& s = m.spec();
  const int64_t D = s.x_dim, J = s.latent, K = o.samples, stride = out_stride(s);
  const bool flip = o.corruption == Corruption::kFlip;
  if (flip != (s.decoder == DecoderKind::kBernoulli))
    throw usage_error("denoise: flip noise needs a Bernoulli decoder, Gaussian noise a Gaussian one");
  const double s2 = o.level * o.level;
  const double loge = flip ? std::log(o.level) : 0.0, log1e = flip ? std::log1p(-o.level) : 0.0;
  std::vector<float> mu(G * J), lv(G * J);
  encode_rows(m, y, G, mu.data(), lv.data());
  const int64_t kb = std::max<int64_t>(1, std::min(K, kRowsPerCall / std::max<int64_t>(G, 1)));
  std::vector<float> z(G * kb * J);
  std::vector<double> acc(G * D, 0.0), post(D), top(G, -std::numeric_limits<double>::infinity()), wsum(G, 0.0);
  std::vector<LogSumExp> num(G), den(G);
  for (int64_t k0 = 0; k0 < K; k0 += kb) {
    const int64_t n = std::min(kb, K - k0);
    draw_z(mu.data(), lv.data(), G, J, index, k0, n, {o.seed, Purpose::kConditional, 0, 0, 0}, z.data());
    const float* out = m.decoder.forward(z.data(), G * n);
    for (int64_t g = 0; g < G; ++g)
      for (int64_t i = 0; i < n; ++i) {
        const int64_t r = g * n + i;
        const float* oc = out + r * stride;
        const float* yp = y + g * D;
        // log p(y|z) and, per pixel, E[x_d | y_d, z]; log p(clean | y, z).
        double lpy = 0, lclean = 0;
        for (int64_t d = 0; d < D; ++d) {
          if (flip) {
            // In logs: a sigmoid saturated to 0 or 1 must not give log 0.
            const double lpi = -softplus(-double(oc[d])), l1pi = -softplus(oc[d]);  // log pi, log (1 - pi)
            const bool one = yp[d] > 0.5f;
            const double la = lpi + (one ? log1e : loge);    // x_d = 1 and this y_d
            const double lb = l1pi + (one ? loge : log1e);   // x_d = 0 and this y_d
            const double lab = std::max(la, lb) + std::log1p(std::exp(-std::abs(la - lb)));
            lpy += lab;
            post[d] = std::exp(la - lab);
            if (clean) lclean += (clean[g * D + d] > 0.5f ? la : lb) - lab;
          } else {
            const double mean = s.gaussian_sigmoid_mean ? sigmoid(oc[d]) : oc[d], v = std::exp(double(oc[D + d]));
            const double e = yp[d] - mean, tv = v + s2;
            lpy += -0.5 * (kLog2Pi + std::log(tv) + e * e / tv);
            post[d] = mean + v / tv * e;
            if (clean) {
              const double pv = v * s2 / tv, c = clean[g * D + d] - post[d];
              lclean += -0.5 * (kLog2Pi + std::log(pv) + c * c / pv);
            }
          }
        }
        const double lw = lpy + log_prior_over_q(z.data() + r * J, &mu[g * J], &lv[g * J], J);
        den[g].add(lw);
        if (clean) num[g].add(lw + lclean);
        // Running weighted mean of E[x | y, z] with a moving reference
        // maximum, so that no weight under- or overflows.
        if (lw > top[g]) {
          const double scale = std::isinf(top[g]) ? 0.0 : std::exp(top[g] - lw);
          for (int64_t d = 0; d < D; ++d) acc[g * D + d] *= scale;
          wsum[g] *= scale;
          top[g] = lw;
        }
        const double w = std::exp(lw - top[g]);
        wsum[g] += w;
        for (int64_t d = 0; d < D; ++d) acc[g * D + d] += w * post[d];
      }
  }
  for (int64_t g = 0; g < G; ++g) {
    for (int64_t d = 0; d < D; ++d) posterior_mean[g * D + d] = static_cast<float>(acc[g * D + d] / wsum[g]);
    if (clean && log_p_clean) log_p_clean[g] = num[g].value() - den[g].value();
  }
}

}  // namespace aevb
