// The SGVB estimators of the AEVB paper, forward and backward for a set of data
// points.
//
//   z_{i,l} = mu_i + sigma_i * eps_{i,l},   eps ~ N(0, I) keyed by (seed, purpose,
//                                            step, global index of point i, l)
//   A (generic):      ELBO_i ~ 1/L sum_l [log p(x_i|z_il) + log p(z_il) - log q(z_il|x_i)]
//   B (analytic KL):  ELBO_i ~ -KL(q(z|x_i) || p(z)) + 1/L sum_l log p(x_i|z_il)
//
// backward() writes the gradient of  -grad_scale * sum_i ELBO_i  into the model's
// flat gradient buffer (grad_scale = N/M turns a minibatch sum into an unbiased
// estimate of the full-data bound; the data-parallel trainer sums these over
// ranks with one allreduce).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "aevb/buffer.hpp"
#include "aevb/likelihood.hpp"
#include "aevb/rng.hpp"
#include "aevb/vae.hpp"

namespace aevb {

enum class Estimator { kA, kB };
Estimator parse_estimator(const std::string& s);  // "A"/"B" (also "a"/"b")

struct ElboSums {
  double elbo = 0, rec = 0, kl = 0;  // sums over points, nats
  int64_t points = 0;
  ElboSums& operator+=(const ElboSums& o) {
    elbo += o.elbo, rec += o.rec, kl += o.kl, points += o.points;
    return *this;
  }
};

struct SgvbNoise {
  uint64_t seed = 0;
  Purpose purpose = Purpose::kLatentNoise;
  uint64_t step = 0;
};

class Sgvb {
 public:
  Sgvb(Vae& model, Estimator est, int samples);

  // x: rows x D model inputs (already binarized if the data is), index: the global
  // sample index of each row (keys the noise). Returns the sums of the estimate.
  // If per_point is non-null it receives (elbo, rec, kl) triples for each row.
  // With grad_scale != 0 the gradient of -grad_scale * sum ELBO is written to
  // model.grads (every block overwritten).
  // after_decoder_backward, if set, runs between the decoder's and the
  // encoder's backward pass (the decoder's gradient block is final by then)
  // and receives this call's sums (the loss is known by then too).
  using DecoderDoneHook = std::function<void(const ElboSums&)>;
  ElboSums run(const float* x, const int64_t* index, int64_t rows, const SgvbNoise& noise, bool backward,
               float grad_scale, double* per_point = nullptr, const DecoderDoneHook& after_decoder_backward = {});

  // Filled by run(): the noise used (rows*L x J), exposed for tests.
  const FloatBuffer& eps() const { return eps_; }

 private:
  Vae& m_;
  Estimator est_;
  int L_;
  DecoderLikelihood lik_;
  FloatBuffer eps_, z_, dz_, denc_, ddec_;
  std::vector<double> ll_;
};

// Closed-form KL(N(mu, diag(exp(lv))) || N(0, I)) for one point (double; tests).
double kl_normal_std(const float* mu, const float* lv, int64_t J);

}  // namespace aevb
