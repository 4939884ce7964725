#include "aevb/core/hmc.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>

#include "aevb/base/rng.hpp"

namespace aevb {

namespace {
constexpr double kLog2Pi = 1.8378770664093453;
}  // namespace

HmcChains::HmcChains(Vae& model, int64_t points, int64_t chains, int64_t leapfrog, uint64_t seed)
    : m_(model),
      G_(points),
      C_(chains),
      J_(model.spec().latent),
      D_(model.spec().x_dim),
      leapfrog_(leapfrog),
      seed_(seed),
      lik_(model.spec()) {
  assert(points >= 1 && chains >= 1 && leapfrog >= 1);
  const auto R = static_cast<size_t>(G_ * C_), RJ = R * static_cast<size_t>(J_);
  x_.assign(static_cast<size_t>(G_ * D_), 0.f);
  mu0_.assign(static_cast<size_t>(G_ * J_), 0.f);
  lv0_.assign(static_cast<size_t>(G_ * J_), 0.f);
  index_.assign(static_cast<size_t>(G_), 0);
  for (FloatBuffer* b : {&z_, &gi_, &gj_, &zp_, &gip_, &gjp_, &p_}) b->assign(RJ, 0.f);
  w_.assign(R, 1.f);
  for (std::vector<double>* b : {&li_, &lj_, &lip_, &ljp_, &ll_, &h0_}) b->assign(R, 0.0);
}

void HmcChains::set_points(const float* x, const int64_t* index, int64_t n, const float* mu0, const float* lv0) {
  assert(n >= 1 && n <= G_);
  n_ = n;
  std::copy(x, x + n * D_, x_.begin());
  std::fill(x_.begin() + n * D_, x_.end(), 0.f);
  for (int64_t i = 0; i < G_; ++i) index_[static_cast<size_t>(i)] = i < n ? static_cast<uint64_t>(index[i]) : 0;
  prior_start_ = mu0 == nullptr;
  std::fill(mu0_.begin(), mu0_.end(), 0.f);
  std::fill(lv0_.begin(), lv0_.end(), 0.f);
  if (!prior_start_) {
    std::copy(mu0, mu0 + n * J_, mu0_.begin());
    std::copy(lv0, lv0 + n * J_, lv0_.begin());
  }
}

void HmcChains::start(const float* z) {
  if (z) {
    std::copy(z, z + G_ * C_ * J_, z_.begin());
  } else {
    for (int64_t i = 0; i < G_; ++i)
      for (int64_t c = 0; c < C_; ++c) {
        float* zr = z_.data() + (i * C_ + c) * J_;
        normals({seed_, Purpose::kMcmcStart, 0, index_[static_cast<size_t>(i)], static_cast<uint32_t>(c)}, zr, J_);
        const float* mu = mu0_.data() + i * J_;
        const float* lv = lv0_.data() + i * J_;
        for (int64_t j = 0; j < J_; ++j) zr[j] = mu[j] + std::exp(0.5f * lv[j]) * zr[j];
      }
  }
  evaluate(z_.data(), li_.data(), lj_.data(), gi_.data(), gj_.data());
}

// log q0 and its gradient in closed form; log p(x|z) and its gradient from one
// decoder forward and backward_data over all rows (the weight gradients untouched).
void HmcChains::evaluate(const float* z, double* li, double* lj, float* gi, float* gj) {
  const int64_t R = G_ * C_;
  for (int64_t r = 0; r < R; ++r) {
    const float* zr = z + r * J_;
    const float* mu = mu0_.data() + (r / C_) * J_;
    const float* lv = lv0_.data() + (r / C_) * J_;
    double lq = 0, lp = 0;
    for (int64_t j = 0; j < J_; ++j) {
      const double inv_var = std::exp(-double(lv[j])), d = double(zr[j]) - mu[j];
      lq -= 0.5 * (kLog2Pi + lv[j] + d * d * inv_var);
      lp -= 0.5 * (kLog2Pi + double(zr[j]) * zr[j]);
      gi[r * J_ + j] = static_cast<float>(-d * inv_var);
    }
    li[r] = lq;
    lj[r] = lp;  // + log p(x|z) below
  }
  const float* out = m_.decoder.forward(z, R);
  lik_.log_prob(x_.data(), C_, out, R, ll_.data());
  // dout = -d log p(x|z) / d out, so backward_data gives -d log p(x|z) / dz.
  dout_.resize(static_cast<size_t>(R * m_.decoder.out_dim()));
  lik_.loss_grad(x_.data(), C_, out, R, w_.data(), dout_.data());
  const float* dz = m_.decoder.backward_data(dout_.data(), R);
  for (int64_t r = 0; r < R; ++r) {
    lj[r] += ll_[static_cast<size_t>(r)];
    for (int64_t j = 0; j < J_; ++j) gj[r * J_ + j] = -z[r * J_ + j] - dz[r * J_ + j];
  }
  decoder_rows_ += R;
}

void HmcChains::transition(double beta, const float* step_size, uint64_t step, uint8_t* accepted) {
  const int64_t R = G_ * C_;
  const float a = static_cast<float>(1.0 - beta), b = static_cast<float>(beta);
  // grad U = -(1 - beta) grad log q0 - beta grad log joint, U = -log f_beta.
  auto kick = [&](const float* gi, const float* gj, float scale) {
    for (int64_t r = 0; r < R; ++r) {
      const float e = scale * step_size[r / C_];
      for (int64_t j = 0; j < J_; ++j) {
        const int64_t k = r * J_ + j;
        p_[static_cast<size_t>(k)] += e * (a * gi[k] + b * gj[k]);
      }
    }
  };
  std::vector<double>& h0 = h0_;  // the energy at the start, per row
  for (int64_t r = 0; r < R; ++r) {
    float* pr = p_.data() + r * J_;
    normals({seed_, Purpose::kHmcMomentum, step, index_[static_cast<size_t>(r / C_)], static_cast<uint32_t>(r % C_)},
            pr, J_);
    double kin = 0;
    for (int64_t j = 0; j < J_; ++j) kin += 0.5 * double(pr[j]) * pr[j];
    h0[static_cast<size_t>(r)] = -(1.0 - beta) * li_[static_cast<size_t>(r)] - beta * lj_[static_cast<size_t>(r)] + kin;
  }
  std::copy(z_.begin(), z_.end(), zp_.begin());
  kick(gi_.data(), gj_.data(), 0.5f);
  for (int64_t l = 0; l < leapfrog_; ++l) {
    for (int64_t r = 0; r < R; ++r) {
      const float e = step_size[r / C_];
      for (int64_t j = 0; j < J_; ++j) zp_[static_cast<size_t>(r * J_ + j)] += e * p_[static_cast<size_t>(r * J_ + j)];
    }
    evaluate(zp_.data(), lip_.data(), ljp_.data(), gip_.data(), gjp_.data());
    kick(gip_.data(), gjp_.data(), l + 1 < leapfrog_ ? 1.f : 0.5f);
  }
  for (int64_t r = 0; r < R; ++r) {
    const float* pr = p_.data() + r * J_;
    double kin = 0;
    for (int64_t j = 0; j < J_; ++j) kin += 0.5 * double(pr[j]) * pr[j];
    const size_t s = static_cast<size_t>(r);
    const double h1 = -(1.0 - beta) * lip_[s] - beta * ljp_[s] + kin;
    float u = 0;
    uniforms({seed_, Purpose::kHmcAccept, step, index_[static_cast<size_t>(r / C_)], static_cast<uint32_t>(r % C_)}, &u,
             1);
    // log u < H0 - H1; a NaN or infinite proposal fails the test (h1 not finite).
    const bool ok = std::isfinite(h1) && std::log(double(u)) < h0[s] - h1;
    accepted[r] = ok ? 1 : 0;
    if (!ok) continue;
    std::copy(zp_.begin() + r * J_, zp_.begin() + (r + 1) * J_, z_.begin() + r * J_);
    std::copy(gip_.begin() + r * J_, gip_.begin() + (r + 1) * J_, gi_.begin() + r * J_);
    std::copy(gjp_.begin() + r * J_, gjp_.begin() + (r + 1) * J_, gj_.begin() + r * J_);
    li_[s] = lip_[s];
    lj_[s] = ljp_[s];
  }
}

void adapt_step_sizes(const uint8_t* accepted, int64_t points, int64_t chains, double target, float* step_size,
                      double* rate) {
  for (int64_t i = 0; i < points; ++i) {
    int64_t n = 0;
    for (int64_t c = 0; c < chains; ++c) n += accepted[i * chains + c];
    rate[i] = static_cast<double>(n) / static_cast<double>(chains);
    step_size[i] = std::clamp(step_size[i] * (rate[i] > target ? 1.02f : 0.98f), 1e-4f, 1.f);
  }
}

}  // namespace aevb
