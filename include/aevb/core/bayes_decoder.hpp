// Full variational Bayes over the decoder's weights (Kingma & Welling 2014,
// Appendix F), with the local reparameterization trick (Kingma, Salimans &
// Welling 2015).
//
// The generative parameters theta (the decoder's weights and biases) get a
// prior p(theta) = N(0, I/lambda) and a factorized Gaussian posterior
// q(theta) = N(mu_theta, diag sigma_theta^2). The flat buffers hold
// [encoder phi | mu_theta | rho_theta]: mu_theta is the decoder's own block
// (the MAP model's layout, so the decoder run at theta = mu_theta is the plug-in
// model), rho_theta mirrors it block by block (ModelSpec::bayes), and
//
//   sigma_theta = softplus(rho) = log(1 + e^rho)
//
// keeps sigma positive, and d sigma / d rho = logistic(rho) lies in (0, 1): a
// step on rho never moves sigma by more than the step (with sigma = e^rho a
// step multiplies sigma by e^step, violent once sigma is large), while for
// small sigma softplus behaves like e^rho and resolves sigmas of any scale.
//
// The bound (per minibatch, loss = -bound):
//   (N/M) sum_i E_q(theta) E_q(z|x_i)[log p_theta(x_i|z) + log p(z) - log q(z|x_i)]
//     - KL(q(theta) || p(theta))
// Each row of the decoder (point i, sample l) sees its own theta: with the
// local reparameterization the pre-activations of layer k are sampled per row,
//   a = h mu_W + mu_b + sqrt(h^2 sigma_W^2 + sigma_b^2) * xi,
// xi keyed by (seed, kWeightNoise, step, global index of i, l), element = unit
// (the layers' units numbered one after another): a point's noise does not
// depend on the rank count or its batch position, and the gradient's variance
// keeps falling as M grows (one theta shared by the batch would stop it).
// The KL term is added once per step (weight_kl): in closed form, or as the
// sampled log q(theta~) - log p(theta~) of one theta~ = mu + sigma * zeta, zeta
// keyed by (seed, kWeightKl, step).
#pragma once
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "aevb/base/buffer.hpp"
#include "aevb/core/eltwise.hpp"
#include "aevb/core/mlp.hpp"
#include "aevb/core/vae.hpp"

namespace aevb {

enum class WeightKl { kAnalytic, kSampled };
WeightKl parse_weight_kl(const std::string& s);  // "analytic" / "sampled"

inline float softplus(float r) { return r > 20.f ? r : std::log1p(std::exp(r)); }
inline float softplus_inverse(float s) { return s > 20.f ? s : std::log(std::expm1(s)); }
inline float logistic(float r) { return 1.f / (1.f + std::exp(-r)); }

// sigma = softplus(rho), d sigma / d rho = logistic(rho) and (when log_sigma is
// not null) log sigma for n values at once, on oneDNN's vectorized exp and log
// (they run over all of the decoder's parameters every step: three scalar libm
// calls per parameter made the step several times slower). sigma and logistic
// are accurate to a few float ulps for every rho; log sigma to oneDNN's log.
void softplus_table(Eltwise& elt, const float* rho, int64_t n, float* sigma, float* logistic, float* log_sigma);

// rho of the decoder's parameter at offset p of the flat buffers (decoder_begin() <= p < rho_begin()).
inline int64_t rho_of(const Vae& m, int64_t p) { return p + m.rho_begin() - m.decoder_begin(); }

// Sets every rho to softplus^-1(sigma0) (the decoder's mu_theta keep their init).
void init_weight_posterior(Vae& m, float sigma0);

// KL(q(theta) || N(0, I/lambda)) (analytic) or its one-sample estimate; adds its
// gradient with respect to mu_theta and rho_theta to grads (when not null).
double weight_kl(const Vae& m, float lambda, WeightKl kind, uint64_t seed, uint64_t step, float* grads);

// theta_s = mu_theta + sigma_theta * zeta, zeta keyed by (seed, kThetaSample,
// step = s): a copy of the parameters with the decoder's blocks drawn from
// q(theta) (the encoder's and rho's as they are), for running the decoder at a
// sampled theta (Mlp::bind).
FloatBuffer sample_theta(const Vae& m, uint64_t seed, int64_t s);

class BayesDecoder {
 public:
  explicit BayesDecoder(Vae& m);  // m.spec().bayes
  BayesDecoder(const BayesDecoder&) = delete;
  BayesDecoder& operator=(const BayesDecoder&) = delete;

  // z: R = rows * L rows of J latents, row r = point r / L (global index
  // index[r / L]), sample r % L. Returns the decoder's output (R x out), valid
  // until the next call.
  const float* forward(const float* z, int64_t rows, int L, const int64_t* index, uint64_t seed, uint64_t step);
  // After forward(): dout = d loss / d output (overwritten as scratch). Writes
  // the gradients of mu_theta and rho_theta into the model's gradient buffer
  // (overwrite) and returns d loss / d z (R x J).
  const float* backward(float* dout);

  Vae& model() { return m_; }

 private:
  struct Layer {
    Mlp mean, var;    // linear single layers: h mu_W + mu_b, and h^2 sigma_W^2 + sigma_b^2
    int64_t offset;   // of the layer's W block in the flat buffers (its b follows)
    int64_t in, out, unit0;  // sizes, and the layer's first unit in the noise row
    FloatBuffer in_sq, a, h, s;  // this call's input squared, pre-activations, activations, std of a
  };
  Vae& m_;
  std::vector<Layer> layers_;
  int64_t units_ = 0, R_ = 0;
  const float* z_ = nullptr;
  FloatBuffer xi_;              // R x units_
  FloatBuffer sigma_, logistic_;  // softplus(rho) and logistic(rho) of this step's parameters
  FloatBuffer var_params_;      // sigma^2 in the decoder's layout (offset 0 = decoder_begin)
  FloatBuffer var_grads_;       // d loss / d sigma^2, same layout
  FloatBuffer g_, gv_, dh_;
  Eltwise elt_;
};

}  // namespace aevb
