#include "aevb/core/vae.hpp"

#include <cmath>
#include <sstream>

#include "aevb/base/error.hpp"
#include "aevb/base/rng.hpp"

namespace aevb {

DecoderKind parse_decoder(const std::string& name) {
  if (name == "bernoulli") return DecoderKind::kBernoulli;
  if (name == "gaussian") return DecoderKind::kGaussian;
  throw usage_error("--decoder: unknown decoder '" + name + "', expected bernoulli or gaussian");
}
std::string to_string(DecoderKind d) { return d == DecoderKind::kBernoulli ? "bernoulli" : "gaussian"; }

std::string ModelSpec::hidden_string() const {
  if (hidden.empty()) return "none";
  std::string s;
  for (size_t i = 0; i < hidden.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(hidden[i]);
  }
  return s;
}

std::vector<int64_t> ModelSpec::parse_hidden(const std::string& s) {
  std::vector<int64_t> out;
  if (s == "none") return out;  // linear encoder and decoder (e.g. probabilistic PCA)
  std::stringstream ss(s);
  std::string tok;
  while (std::getline(ss, tok, ',')) {
    size_t pos = 0;
    long long v = 0;
    try {
      v = std::stoll(tok, &pos);
    } catch (...) {
      pos = 0;
    }
    if (pos == 0 || pos != tok.size() || v <= 0)
      throw usage_error(
          "--hidden: expected a comma-separated list of positive layer sizes (e.g. 500 or 200,200) or none, got '" + s +
          "'");
    out.push_back(v);
  }
  return out;
}

namespace {
std::vector<int64_t> encoder_sizes(const ModelSpec& s) {
  std::vector<int64_t> v{s.x_dim};
  v.insert(v.end(), s.hidden.begin(), s.hidden.end());
  v.push_back(2 * s.latent);
  return v;
}
std::vector<int64_t> decoder_sizes(const ModelSpec& s) {
  std::vector<int64_t> v{s.latent};
  v.insert(v.end(), s.hidden.rbegin(), s.hidden.rend());
  v.push_back(s.decoder == DecoderKind::kBernoulli ? s.x_dim : 2 * s.x_dim);
  return v;
}
}  // namespace

int64_t param_count(const ModelSpec& spec) {
  // As ParamLayout::add counts: each W and b block padded to 16 floats.
  int64_t total = 0;
  auto add = [&](int64_t rows, int64_t cols) {
    int64_t n = 0;
    return rows >= 0 && cols >= 0 && !__builtin_mul_overflow(rows, cols, &n) &&
           !__builtin_add_overflow(n, 15, &n) && !__builtin_add_overflow(total, n / 16 * 16, &total);
  };
  std::vector<std::vector<int64_t>> nets{encoder_sizes(spec), decoder_sizes(spec)};
  if (spec.bayes) nets.push_back(decoder_sizes(spec));  // rho_theta mirrors the decoder
  for (const auto& sizes : nets)
    for (size_t l = 0; l + 1 < sizes.size(); ++l)
      if (!add(sizes[l], sizes[l + 1]) || !add(1, sizes[l + 1])) return -1;
  return total;
}

Vae::Vae(const ModelSpec& spec) : Vae(spec, ParamLayout{}) {}

Vae::Vae(const ModelSpec& spec, ParamLayout&& scratch)
    : encoder("encoder", encoder_sizes(spec), spec.activation, scratch),
      decoder("decoder", decoder_sizes(spec), spec.activation, scratch),
      spec_(spec),
      layout_(std::move(scratch)) {
  if (spec.x_dim <= 0 || spec.latent <= 0) throw usage_error("model dimensions must be positive");
  decoder_begin_ = decoder.weight_offset(0);  // decoder blocks were registered after the encoder's
  rho_begin_ = layout_.total();
  if (spec.bayes) {
    // rho_theta: the decoder's blocks again, same shapes and padding, so the rho
    // of the parameter at p sits at p + rho_begin - decoder_begin.
    const auto& sizes = decoder.sizes();
    for (size_t l = 0; l + 1 < sizes.size(); ++l) {
      layout_.add("decoder_rho." + std::to_string(l) + ".W", sizes[l], sizes[l + 1]);
      layout_.add("decoder_rho." + std::to_string(l) + ".b", 1, sizes[l + 1]);
    }
  }
  params.assign(static_cast<size_t>(layout_.total()), 0.f);
  own_grads_.assign(static_cast<size_t>(layout_.total()), 0.f);
  bind_gradients(own_grads_.data());
}

void Vae::bind_gradients(float* g) {
  if (!g) g = own_grads_.data();
  grads = std::span<float>(g, static_cast<size_t>(layout_.total()));
  encoder.bind(params.data(), g);
  decoder.bind(params.data(), g);
}

InitScheme parse_init(const std::string& name) {
  if (name == "normal") return InitScheme::kNormal;
  if (name == "glorot") return InitScheme::kGlorot;
  throw usage_error("--init: unknown scheme '" + name + "', expected normal or glorot");
}

void init_params(Vae& m, InitScheme scheme, float normal_std, uint64_t seed) {
  const auto& blocks = m.layout().blocks();
  for (size_t bi = 0; bi < blocks.size(); ++bi) {
    const ParamBlock& b = blocks[bi];
    float* p = m.params.data() + b.offset;
    const bool is_bias = b.rows == 1;
    if (is_bias) {
      std::fill(p, p + b.size(), 0.f);
      continue;
    }
    NoiseKey key{seed, Purpose::kInit, 0, bi, 0};
    if (scheme == InitScheme::kNormal) {
      normals(key, p, b.size());
      for (int64_t i = 0; i < b.size(); ++i) p[i] *= normal_std;
    } else {
      const float a = std::sqrt(6.0f / static_cast<float>(b.rows + b.cols));
      uniforms(key, p, b.size());
      for (int64_t i = 0; i < b.size(); ++i) p[i] = (2.f * p[i] - 1.f) * a;
    }
  }
}

void init_output_bias_to_mean(Vae& m, const std::vector<double>& mean_x) {
  const auto& s = m.spec();
  float* b = m.params.data() + m.decoder.bias_offset(m.decoder.num_layers() - 1);
  for (int64_t d = 0; d < s.x_dim; ++d) {
    const double p = std::min(std::max(mean_x[static_cast<size_t>(d)], 1e-3), 1.0 - 1e-3);
    const bool logit = s.decoder == DecoderKind::kBernoulli || s.gaussian_sigmoid_mean;
    b[d] = static_cast<float>(logit ? std::log(p / (1.0 - p)) : mean_x[static_cast<size_t>(d)]);
  }
}

}  // namespace aevb
