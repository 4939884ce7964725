// One line of advice at the start of a run whose layout (ranks x threads, for
// its global batch) is slower than a simpler one, measured on the 2-core
// machines of the README's "Layouts" table (one run, real MNIST):
//
//   - below about 50 rows per rank and step, two ranks were slower than one
//     (784-500-20 at M = 20: 0.47x; at M = 50: 0.84x; at M = 100: 1.06-1.17x):
//     the gradient exchange (a 3.2 MB buffer at ~20-30 GB/s between cores)
//     costs more than the rows it spreads;
//   - below about 25 rows per thread, a second thread was slower than one
//     (M = 20: 0.57-0.71x; M = 50: 1.28-1.62x);
//   - a rank whose CPU affinity (set by mpirun's default --bind-to core, or
//     the batch system) holds fewer CPUs than --threads runs its threads on
//     the same core: slower than one thread (784-500-20, M = 100: 28.2k
//     samples/s with 2 threads bound to one core against 39.4k with one
//     thread and 49.9k with 2 threads on 2 cores).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace aevb {

constexpr int64_t kMinRowsPerRank = 50;
constexpr int64_t kMinRowsPerThread = 25;

struct Layout {
  int ranks = 1;
  int threads = 1;        // --threads
  int64_t global_batch = 1;
  int cpus = 1;           // CPUs in this rank's affinity mask
};

// The advice lines for this layout (empty when none applies).
std::vector<std::string> layout_advice(const Layout& l);

// CPUs this process may run on (sched_getaffinity).
int cpus_in_affinity();

}  // namespace aevb
