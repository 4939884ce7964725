// Training throughput against the bound set by the step's GEMMs, measured in the
// same run (ratios are what compare across machines and days).
//
//   build/bench/aevb_bench_train                      # one thread, one rank
//   mpirun -np 2 build/bench/aevb_bench_train          # data parallel: P=2 (see README)
//   build/bench/aevb_bench_train --threads=2           # one rank, two compute threads
//   build/bench/aevb_bench_train --iwae-k=5            # the IWAE objective, K = 5, at M = 20 and 100
//   mpirun -np 2 build/bench/aevb_bench_train --batches=20,50,100   # other global batches
//
// For each architecture it reports
//   Gemms/<arch>/r    the bare oneDNN GEMMs of one step at r rows per call and
//                     rank; the "bound" of a step with M/P rows per rank is the
//                     best of these rates over r <= M/P (splitting a batch into
//                     pieces that fit the caches is a legitimate way to reach it)
// and for each global minibatch size M
//   Step/<arch>/M     the real training step (TrainStep: gather, dynamic
//                     binarization, SGVB B forward/backward, allreduce, Adagrad;
//                     with --iwae-k=K the importance-weighted bound of K samples,
//                     whose decoder GEMMs, bound included, have K rows per point);
//                     on several ranks once per reduction: allreduce, allreduce
//                     overlapped with the encoder backward, and gather (the
//                     activation exchange, train/activation_exchange.hpp)
// and prints a table of step / bound, then one JSON line.
#include <benchmark/benchmark.h>
#include <mpi.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "aevb/core/dnnl_context.hpp"
#include "aevb/base/rng.hpp"
#include "aevb/base/partition.hpp"
#include "aevb/train/train_step.hpp"
#include "gemm_bound.hpp"
#include "synthetic_rows.hpp"

