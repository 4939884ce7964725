// The SGVB estimators of the AEVB paper for a minibatch, in explicit phases.
//
//   z_{i,l} = mu_i + sigma_i * eps_{i,l},   eps ~ N(0, I) keyed by (seed, purpose,
//                                            step, global index of point i, l)
//   A (generic):      ELBO_i ~ 1/L sum_l [log p(x_i|z_il) + log p(z_il) - log q(z_il|x_i)]
//   B (analytic KL):  ELBO_i ~ -KL(q(z|x_i) || p(z)) + 1/L sum_l log p(x_i|z_il)
//
// Training runs the phases in order, and the caller may act between them (the
// trainer starts reducing the decoder's gradient block after phase 2):
//   1. forward(batch, noise, loss_scale)   encoder, reparameterization, decoder,
//                                          log p(x|z), the per-point terms
//   2. backward_decoder()                  decoder gradients, and d loss / d z
//   3. backward_encoder()                  through z = mu + sigma * eps and the
//                                          KL term to the encoder gradients
// The loss is  -loss_scale * sum_i ELBO_i  (the trainer passes loss_scale = N/M,
// which turns a minibatch sum into an estimate of the full-data bound); its
// gradient overwrites the model's gradient buffer, block by block.
// evaluate() is the forward pass alone, for test ELBOs. It shares the
// workspaces of forward(): call it before forward() or after backward_encoder(),
// not between the phases.
//
// Every point has L samples of z, each with a weight in the loss: loss_scale / L
// for SGVB. The importance-weighted objective (Objective::kIwae, Burda, Grosse &
// Salakhutdinov 2016) takes the L = K samples as importance samples instead:
//
//   L_K(x_i) = log 1/K sum_k w_ik,   log w_ik = log p(x_i|z_ik) + log p(z_ik) - log q(z_ik|x_i)
//
// Its gradient is that of estimator A's terms with sample k weighted by
// loss_scale times the normalized weight w_ik / sum_k' w_ik' (instead of
// loss_scale / K): forward() sets those weights, and the backward phases are the
// same code. It needs estimator A's sampled KL terms (estimator B's analytic KL
// assumes uniform weights). K = 1 is estimator A with L = 1, bit for bit.
// A caller may still override the weights (set_sample_weights) before
// backward_decoder().
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "aevb/base/buffer.hpp"
#include "aevb/base/rng.hpp"
#include "aevb/core/bayes_decoder.hpp"
#include "aevb/core/likelihood.hpp"
#include "aevb/core/vae.hpp"

namespace aevb {

enum class Estimator { kA, kB };
Estimator parse_estimator(const std::string& s);  // "A"/"B" (also "a"/"b")

// What a point's term of the loss is: the ELBO averaged over L samples, or the
// importance-weighted bound of its K = L samples.
enum class Objective { kElbo, kIwae };
Objective parse_objective(const std::string& s);  // "elbo" / "iwae"

struct ElboSums {
  double elbo = 0, rec = 0, kl = 0;  // sums over points, nats
  int64_t points = 0;
  ElboSums& operator+=(const ElboSums& o) {
    elbo += o.elbo, rec += o.rec, kl += o.kl, points += o.points;
    return *this;
  }
};

// Where the noise of one call comes from: eps for point i, sample l is keyed by
// (seed, purpose, step, index[i], l).
struct SgvbNoise {
  uint64_t seed = 0;
  Purpose purpose = Purpose::kLatentNoise;
  uint64_t step = 0;
};

// rows x D model inputs (already binarized if the data is), and the global
// sample index of each row (it keys the noise, so a point's result does not
// depend on which rank or batch position handles it).
struct Batch {
  const float* x = nullptr;
  const int64_t* index = nullptr;
  int64_t rows = 0;
};

// Per-point terms: elbo = rec - kl for Objective::kElbo. For kIwae, elbo is the
// point's importance-weighted bound L_K, and rec and kl are still the sample
// averages of estimator A's two terms (so rec - kl is the K-sample ELBO <= L_K).
struct PointElbo {
  double elbo, rec, kl;
};

class Sgvb {
 public:
  // kIwae needs Estimator::kA (usage_error otherwise); samples is then K.
  Sgvb(Vae& model, Estimator est, int samples, Objective objective = Objective::kElbo);

  // Phase 1. Returns the sums of the estimate over the batch. The batch's
  // memory must stay valid until backward_encoder().
  ElboSums forward(const Batch& batch, const SgvbNoise& noise, float loss_scale);
  // Phase 2: the decoder's block of the gradient buffer is final afterwards.
  void backward_decoder(bool weights = true);
  // Phase 3: the encoder's block is final afterwards.
  void backward_encoder(bool weights = true);
  // weights = false in both phases: the networks' deltas alone; the weight
  // gradients are then formed from Mlp::layer_io (rows() rows for the encoder,
  // rows() * samples() for the decoder), possibly together with other ranks'
  // rows. Not with a Bayesian decoder (usage_error).

  // Points of the last forward/evaluate.
  int64_t rows() const { return batch_.rows; }

  // The estimate without gradients; per_point (if non-null) receives one entry per row.
  ElboSums evaluate(const Batch& batch, const SgvbNoise& noise, PointElbo* per_point = nullptr);

  // log p(x|z_l) + log p(z_l) - log q(z_l|x) of each sample of the last
  // forward/evaluate (rows*L, sample-major within a point).
  const std::vector<double>& sample_log_weights() const { return log_w_; }
  // After forward(): each sample's weight in the loss (rows*L values; a point's
  // weights must add up to the loss scale).
  void set_sample_weights(const float* w);

  // Full VB over the decoder's weights: the decoder runs through `bayes` (local
  // reparameterization, its noise keyed by the call's seed and step and each
  // row's global index and sample); nullptr: the decoder's own weights.
  void set_bayes_decoder(BayesDecoder* bayes) { bayes_ = bayes; }

  // The encoder's output of the last forward/evaluate, [mu | log sigma^2] per
  // row (rows x 2J); valid until the encoder runs again.
  const float* encoder_output() const { return enc_; }
  // The noise of the last forward/evaluate (rows*L x J), exposed for tests.
  const FloatBuffer& eps() const { return eps_; }
  int samples() const { return L_; }
  Objective objective() const { return obj_; }

 private:
  ElboSums sample_and_score(const Batch& batch, const SgvbNoise& noise, PointElbo* per_point);
  void sample_weights(float loss_scale);
  PointElbo score_point(int64_t i);

  Vae& m_;
  Estimator est_;
  int L_;
  Objective obj_;
  DecoderLikelihood lik_;
  BayesDecoder* bayes_ = nullptr;
  Batch batch_;
  float loss_scale_ = 0.f;
  const float* enc_ = nullptr;  // encoder output of the last forward: [mu | log sigma^2] per row
  const float* dec_ = nullptr;  // decoder output of the last forward (rows*L rows)
  FloatBuffer eps_, z_, denc_, ddec_;
  std::vector<float> dz_;       // d loss / d z from backward_decoder (rows*L x J)
  std::vector<float> weight_;   // each sample's weight in the loss (rows*L)
  std::vector<double> ll_;      // log p(x_i | z_il) per sample
  std::vector<double> log_w_;   // log importance weight per sample
  std::vector<PointElbo> point_;  // per-point terms of the last forward/evaluate
};

}  // namespace aevb
