// NumPy .npy: the input is the file, read through fmemopen with scan_npy
// (convert_npy's header parser, size checks and value checks).
#include <cstdio>

#include "aevb/convert/convert.hpp"
#include "fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;  // fmemopen refuses an empty buffer
  std::FILE* f = fmemopen(const_cast<uint8_t*>(data), size, "rb");
  if (!f) return 0;
  aevb::fuzz::expect_clean([&] { aevb::scan_npy(f, static_cast<int64_t>(size), "fuzz.npy"); });
  std::fclose(f);
  return 0;
}
