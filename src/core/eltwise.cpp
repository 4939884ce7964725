#include "aevb/core/eltwise.hpp"

#include "aevb/core/dnnl_context.hpp"

namespace aevb {

void Eltwise::forward(dnnl::algorithm alg, const float* in, float* out, int64_t n, float alpha,
                      float beta) {
  auto& ctx = dnnl_context();
  const auto k = std::make_tuple(static_cast<int>(alg), n, alpha, beta);
  auto it = cache_.find(k);
  if (it == cache_.end()) {
    dnnl::memory::desc md({n}, dnnl::memory::data_type::f32, dnnl::memory::format_tag::a);
    dnnl::eltwise_forward::desc d(dnnl::prop_kind::forward_inference, alg, md, alpha, beta);
    dnnl::eltwise_forward::primitive_desc pd(d, ctx.engine);
    Prim p{dnnl::memory(md, ctx.engine, DNNL_MEMORY_NONE), dnnl::memory(md, ctx.engine, DNNL_MEMORY_NONE),
           dnnl::eltwise_forward(pd)};
    it = cache_.emplace(k, std::move(p)).first;
  }
  Prim& p = it->second;
  p.src.set_data_handle(const_cast<float*>(in));
  p.dst.set_data_handle(out);
  p.prim.execute(ctx.stream, {{DNNL_ARG_SRC, p.src}, {DNNL_ARG_DST, p.dst}});
  ctx.stream.wait();
}

}  // namespace aevb
