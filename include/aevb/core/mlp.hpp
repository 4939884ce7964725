// A multilayer perceptron on oneDNN primitives, with explicit forward and backward.
//
// Hidden layers apply an activation (fused into the forward GEMM as a oneDNN
// post-op where possible); the last layer is linear: the heads of the encoder
// (mu, log sigma^2) and decoder (logits or mean/log-variance) are interpreted by
// the estimator code, not here.
//
// Weights are views into the model's flat parameter buffer, weight gradients are
// written straight into the flat gradient buffer. Primitives and workspaces are
// created once per row count ("plan") and reused every step.
#pragma once
#include <dnnl.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "aevb/base/buffer.hpp"
#include "aevb/core/param_layout.hpp"

namespace aevb {

enum class Activation { kTanh, kRelu, kSoftplus };
Activation parse_activation(const std::string& name);  // throws usage_error
std::string to_string(Activation a);

class Mlp {
 public:
  // sizes = {in, hidden..., out}. Registers "<name>.<i>.W" ([in_i x out_i]) and
  // "<name>.<i>.b" ([1 x out_i]) in layout.
  Mlp(const std::string& name, std::vector<int64_t> sizes, Activation act, ParamLayout& layout);
  ~Mlp();
  Mlp(Mlp&&) noexcept;

  // Points the layer views at the flat buffers; primitives and workspaces are
  // kept. Also the way to run the network with other weights of the same layout
  // (e.g. weights sampled from a posterior over them): bind a buffer of sampled
  // weights, run forward and backward, bind back.
  void bind(float* params, float* grads);

  int64_t in_dim() const { return sizes_.front(); }
  int64_t out_dim() const { return sizes_.back(); }
  const std::vector<int64_t>& sizes() const { return sizes_; }
  Activation activation() const { return act_; }
  int64_t weight_offset(size_t layer) const { return w_off_[layer]; }
  int64_t bias_offset(size_t layer) const { return b_off_[layer]; }
  size_t num_layers() const { return sizes_.size() - 1; }

  // y = MLP(x) for `rows` rows (x is rows x in_dim, row-major, must stay valid
  // until backward). Returns rows x out_dim, owned by this Mlp until the next call.
  float* forward(const float* x, int64_t rows);

  // After forward(x, rows): dout = dL/dy (rows x out_dim), overwritten as scratch.
  // Writes dL/dW and dL/db into the gradient buffer (overwrite, not accumulate).
  // Returns dL/dx (rows x in_dim) when need_dx, else nullptr.
  // weights = false: the gradients of the layers' outputs alone (deltas), the
  // weight gradients untouched; layer_io() then names what they would be
  // computed from, and weight_gradients() computes them, possibly over the rows
  // of several such passes (the trainer's activation exchange).
  float* backward(float* dout, int64_t rows, bool need_dx, bool weights = true);

  // After forward(x, rows): dL/dx alone, the weight gradients untouched (what
  // HMC and annealed importance sampling need of the decoder: the gradient of
  // log p(x|z) with respect to z). dout is overwritten as scratch.
  float* backward_data(float* dout, int64_t rows);

  // What layer `layer`'s weight gradient is formed from, each rows x width, row-major:
  // its input (rows x in_i) and the loss's gradient at its pre-activation
  // output (rows x out_i). After forward(x, rows) and backward(dout, rows, ...)
  // these point into this Mlp's workspaces (the first input is the caller's x,
  // the last delta the caller's dout) and stay valid until the next call.
  struct LayerIo {
    const float* in = nullptr;
    const float* delta = nullptr;
  };
  LayerIo layer_io(int64_t rows, size_t layer);

  // dL/dW = in^T delta and dL/db = column sums of delta for every layer, from
  // `rows` rows of each layer's io (one entry per layer), written into the
  // gradient buffer (overwrite). The same primitive as backward() at that row
  // count, so the same bits as a backward pass over those rows.
  void weight_gradients(const LayerIo* io, int64_t rows);

 private:
  struct Plan;
  Plan& plan(int64_t rows);
  float* backward_pass(float* dout, int64_t rows, bool weights, bool need_dx);

  std::vector<int64_t> sizes_;
  Activation act_;
  std::vector<int64_t> w_off_, b_off_;
  float* params_ = nullptr;
  float* grads_ = nullptr;
  std::unordered_map<int64_t, std::unique_ptr<Plan>> plans_;
};

}  // namespace aevb
