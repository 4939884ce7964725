// Helpers shared by the converter tests (test_converters.cpp,
// test_dataset_tools.cpp): the aevb-data contract on failure and on success.
#pragma once
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "aevb/io/dataset.hpp"
#include "data_test_util.hpp"

namespace aevb::testing {

// Exit code, exact one-line message, and nothing at all left in out_dir.
inline void expect_failure(const RunResult& r, int code, const std::string& message,
                    const std::string& out_dir) {
  EXPECT_EQ(r.exit_code, code) << r.err;
  EXPECT_EQ(r.err, "aevb-data: error: " + message + "\n");
  EXPECT_TRUE(all_files(out_dir).empty()) << "no shard, manifest or temp file left";
  const nlohmann::json last = nlohmann::json::parse(r.last_out_line());
  EXPECT_EQ(last["ok"], false);
  EXPECT_EQ(last["exit_code"], code);
}

inline nlohmann::json ok_json(const RunResult& r) {
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  const nlohmann::json j = nlohmann::json::parse(r.last_out_line());
  for (const char* k : {"rows", "shards", "seconds", "rows_per_s", "mb_per_s", "peak_rss_mb"})
    EXPECT_TRUE(j.contains(k)) << k << " missing in " << j.dump();
  return j;
}

inline std::vector<float> all_rows(const std::string& dir, const std::string& split) {
  return load_split(Manifest::load(dir), split, {}).x;
}

// rows lines "id,a,b,c": id = r, a = r, b = r/4, c = -r.
inline std::string csv_text(int64_t rows, bool header) {
  std::string s = header ? "id,a,b,c\n" : "";
  for (int64_t r = 0; r < rows; ++r)
    s += std::to_string(r) + "," + std::to_string(r) + "," + std::to_string(r / 4.0) + "," +
         std::to_string(-r) + "\n";
  return s;
}

}  // namespace aevb::testing
