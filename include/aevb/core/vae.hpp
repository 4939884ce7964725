// The AEVB model: Gaussian MLP encoder q(z|x), Bernoulli or Gaussian MLP decoder
// p(x|z), standard normal prior p(z) = N(0, I).
//
// Layout of the network outputs (the "heads"):
//   encoder output row = [ mu (J) | log sigma^2 (J) ]
//   Bernoulli decoder output row = [ logits (D) ]
//   Gaussian decoder output row  = [ mean pre-activation (D) | log variance (D) ]
// The decoder's hidden layers mirror the encoder's (784-500-20 -> 20-500-784).
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "aevb/base/buffer.hpp"
#include "aevb/core/mlp.hpp"
#include "aevb/core/param_layout.hpp"

namespace aevb {

enum class DecoderKind { kBernoulli, kGaussian };
DecoderKind parse_decoder(const std::string& name);  // throws usage_error
std::string to_string(DecoderKind d);

struct ModelSpec {
  int64_t x_dim = 784;
  std::vector<int64_t> hidden{500};
  int64_t latent = 20;
  Activation activation = Activation::kTanh;
  DecoderKind decoder = DecoderKind::kBernoulli;
  bool gaussian_sigmoid_mean = true;  // squash the Gaussian mean into (0,1) (AEVB paper, Frey Face)
  // Full variational Bayes over the decoder's weights (core/bayes_decoder.hpp):
  // the decoder's blocks hold mu_theta, followed by rho_theta in the same layout.
  bool bayes = false;
  float prior_precision = 1.f;  // bayes: lambda of the prior p(theta) = N(0, I/lambda)

  std::string hidden_string() const;                        // "500" or "200,200"
  static std::vector<int64_t> parse_hidden(const std::string& s);  // throws usage_error
  bool operator==(const ModelSpec&) const = default;
};

// Weights and biases of the model spec describes, computed without allocating;
// -1 if the count does not fit in int64 (a corrupted or hostile file's
// architecture is checked with this before a Vae is built).
int64_t param_count(const ModelSpec& spec);

class Vae {
 public:
  explicit Vae(const ModelSpec& spec);
  Vae(const Vae&) = delete;
  Vae& operator=(const Vae&) = delete;

  const ModelSpec& spec() const { return spec_; }
  const ParamLayout& layout() const { return layout_; }
  int64_t num_params() const { return layout_.total(); }
  // The decoder's blocks occupy [decoder_begin(), num_params()) of the flat
  // buffers; its gradients are complete before the encoder's backward starts,
  // which is what lets the allreduce of that range overlap the encoder backward.
  int64_t decoder_begin() const { return decoder_begin_; }
  // Where the decoder's blocks end: num_params() for a MAP model; for a Bayesian
  // one (spec.bayes) rho_theta fills [rho_begin(), num_params()), laid out as
  // the decoder's blocks [decoder_begin(), rho_begin()).
  int64_t rho_begin() const { return rho_begin_; }

  FloatBuffer params;  // theta, one contiguous buffer
  // The gradient, same layout as params: a view into the model's own buffer,
  // or into one the caller provides (bind_gradients), e.g. the trainer's
  // reduction buffer, which carries control flags behind the gradient.
  std::span<float> grads;
  void bind_gradients(float* g);  // nullptr: the model's own buffer again

  Mlp encoder;
  Mlp decoder;

 private:
  Vae(const ModelSpec& spec, ParamLayout&& layout_scratch);
  ModelSpec spec_;
  ParamLayout layout_;
  int64_t decoder_begin_ = 0, rho_begin_ = 0;
  FloatBuffer own_grads_;
};

enum class InitScheme { kNormal, kGlorot };
InitScheme parse_init(const std::string& name);
// Weights ~ N(0, std^2) (AEVB paper, std = 0.01) or Glorot-uniform (IWAE paper);
// biases 0. Keyed by (seed, kInit, block index): identical on every rank.
void init_params(Vae& m, InitScheme scheme, float normal_std, uint64_t seed);
// Sets the decoder's output bias to logit(mean pixel) (Bernoulli) or to the mean
// (Gaussian, pre-sigmoid when squashed): the usual trick that removes the first
// epoch's "learn the average image" phase.
void init_output_bias_to_mean(Vae& m, const std::vector<double>& mean_x);

}  // namespace aevb
