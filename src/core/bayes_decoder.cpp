#include "aevb/core/bayes_decoder.hpp"

#include <algorithm>

#include "aevb/base/error.hpp"
#include "aevb/base/rng.hpp"
#include "aevb/base/simd.hpp"
#include "aevb/core/parallel.hpp"

namespace aevb {

WeightKl parse_weight_kl(const std::string& s) {
  if (s == "analytic") return WeightKl::kAnalytic;
  if (s == "sampled") return WeightKl::kSampled;
  throw usage_error("--bayes-kl: unknown estimator '" + s + "', expected analytic or sampled");
}

namespace {
// Calls f(i) for each parameter i of the decoder's blocks, i counted from
// decoder_begin() (the blocks' padding is not a parameter).
template <class F>
void for_each_decoder_param(const Vae& m, F&& f) {
  for (const ParamBlock& b : m.layout().blocks())
    if (b.offset >= m.decoder_begin() && b.offset < m.rho_begin())
      for (int64_t i = 0; i < b.size(); ++i) f(b.offset - m.decoder_begin() + i);
}
}  // namespace

namespace {
// sigma = max(r, 0) + 2 u (1 + u^2/3 + ... + u^14/15), u = t / (2 + t), and the
// logistic, for t = e^-|r| staged in `logistic` (read and overwritten in place).
AEVB_CLONES void softplus_from_exp(const float* __restrict rho, float* __restrict sigma, float* logistic, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    const float t = logistic[i], u = t / (2.f + t), u2 = u * u;
    const float p =
        ((((((u2 * (1.f / 15.f) + 1.f / 13.f) * u2 + 1.f / 11.f) * u2 + 1.f / 9.f) * u2 + 1.f / 7.f) * u2 + 1.f / 5.f) *
             u2 +
         1.f / 3.f) *
            u2 +
        1.f;
    sigma[i] = (rho[i] > 0.f ? rho[i] : 0.f) + 2.f * u * p;
    const float inv = 1.f / (1.f + t);
    logistic[i] = rho[i] >= 0.f ? inv : t * inv;
  }
}
}  // namespace

void softplus_table(Eltwise& elt, const float* rho, int64_t n, float* sigma, float* logistic, float* log_sigma) {
  // softplus(r) = max(r, 0) + log1p(t), t = e^-|r| in (0, 1], with
  //   log1p(t) = 2 atanh(u) = 2 (u + u^3/3 + ... + u^15/15),  u = t / (2 + t) <= 1/3
  // (the series' remainder is below 2e-9 relative): a polynomial the compiler
  // vectorizes, where libm's log1p is a call per value. t comes from oneDNN's
  // vectorized exp.
  for (int64_t i = 0; i < n; ++i) sigma[i] = -std::abs(rho[i]);
  elt.forward(dnnl::algorithm::eltwise_exp, sigma, logistic, n);
  softplus_from_exp(rho, sigma, logistic, n);
  if (log_sigma) elt.forward(dnnl::algorithm::eltwise_log, sigma, log_sigma, n);
}

void init_weight_posterior(Vae& m, float sigma0) {
  const float r = softplus_inverse(sigma0);
  float* rho = m.params.data() + m.rho_begin();
  for_each_decoder_param(m, [&](int64_t p) { rho[p] = r; });
}

