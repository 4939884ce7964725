#include "aevb/base/rng.hpp"

#include <Random123/boxmuller.hpp>
#include <Random123/philox.h>
#include <Random123/uniform.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "aevb/base/simd.hpp"
#include "aevb/base/vector_math.hpp"

namespace aevb {
namespace {

using Philox = r123::Philox4x32;

inline Philox::ctr_type counter(const NoiseKey& k, uint32_t block) {
  return {{block, static_cast<uint32_t>(k.index), static_cast<uint32_t>(k.step),
           (static_cast<uint32_t>(k.purpose) << 24) | (k.sample & 0xFFFFFFu)}};
}
inline Philox::key_type key_of(const NoiseKey& k) {
  return {{static_cast<uint32_t>(k.seed), static_cast<uint32_t>(k.seed >> 32)}};
}

// Philox4x32-10 for kLanes element blocks at once: the same rounds
// as Random123's philox4x32 (checked bit for bit in Rng.LanesMatchRandom123),
// written lane-wise so that the compiler vectorizes the 32x32->64-bit
// multiplies in the AVX2 and AVX-512 clones (base/simd.hpp): 2.2 ns a block
// against Random123's 8-13 ns here. One scalar block per call cost about a
// tenth of a training step's time in dynamic binarization (784 values = 196
// blocks per row); Random123 has no SIMD Philox. Writes 4 * kLanes words in
// the scalar order: word j of block b at out[4 b + j].
constexpr int kLanes = 32;
constexpr int64_t kLaneWords = 4 * kLanes;

// Lane i computes element block blocks[i].
inline __attribute__((always_inline)) void philox_lanes_at(const NoiseKey& k, const uint32_t* __restrict blocks,
                                                           uint32_t* __restrict out) {
  constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u, kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
  const Philox::ctr_type c = counter(k, 0);
  const Philox::key_type key = key_of(k);
  uint32_t x0[kLanes], x1[kLanes], x2[kLanes], x3[kLanes];
  for (int i = 0; i < kLanes; ++i) {
    x0[i] = blocks[i];
    x1[i] = c.v[1];
    x2[i] = c.v[2];
    x3[i] = c.v[3];
  }
  uint32_t k0 = key.v[0], k1 = key.v[1];
  // Without the two pragmas GCC unrolls the loops completely and then keeps
  // the multiplies scalar.
#pragma GCC unroll 1
  for (int round = 0; round < 10; ++round) {
#pragma GCC unroll 1
    for (int i = 0; i < kLanes; ++i) {
      const uint64_t p0 = static_cast<uint64_t>(kM0) * x0[i];
      const uint64_t p1 = static_cast<uint64_t>(kM1) * x2[i];
      const uint32_t y0 = static_cast<uint32_t>(p1 >> 32) ^ x1[i] ^ k0;
      const uint32_t y2 = static_cast<uint32_t>(p0 >> 32) ^ x3[i] ^ k1;
      x0[i] = y0;
      x1[i] = static_cast<uint32_t>(p1);
      x2[i] = y2;
      x3[i] = static_cast<uint32_t>(p0);
    }
    k0 += kW0;
    k1 += kW1;
  }
  for (int i = 0; i < kLanes; ++i) {
    out[4 * i] = x0[i];
    out[4 * i + 1] = x1[i];
    out[4 * i + 2] = x2[i];
    out[4 * i + 3] = x3[i];
  }
}

// Lane i computes block first_block + i.
inline __attribute__((always_inline)) void philox_lanes(const NoiseKey& k, uint32_t first_block,
                                                        uint32_t* __restrict out) {
  alignas(64) uint32_t blocks[kLanes];
  for (int i = 0; i < kLanes; ++i) blocks[i] = first_block + static_cast<uint32_t>(i);
  philox_lanes_at(k, blocks, out);
}

// The words of blocks first_block .. first_block + nblocks - 1, in the scalar order.
inline __attribute__((always_inline)) void philox_blocks(const NoiseKey& k, uint32_t first_block,
                                                         uint32_t* __restrict out, int64_t nblocks) {
  alignas(64) uint32_t w[kLaneWords];
  for (int64_t b = 0; b < nblocks; b += kLanes) {
    philox_lanes(k, first_block + static_cast<uint32_t>(b), w);
    std::copy_n(w, 4 * std::min<int64_t>(kLanes, nblocks - b), out + 4 * b);
  }
}

inline float to_unit(uint32_t w) { return static_cast<float>(w >> 8) * (1.0f / 16777216.0f); }

AEVB_CLONES void uniforms_lanes(const NoiseKey& k, float* out, int64_t n) {
  alignas(64) uint32_t w[kLaneWords];
  for (int64_t off = 0; off < n; off += kLaneWords) {
    philox_lanes(k, static_cast<uint32_t>(off / 4), w);
    const int64_t m = std::min(kLaneWords, n - off);
    for (int64_t j = 0; j < m; ++j) out[off + j] = to_unit(w[j]);
  }
}

// A value at or below 0, at or above 1, or NaN needs no random bits: a uniform
// in [0, 1) is never below 0 and always below 1 (and NaN compares false, as in
// the draw). So only the 4-value blocks holding a value strictly between get a
// Philox call, kLanes of them at a time (all blocks in one sweep when all need
// one, as grey-level data does); one vectorized pass then compares or sets
// every value. The bits are those of drawing every block
// (Rng.BinarizeSkipsOnlyBlocksThatNeedNoDraw), and out may be x. MNIST's pixels
// are mostly 0: its training rows need 2.1 Philox calls instead of 7.
inline bool strictly_between(float v) { return (v > 0.f) & (v < 1.f); }

AEVB_CLONES void binarize_lanes(const NoiseKey& k, const float* x, float* out, int64_t n) {
  constexpr int64_t kChunk = 1024;  // values a sweep: one MNIST row; 4 KB of words on the stack
  alignas(64) uint32_t between[kChunk], words[kChunk] = {}, blocks[kLanes] = {}, w[kLaneWords];
  for (int64_t c0 = 0; c0 < n; c0 += kChunk) {
    const int64_t m = std::min(kChunk, n - c0), nb = (m + 3) / 4, b0 = c0 / 4;
    for (int64_t j = 0; j < m; ++j) between[j] = strictly_between(x[c0 + j]) ? 1u : 0u;
    for (int64_t j = m; j < 4 * nb; ++j) between[j] = 0;
    const auto needs_draw = [&](int64_t b) {
      return (between[4 * b] | between[4 * b + 1] | between[4 * b + 2] | between[4 * b + 3]) != 0u;
    };
    int64_t drawn = 0;
    for (int64_t b = 0; b < nb; ++b) drawn += needs_draw(b);
    if (drawn == nb) {
      philox_blocks(k, static_cast<uint32_t>(b0), words, nb);
    } else if (drawn > 0) {
      int pending = 0;
      const auto draw = [&] {
        philox_lanes_at(k, blocks, w);  // lanes past `pending` redo a block whose words are not used
        for (int i = 0; i < pending; ++i) std::copy_n(w + 4 * i, 4, words + 4 * (blocks[i] - b0));
        pending = 0;
      };
      for (int64_t b = 0; b < nb; ++b) {
        if (!needs_draw(b)) continue;
        blocks[pending++] = static_cast<uint32_t>(b0 + b);
        if (pending == kLanes) draw();
      }
      if (pending > 0) draw();
    }
    // words[j] is drawn wherever between[j] is set (its block was); elsewhere it is unused.
    for (int64_t j = 0; j < m; ++j) {
      const float v = x[c0 + j];
      const float drawn_bit = to_unit(words[j]) < v ? 1.f : 0.f, set_bit = v >= 1.f ? 1.f : 0.f;
      out[c0 + j] = between[j] != 0u ? drawn_bit : set_bit;
    }
  }
}

AEVB_CLONES void words_lanes(const NoiseKey& k, uint32_t first_block, uint32_t* out, int64_t nblocks) {
  philox_blocks(k, first_block, out, nblocks);
}

// Box-Muller as Random123's boxmuller(u0, u1) computes it: the sine and cosine
// of pi * uneg11(u0) times sqrt(-2 log u01(u1)), kLanes * 2 pairs at once so
// that the logs, sines and cosines run in libmvec's vector versions
// (base/vector_math.hpp): within a few ulp of r123::boxmuller
// (Rng.LanesMatchRandom123).
AEVB_CLONES void normals_lanes(const NoiseKey& k, float* out, int64_t n) {
  constexpr int kPairs = kLaneWords / 2;
  alignas(64) uint32_t w[kLaneWords];
  alignas(64) float angle[kPairs], radius[kPairs], s[kPairs], c[kPairs];
  for (int64_t off = 0; off < n; off += kLaneWords) {
    philox_lanes(k, static_cast<uint32_t>(off / 4), w);
    const int64_t m = std::min(kLaneWords, n - off), pairs = (m + 1) / 2;  // J = 20 needs 10 of 64
    for (int64_t j = 0; j < pairs; ++j) {
      angle[j] = 3.1415926535897932f * r123::uneg11<float>(w[2 * j]);
      radius[j] = std::sqrt(-2.f * logf(r123::u01<float>(w[2 * j + 1])));
    }
    // Separate loops: GCC fuses sinf and cosf of one angle into a scalar sincosf.
    for (int64_t j = 0; j < pairs; ++j) s[j] = radius[j] * sinf(angle[j]);
    for (int64_t j = 0; j < pairs; ++j) c[j] = radius[j] * cosf(angle[j]);
    for (int64_t j = 0; j < m; ++j) out[off + j] = j % 2 ? c[j / 2] : s[j / 2];
  }
}

}  // namespace

void philox_words(const NoiseKey& k, uint32_t* out, int64_t nblocks) { words_lanes(k, 0, out, nblocks); }

void philox_words_reference(const NoiseKey& k, uint32_t* out, int64_t nblocks) {
  Philox rng;
  const auto key = key_of(k);
  for (int64_t b = 0; b < nblocks; ++b) {
    const auto r = rng(counter(k, static_cast<uint32_t>(b)), key);
    for (int j = 0; j < 4; ++j) out[4 * b + j] = r.v[j];
  }
}

void normals(const NoiseKey& k, float* out, int64_t n) { normals_lanes(k, out, n); }

void uniforms(const NoiseKey& k, float* out, int64_t n) { uniforms_lanes(k, out, n); }

void binarize(const NoiseKey& k, const float* x, float* out, int64_t n) { binarize_lanes(k, x, out, n); }

std::vector<int64_t> permutation(uint64_t seed, uint64_t epoch, int64_t n) {
  return permutation(seed, Purpose::kPermutation, epoch, n);
}

namespace {
// Fisher-Yates; a 64-bit draw per swap keeps the modulo bias below 2^-30
// for any n < 2^34.
template <class T>
void fisher_yates(NoiseKey k, int64_t n, std::vector<T>& p) {
  p.resize(static_cast<size_t>(n));
  std::iota(p.begin(), p.end(), T{0});
  Philox rng;
  const auto key = key_of(k);
  for (int64_t i = n - 1; i > 0; --i) {
    k.index = static_cast<uint64_t>(i);
    const auto r = rng(counter(k, 0), key);
    const uint64_t u = (static_cast<uint64_t>(r.v[0]) << 32) | r.v[1];
    const int64_t j = static_cast<int64_t>(u % static_cast<uint64_t>(i + 1));
    std::swap(p[static_cast<size_t>(i)], p[static_cast<size_t>(j)]);
  }
}
}  // namespace

std::vector<int64_t> permutation(uint64_t seed, Purpose purpose, uint64_t step, int64_t n) {
  std::vector<int64_t> p;
  fisher_yates(NoiseKey{seed, purpose, step, 0, 0}, n, p);
  return p;
}

void permutation32(const NoiseKey& key, int64_t n, std::vector<uint32_t>& out) { fisher_yates(key, n, out); }

}  // namespace aevb
