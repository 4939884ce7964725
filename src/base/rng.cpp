#include "aevb/base/rng.hpp"

#include <Random123/boxmuller.hpp>
#include <Random123/philox.h>
#include <Random123/uniform.hpp>

#include <numeric>

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

}  // namespace

void normals(const NoiseKey& k, float* out, int64_t n) {
  Philox rng;
  const auto key = key_of(k);
  for (int64_t b = 0; b * 4 < n; ++b) {
    const auto r = rng(counter(k, static_cast<uint32_t>(b)), key);
    const r123::float2 p = r123::boxmuller(r.v[0], r.v[1]);
    const r123::float2 q = r123::boxmuller(r.v[2], r.v[3]);
    const float v[4] = {p.x, p.y, q.x, q.y};
    for (int j = 0; j < 4 && b * 4 + j < n; ++j) out[b * 4 + j] = v[j];
  }
}

void uniforms(const NoiseKey& k, float* out, int64_t n) {
  Philox rng;
  const auto key = key_of(k);
  for (int64_t b = 0; b * 4 < n; ++b) {
    const auto r = rng(counter(k, static_cast<uint32_t>(b)), key);
    for (int j = 0; j < 4 && b * 4 + j < n; ++j)
      out[b * 4 + j] = static_cast<float>(r.v[j] >> 8) * (1.0f / 16777216.0f);
  }
}

void binarize(const NoiseKey& k, const float* x, float* out, int64_t n) {
  Philox rng;
  const auto key = key_of(k);
  for (int64_t b = 0; b * 4 < n; ++b) {
    const auto r = rng(counter(k, static_cast<uint32_t>(b)), key);
    for (int j = 0; j < 4 && b * 4 + j < n; ++j) {
      const float u = static_cast<float>(r.v[j] >> 8) * (1.0f / 16777216.0f);
      out[b * 4 + j] = u < x[b * 4 + j] ? 1.0f : 0.0f;
    }
  }
}

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
