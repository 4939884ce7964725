// Seeded randomness for data preparation, expressed through the project's
// counter-based RNG (include/aevb/base/rng.hpp, Random123 Philox4x32-10) with the
// data-preparation purposes, so results are identical across compilers and
// platforms (std:: distributions are not) and there is one Philox code path.
#pragma once
#include <cstdint>
#include <vector>

namespace aevb {

// A permutation of 0..n-1: aevb::permutation(seed, Purpose::kDataSplit, 0, n).
// Used to carve the validation rows out of the MNIST training file.
std::vector<int64_t> seeded_permutation(int64_t n, uint64_t seed);

// Static binarization of one row of grey levels (0..255):
//   out[j] = (u_j < grey[j] / 255.0f) ? 1 : 0
// with u_j = aevb::uniforms(NoiseKey{seed, kStaticBinarize, step = stream,
// index = row, sample = 0})[j], i.e. u = (Philox word >> 8) * 2^-24 in [0, 1) —
// exactly the comparison aevb::binarize makes at training time, so
// P(bit = 1) = grey/255 (up to float rounding); grey 0 always gives 0 and grey
// 255 always gives 1. A pixel's bit depends only on (seed, stream, row, column),
// never on how rows were split or sharded. `stream` separates source files
// (MNIST: 0 = the training file, 1 = the test file); `row` is the row index in
// that file (its low 32 bits enter the counter, so rows < 2^32).
void binarize_static_row(const uint8_t* grey, uint8_t* out, int64_t cols, uint64_t seed,
                         uint32_t stream, uint64_t row);

}  // namespace aevb
