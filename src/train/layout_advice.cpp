#include "aevb/train/layout_advice.hpp"

#include <sched.h>

#include <algorithm>

namespace aevb {

std::vector<std::string> layout_advice(const Layout& l) {
  std::vector<std::string> out;
  const int64_t per_rank = l.global_batch / l.ranks;
  if (l.threads > l.cpus)
    out.push_back("--threads " + std::to_string(l.threads) + " but this rank may run on only " +
                  std::to_string(l.cpus) + " CPU(s) (its affinity: mpirun binds each rank to one core by default): " +
                  "the threads share them and run slower than one; start it with mpirun --bind-to none or " +
                  "--map-by slot:PE=" + std::to_string(l.threads) + " (SLURM: --cpus-per-task=" +
                  std::to_string(l.threads) + ")");
  // The activation exchange is the faster reduction at these sizes (it is
  // what auto picks); the allreduce below ~50 rows per rank is not.
  if (l.ranks > 1 && per_rank < kMinRowsPerRank && !l.gather) {
    const int64_t fewer = std::max<int64_t>(1, l.global_batch / kMinRowsPerRank);
    const std::string faster =
        gather_pays(l.global_batch, l.samples)
            ? "--reduction gather (what auto picks at this batch) exchanges activations instead and is faster"
            : "fewer ranks are faster: mpirun -np " + std::to_string(fewer);
    out.push_back(std::to_string(per_rank) + " rows per rank per step (--batch " + std::to_string(l.global_batch) +
                  " over " + std::to_string(l.ranks) + " ranks) is communication-bound: below about " +
                  std::to_string(kMinRowsPerRank) +
                  " rows per rank the gradient's allreduce costs more than the rows it spreads (README: Layouts); " +
                  faster + " (the same global batch gives the same results up to summation order)");
  }
  if (l.ranks > 1 && l.gather && !gather_pays(l.global_batch, l.samples))
    out.push_back("--reduction gather with --batch " + std::to_string(l.global_batch) + " and " +
                  std::to_string(l.samples) + " decoder sample(s) a point: every rank forms the weight gradients " +
                  "of all " + std::to_string(l.global_batch * l.samples) +
                  " decoder rows, which costs more than the allreduce it saves (README: Layouts); " +
                  "--reduction allreduce (what auto picks here) is faster");
  if (l.threads > 1 && per_rank < kMinRowsPerThread * l.threads)
    out.push_back(std::to_string(per_rank) + " rows per rank per step over " + std::to_string(l.threads) +
                  " threads: below about " + std::to_string(kMinRowsPerThread) +
                  " rows per thread the threads' start-up and shared caches cost more than they save; " +
                  "--threads 1 is faster");
  return out;
}

int cpus_in_affinity() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return 1;
  return CPU_COUNT(&set);
}

}  // namespace aevb
