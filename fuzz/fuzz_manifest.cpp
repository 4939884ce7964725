// manifest.json: the input is the file's text (Manifest::parse, load's parser).
#include <sstream>

#include "aevb/io/dataset.hpp"
#include "fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  aevb::fuzz::expect_clean([&] {
    const aevb::Manifest m = aevb::Manifest::parse(in, "fuzz-dataset");
    for (const auto& [name, s] : m.splits)
      for (const auto& sh : s.shards) (void)m.path_of(sh);
    (void)m.to_json();
  });
  return 0;
}
