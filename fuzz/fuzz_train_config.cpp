// aevb-train's INI config file: the input is the file given to --config
// (Boost.Program_options' config-file parser, then our validation).
#include "aevb/train/train_config.hpp"
#include "fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string p = aevb::fuzz::write_scratch("config.ini", data, size);
  std::string a0 = "aevb-train", a1 = "--config", a2 = p;
  char* argv[] = {a0.data(), a1.data(), a2.data(), nullptr};
  aevb::fuzz::expect_clean([&] {
    aevb::TrainConfig c;
    if (aevb::parse_train_config(3, argv, c, false)) (void)c.to_ini();
  });
  return 0;
}
