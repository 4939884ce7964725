// The evaluator's inner loop (ImportanceSampler: noise, reparameterization,
// decoder forward, Bernoulli log-likelihood, running log-sum-exp) against the
// bound set by the bare decoder-forward GEMMs of the same shapes, measured in
// the same run. One rank, one thread: aevb-eval runs one such loop per rank.
//
//   build/bench/aevb_bench_eval
//
// For K in {100, 1000, 5000} (chunk rows 2000, as aevb-eval's default):
//   DecoderGemms/K   the decoder's forward matmuls for one chunk  -> bound sample-evaluations/s
//   Importance/K     ImportanceSampler::run on real-sized data     -> sample-evaluations/s
// and for annealed importance sampling (aevb-eval --estimator ais, default
// --mcmc-group 16 x --ais-chains 16 = 256 rows per decoder call):
//   DecoderGemmsFwdBwd/256  the decoder's forward and backward-data matmuls  -> bound decoder rows/s
//   Ais/256                 AisSampler::run (HMC leapfrog steps, Metropolis)   -> decoder rows/s
// then a table of the ratios and one JSON line.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "aevb/core/dnnl_context.hpp"
#include "aevb/core/importance_sampling.hpp"
#include "aevb/core/mcmc_estimators.hpp"
#include "aevb/base/rng.hpp"

namespace {

using namespace aevb;
using dnnl::memory;

constexpr int64_t kD = 784, kH = 500, kJ = 20, kChunkRows = 2000;
std::map<std::string, double> g_rate;  // benchmark name -> sample evaluations/s

// Forward matmuls of the 20-500-784 decoder for `rows` rows, nothing else (no
// bias, no activation: the bound is the GEMMs alone); with backward_data also
// the matmuls of dL/dz (what HMC needs: [rows, out] x [in, out]^T per layer).
class DecoderGemms {
 public:
  explicit DecoderGemms(int64_t rows, bool backward_data = false) {
    add(rows, kJ, kH);
    add(rows, kH, kD);
    if (backward_data) {
      add(rows, kD, kH, true);
      add(rows, kH, kJ, true);
    }
  }
  void run() {
    auto& s = dnnl_context().stream;
    for (auto& g : gemms_) g.prim.execute(s, {{DNNL_ARG_SRC, g.a}, {DNNL_ARG_WEIGHTS, g.b}, {DNNL_ARG_DST, g.c}});
    s.wait();
  }

 private:
  // b_transposed: the weights [n, k] stored row-major, read as [k, n] (the layer's W^T).
  void add(int64_t m, int64_t k, int64_t n, bool b_transposed = false) {
    auto& ctx = dnnl_context();
    const auto f32 = memory::data_type::f32;
    const auto ab = memory::format_tag::ab;
    memory::desc a({m, k}, f32, ab), b({k, n}, f32, b_transposed ? memory::format_tag::ba : ab), c({m, n}, f32, ab);
    dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a, b, c), ctx.engine);
    for (int64_t sz : {m * k, k * n, m * n}) storage_.emplace_back(static_cast<size_t>(sz), 0.01f);
    const size_t s = storage_.size();
    gemms_.push_back({dnnl::matmul(pd), memory(a, ctx.engine, storage_[s - 3].data()),
                      memory(b, ctx.engine, storage_[s - 2].data()), memory(c, ctx.engine, storage_[s - 1].data())});
  }
  struct Gemm {
    dnnl::matmul prim;
    memory a, b, c;
  };
  std::vector<Gemm> gemms_;
  std::vector<FloatBuffer> storage_;
};

void BM_DecoderGemms(benchmark::State& st) {
  const ChunkPlan p = plan_chunks(st.range(0), kChunkRows);
  DecoderGemms g(p.rows());
  for (auto _ : st) g.run();
  st.counters["sample_evals_per_s"] =
      benchmark::Counter(static_cast<double>(p.rows()), benchmark::Counter::kIsIterationInvariantRate);
  st.SetLabel(std::to_string(p.points) + " x " + std::to_string(p.samples) + " rows");
}

void BM_Importance(benchmark::State& st) {
  const int64_t K = st.range(0);
  ModelSpec spec;  // 784-500-20, tanh, Bernoulli
  Vae m(spec);
  init_params(m, InitScheme::kNormal, 0.05f, 1);
  ImportanceSampler is(m, Proposal::kPosterior, {K}, 7, kChunkRows);
  // Whole groups of points per iteration, binary pseudo-images.
  const int64_t pts = is.plan().points;
  std::vector<float> x(static_cast<size_t>(pts * kD));
  uniforms({1, Purpose::kBinarize, 0, 0, 0}, x.data(), static_cast<int64_t>(x.size()));
  for (auto& v : x) v = v < 0.2f ? 1.f : 0.f;
  std::vector<int64_t> index(static_cast<size_t>(pts));
  for (int64_t i = 0; i < pts; ++i) index[static_cast<size_t>(i)] = i;
  std::vector<double> out(static_cast<size_t>(pts));
  for (auto _ : st) {
    is.run(x.data(), index.data(), pts, out.data());
    benchmark::DoNotOptimize(out.data());
  }
  st.counters["sample_evals_per_s"] =
      benchmark::Counter(static_cast<double>(pts * K), benchmark::Counter::kIsIterationInvariantRate);
}

constexpr int64_t kAisGroup = 16, kAisChains = 16, kAisSteps = 20, kLeapfrog = 10;

