// One line of advice at the start of a run whose layout (ranks x threads, for
// its global batch) is slower than a simpler one, as measured by
// bench/layouts.sh on the 2-core machines (README: "Layouts", one run):
//
//   - below about 50 rows per rank and step, two ranks were slower than one
//     (784-500-20: 0.45x at M = 20, 0.80x at M = 50, 1.26x at M = 100): the
//     gradient exchange (a 3.2 MB buffer at ~20-30 GB/s between cores) costs
//     more than the rows it spreads;
//   - below about 25 rows per thread, a second thread was slower than one
//     (0.59-0.68x at M = 20; 1.34-1.67x at M = 50);
//   - a rank whose CPU affinity (mpirun's default --bind-to core, or the batch
//     system) holds fewer CPUs than --threads runs its threads on one core:
//     0.46-0.99x of one thread.
//
// and which reduction a run uses by default (--reduction auto): the activation
// exchange (train/activation_exchange.hpp) for small global batches, the
// allreduce of the gradient above. aevb_bench_train on 2 ranks, one run
// (samples/s, allreduce -> gather): 784-500-20 at M = 20 18.5k -> 34.7k,
// 32 24.3k -> 35.9k, 50 36.8k -> 40.8k, 64 42.7k -> 42.0k, 100 53.4k -> 51.3k;
// 784-200-200-50 at 20 30.5k -> 52.1k, 32 38.2k -> 55.5k, 50 52.3k -> 62.3k,
// 64 60.5k -> 65.0k, 100 85.5k -> 80.0k. The exchange's cost grows with the
// rows whose weight gradients every rank forms, M encoder rows and M * K
// decoder rows (K samples per point), whatever P; the allreduce's does not: so
// the rule is on M (1 + K) / 2, the rows of an encoder-and-decoder pair. With
// the IWAE objective at M = 20 (784-200-200-50): K = 5 (60 such rows) 21.9k ->
// 23.7k, K = 50 (510) 4.17k -> 2.88k.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace aevb {

constexpr int64_t kMinRowsPerRank = 50;
constexpr int64_t kMinRowsPerThread = 25;
constexpr int64_t kGatherMaxBatch = 64;

// --reduction auto on several ranks: whether the activation exchange is the
// faster reduction for a global batch of `batch` points with `samples`
// decoder rows each.
inline bool gather_pays(int64_t batch, int64_t samples) { return batch * (1 + samples) <= 2 * kGatherMaxBatch; }

struct Layout {
  int ranks = 1;
  int threads = 1;        // --threads
  int64_t global_batch = 1;
  int cpus = 1;           // CPUs in this rank's affinity mask
  bool gather = false;    // the step exchanges activations (--reduction gather)
  int64_t samples = 1;    // decoder rows per point (L or IWAE's K)
};

// The advice lines for this layout (empty when none applies).
std::vector<std::string> layout_advice(const Layout& l);

// CPUs this process may run on (sched_getaffinity).
int cpus_in_affinity();

}  // namespace aevb
