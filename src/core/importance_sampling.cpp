#include "aevb/core/importance_sampling.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>

namespace aevb {

void LogSumExp::add(double w) {
  if (w == -std::numeric_limits<double>::infinity()) return;  // exp(w) = 0 contributes nothing
  if (w > max) {
    sum = sum * std::exp(max - w) + 1.0;  // rescale what we have to the new maximum
    max = w;
  } else {
    sum += std::exp(w - max);  // also propagates NaN (w or max NaN)
  }
}

double LogSumExp::value() const { return max + std::log(sum); }

LogMeanExp log_mean_exp(const double* w, int64_t n) {
  LogMeanExp r;
  if (n <= 0) return r;
  const double m = *std::max_element(w, w + n);
  if (!std::isfinite(m)) return {m, 0};
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += std::exp(w[i] - m);
  const double mean = s / static_cast<double>(n);
  r.value = m + std::log(mean);
  if (n < 2) return r;
  double ss = 0;  // two passes over the scaled weights
  for (int64_t i = 0; i < n; ++i) ss += (std::exp(w[i] - m) - mean) * (std::exp(w[i] - m) - mean);
  r.se = std::sqrt(ss / static_cast<double>(n - 1) / static_cast<double>(n)) / mean;
  return r;
}

ChunkPlan plan_chunks(int64_t k_max, int64_t chunk_rows) {
  ChunkPlan p;
  chunk_rows = std::max<int64_t>(chunk_rows, 1);
  if (k_max >= chunk_rows) {
    // One point per call; e.g. K = 5000, 2000 rows -> 3 passes of 1667 samples
    // (1 unused row) rather than 2000 + 2000 + 1000 with 1000 rows wasted.
    p.points = 1;
    p.passes = (k_max + chunk_rows - 1) / chunk_rows;
    p.samples = (k_max + p.passes - 1) / p.passes;
  } else {
    p.samples = k_max;
    p.points = chunk_rows / k_max;
    p.passes = 1;
  }
  return p;
}

ImportanceSampler::ImportanceSampler(Vae& model, Proposal proposal, std::vector<int64_t> ks, uint64_t seed,
                                     int64_t chunk_rows, int64_t points_per_group)
    : m_(model), proposal_(proposal), ks_(std::move(ks)), seed_(seed), lik_(model.spec()) {
  assert(!ks_.empty() && ks_.front() >= 1 && std::is_sorted(ks_.begin(), ks_.end()));
  plan_ = plan_chunks(ks_.back(), chunk_rows);
  if (points_per_group > 0) plan_.points = points_per_group;
  const int64_t D = m_.spec().x_dim, J = m_.spec().latent, R = plan_.rows();
  xg_.assign(static_cast<size_t>(plan_.points * D), 0.f);
  enc_.assign(static_cast<size_t>(plan_.points * 2 * J), 0.f);
  eps_.assign(static_cast<size_t>(R * J), 0.f);
  z_.assign(static_cast<size_t>(R * J), 0.f);  // rows never filled stay finite (unused padding)
  ll_.assign(static_cast<size_t>(R), 0.0);
  logq_minus_logp_.assign(static_cast<size_t>(R), 0.0);
  acc_.resize(static_cast<size_t>(plan_.points));
  acc2_.resize(static_cast<size_t>(plan_.points));
}

void ImportanceSampler::run(const float* x, const int64_t* index, int64_t rows, double* log_px, double* se) {
  const int64_t D = m_.spec().x_dim, nK = static_cast<int64_t>(ks_.size());
  for (int64_t b = 0; b < rows; b += plan_.points) {
    const int64_t n = std::min(plan_.points, rows - b);
    run_group(x + b * D, index + b, n, log_px + b * nK, se ? se + b : nullptr);
  }
}

// One group of n <= plan_.points points: the encoder once, then plan_.passes
// decoder calls of plan_.rows() rows each. The row count never changes (a short
// last group is padded), so every call reuses the same oneDNN primitives.
void ImportanceSampler::run_group(const float* x, const int64_t* index, int64_t n, double* log_px, double* se) {
  const int64_t D = m_.spec().x_dim, J = m_.spec().latent;
  const int64_t G = plan_.points, S = plan_.samples, R = plan_.rows();
  const int64_t k_max = ks_.back(), nK = static_cast<int64_t>(ks_.size());
  std::copy(x, x + n * D, xg_.begin());
  std::fill(xg_.begin() + n * D, xg_.end(), 0.f);
  const bool posterior = proposal_ == Proposal::kPosterior;
  const Purpose purpose = posterior ? Purpose::kImportance : Purpose::kPriorSample;
  if (posterior) {
    // [mu | log sigma^2] per point, copied: the encoder's output buffer is only
    // valid until its next forward call.
    const float* enc = m_.encoder.forward(xg_.data(), G);
    std::copy(enc, enc + G * 2 * J, enc_.begin());
  }
  for (int64_t i = 0; i < n; ++i) acc_[static_cast<size_t>(i)] = acc2_[static_cast<size_t>(i)] = LogSumExp{};

  size_t next_k = 0;  // index into ks_ of the next estimate to record (same for all points)
  for (int64_t pass = 0; pass < plan_.passes; ++pass) {
    const int64_t k0 = pass * S, used = std::min(S, k_max - k0);
    // Proposals. The expressions below are those of Sgvb estimator A, term for
    // term, so that K = 1 reproduces its L = 1 ELBO under the same noise key.
    for (int64_t i = 0; i < n; ++i) {
      const float* mu = enc_.data() + i * 2 * J;
      const float* lv = mu + J;
      for (int64_t s = 0; s < used; ++s) {
        const int64_t r = i * S + s;
        float* e = eps_.data() + r * J;
        float* z = z_.data() + r * J;
        normals({seed_, purpose, 0, static_cast<uint64_t>(index[i]), static_cast<uint32_t>(k0 + s)}, e, J);
        if (!posterior) {
          std::copy(e, e + J, z);  // z ~ p(z): the weight is log p(x|z) alone
          continue;
        }
        double lq = 0;  // log q(z|x) - log p(z) = 0.5 sum_j (z^2 - eps^2 - lv)
        for (int64_t j = 0; j < J; ++j) {
          z[j] = mu[j] + std::exp(0.5f * lv[j]) * e[j];
          lq += 0.5 * (double(z[j]) * z[j] - double(e[j]) * e[j] - lv[j]);
        }
        logq_minus_logp_[static_cast<size_t>(r)] = lq;
      }
    }
    // log p(x|z) for all rows at once: one decoder forward, oneDNN eltwise inside.
    const float* dec = m_.decoder.forward(z_.data(), R);
    lik_.log_prob(xg_.data(), S, dec, R, ll_.data());
    sample_evals_ += n * used;

    // Fold the weights in sample order and record the estimate at each K.
    size_t k_idx = next_k;
    for (int64_t i = 0; i < n; ++i) {
      LogSumExp& acc = acc_[static_cast<size_t>(i)];
      LogSumExp& acc2 = acc2_[static_cast<size_t>(i)];
      k_idx = next_k;
      for (int64_t s = 0; s < used; ++s) {
        const size_t r = static_cast<size_t>(i * S + s);
        const double w = posterior ? ll_[r] - logq_minus_logp_[r] : ll_[r];
        acc.add(w);
        if (se) acc2.add(2 * w);
        const int64_t k = k0 + s + 1;
        while (k_idx < ks_.size() && ks_[k_idx] == k) {
          log_px[i * nK + static_cast<int64_t>(k_idx)] = acc.value() - std::log(static_cast<double>(k));
          ++k_idx;
        }
      }
    }
    next_k = k_idx;
  }
  if (!se) return;
  // se^2 = (sum e^2w - (sum e^w)^2 / K) / (K (K - 1)) / mean^2 = (K S2 / S1^2 - 1) / (K - 1).
  const double K = static_cast<double>(k_max);
  for (int64_t i = 0; i < n; ++i) {
    const double ratio = std::exp(acc2_[static_cast<size_t>(i)].value() - 2 * acc_[static_cast<size_t>(i)].value());
    se[i] = k_max > 1 ? std::sqrt(std::max(0.0, (K * ratio - 1) / (K - 1))) : 0.0;
  }
}

}  // namespace aevb
