#include "gemm_bound.hpp"

#include "aevb/core/dnnl_context.hpp"

namespace aevb::bench {

using dnnl::memory;
using tag = memory::format_tag;

StepGemms::StepGemms(const std::vector<int64_t>& enc, const std::vector<int64_t>& dec, int64_t rows,
                     int64_t dec_rows) {
  auto layers = [&](const std::vector<int64_t>& s, int64_t r, bool first_is_input) {
    for (size_t i = 0; i + 1 < s.size(); ++i) {
      const int64_t in = s[i], out = s[i + 1];
      add(r, in, out, false, false);                              // forward: [r,in] x [in,out]
      add(in, r, out, true, false);                               // backward-weights: [in,r]^T-view x [r,out]
      if (!(first_is_input && i == 0)) add(r, out, in, false, true);  // backward-data: [r,out] x [out,in]^T-view
    }
  };
  layers(enc, rows, true);
  layers(dec, dec_rows, false);
}

void StepGemms::add(int64_t m, int64_t k, int64_t n, bool at, bool bt) {
  auto& ctx = dnnl_context();
  memory::desc a({m, k}, memory::data_type::f32, at ? tag::ba : tag::ab);
  memory::desc b({k, n}, memory::data_type::f32, bt ? tag::ba : tag::ab);
  memory::desc c({m, n}, memory::data_type::f32, tag::ab);
  dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a, b, c), ctx.engine);
  for (int64_t sz : {m * k, k * n, m * n}) storage_.emplace_back(static_cast<size_t>(sz), 0.01f);
  const size_t s = storage_.size();
  gemms_.push_back({dnnl::matmul(pd), memory(a, ctx.engine, storage_[s - 3].data()),
                    memory(b, ctx.engine, storage_[s - 2].data()), memory(c, ctx.engine, storage_[s - 1].data())});
  flops_ += 2.0 * static_cast<double>(m) * static_cast<double>(k) * static_cast<double>(n);
}

void StepGemms::run() {
  auto& s = dnnl_context().stream;
  for (auto& g : gemms_) g.prim.execute(s, {{DNNL_ARG_SRC, g.a}, {DNNL_ARG_WEIGHTS, g.b}, {DNNL_ARG_DST, g.c}});
  s.wait();
}

}  // namespace aevb::bench
