#include "aevb/core/optimizer.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>

#include "aevb/base/error.hpp"
#include "aevb/base/simd.hpp"
#include "aevb/core/parallel.hpp"

namespace aevb {

OptimizerKind parse_optimizer(const std::string& s) {
  if (s == "adagrad") return OptimizerKind::kAdagrad;
  if (s == "adam") return OptimizerKind::kAdam;
  if (s == "sgd") return OptimizerKind::kSgd;
  throw usage_error("--optimizer: unknown optimizer '" + s + "', expected adagrad, adam or sgd");
}
std::string to_string(OptimizerKind k) {
  return k == OptimizerKind::kAdagrad ? "adagrad" : k == OptimizerKind::kAdam ? "adam" : "sgd";
}

Optimizer::Optimizer(const OptimizerConfig& cfg, int64_t n) : cfg_(cfg), n_(n) {
  s1_.assign(static_cast<size_t>(n), 0.f);
  if (cfg.kind == OptimizerKind::kAdam) s2_.assign(static_cast<size_t>(n), 0.f);
}

std::vector<std::pair<std::string, FloatBuffer*>> Optimizer::state() {
  switch (cfg_.kind) {
    case OptimizerKind::kAdagrad: return {{"adagrad_sum_sq", &s1_}};
    case OptimizerKind::kAdam: return {{"adam_m", &s1_}, {"adam_v", &s2_}};
    case OptimizerKind::kSgd: return {{"sgd_velocity", &s1_}};
  }
  return {};
}

namespace {
// Below 64 K parameters per thread the fork costs more than it saves.
constexpr int64_t kMinBlocksPerPart = 4096;

// The update loops, one per optimizer; each returns a sum of g - g, which is
// NaN exactly when some gradient is NaN or infinite (checked in the same pass).
AEVB_CLONES float adagrad_update(float* __restrict p, const float* __restrict g_in, float* __restrict s1, int64_t n,
                                 float lr, float lam, float eps) {
  float check = 0.f;
#pragma omp simd reduction(+ : check)
  for (int64_t i = 0; i < n; ++i) {
    check += g_in[i] - g_in[i];
    const float g = g_in[i] + lam * p[i];
    s1[i] += g * g;
    p[i] -= lr * g / (std::sqrt(s1[i]) + eps);
  }
  return check;
}

AEVB_CLONES float adam_update(float* __restrict p, const float* __restrict g_in, float* __restrict s1,
                              float* __restrict s2, int64_t n, float lr, float lam, float b1, float b2, float eps,
                              float c1, float c2) {
  float check = 0.f;
#pragma omp simd reduction(+ : check)
  for (int64_t i = 0; i < n; ++i) {
    check += g_in[i] - g_in[i];
    const float g = g_in[i] + lam * p[i];
    s1[i] = b1 * s1[i] + (1.f - b1) * g;
    s2[i] = b2 * s2[i] + (1.f - b2) * g * g;
    p[i] -= lr * (s1[i] * c1) / (std::sqrt(s2[i] * c2) + eps);
  }
  return check;
}

AEVB_CLONES float sgd_update(float* __restrict p, const float* __restrict g_in, float* __restrict s1, int64_t n,
                             float lr, float lam, float mu) {
  float check = 0.f;
#pragma omp simd reduction(+ : check)
  for (int64_t i = 0; i < n; ++i) {
    check += g_in[i] - g_in[i];
    const float g = g_in[i] + lam * p[i];
    s1[i] = mu * s1[i] + g;
    p[i] -= lr * s1[i];
  }
  return check;
}
}  // namespace

// Every element's update is the same whatever the split: the threads
// (parallel.hpp) take contiguous parts in whole 16-float blocks (one AVX-512
// vector); a part whose check is not finite marks the step.
bool Optimizer::step(float* p, const float* g, float lr) {
  ++t_;
  const float lam = cfg_.prior_precision;
  const int64_t blocks = (n_ + 15) / 16;
  std::atomic<bool> finite{true};
  float c1 = 0.f, c2 = 0.f;
  if (cfg_.kind == OptimizerKind::kAdam) {
    c1 = 1.f / (1.f - static_cast<float>(std::pow(double(cfg_.adam_beta1), double(t_))));
    c2 = 1.f / (1.f - static_cast<float>(std::pow(double(cfg_.adam_beta2), double(t_))));
  }
  parallel_for(
      blocks,
      [&](int64_t b0, int64_t b1) {
        const int64_t lo = b0 * 16, n = std::min(n_, b1 * 16) - lo;
        float check = 0.f;
        switch (cfg_.kind) {
          case OptimizerKind::kAdagrad:
            check = adagrad_update(p + lo, g + lo, s1_.data() + lo, n, lr, lam, cfg_.adagrad_eps);
            break;
          case OptimizerKind::kAdam:
            check = adam_update(p + lo, g + lo, s1_.data() + lo, s2_.data() + lo, n, lr, lam, cfg_.adam_beta1,
                                cfg_.adam_beta2, cfg_.adam_eps, c1, c2);
            break;
          case OptimizerKind::kSgd:
            check = sgd_update(p + lo, g + lo, s1_.data() + lo, n, lr, lam, cfg_.momentum);
            break;
        }
        if (!std::isfinite(check)) finite = false;
      },
      kMinBlocksPerPart);
  return finite;
}

float Schedule::warmup_factor(int64_t step, int64_t steps_per_epoch) const {
  const int64_t n = warmup_epochs * steps_per_epoch;
  return n > 0 && step < n ? static_cast<float>(static_cast<double>(step + 1) / static_cast<double>(n)) : 1.f;
}

ScheduleKind parse_schedule(const std::string& s) {
  if (s == "constant") return ScheduleKind::kConstant;
  if (s == "step") return ScheduleKind::kStep;
  if (s == "iwae") return ScheduleKind::kIwae;
  throw usage_error("--lr-schedule: unknown schedule '" + s + "', expected constant, step or iwae");
}

float Schedule::lr_at_epoch(int64_t epoch) const {
  switch (kind) {
    case ScheduleKind::kConstant: return base_lr;
    case ScheduleKind::kStep:
      return base_lr * std::pow(step_gamma, static_cast<float>(epoch / std::max<int64_t>(1, step_epochs)));
    case ScheduleKind::kIwae: {
      int64_t stage = 0, end = 1;  // stage i covers epochs [end_{i-1}, end_i), end_i = sum_{k<=i} 3^k
      for (int64_t len = 1; epoch >= end && stage < 7; ++stage) {
        len *= 3;
        end += len;
      }
      return base_lr * std::pow(10.f, -static_cast<float>(stage) / 7.f);
    }
  }
  return base_lr;
}

}  // namespace aevb
