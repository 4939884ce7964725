// IDX (MNIST images and labels): the first byte picks images or labels, the
// rest is the file; parse_idx is read_idx_images/labels's parser, and labels
// also go through the MNIST digit check.
#include "aevb/convert/idx.hpp"
#include "fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const bool labels = data[0] & 1;
  aevb::fuzz::expect_clean([&] {
    const aevb::IdxFile f = aevb::parse_idx("fuzz.idx", data + 1, size - 1,
                                            labels ? aevb::kIdxLabelsMagic : aevb::kIdxImagesMagic);
    if (labels) aevb::check_digit_labels(f);
    (void)f.cols();
  });
  return 0;
}
