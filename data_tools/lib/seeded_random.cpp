#include "aevb/seeded_random.hpp"

#include <Random123/philox.h>
#include <Random123/uniform.hpp>

#include <numeric>
#include <utility>

namespace aevb {
namespace {
r123::Philox4x32::key_type key_of(uint64_t seed) {
  return {{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)}};
}
}  // namespace

std::vector<int64_t> seeded_permutation(int64_t n, uint64_t seed) {
  std::vector<int64_t> p(static_cast<size_t>(n));
  std::iota(p.begin(), p.end(), int64_t{0});
  r123::Philox4x32 rng;
  const auto key = key_of(seed);
  // Fisher-Yates from the back; one Philox block per step, 64 random bits mapped
  // to [0, i] by multiply-shift (bias < 2^-40 for any realistic n).
  for (int64_t i = n - 1; i > 0; --i) {
    r123::Philox4x32::ctr_type ctr = {{static_cast<uint32_t>(i), static_cast<uint32_t>(i >> 32),
                                       0x7065726du /* "perm" */, 0}};
    auto r = rng(ctr, key);
    const uint64_t bits = (static_cast<uint64_t>(r[0]) << 32) | r[1];
    const auto j = static_cast<int64_t>(
        (static_cast<unsigned __int128>(bits) * static_cast<uint64_t>(i + 1)) >> 64);
    std::swap(p[static_cast<size_t>(i)], p[static_cast<size_t>(j)]);
  }
  return p;
}

void binarize_static_row(const uint8_t* grey, uint8_t* out, int64_t cols, uint64_t seed,
                         uint32_t stream, uint64_t row) {
  r123::Philox4x32 rng;
  const auto key = key_of(seed);
  for (int64_t j0 = 0; j0 < cols; j0 += 4) {
    r123::Philox4x32::ctr_type ctr = {{static_cast<uint32_t>(j0 / 4), static_cast<uint32_t>(row),
                                       static_cast<uint32_t>(row >> 32), stream}};
    auto r = rng(ctr, key);
    for (int64_t k = 0; k < 4 && j0 + k < cols; ++k) {
      const float u = r123::u01<float>(r[static_cast<size_t>(k)]);
      out[j0 + k] = u <= static_cast<float>(grey[j0 + k]) / 255.0f ? 1 : 0;
    }
  }
}

}  // namespace aevb