double weight_kl(const Vae& m, float lambda, WeightKl kind, uint64_t seed, uint64_t step, float* grads) {
  const int64_t d0 = m.decoder_begin(), r0 = m.rho_begin();
  const float* mu = m.params.data() + d0;
  const float* rho = m.params.data() + r0;
  thread_local FloatBuffer zeta;  // per step: kept, not reallocated
  if (kind == WeightKl::kSampled) {
    zeta.resize(static_cast<size_t>(r0 - d0));
    normals({seed, Purpose::kWeightKl, step, 0, 0}, zeta.data(), r0 - d0);
  }
  // Prior N(0, s_p^2), s_p^2 = 1/lambda: per parameter
  //   KL = log(s_p / s) + (s^2 + mu^2) / (2 s_p^2) - 1/2
  //   sampled, t = mu + s zeta:  log q(t) - log p(t) = log(s_p / s) - zeta^2 / 2 + t^2 / (2 s_p^2)
  const double log_sp = -0.5 * std::log(static_cast<double>(lambda));
  // One table for all of the decoder's parameters (the caller is one thread).
  thread_local Eltwise elt;
  thread_local FloatBuffer sig, lgs, logsig;
  const int64_t n = r0 - d0;
  sig.resize(static_cast<size_t>(n)), lgs.resize(static_cast<size_t>(n)), logsig.resize(static_cast<size_t>(n));
  softplus_table(elt, rho, n, sig.data(), lgs.data(), logsig.data());
  double kl = 0;
  for_each_decoder_param(m, [&](int64_t p) {
    const float s = sig[static_cast<size_t>(p)];
    float gmu, gs;
    if (kind == WeightKl::kAnalytic) {
      kl += log_sp - logsig[static_cast<size_t>(p)] + 0.5 * lambda * (double(s) * s + double(mu[p]) * mu[p]) - 0.5;
      gmu = lambda * mu[p];
      gs = -1.f / s + lambda * s;
    } else {
      const float z = zeta[static_cast<size_t>(p)], t = mu[p] + s * z;
      kl += log_sp - logsig[static_cast<size_t>(p)] - 0.5 * double(z) * z + 0.5 * lambda * double(t) * t;
      gmu = lambda * t;
      gs = -1.f / s + lambda * t * z;
    }
    if (grads) {
      grads[d0 + p] += gmu;
      grads[r0 + p] += gs * lgs[static_cast<size_t>(p)];
    }
  });
  return kl;
}

FloatBuffer sample_theta(const Vae& m, uint64_t seed, int64_t s) {
  const int64_t d0 = m.decoder_begin(), r0 = m.rho_begin();
  FloatBuffer t(m.params.begin(), m.params.end());
  std::vector<float> zeta(static_cast<size_t>(r0 - d0));
  normals({seed, Purpose::kThetaSample, static_cast<uint64_t>(s), 0, 0}, zeta.data(), r0 - d0);
  for (int64_t i = 0; i < r0 - d0; ++i)
    t[static_cast<size_t>(d0 + i)] += softplus(m.params[static_cast<size_t>(r0 + i)]) * zeta[static_cast<size_t>(i)];
  return t;
}

BayesDecoder::BayesDecoder(Vae& m) : m_(m) {
  if (!m.spec().bayes) throw usage_error("BayesDecoder: the model has no posterior over the decoder's weights");
  const std::vector<int64_t>& sizes = m.decoder.sizes();
  for (size_t k = 0; k + 1 < sizes.size(); ++k) {
    // Each net's own layout: W at 0 and b after it, as the layer's blocks lie
    // in the model's buffer (so binding at the W block's address is enough).
    ParamLayout mean_layout, var_layout;
    const std::string name = "bayes." + std::to_string(k);
    layers_.push_back(Layer{Mlp(name + ".mean", {sizes[k], sizes[k + 1]}, m.spec().activation, mean_layout),
                            Mlp(name + ".var", {sizes[k], sizes[k + 1]}, m.spec().activation, var_layout),
                            m.decoder.weight_offset(k), sizes[k], sizes[k + 1], units_, {}, {}, {}, {}});
    units_ += sizes[k + 1];
  }
  var_params_.assign(static_cast<size_t>(m.rho_begin() - m.decoder_begin()), 0.f);
  sigma_.assign(var_params_.size(), 0.f);
  logistic_.assign(var_params_.size(), 0.f);
  var_grads_.assign(var_params_.size(), 0.f);
}

