// First-order optimizers over the flat parameter buffer: ONE loop per step over
// all parameters, with the weight prior N(0, I/lambda) folded in (its gradient
// lambda * theta is added here, exactly once per step, after the allreduce).
//
// The gradient g is that of the loss  -(N/M) sum_batch ELBO - log p(theta), so
// these are descent steps. Updates follow the PyTorch conventions so results can
// be compared with the reference implementation:
//   adagrad: s += g^2;  theta -= lr * g / (sqrt(s) + eps)
//   adam:    m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
//            theta -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)
//   sgd:     v = mu v + g;  theta -= lr * v
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "aevb/base/buffer.hpp"

namespace aevb {

enum class OptimizerKind { kAdagrad, kAdam, kSgd };
OptimizerKind parse_optimizer(const std::string& s);
std::string to_string(OptimizerKind k);

struct OptimizerConfig {
  OptimizerKind kind = OptimizerKind::kAdagrad;
  float adagrad_eps = 1e-10f;
  float adam_beta1 = 0.9f, adam_beta2 = 0.999f, adam_eps = 1e-8f;
  float momentum = 0.9f;
  // lambda of the weight prior N(0, I/lambda): 1 is the paper's N(0, I) (MAP, as
  // aevb-train's --weight-prior-precision default); 0 = none (maximum likelihood).
  float prior_precision = 1.f;
};

class Optimizer {
 public:
  Optimizer(const OptimizerConfig& cfg, int64_t n);
  // One update of params with grads (grads is read only) at learning rate lr.
  // Returns false if any gradient was NaN or infinite (checked in the same
  // loop: a sum of g - g is NaN exactly then); the caller stops the run.
  bool step(float* params, const float* grads, float lr);

  int64_t steps() const { return t_; }
  // State for checkpoints: named buffers of n floats each, plus the step count.
  std::vector<std::pair<std::string, FloatBuffer*>> state();
  void set_steps(int64_t t) { t_ = t; }
  const OptimizerConfig& config() const { return cfg_; }

 private:
  OptimizerConfig cfg_;
  int64_t n_;
  int64_t t_ = 0;
  FloatBuffer s1_, s2_;  // adagrad: sum of squares; adam: m, v; sgd: velocity
};

// Learning-rate schedules (per epoch).
enum class ScheduleKind { kConstant, kStep, kIwae };
ScheduleKind parse_schedule(const std::string& s);
struct Schedule {
  ScheduleKind kind = ScheduleKind::kConstant;
  float base_lr = 0.02f;
  float step_gamma = 0.5f;  // step: lr = base * gamma^floor(epoch / step_epochs)
  int64_t step_epochs = 10;
  // iwae (Burda et al. 2016): stage i lasts 3^i epochs, lr = base * 10^(-i/7),
  // i = 0..7 (3280 epochs in all); later epochs stay in the last stage.
  float lr_at_epoch(int64_t epoch) const;
  // Linear warm-up (Goyal et al. 2017, for large batches): over the first
  // warmup_epochs epochs, step t (counted from 0 over the whole run) uses
  // lr * (t + 1) / (warmup_epochs * steps_per_epoch). 0 = none.
  int64_t warmup_epochs = 0;
  float warmup_factor(int64_t step, int64_t steps_per_epoch) const;
};

}  // namespace aevb
