// Writes a large seeded synthetic dataset for bench/streaming.sh: uint8 28x28
// rows shaped like MNIST's (scale 1/255, dynamic binarization, ~80% zero
// pixels), a "train" split of ROWS rows in shards of ROWS_PER_SHARD and a
// 10,000-row "test" split, through the converter's own writer (atomic,
// Fletcher32-checksummed chunks). Never holds more than one chunk of rows.
//
//   aevb_bench_make_data OUT ROWS [SEED] [ROWS_PER_SHARD]
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "aevb/base/error.hpp"
#include "aevb/base/rng.hpp"
#include "aevb/io/shard_writer.hpp"

int main(int argc, char** argv) {
  using namespace aevb;
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s OUT ROWS [SEED] [ROWS_PER_SHARD]\n", argv[0]);
    return 2;
  }
  const std::string out = argv[1];
  const int64_t rows = std::atoll(argv[2]), seed = argc > 3 ? std::atoll(argv[3]) : 1;
  const int64_t per_shard = argc > 4 ? std::atoll(argv[4]) : 250000;
  constexpr int64_t kCols = 784, kChunk = 4096;
  try {
    DatasetWriter w(out, "synthetic-mnist-shaped", "aevb_bench_make_data", true);
    for (const auto& [split, n] : std::vector<std::pair<std::string, int64_t>>{{"train", rows}, {"test", 10000}}) {
      SplitSpec s;
      s.name = split;
      s.dtype = h5::DType::uint8;
      s.row_shape = {28, 28};
      s.rows = n;
      s.scale = 1.0 / 255;
      s.value_range = {0, 255};
      s.value_meaning = "synthetic grey level (seeded noise), 0=background";
      s.binarization = "dynamic";
      s.shards = (n + per_shard - 1) / per_shard;
      w.begin_split(s);
      std::vector<float> u(static_cast<size_t>(kChunk * kCols));
      std::vector<uint8_t> x(u.size());
      for (int64_t r = 0; r < n; r += kChunk) {
        const int64_t k = std::min(kChunk, n - r);
        for (int64_t i = 0; i < k; ++i)
          uniforms({static_cast<uint64_t>(seed), Purpose::kDataShuffle, split == "train" ? 0u : 1u,
                    static_cast<uint64_t>(r + i), 0},
                   u.data() + i * kCols, kCols);
        for (int64_t j = 0; j < k * kCols; ++j) {
          const float v = u[static_cast<size_t>(j)];
          x[static_cast<size_t>(j)] = v < 0.8f ? 0 : static_cast<uint8_t>((v - 0.8f) * 5.f * 255.f);
        }
        w.add_rows(x.data(), static_cast<const uint8_t*>(nullptr), k);
      }
      w.end_split();
    }
    w.commit();
  } catch (const Error& e) {
    std::fprintf(stderr, "aevb_bench_make_data: %s\n", e.what());
    return e.code();
  }
  return 0;
}
