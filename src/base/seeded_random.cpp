#include "aevb/base/seeded_random.hpp"

#include <cstddef>

#include "aevb/base/rng.hpp"

namespace aevb {

std::vector<int64_t> seeded_permutation(int64_t n, uint64_t seed) {
  return permutation(seed, Purpose::kDataSplit, 0, n);
}

void binarize_static_row(const uint8_t* grey, uint8_t* out, int64_t cols, uint64_t seed,
                         uint32_t stream, uint64_t row) {
  std::vector<float> u(static_cast<size_t>(cols));
  uniforms(NoiseKey{seed, Purpose::kStaticBinarize, stream, row, 0}, u.data(), cols);
  for (int64_t j = 0; j < cols; ++j)
    out[j] = u[static_cast<size_t>(j)] < static_cast<float>(grey[j]) / 255.0f ? 1 : 0;
}

}  // namespace aevb