namespace {

using namespace aevb;

struct Arch {
  const char* name;
  std::vector<int64_t> hidden;
  int64_t latent;
};
const Arch kArchs[] = {{"784-500-20", {500}, 20}, {"784-200-200-50", {200, 200}, 50}};
std::map<std::string, double> g_rate;  // benchmark name -> samples/s (filled by the reporter)
int g_iwae_k = 0;                       // --iwae-k=K: the IWAE objective with K samples (0: SGVB B, L = 1)
// The global batches measured: the paper's M = 100 and a large one, or with
// --iwae-k the IWAE protocol's M = 20 and 100.
std::vector<int64_t> g_batches;          // --batches=M,M,...
std::vector<int64_t> batches() {
  if (!g_batches.empty()) return g_batches;
  return g_iwae_k > 0 ? std::vector<int64_t>{20, 100} : std::vector<int64_t>{100, 1000};
}
// How a multi-rank step sums its gradient (Step's third argument).
enum Mode { kAllreduce = 0, kOverlap = 1, kGather = 2 };
const char* const kModeLabel[] = {"", " overlap", " gather"};
const char* const kModeName[] = {"allreduce", "overlap", "gather"};
int64_t step_iterations(int64_t M) { return std::max<int64_t>(200, 200000 / M); }
std::map<std::string, double> g_comm;  // benchmark name -> seconds in communication per step

MpiComm& comm() {
  static MpiComm c;
  return c;
}

// The GEMMs of one step at `rows` rows per call on every rank.
void BM_Gemms(benchmark::State& st) {
  const Arch& a = kArchs[st.range(0)];
  const int64_t rows = st.range(1);
  std::vector<int64_t> enc{784}, dec{a.latent};
  enc.insert(enc.end(), a.hidden.begin(), a.hidden.end());
  enc.push_back(2 * a.latent);
  dec.insert(dec.end(), a.hidden.rbegin(), a.hidden.rend());
  dec.push_back(784);
  bench::StepGemms g(enc, dec, rows, rows * std::max(g_iwae_k, 1));
  for (auto _ : st) g.run();
  // Samples of the GLOBAL batch per second if every rank ran only its GEMMs.
  st.counters["samples_per_s"] =
      benchmark::Counter(static_cast<double>(rows * comm().size()), benchmark::Counter::kIsIterationInvariantRate);
  st.counters["GFLOP_per_s"] = benchmark::Counter(g.flops() * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  st.SetLabel(a.name);
}

// The bound of a step with M rows per rank is the best GEMM throughput at any
// per-call row count <= M (a step may split its batch into pieces that fit
// the caches): these row counts are measured.
const int64_t kGemmRows[] = {10, 16, 20, 32, 50, 64, 100, 128, 256, 500, 512, 1000};
int64_t gemm_iterations(int64_t rows) { return std::max<int64_t>(10, 40000 / rows); }  // ~1 s a repetition

void BM_Step(benchmark::State& st) {
  const Arch& a = kArchs[st.range(0)];
  const int64_t M = st.range(1);
  const int mode = static_cast<int>(st.range(2));
  ModelSpec spec;
  spec.hidden = a.hidden;
  spec.latent = a.latent;
  Vae m(spec);
  init_params(m, InitScheme::kNormal, 0.01f, 1);
  Sgvb sgvb = g_iwae_k > 0 ? Sgvb(m, Estimator::kA, g_iwae_k, Objective::kIwae) : Sgvb(m, Estimator::kB, 1);
  OptimizerConfig oc;
  oc.prior_precision = 1.f;
  Optimizer opt(oc, m.num_params());
  const bench::SyntheticRows data(784);
  constexpr int64_t kRows = bench::SyntheticRows::kRows;
  TrainStep step({m, sgvb, opt, comm(), kRows, 1, true, mode == kOverlap, nullptr, 1.f, WeightKl::kAnalytic,
                  mode == kGather});
  int64_t t = 0;
  const int P = comm().size(), r = comm().rank();
  StepRows rows;
  for (auto _ : st) {
    const int64_t b0 = (t * M) % (kRows - M);
    data.fill(part_of(b0, M, r, P), rows);
    step.run({rows, data.format(), M, t, 0.02f, {}});
    ++t;
  }
  st.counters["samples_per_s"] = benchmark::Counter(static_cast<double>(M), benchmark::Counter::kIsIterationInvariantRate);
  // Seconds blocked in communication per step (divided by the step time in the summary).
  st.counters["comm_s_per_step"] = step.comm_seconds() / static_cast<double>(std::max<int64_t>(1, t));
  st.SetLabel(std::string(a.name) + kModeLabel[mode]);
}

class Capture : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const auto& r : runs) {
      auto it = r.counters.find("samples_per_s");
      if (it != r.counters.end()) g_rate[r.benchmark_name()] = it->second.value;
      auto c = r.counters.find("comm_s_per_step");
      if (c != r.counters.end()) g_comm[r.benchmark_name()] = c->second.value;
    }
    if (comm().rank() == 0) ConsoleReporter::ReportRuns(runs);
  }
  bool ReportContext(const Context& c) override { return comm().rank() == 0 ? ConsoleReporter::ReportContext(c) : true; }
};

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  // --threads=N: compute threads per rank for the GEMM bound and the step alike.
  int threads = 1;
  for (int i = 1; i < argc;) {
    const std::string a = argv[i];
    if (a.rfind("--threads=", 0) == 0) threads = std::max(1, std::atoi(argv[i] + 10));
    else if (a.rfind("--iwae-k=", 0) == 0) g_iwae_k = std::max(1, std::atoi(argv[i] + 9));
    else if (a.rfind("--batches=", 0) == 0) {
      for (const char* p = argv[i] + 10; *p;) {
        char* end = nullptr;
        const long long v = std::strtoll(p, &end, 10);
        if (end == p || v < 1) break;
        g_batches.push_back(v);
        p = *end == ',' ? end + 1 : end;
      }
    }
    else { ++i; continue; }
    for (int j = i; j + 1 < argc; ++j) argv[j] = argv[j + 1];
    --argc;
  }
  set_compute_threads(threads);
  const bool multi = comm().size() > 1;
  // Fixed iteration counts: every rank must run the same number of steps
  // (each contains an allreduce), so no adaptive iteration count under MPI.
  const int P = comm().size();
  for (int a = 0; a < 2; ++a) {
    for (int64_t r : kGemmRows)
      if (r <= 1000 / P)
        benchmark::RegisterBenchmark("Gemms", BM_Gemms)->Args({a, r})->Iterations(gemm_iterations(r))->Repetitions(3)->ReportAggregatesOnly(true)->UseRealTime();
    for (int64_t M : batches()) {
      for (int mode = kAllreduce; mode <= (multi ? kGather : kAllreduce); ++mode)
        benchmark::RegisterBenchmark("Step", BM_Step)->Args({a, M, mode})->Iterations(step_iterations(M))->Repetitions(3)->ReportAggregatesOnly(true)->UseRealTime();
    }
  }
  benchmark::Initialize(&argc, argv);
  Capture rep;
  benchmark::RunSpecifiedBenchmarks(&rep);
  if (comm().rank() == 0) {
    nlohmann::json out{{"tool", "aevb_bench_train"}, {"ranks", comm().size()}, {"threads_per_rank", threads},
                       {"objective", g_iwae_k > 0 ? "iwae-" + std::to_string(g_iwae_k) : "elbo"}};
    std::printf("\n%-16s %6s %14s %14s %9s %8s %8s\n", "model", "M", "step samples/s", "GEMM bound/s", "bound at", "ratio",
                "comm");
    for (int a = 0; a < 2; ++a)
      for (int64_t M : batches()) {
        // The bound: the best GEMM rate at any measured per-call row count <= M/P.
        double b = 0;
        int64_t b_rows = 0;
        for (int64_t r : kGemmRows) {
          const std::string name = "Gemms/" + std::to_string(a) + "/" + std::to_string(r) +
                                   "/iterations:" + std::to_string(gemm_iterations(r)) + "/repeats:3/real_time_median";
          if (r <= M / P && g_rate.count(name) && g_rate[name] > b) b = g_rate[name], b_rows = r;
        }
        for (int mode = kAllreduce; mode <= (multi ? kGather : kAllreduce); ++mode) {
          const std::string step_name = "Step/" + std::to_string(a) + "/" + std::to_string(M) + "/" + std::to_string(mode) +
                                        "/iterations:" + std::to_string(step_iterations(M)) +
                                        "/repeats:3/real_time_median";
          if (!g_rate.count(step_name) || b <= 0) continue;
          const double s = g_rate[step_name];
          const double comm = g_comm[step_name] * s / static_cast<double>(M);  // (s/step) / (s/step)
          std::printf("%-16s %6lld %14.0f %14.0f %9lld %7.1f%% %7.1f%%%s\n", kArchs[a].name, static_cast<long long>(M), s, b,
                      static_cast<long long>(b_rows), 100 * s / b, 100 * comm, kModeLabel[mode]);
          out["results"].push_back({{"model", kArchs[a].name}, {"M", M}, {"overlap", mode == kOverlap},
                                    {"reduction", kModeName[mode]}, {"step_samples_per_s", s},
                                    {"gemm_bound_samples_per_s", b}, {"gemm_bound_rows_per_call", b_rows},
                                    {"fraction_of_bound", s / b}, {"comm_fraction", comm}});
        }
      }
    std::cout << out.dump() << std::endl;
  }
  MPI_Finalize();
  return 0;
}
