// .amat (binarized MNIST text): the input is the file (plain or gzip; both
// passes of convert_amat through scan_amat).
#include "aevb/convert/convert.hpp"
#include "fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string p = aevb::fuzz::write_scratch("in.amat", data, size);
  aevb::fuzz::expect_clean([&] { aevb::scan_amat(p); });
  return 0;
}
