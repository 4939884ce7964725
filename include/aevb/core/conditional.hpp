// Approximate marginal inference of x with a trained VAE (aevb-infer inpaint
// and denoise): the parts of x we do not see, given the parts we do.
//
// Inpainting. Some pixels of x are missing (observed[d] == 0). Two samplers
// impute them, both alternating z and x_miss, one group of points at a time:
//  - pseudo-Gibbs (Rezende, Mohamed & Wierstra 2014): z ~ q(z | x_obs, x_miss),
//    x_miss ~ p(x_miss | z), repeated. Simple, but it samples the right
//    distribution only if q(z|x) is the exact posterior.
//  - Metropolis-within-Gibbs (Mattei & Frellsen 2018): the same proposal
//    z~ ~ q(z | x^) with x^ = (x_obs, x_miss), accepted with probability
//      min(1, [p(x^|z~) p(z~) / q(z~|x^)] / [p(x^|z) p(z) / q(z|x^)]),
//    a Metropolis-Hastings step for the conditional p(z | x_obs, x_miss), then
//    x_miss ~ p(x_miss | z) exactly: the chain targets p(z, x_miss | x_obs)
//    whatever the encoder's error (with an exact encoder every proposal is
//    accepted and it is plain Gibbs).
// The imputation is the Rao-Blackwellized posterior-predictive mean: E[x_miss|z_t]
// averaged over the iterations after the burn-in.
//
// The score of a model on a point, log p(x_miss | x_obs) = log p(x) - log p(x_obs),
// is estimated by importance sampling, both terms with K samples: p(x) with
// the proposal q(z|x); p(x_obs) with the mixture (1/M) sum_m q(z | x_obs, x_miss^m)
// over M of the sampler's draws x_miss^m ~ p(x_miss | x_obs). Why a mixture:
// p(z | x_obs) = E[p(z | x_obs, x_miss)] is broader than the posterior given any
// one completion, and q(z | one completion) alone gave weights with heavy
// tails (0.26 nats low on PPCA at K = 20000).
//
// Denoising. x is seen through a known corruption: each binary pixel flipped
// with probability eps, or N(0, s^2) added to each real one. Per pixel the
// corruption is conjugate to the decoder, so p(y|z) and p(x | y, z) are closed
// form; E[x | y] and log p(x_clean | y) are self-normalized importance sampling
// over z ~ q(z|y) with weights p(y|z) p(z) / q(z|y).
//
// Noise is keyed by (seed, purpose, iteration, global point index, sample), so
// each point's result does not depend on which other points share its group.
#pragma once
#include <cstdint>
#include <vector>

#include "aevb/core/vae.hpp"

namespace aevb {

// log p(x_S | decoder output row r) where S = {d : include[p * D + d] != 0} and
// p = r / K (K rows per point).
void masked_log_prob(const ModelSpec& s, const float* x, const uint8_t* include, int64_t K, const float* out,
                     int64_t R, double* ll);

struct InpaintOptions {
  bool metropolis = true;   // Metropolis-within-Gibbs; false: pseudo-Gibbs
  int64_t iterations = 200; // sweeps (z, then x_miss)
  int64_t burn_in = 50;     // sweeps before the imputation average starts
  int64_t keep_draws = 64;  // M completions kept, evenly spaced after the burn-in (the proposal mixture)
  uint64_t seed = 1;
};

struct InpaintResult {
  std::vector<float> imputed;  // G x D: observed values kept, missing ones = the posterior-predictive mean
  std::vector<float> draw;     // G x D: observed values kept, missing ones = the last draw x_miss ~ p(x_miss|z)
  std::vector<double> accept;  // G: the fraction of accepted proposals (1 for pseudo-Gibbs)
  std::vector<float> draws;    // G x M x D: completions (observed values kept) x_miss^m ~ the sampler, m < keep_draws
};

// x: G x D (the missing entries are never read); observed: G x D of 0/1.
InpaintResult inpaint(Vae& m, const float* x, const uint8_t* observed, int64_t G, const int64_t* index,
                      const InpaintOptions& o);

// log p(x_S) per point by importance sampling with K samples from the mixture
// of q(z | x_enc[g, m]), m < M (sample k from component k mod M, weighted by
// the density of that mixture, sum_m (n_m / K) q_m with n_m its draws), S given by include (G x D; null = every
// pixel); x_enc: G x M x D, x: G x D. The standard error (delta method) goes
// to se when not null. Noise key (seed, purpose kConditional, step, index[g], k).
void masked_log_marginal(Vae& m, const float* x_enc, int64_t M, const float* x, const uint8_t* include, int64_t G,
                         const int64_t* index, int64_t K, uint64_t seed, uint64_t step, double* logp, double* se);

enum class Corruption { kFlip, kGaussian };

// y = the corruption of x (G x D): flip each pixel with probability `level`
// (binary data), or add N(0, level^2). Keyed by (seed, kCorrupt, 0, index).
void corrupt(Corruption c, double level, const float* x, int64_t G, int64_t D, const int64_t* index, uint64_t seed,
             float* y);

struct DenoiseOptions {
  Corruption corruption = Corruption::kFlip;
  double level = 0.1;  // eps, or the noise's standard deviation s
  int64_t samples = 100;
  uint64_t seed = 1;
};

// E[x | y] into posterior_mean (G x D); log p(clean | y) per point into
// log_p_clean when clean is not null (the clean images the y were made from).
void denoise(Vae& m, const float* y, const float* clean, int64_t G, const int64_t* index, const DenoiseOptions& o,
             float* posterior_mean, double* log_p_clean);

}  // namespace aevb