const float* BayesDecoder::forward(const float* z, int64_t rows, int L, const int64_t* index, uint64_t seed,
                                   uint64_t step) {
  const int64_t R = rows * L, U = units_, d0 = m_.decoder_begin();
  R_ = R;
  z_ = z;
  // sigma^2 of this step's parameters.
  softplus_table(elt_, m_.params.data() + m_.rho_begin(), static_cast<int64_t>(sigma_.size()), sigma_.data(),
                 logistic_.data(), nullptr);
  for (size_t i = 0; i < sigma_.size(); ++i) var_params_[i] = sigma_[i] * sigma_[i];
  xi_.resize(static_cast<size_t>(R * U));
  parallel_for(R, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)
      normals({seed, Purpose::kWeightNoise, step, static_cast<uint64_t>(index[r / L]), static_cast<uint32_t>(r % L)},
              xi_.data() + r * U, U);
  });
  const float* h = z;
  for (size_t k = 0; k < layers_.size(); ++k) {
    Layer& Lk = layers_[k];
    const bool hidden = k + 1 < layers_.size();
    // Bound every call: the trainer may have rebound the model's gradients.
    Lk.mean.bind(m_.params.data() + Lk.offset, m_.grads.data() + Lk.offset);
    Lk.var.bind(var_params_.data() + (Lk.offset - d0), var_grads_.data() + (Lk.offset - d0));
    Lk.in_sq.resize(static_cast<size_t>(R * Lk.in));
    parallel_for(R * Lk.in, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) Lk.in_sq[static_cast<size_t>(i)] = h[i] * h[i];
    }, 4096);
    const float* mo = Lk.mean.forward(h, R);
    const float* vo = Lk.var.forward(Lk.in_sq.data(), R);
    Lk.a.resize(static_cast<size_t>(R * Lk.out));
    Lk.s.resize(static_cast<size_t>(R * Lk.out));
    parallel_for(R, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const float* xi = xi_.data() + r * U + Lk.unit0;
        for (int64_t j = 0; j < Lk.out; ++j) {
          const size_t e = static_cast<size_t>(r * Lk.out + j);
          // (+1e-30: sqrt's derivative stays finite if every variance underflows.)
          Lk.s[e] = std::sqrt(std::max(vo[e], 0.f) + 1e-30f);
          Lk.a[e] = mo[e] + Lk.s[e] * xi[j];
        }
      }
    });
    if (!hidden) return Lk.a.data();
    Lk.h.resize(Lk.a.size());
    const dnnl::algorithm alg = m_.spec().activation == Activation::kTanh   ? dnnl::algorithm::eltwise_tanh
                                : m_.spec().activation == Activation::kRelu ? dnnl::algorithm::eltwise_relu
                                                                            : dnnl::algorithm::eltwise_soft_relu;
    elt_.forward(alg, Lk.a.data(), Lk.h.data(), R * Lk.out);
    h = Lk.h.data();
  }
  return nullptr;  // not reached: the last layer returns
}

const float* BayesDecoder::backward(float* dout) {
  const int64_t R = R_;
  const Activation act = m_.spec().activation;
  float* g = dout;  // d loss / d a of the layer at hand
  for (size_t k = layers_.size(); k-- > 0;) {
    Layer& Lk = layers_[k];
    const int64_t n = R * Lk.out;
    if (k + 1 < layers_.size()) {
      // Through the activation: dh_ holds d loss / d h of this layer.
      g_.resize(static_cast<size_t>(n));
      parallel_for(n, [&](int64_t e0, int64_t e1) {
        for (int64_t e = e0; e < e1; ++e) {
          const float a = Lk.a[static_cast<size_t>(e)], h = Lk.h[static_cast<size_t>(e)];
          const float d = act == Activation::kTanh ? 1.f - h * h : act == Activation::kRelu ? (a > 0.f ? 1.f : 0.f)
                                                                                           : logistic(a);
          g_[static_cast<size_t>(e)] = dh_[static_cast<size_t>(e)] * d;
        }
      }, 4096);
      g = g_.data();
    }
    // a = m + s xi, s = sqrt(v): d loss / d v = g xi / (2 s).
    gv_.resize(static_cast<size_t>(n));
    parallel_for(R, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const float* xi = xi_.data() + r * units_ + Lk.unit0;
        for (int64_t j = 0; j < Lk.out; ++j) {
          const size_t e = static_cast<size_t>(r * Lk.out + j);
          gv_[e] = g[e] * xi[j] / (2.f * Lk.s[e]);
        }
      }
    });
    const float* dxm = Lk.mean.backward(g, R, /*need_dx=*/true);
    const float* dxv = Lk.var.backward(gv_.data(), R, /*need_dx=*/true);
    // m = h mu_W + mu_b and v = h^2 sigma_W^2 + sigma_b^2: d/dh = dxm + 2 h dxv.
    const float* h = k == 0 ? z_ : layers_[k - 1].h.data();
    dh_.resize(static_cast<size_t>(R * Lk.in));
    parallel_for(R * Lk.in, [&](int64_t e0, int64_t e1) {
      for (int64_t e = e0; e < e1; ++e) dh_[static_cast<size_t>(e)] = dxm[e] + 2.f * h[e] * dxv[e];
    }, 4096);
  }
  // d loss / d rho = d loss / d sigma^2 * 2 sigma * logistic(rho).
  // (sigma_ and logistic_ are this step's: the parameters do not change between the passes.)
  float* grho = m_.grads.data() + m_.rho_begin();
  for (size_t i = 0; i < var_grads_.size(); ++i) grho[i] = var_grads_[i] * 2.f * sigma_[i] * logistic_[i];
  return dh_.data();
}

}  // namespace aevb
