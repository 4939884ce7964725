#include "aevb/core/nearest.hpp"

#include <dnnl.hpp>

#include <algorithm>
#include <limits>
#include <map>

#include "aevb/core/dnnl_context.hpp"

namespace aevb {

// C (n x rows) = A (n x D) B^T, B (rows x D): a oneDNN matmul per candidate
// block size, created once and reused.
struct MaskedNearest::Gemm {
  struct Prim {
    dnnl::matmul mm;
    dnnl::memory::desc a, b, c;
  };
  std::map<int64_t, Prim> by_rows;
  void run(const float* A, int64_t n, const float* B, int64_t rows, int64_t D, float* C) {
    auto& ctx = dnnl_context();
    auto it = by_rows.find(rows);
    if (it == by_rows.end()) {
      using dt = dnnl::memory::data_type;
      dnnl::memory::desc a({n, D}, dt::f32, dnnl::memory::format_tag::ab);
      dnnl::memory::desc b({D, rows}, dt::f32, dnnl::memory::format_tag::ba);  // B^T, stored as B
      dnnl::memory::desc c({n, rows}, dt::f32, dnnl::memory::format_tag::ab);
      dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a, b, c), ctx.engine);
      it = by_rows.emplace(rows, Prim{dnnl::matmul(pd), a, b, c}).first;
    }
    Prim& p = it->second;
    dnnl::memory ma(p.a, ctx.engine, const_cast<float*>(A)), mb(p.b, ctx.engine, const_cast<float*>(B)),
        mc(p.c, ctx.engine, C);
    p.mm.execute(ctx.stream, {{DNNL_ARG_SRC, ma}, {DNNL_ARG_WEIGHTS, mb}, {DNNL_ARG_DST, mc}});
    ctx.stream.wait();
  }
};

MaskedNearest::MaskedNearest(const float* x, const uint8_t* mask, int64_t n, int64_t D)
    : n_(n), D_(D), mx_(n * D), m_(n * D), xsq_(n, 0.f), best_(n, std::numeric_limits<double>::infinity()),
      best_index_(n, -1), best_rows_(n * D, 0.f), gemm_(std::make_unique<Gemm>()) {
  for (int64_t i = 0; i < n * D; ++i) {
    m_[i] = mask[i] ? 1.f : 0.f;
    mx_[i] = m_[i] * x[i];
    xsq_[i / D] += mx_[i] * x[i];
  }
}

MaskedNearest::~MaskedNearest() = default;

void MaskedNearest::offer(const float* b, int64_t rows, int64_t first_index) {
  bsq_.resize(rows * D_);
  cross_.resize(n_ * rows);
  msq_.resize(n_ * rows);
  for (int64_t i = 0; i < rows * D_; ++i) bsq_[i] = b[i] * b[i];
  gemm_->run(mx_.data(), n_, b, rows, D_, cross_.data());
  gemm_->run(m_.data(), n_, bsq_.data(), rows, D_, msq_.data());
  for (int64_t i = 0; i < n_; ++i)
    for (int64_t t = 0; t < rows; ++t) {
      const double d = double(xsq_[i]) - 2.0 * cross_[i * rows + t] + msq_[i * rows + t];
      if (d < best_[i]) {  // strictly better: the first of equal candidates wins, deterministically
        best_[i] = d;
        best_index_[i] = first_index + t;
        std::copy_n(b + t * D_, D_, &best_rows_[i * D_]);
      }
    }
}

}  // namespace aevb
