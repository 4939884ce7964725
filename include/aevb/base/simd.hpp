// Portable speed for our own elementwise loops.
//
// The default build targets the baseline x86-64 ISA so that a binary built on
// a login node runs on every compute node. oneDNN picks its GEMM and eltwise
// kernels at run time; for the loops we write ourselves (the optimizer update,
// the likelihood and its gradient, bias reductions), AEVB_CLONES asks
// GCC/Clang for several compiled versions of a function — baseline, x86-64-v3
// (AVX2 + FMA) and x86-64-v4 (AVX-512) — and the loader picks the best one the
// CPU supports (an ifunc resolved once, at start). With -DAEVB_NATIVE=ON the
// whole build targets the build machine and the clones are not needed.
// The optimizer is compiled without FMA contraction (src/CMakeLists.txt), so
// every clone computes the same update bits: replicas stay identical on
// clusters with mixed CPUs.
#pragma once

#if defined(__x86_64__) && !defined(AEVB_NO_CLONES) && (defined(__GNUC__) || defined(__clang__))
#define AEVB_CLONES __attribute__((target_clones("default", "arch=x86-64-v3", "arch=x86-64-v4")))
#else
#define AEVB_CLONES
#endif