void BM_DecoderGemmsFwdBwd(benchmark::State& st) {
  DecoderGemms g(st.range(0), true);
  for (auto _ : st) g.run();
  st.counters["sample_evals_per_s"] =
      benchmark::Counter(static_cast<double>(st.range(0)), benchmark::Counter::kIsIterationInvariantRate);
}

// Short AIS runs (T = 20: the per-transition work is what T multiplies) on a
// group of binary pseudo-images; rate = decoder rows (forward + backward-data).
void BM_Ais(benchmark::State& st) {
  ModelSpec spec;  // 784-500-20, tanh, Bernoulli
  Vae m(spec);
  init_params(m, InitScheme::kNormal, 0.05f, 1);
  AisConfig c;
  c.steps = kAisSteps;
  c.chains = kAisChains;
  c.leapfrog = kLeapfrog;
  AisSampler ais(m, c, kAisGroup);
  std::vector<float> x(static_cast<size_t>(kAisGroup * kD));
  uniforms({1, Purpose::kBinarize, 0, 0, 0}, x.data(), static_cast<int64_t>(x.size()));
  for (auto& v : x) v = v < 0.2f ? 1.f : 0.f;
  std::vector<int64_t> index(static_cast<size_t>(kAisGroup));
  for (int64_t i = 0; i < kAisGroup; ++i) index[static_cast<size_t>(i)] = i;
  std::vector<AisPoint> out(static_cast<size_t>(kAisGroup));
  int64_t rows = 0;
  for (auto _ : st) {
    const int64_t before = ais.decoder_rows();
    ais.run(x.data(), index.data(), kAisGroup, nullptr, out.data());
    rows = ais.decoder_rows() - before;
    benchmark::DoNotOptimize(out.data());
  }
  st.counters["sample_evals_per_s"] =
      benchmark::Counter(static_cast<double>(rows), benchmark::Counter::kIsIterationInvariantRate);
}

class Capture : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const auto& r : runs) {
      auto it = r.counters.find("sample_evals_per_s");
      if (it != r.counters.end()) g_rate[r.benchmark_name()] = it->second.value;
    }
    ConsoleReporter::ReportRuns(runs);
  }
};

}  // namespace

int main(int argc, char** argv) {
  set_compute_threads(1);
  const int64_t ks[] = {100, 1000, 5000};
  for (int64_t K : ks) {
    benchmark::RegisterBenchmark("DecoderGemms", BM_DecoderGemms)->Arg(K)->MinTime(1.0)->Repetitions(3)->ReportAggregatesOnly(true)->UseRealTime();
    benchmark::RegisterBenchmark("Importance", BM_Importance)->Arg(K)->MinTime(1.0)->Repetitions(3)->ReportAggregatesOnly(true)->UseRealTime();
  }
  const int64_t ais_rows = kAisGroup * kAisChains;
  benchmark::RegisterBenchmark("DecoderGemmsFwdBwd", BM_DecoderGemmsFwdBwd)->Arg(ais_rows)->MinTime(1.0)->Repetitions(3)->ReportAggregatesOnly(true)->UseRealTime();
  benchmark::RegisterBenchmark("Ais", BM_Ais)->Arg(ais_rows)->MinTime(1.0)->Repetitions(3)->ReportAggregatesOnly(true)->UseRealTime();
  benchmark::Initialize(&argc, argv);
  Capture rep;
  benchmark::RunSpecifiedBenchmarks(&rep);
  nlohmann::json out{{"tool", "aevb_bench_eval"}, {"model", "784-500-20"}, {"threads", 1}, {"chunk_rows", kChunkRows}};
  std::printf("\n%6s %18s %18s %8s\n", "K", "IS evals/s", "GEMM bound/s", "ratio");
  for (int64_t K : ks) {
    const std::string sfx = "/" + std::to_string(K) + "/min_time:1.000/repeats:3/real_time_median";
    const std::string is_name = "Importance" + sfx, gemm_name = "DecoderGemms" + sfx;
    if (!g_rate.count(is_name) || !g_rate.count(gemm_name)) continue;
    const double s = g_rate[is_name], b = g_rate[gemm_name];
    std::printf("%6lld %18.0f %18.0f %7.1f%%\n", static_cast<long long>(K), s, b, 100 * s / b);
    out["results"].push_back(
        {{"K", K}, {"sample_evals_per_s", s}, {"gemm_bound_sample_evals_per_s", b}, {"fraction_of_bound", s / b}});
  }
  const std::string sfx = "/" + std::to_string(ais_rows) + "/min_time:1.000/repeats:3/real_time_median";
  if (g_rate.count("Ais" + sfx) && g_rate.count("DecoderGemmsFwdBwd" + sfx)) {
    const double s = g_rate["Ais" + sfx], b = g_rate["DecoderGemmsFwdBwd" + sfx];
    std::printf("\nAIS, %lld rows per call: %.0f decoder rows/s (forward + backward-data), GEMM bound %.0f: %.1f%%\n",
                static_cast<long long>(ais_rows), s, b, 100 * s / b);
    out["ais"] = {{"rows_per_call", ais_rows},    {"leapfrog", kLeapfrog},
                  {"decoder_rows_per_s", s},      {"gemm_bound_rows_per_s", b},
                  {"fraction_of_bound", s / b}};
  }
  std::cout << out.dump() << std::endl;
  return 0;
}
