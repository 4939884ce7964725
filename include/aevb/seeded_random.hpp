// Seeded randomness for data preparation, built on Random123 Philox so results
// are identical across compilers and platforms (std:: distributions are not:
// their algorithms are implementation-defined).
#pragma once
#include <cstdint>
#include <vector>

namespace aevb {

// A permutation of 0..n-1 (Fisher-Yates driven by Philox4x32 keyed by seed).
// Used to carve the validation rows out of the training file.
std::vector<int64_t> seeded_permutation(int64_t n, uint64_t seed);

// Static binarization of one row of grey levels (0..255):
//   out[j] = (u_j <= grey[j] / 255)  with u_j = r123::u01<float>(Philox4x32 word)
// The Philox key is the seed; the counter is (j/4, row, row>>32, stream), so a
// pixel's bit depends only on (seed, stream, row, column) — never on how the
// rows were split or sharded. `stream` separates source files (MNIST: 0 = the
// training file, 1 = the test file); `row` is the row index in that file.
// "<=" rather than "<" because u01 lies in (0,1]: grey 255 must always give 1.
void binarize_static_row(const uint8_t* grey, uint8_t* out, int64_t cols, uint64_t seed,
                         uint32_t stream, uint64_t row);

}  // namespace aevb
