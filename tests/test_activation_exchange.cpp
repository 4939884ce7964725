// The activation exchange's math (train/activation_exchange.hpp), in process:
// the weight gradients formed from the layers' inputs and deltas are the
// backward pass's, and the rows of two half batches, concatenated, give the
// whole batch's gradient. (Across ranks: MpiTrain.ReductionsAgree.)
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "aevb/base/rng.hpp"
#include "aevb/core/sgvb.hpp"
#include "aevb/core/vae.hpp"

namespace aevb {
namespace {

struct Case {
  Activation act;
  Estimator est;
  int samples;
  Objective obj;
};

class LayerIoGradients : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    spec.hidden = {24, 16};
    spec.latent = 5;
    spec.x_dim = 30;
    spec.activation = GetParam().act;
    x.resize(static_cast<size_t>(rows * spec.x_dim));
    uniforms({5, Purpose::kInit, 0, 0, 0}, x.data(), static_cast<int64_t>(x.size()));
    for (float& v : x) v = v < 0.4f ? 1.f : 0.f;
    index.resize(static_cast<size_t>(rows));
    for (int64_t i = 0; i < rows; ++i) index[static_cast<size_t>(i)] = 100 + 7 * i;
  }
  // Forward over rows [r0, r1) of the batch, then the deltas alone.
  void deltas(Vae& m, Sgvb& sg, int64_t r0, int64_t r1) {
    sg.forward({x.data() + r0 * spec.x_dim, index.data() + r0, r1 - r0}, {9, Purpose::kLatentNoise, 3}, kScale);
    sg.backward_decoder(false);
    sg.backward_encoder(false);
    (void)m;
  }
  Sgvb make_sgvb(Vae& m) const { return Sgvb(m, GetParam().est, GetParam().samples, GetParam().obj); }
  // The whole batch's gradient by the backward passes with weights.
  std::vector<float> full_gradient(Vae& m, Sgvb& sg) {
    sg.forward({x.data(), index.data(), rows}, {9, Purpose::kLatentNoise, 3}, kScale);
    sg.backward_decoder();
    sg.backward_encoder();
    return {m.grads.begin(), m.grads.end()};
  }

  static constexpr float kScale = 12.5f;
  ModelSpec spec;
  const int64_t rows = 13;
  std::vector<float> x;
  std::vector<int64_t> index;
};

std::vector<Mlp::LayerIo> all_layer_io(Mlp& net, int64_t rows) {
  std::vector<Mlp::LayerIo> io;
  for (size_t i = 0; i < net.num_layers(); ++i) io.push_back(net.layer_io(rows, i));
  return io;
}

// Copies of one network's layer inputs and deltas (rows r each).
struct Rows {
  std::vector<std::vector<float>> in, delta;
};
Rows copy_io(Mlp& net, int64_t r) {
  Rows out;
  for (size_t i = 0; i < net.num_layers(); ++i) {
    const Mlp::LayerIo io = net.layer_io(r, i);
    out.in.emplace_back(io.in, io.in + r * net.sizes()[i]);
    out.delta.emplace_back(io.delta, io.delta + r * net.sizes()[i + 1]);
  }
  return out;
}

// weights = false, then weight_gradients(layer_io) over the same rows: the
// same primitive on the same bytes as the backward pass with weights.
TEST_P(LayerIoGradients, AreTheBackwardPassBitForBit) {
  Vae m(spec);
  init_params(m, InitScheme::kNormal, 0.3f, 1);
  Sgvb sg = make_sgvb(m);
  const std::vector<float> ref = full_gradient(m, sg);

  std::fill(m.grads.begin(), m.grads.end(), -1.f);
  deltas(m, sg, 0, rows);
  // The passes without weights leave the gradient alone.
  EXPECT_TRUE(std::all_of(m.grads.begin(), m.grads.end(), [](float g) { return g == -1.f; }));
  std::fill(m.grads.begin(), m.grads.end(), 0.f);  // (the padding between blocks stays 0)
  const auto enc = all_layer_io(m.encoder, rows);
  const auto dec = all_layer_io(m.decoder, rows * GetParam().samples);
  m.encoder.weight_gradients(enc.data(), rows);
  m.decoder.weight_gradients(dec.data(), rows * GetParam().samples);
  const std::vector<float> got(m.grads.begin(), m.grads.end());
  for (size_t k = 0; k < ref.size(); ++k) ASSERT_EQ(got[k], ref[k]) << k << " of " << ref.size();
}

// Two "ranks": rows [0, 6) and [6, 13) each run forward and the deltas; their
// layer inputs and deltas concatenated in batch order give the whole batch's
// weight gradients (up to the GEMMs' row-count-dependent summation order).
TEST_P(LayerIoGradients, OfTwoHalvesConcatenatedAreTheWholeBatch) {
  Vae m(spec);
  init_params(m, InitScheme::kNormal, 0.3f, 1);
  Sgvb sg = make_sgvb(m);
  const std::vector<float> ref = full_gradient(m, sg);

  const int64_t L = GetParam().samples, split = 6;
  std::vector<Rows> enc, dec;
  for (auto [r0, r1] : {std::pair<int64_t, int64_t>{0, split}, {split, rows}}) {
    deltas(m, sg, r0, r1);
    enc.push_back(copy_io(m.encoder, r1 - r0));
    dec.push_back(copy_io(m.decoder, (r1 - r0) * L));
  }
  auto join = [](std::vector<Rows>& parts, std::vector<std::vector<float>>& keep) {
    std::vector<Mlp::LayerIo> io;
    for (size_t i = 0; i < parts[0].in.size(); ++i) {
      std::vector<float> a = parts[0].in[i], b = parts[0].delta[i];
      a.insert(a.end(), parts[1].in[i].begin(), parts[1].in[i].end());
      b.insert(b.end(), parts[1].delta[i].begin(), parts[1].delta[i].end());
      keep.push_back(std::move(a));
      keep.push_back(std::move(b));
      io.push_back({keep[keep.size() - 2].data(), keep.back().data()});
    }
    return io;
  };
  std::vector<std::vector<float>> keep;
  keep.reserve(32);
  const auto enc_io = join(enc, keep);
  const auto dec_io = join(dec, keep);
  std::fill(m.grads.begin(), m.grads.end(), 0.f);
  m.encoder.weight_gradients(enc_io.data(), rows);
  m.decoder.weight_gradients(dec_io.data(), rows * L);
  double scale = 0;
  for (float g : ref) scale = std::max(scale, double(std::abs(g)));
  ASSERT_GT(scale, 0);
  for (size_t k = 0; k < ref.size(); ++k) ASSERT_NEAR(m.grads[k], ref[k], 1e-5 * scale) << k;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, LayerIoGradients,
    ::testing::Values(Case{Activation::kTanh, Estimator::kB, 1, Objective::kElbo},
                      Case{Activation::kSoftplus, Estimator::kA, 2, Objective::kElbo},
                      Case{Activation::kRelu, Estimator::kA, 3, Objective::kIwae}),
    [](const ::testing::TestParamInfo<Case>& i) {
      return to_string(i.param.act) + (i.param.obj == Objective::kIwae ? "_iwae" : "_elbo") + "_L" +
             std::to_string(i.param.samples);
    });

}  // namespace
}  // namespace aevb
