// glibc's vector math library (libmvec) for our own elementwise loops.
//
// GCC vectorizes a loop that calls expf, logf, sinf or cosf only when the
// function is declared with a SIMD variant; glibc's <math.h> declares them so
// under -ffast-math alone, which this project does not use (replicas must
// compute the same bits). These redeclarations add the variants without
// changing any other floating-point rule: in an AEVB_CLONES function
// (simd.hpp) the baseline clone calls _ZGVbN4v_expf (SSE), the x86-64-v3 clone
// _ZGVdN8v_expf (AVX2) and the x86-64-v4 clone _ZGVeN16v_expf (AVX-512), all in
// libmvec, which libm.so's linker script brings in (glibc >= 2.22). Each is
// accurate to 4 ulp (glibc's manual): the same function of its input on every
// machine with the same ISA and glibc, so noise stays a pure function of its
// key there (across ISAs it agrees within a few ulp, as oneDNN's GEMMs do).
//
// The scalar libm calls these replace (Box-Muller and exp of J latent values a
// point) and the loops around them were about 7 % of a 784-200-200-50 step at
// M = 100 in perf; vectorized, that step ran 62.5k -> 68.5k samples/s.
// Include after <cmath>. Other compilers keep the scalar calls.
#pragma once
#include <cmath>

// libmvec arrived in glibc 2.22; older systems (RHEL 7: 2.17) keep the scalar calls.
#if defined(__GNUC__) && !defined(__clang__) && !defined(__INTEL_COMPILER) && defined(__x86_64__) && \
    defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 22))
extern "C" {
__attribute__((simd("notinbranch"))) double exp(double) noexcept;
__attribute__((simd("notinbranch"))) float expf(float) noexcept;
__attribute__((simd("notinbranch"))) float logf(float) noexcept;
__attribute__((simd("notinbranch"))) float sinf(float) noexcept;
__attribute__((simd("notinbranch"))) float cosf(float) noexcept;
}
#endif
