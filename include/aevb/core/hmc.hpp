// Hamiltonian Monte Carlo over the latent z of a trained VAE: the transition
// kernel of aevb-eval's MCMC estimators (Appendix D's reciprocal estimator,
// annealed importance sampling, BDMC; core/mcmc_estimators.hpp).
//
// The chains of a batch of G points run together, C chains per point, row
// r = point * C + chain (chain-major within a point, as DecoderLikelihood
// expects): each leapfrog step is one decoder forward + backward_data over all
// G * C rows, on oneDNN. Every chain targets the geometric path
//
//   log f_beta(z) = (1 - beta) log q0(z) + beta (log p(z) + log p(x|z))
//
// from a normalized initial distribution q0 = N(mu0, diag exp(lv0)) (the
// encoder's q(z|x), or the prior) at beta = 0 to the unnormalized posterior
// p(z) p(x|z) at beta = 1. Both parts and their gradients are kept per row,
// so beta can change between transitions without a decoder call.
//
// Randomness is keyed by (seed, purpose, transition number, global point index,
// chain): a point's chains do not depend on the rank count or on which points
// share its batch. Step sizes are per point (shared by its chains, never pooled
// across points), for the same reason.
#pragma once
#include <cstdint>
#include <vector>

#include "aevb/base/buffer.hpp"
#include "aevb/core/likelihood.hpp"
#include "aevb/core/vae.hpp"

namespace aevb {

class HmcChains {
 public:
  // points x chains rows; leapfrog >= 1 steps per transition.
  HmcChains(Vae& model, int64_t points, int64_t chains, int64_t leapfrog, uint64_t seed);

  int64_t points() const { return G_; }
  int64_t chains() const { return C_; }
  int64_t rows() const { return G_ * C_; }
  int64_t latent() const { return J_; }

  // The batch's points: x (n x D, n <= points(); the rest padded with zeros and
  // never reported), their global indices, and q0 per point (n x J each; mu0 =
  // nullptr: the prior N(0, I)).
  void set_points(const float* x, const int64_t* index, int64_t n, const float* mu0, const float* lv0);

  // Every chain of point i at z (rows x J): z ~ q0 keyed (seed, kMcmcStart, 0,
  // index, chain) when z is nullptr. Evaluates both parts at the new state.
  void start(const float* z);

  // One HMC transition of every chain, leaving f_beta invariant: momentum
  // keyed (seed, kHmcMomentum, step, index, chain), `leapfrog` steps of size
  // step_size[point], a Metropolis test keyed (seed, kHmcAccept, step, index,
  // chain). accepted[r] = 1 if row r moved. A NaN or infinite energy rejects.
  void transition(double beta, const float* step_size, uint64_t step, uint8_t* accepted);

  // The current state, per row: z (rows x J), log q0(z), log p(z) + log p(x|z).
  const float* z() const { return z_.data(); }
  const double* log_init() const { return li_.data(); }
  const double* log_joint() const { return lj_.data(); }
  int64_t decoder_rows() const { return decoder_rows_; }  // rows evaluated so far (forward + backward)

 private:
  // Both parts of the target and their gradients at z (rows x J), into the given buffers.
  void evaluate(const float* z, double* li, double* lj, float* gi, float* gj);

  Vae& m_;
  int64_t G_, C_, J_, D_, leapfrog_;
  uint64_t seed_;
  int64_t n_ = 0;  // real points in the batch
  DecoderLikelihood lik_;
  FloatBuffer x_, mu0_, lv0_;  // points x D, points x J, points x J
  std::vector<uint64_t> index_;
  bool prior_start_ = true;
  // Current state and proposal: z, gradients of log q0 and of the log joint.
  FloatBuffer z_, gi_, gj_, zp_, gip_, gjp_, p_, dout_, w_;
  std::vector<double> li_, lj_, lip_, ljp_, ll_, h0_;
  int64_t decoder_rows_ = 0;
};

// Per-point step-size adaptation (Wu et al. 2017's rule, per point): after a
// transition, step *= 1.02 if the point's chains accepted more than `target`
// of their proposals, else step *= 0.98; clamped to [1e-4, 1]. Returns the
// accepted fraction of each point's chains in rate[point].
void adapt_step_sizes(const uint8_t* accepted, int64_t points, int64_t chains, double target, float* step_size,
                      double* rate);

}  // namespace aevb
