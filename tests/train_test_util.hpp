// Fixtures shared by the tests that train real models through the aevb-train
// binary (its own CLI tests, the evaluator's CLI tests): small synthetic
// datasets and a runner.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "aevb/io/h5.hpp"
#include "aevb/io/shard_writer.hpp"
#include "data_test_util.hpp"

namespace aevb::testing {

// A float32 dataset of `rows` rows of `cols` values from `value(i, j)`.
template <class F>
inline void write_float_dataset(const std::string& dir, int64_t rows, int64_t cols, F value, std::string binarization = "none",
                                int64_t shards = 1, const std::vector<std::string>& splits = {"train", "test"}) {
  DatasetWriter w(dir, "synthetic", "test", false);
  for (const std::string& split : splits) {
    SplitSpec s;
    s.name = split;
    s.dtype = h5::DType::float32;
    s.row_shape = {cols};
    s.rows = rows;
    s.value_range = {-1e30, 1e30};
    s.value_meaning = "synthetic";
    s.binarization = binarization;
    s.shards = shards;
    w.begin_split(s);
    std::vector<float> x(static_cast<size_t>(rows * cols));
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < cols; ++j) x[static_cast<size_t>(i * cols + j)] = value(i, j);
    w.add_rows(x.data(), static_cast<const uint8_t*>(nullptr), rows);
    w.end_split();
  }
  w.commit();
}

// Binary "bars" images: each row lights a random subset of 4 horizontal bars of
// an 8x8 image: real structure for the model to learn in a few steps.
inline void write_bars_dataset(const std::string& dir, int64_t rows, int64_t shards = 1,
                               const std::vector<std::string>& splits = {"train", "test"}) {
  write_float_dataset(
      dir, rows, 64, [](int64_t i, int64_t j) { return ((i * 2654435761u >> (j / 16)) & 1u) ? 1.f : 0.f; }, "none",
      shards, splits);
}

inline RunResult run_train(const std::string& args, const TempDir& scratch) {
  return run_tool("aevb-train", "--progress-every 0 " + args, scratch, "train");
}

// The metrics JSON lines file of a run, one object per line.
inline std::vector<nlohmann::json> read_metrics(const std::string& path) {
  std::vector<nlohmann::json> v;
  std::stringstream ss(slurp(path));
  std::string line;
  while (std::getline(ss, line))
    if (!line.empty()) v.push_back(nlohmann::json::parse(line));
  return v;
}

}  // namespace aevb::testing
