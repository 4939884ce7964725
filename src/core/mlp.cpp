#include "aevb/core/mlp.hpp"

#include "aevb/core/dnnl_context.hpp"
#include "aevb/base/error.hpp"
#include "aevb/base/simd.hpp"
#include "aevb/core/parallel.hpp"

#include <algorithm>

namespace aevb {

using dnnl::algorithm;
using dnnl::memory;
using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;
using ArgMap = std::unordered_map<int, memory>;

Activation parse_activation(const std::string& name) {
  if (name == "tanh") return Activation::kTanh;
  if (name == "relu") return Activation::kRelu;
  if (name == "softplus") return Activation::kSoftplus;
  throw usage_error("--activation: unknown activation '" + name + "', expected tanh, relu or softplus");
}

std::string to_string(Activation a) {
  switch (a) {
    case Activation::kTanh: return "tanh";
    case Activation::kRelu: return "relu";
    case Activation::kSoftplus: return "softplus";
  }
  return "?";
}

namespace {
// Forward post-op algorithm, and the backward algorithm with what it reads.
// tanh and relu differentiate from their output (kept anyway as the next
// layer's input); softplus needs its input, so it keeps a pre-activation buffer.
algorithm fwd_alg(Activation a) {
  switch (a) {
    case Activation::kTanh: return algorithm::eltwise_tanh;
    case Activation::kRelu: return algorithm::eltwise_relu;
    case Activation::kSoftplus: return algorithm::eltwise_soft_relu;
  }
  return algorithm::eltwise_tanh;
}
algorithm bwd_alg(Activation a) {
  switch (a) {
    case Activation::kTanh: return algorithm::eltwise_tanh_use_dst_for_bwd;
    case Activation::kRelu: return algorithm::eltwise_relu_use_dst_for_bwd;
    case Activation::kSoftplus: return algorithm::eltwise_soft_relu;
  }
  return algorithm::eltwise_tanh_use_dst_for_bwd;
}
bool needs_preactivation(Activation a) { return a == Activation::kSoftplus; }

// Columns c0..c1 of the sums (each column summed in row order, whatever the split).
AEVB_CLONES void column_sums(const float* __restrict g, int64_t rows, int64_t cols, int64_t c0, int64_t c1,
                             float* __restrict out) {
  for (int64_t c = c0; c < c1; ++c) out[c] = 0.f;
  for (int64_t r = 0; r < rows; ++r) {
    const float* gr = g + r * cols;
#pragma omp simd
    for (int64_t c = c0; c < c1; ++c) out[c] += gr[c];
  }
}

memory::desc mat(int64_t r, int64_t c, tag t = tag::ab) { return memory::desc({r, c}, dt::f32, t); }
}  // namespace

struct Mlp::Plan {
  struct Layer {
    // Buffers: out = activations (rows x out), pre = pre-activations (softplus),
    // din = dL/d(input) (rows x in).
    FloatBuffer out, pre, din;
    dnnl::matmul fwd, bwd_data, bwd_weights;
    dnnl::eltwise_backward act_bwd;
    dnnl::eltwise_forward act_fwd;  // softplus only (not fusable: we need its input)
    bool has_act_fwd = false, has_act_bwd = false;
    memory in_m, in_t_m, w_m, w_t_m, b_m, out_m, pre_m, dout_m, din_m, dw_m;
    memory io_in_t_m, io_delta_m;  // weight_gradients(): views of the caller's rows
    ArgMap fwd_args, act_fwd_args, act_bwd_args, bwd_w_args, bwd_d_args, io_w_args;
  };
  std::vector<Layer> layers;
};

Mlp::Mlp(const std::string& name, std::vector<int64_t> sizes, Activation act, ParamLayout& layout)
    : sizes_(std::move(sizes)), act_(act) {
  for (size_t i = 0; i + 1 < sizes_.size(); ++i) {
    w_off_.push_back(layout.add(name + "." + std::to_string(i) + ".W", sizes_[i], sizes_[i + 1]));
    b_off_.push_back(layout.add(name + "." + std::to_string(i) + ".b", 1, sizes_[i + 1]));
  }
}
Mlp::~Mlp() = default;
Mlp::Mlp(Mlp&&) noexcept = default;

// The plans keep their primitives and workspaces (activations of the last
// forward included): only the weight, bias and weight-gradient memories move
// (dnnl::memory objects are shared handles, so the argument maps follow).
void Mlp::bind(float* params, float* grads) {
  params_ = params;
  grads_ = grads;
  for (auto& [rows, plan] : plans_)
    for (size_t i = 0; i < plan->layers.size(); ++i) {
      auto& L = plan->layers[i];
      L.w_m.set_data_handle(params + w_off_[i]);
      L.w_t_m.set_data_handle(params + w_off_[i]);
      L.b_m.set_data_handle(params + b_off_[i]);
      L.dw_m.set_data_handle(grads + w_off_[i]);
    }
}

Mlp::Plan& Mlp::plan(int64_t rows) {
  auto it = plans_.find(rows);
  if (it != plans_.end()) return *it->second;
  auto& eng = dnnl_context().engine;
  auto p = std::make_unique<Plan>();
  const size_t n = num_layers();
  p->layers.resize(n);
  for (size_t i = 0; i < n; ++i) {
    auto& L = p->layers[i];
    const int64_t in = sizes_[i], out = sizes_[i + 1];
    const bool hidden = i + 1 < n;
    const bool fused = hidden && !needs_preactivation(act_);
    L.out.assign(static_cast<size_t>(rows * out), 0.f);
    L.din.assign(static_cast<size_t>(rows * in), 0.f);
    if (hidden && needs_preactivation(act_)) L.pre.assign(static_cast<size_t>(rows * out), 0.f);

    float* in_ptr = i == 0 ? nullptr : p->layers[i - 1].out.data();  // layer 0: set per call
    float* w = params_ + w_off_[i];
    float* b = params_ + b_off_[i];
    L.in_m = memory(mat(rows, in), eng, in_ptr ? in_ptr : DNNL_MEMORY_NONE);
    L.in_t_m = memory(mat(in, rows, tag::ba), eng, in_ptr ? in_ptr : DNNL_MEMORY_NONE);
    L.w_m = memory(mat(in, out), eng, w);
    L.w_t_m = memory(mat(out, in, tag::ba), eng, w);
    L.b_m = memory(mat(1, out), eng, b);
    L.out_m = memory(mat(rows, out), eng, L.out.data());
    L.dw_m = memory(mat(in, out), eng, grads_ + w_off_[i]);
    L.din_m = memory(mat(rows, in), eng, L.din.data());
    // dL/d(out of this layer): for the last layer the caller's buffer (set per
    // call), otherwise the next layer's din.
    L.dout_m = memory(mat(rows, out), eng, DNNL_MEMORY_NONE);

    // Forward: out = act(in W + b), activation fused when it can be.
    dnnl::primitive_attr attr;
    if (fused) {
      dnnl::post_ops po;
      po.append_eltwise(1.f, fwd_alg(act_), 0.f, 0.f);
      attr.set_post_ops(po);
    }
    memory& fwd_dst = (hidden && !fused) ? (L.pre_m = memory(mat(rows, out), eng, L.pre.data())) : L.out_m;
    dnnl::matmul::primitive_desc fpd(dnnl::matmul::desc(mat(rows, in), mat(in, out), mat(1, out), mat(rows, out)),
                                     attr, eng);
    L.fwd = dnnl::matmul(fpd);
    L.fwd_args = {{DNNL_ARG_SRC, L.in_m}, {DNNL_ARG_WEIGHTS, L.w_m}, {DNNL_ARG_BIAS, L.b_m}, {DNNL_ARG_DST, fwd_dst}};

    if (hidden) {
      dnnl::eltwise_forward::primitive_desc afpd(
          dnnl::eltwise_forward::desc(dnnl::prop_kind::forward_training,
                                      fused ? bwd_alg(act_) : fwd_alg(act_), mat(rows, out), 0.f, 0.f),
          eng);
      if (!fused) {
        L.act_fwd = dnnl::eltwise_forward(afpd);
        L.has_act_fwd = true;
        L.act_fwd_args = {{DNNL_ARG_SRC, L.pre_m}, {DNNL_ARG_DST, L.out_m}};
      }
      dnnl::eltwise_backward::primitive_desc abpd(
          dnnl::eltwise_backward::desc(bwd_alg(act_), mat(rows, out), mat(rows, out), 0.f, 0.f), eng, afpd);
      L.act_bwd = dnnl::eltwise_backward(abpd);
      L.has_act_bwd = true;
      // In place: diff_src overwrites diff_dst.
      L.act_bwd_args = {{fused ? DNNL_ARG_DST : DNNL_ARG_SRC, fused ? L.out_m : L.pre_m},
                        {DNNL_ARG_DIFF_DST, L.dout_m},
                        {DNNL_ARG_DIFF_SRC, L.dout_m}};
    }
    // Backward-weights: dW = in^T dout.
    dnnl::matmul::primitive_desc wpd(dnnl::matmul::desc(mat(in, rows, tag::ba), mat(rows, out), mat(in, out)), eng);
    L.bwd_weights = dnnl::matmul(wpd);
    L.bwd_w_args = {{DNNL_ARG_SRC, L.in_t_m}, {DNNL_ARG_WEIGHTS, L.dout_m}, {DNNL_ARG_DST, L.dw_m}};
    L.io_in_t_m = memory(mat(in, rows, tag::ba), eng, DNNL_MEMORY_NONE);
    L.io_delta_m = memory(mat(rows, out), eng, DNNL_MEMORY_NONE);
    L.io_w_args = {{DNNL_ARG_SRC, L.io_in_t_m}, {DNNL_ARG_WEIGHTS, L.io_delta_m}, {DNNL_ARG_DST, L.dw_m}};
    // Backward-data: din = dout W^T.
    dnnl::matmul::primitive_desc dpd(dnnl::matmul::desc(mat(rows, out), mat(out, in, tag::ba), mat(rows, in)), eng);
    L.bwd_data = dnnl::matmul(dpd);
    L.bwd_d_args = {{DNNL_ARG_SRC, L.dout_m}, {DNNL_ARG_WEIGHTS, L.w_t_m}, {DNNL_ARG_DST, L.din_m}};
  }
  // Hidden layers read dL/d(out) from the next layer's din.
  for (size_t i = 0; i + 1 < n; ++i) p->layers[i].dout_m.set_data_handle(p->layers[i + 1].din.data());
  auto& ref = *p;
  plans_.emplace(rows, std::move(p));
  return ref;
}

float* Mlp::forward(const float* x, int64_t rows) {
  Plan& p = plan(rows);
  auto& s = dnnl_context().stream;
  p.layers[0].in_m.set_data_handle(const_cast<float*>(x));
  p.layers[0].in_t_m.set_data_handle(const_cast<float*>(x));
  for (auto& L : p.layers) {
    L.fwd.execute(s, L.fwd_args);
    if (L.has_act_fwd) L.act_fwd.execute(s, L.act_fwd_args);
  }
  s.wait();
  return p.layers.back().out.data();
}

float* Mlp::backward(float* dout, int64_t rows, bool need_dx, bool weights) {
  return backward_pass(dout, rows, weights, need_dx);
}

float* Mlp::backward_data(float* dout, int64_t rows) { return backward_pass(dout, rows, false, true); }

// Layer by layer from the output: the activation's derivative, then (with
// weights) dW = in^T dout and db = column sums of dout, then din = dout W^T.
float* Mlp::backward_pass(float* dout, int64_t rows, bool weights, bool need_dx) {
  Plan& p = plan(rows);
  auto& s = dnnl_context().stream;
  p.layers.back().dout_m.set_data_handle(dout);
  for (size_t i = p.layers.size(); i-- > 0;) {
    auto& L = p.layers[i];
    if (L.has_act_bwd) L.act_bwd.execute(s, L.act_bwd_args);
    if (weights) L.bwd_weights.execute(s, L.bwd_w_args);
    if (i > 0 || need_dx) L.bwd_data.execute(s, L.bwd_d_args);
    if (!weights) continue;
    s.wait();
    const auto* dout_i = static_cast<const float*>(L.dout_m.get_data_handle());
    const int64_t cols = sizes_[i + 1];
    parallel_for((cols + 15) / 16, [&](int64_t b0, int64_t b1) {
      column_sums(dout_i, rows, cols, b0 * 16, std::min(cols, b1 * 16), grads_ + b_off_[i]);
    });
  }
  s.wait();
  return need_dx ? p.layers[0].din.data() : nullptr;
}

Mlp::LayerIo Mlp::layer_io(int64_t rows, size_t layer) {
  const auto& L = plan(rows).layers[layer];
  return {static_cast<const float*>(L.in_m.get_data_handle()), static_cast<const float*>(L.dout_m.get_data_handle())};
}

void Mlp::weight_gradients(const LayerIo* io, int64_t rows) {
  Plan& p = plan(rows);
  auto& s = dnnl_context().stream;
  for (size_t i = 0; i < p.layers.size(); ++i) {
    auto& L = p.layers[i];
    const int64_t out = sizes_[i + 1];
    // The plan's views, pointed at the caller's rows (no copy, no allocation).
    L.io_in_t_m.set_data_handle(const_cast<float*>(io[i].in));
    L.io_delta_m.set_data_handle(const_cast<float*>(io[i].delta));
    L.bwd_weights.execute(s, L.io_w_args);
    parallel_for((out + 15) / 16, [&](int64_t b0, int64_t b1) {
      column_sums(io[i].delta, rows, out, b0 * 16, std::min(out, b1 * 16), grads_ + b_off_[i]);
    });
  }
  s.wait();
}

}  // namespace aevb
