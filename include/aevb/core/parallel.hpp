// The rank's compute threads (--threads) for our own loops, beside oneDNN's.
//
// oneDNN runs its GEMMs and eltwise kernels on the OpenMP threads that
// set_compute_threads() sets; the work between them (conversion and
// binarization of the rows, the likelihood, the reparameterization, bias
// gradients, the optimizer update) must use the same threads, or a second
// thread speeds up the GEMMs only and the single-threaded rest, plus the
// caches that move between cores, eats the gain (1 rank x 2 threads, unbound,
// was 0.87x one thread before: README, "Speed of this release").
//
// parallel_for splits [0, n) into one contiguous part per thread; each
// element is computed by the same code whatever the thread count, and the
// callers sum in a fixed order, so results do not depend on --threads.
#pragma once
#include <cstdint>
#include <type_traits>

namespace aevb {

// The implementation behind parallel_for: f called as call(ctx, lo, hi).
void parallel_for_parts(int64_t n, void (*call)(void* ctx, int64_t lo, int64_t hi), void* ctx, int64_t min_part);

// f(lo, hi) for the parts of [0, n); runs on the calling thread alone when
// one thread is set or n < 2 * min_part. f is passed by reference, not
// wrapped in a std::function: these calls sit on the step's hot path, and a
// lambda with several captures would be copied to the heap every call.
template <class F>
void parallel_for(int64_t n, F&& f, int64_t min_part = 1) {
  using Fn = std::remove_reference_t<F>;
  parallel_for_parts(
      n, [](void* ctx, int64_t lo, int64_t hi) { (*static_cast<Fn*>(ctx))(lo, hi); },
      const_cast<void*>(static_cast<const void*>(&f)), min_part);
}

// The number of compute threads set (set_compute_threads).
int compute_threads();

}  // namespace aevb
