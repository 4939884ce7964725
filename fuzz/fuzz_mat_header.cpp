// MATLAB MAT-file layout: the input is the file, checked by check_mat_layout
// (what convert frey runs before matio sees the file).
#include <cstring>

#include "aevb/convert/convert.hpp"
#include "fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  aevb::fuzz::expect_clean([&] {
    aevb::check_mat_layout(
        [&](uint64_t off, void* dst, size_t n) -> size_t {
          if (off >= size) return 0;
          const size_t k = std::min<uint64_t>(n, size - off);
          if (k) std::memcpy(dst, data + off, k);
          return k;
        },
        size, "fuzz.mat");
  });
  return 0;
}
