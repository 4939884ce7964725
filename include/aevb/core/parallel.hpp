// The rank's compute threads (--threads) for our own loops, beside oneDNN's.
//
// oneDNN runs its GEMMs and eltwise kernels on the OpenMP threads that
// set_compute_threads() sets; the work between them (conversion and
// binarization of the rows, the likelihood, the reparameterization, bias
// gradients, the optimizer update) must use the same threads, or a second
// thread speeds up the GEMMs only and the single-threaded rest, plus the
// caches that move between cores, eats the gain (1 rank x 2 threads was 1.05x
// one thread before).
//
// parallel_for splits [0, n) into one contiguous part per thread; each
// element is computed by the same code whatever the thread count, and the
// callers sum in a fixed order, so results do not depend on --threads.
#pragma once
#include <cstdint>
#include <functional>

namespace aevb {

// f(lo, hi) for the parts of [0, n); runs on the calling thread alone when
// one thread is set or n < 2 * min_part.
void parallel_for(int64_t n, const std::function<void(int64_t lo, int64_t hi)>& f, int64_t min_part = 1);

// The number of compute threads set (set_compute_threads).
int compute_threads();

}  // namespace aevb
