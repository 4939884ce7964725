// The aevb-data binary: exit codes, exact stderr messages, JSON summary line,
// and no half-written output on failure.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "aevb/io/h5.hpp"
#include "data_test_util.hpp"

namespace {

using namespace aevb::testing;
using nlohmann::json;

std::string files_args(const SmallMnist& s) {
  return "--images-train " + s.images_train + " --labels-train " + s.labels_train +
         " --images-test " + s.images_test + " --labels-test " + s.labels_test;
}

// Failure contract: exit code, the exact one-line message, and nothing under a
// final name in the output directory.
void expect_failure(const RunResult& r, int code, const std::string& message,
                    const std::string& out_dir) {
  EXPECT_EQ(r.exit_code, code) << r.err;
  EXPECT_EQ(r.err, "aevb-data: error: " + message + "\n");
  EXPECT_TRUE(final_outputs(out_dir).empty());
  EXPECT_TRUE(all_files(out_dir).empty()) << "no temp files either";
  const json last = json::parse(r.last_out_line());
  EXPECT_EQ(last["ok"], false);
  EXPECT_EQ(last["exit_code"], code);
}

TEST(DataCli, ConvertThenInspect) {
  TempDir d;
  SmallMnist src(d, true);
  const std::string out = d / "ds";
  RunResult r = run_data_tool("convert mnist --mnist-dir " + d.path + " --out " + out +
                                  " --shards 2 --valid-rows 5 --split-seed 3",
                              d);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  json j = json::parse(r.last_out_line());
  EXPECT_EQ(j["tool"], "aevb-data");
  EXPECT_EQ(j["command"], "convert");
  EXPECT_EQ(j["splits"]["train"]["rows"], SmallMnist::kTrain - 5);
  EXPECT_EQ(j["splits"]["valid"]["rows"], 5);
  EXPECT_EQ(j["splits"]["test"]["shards"], 2);
  EXPECT_TRUE(j.contains("seconds") && j.contains("rows_per_s") && j.contains("mb_per_s"));

  r = run_data_tool("inspect " + out, d);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  j = json::parse(r.last_out_line());
  EXPECT_EQ(j["splits"]["train"]["checksums_verified"], true);
  EXPECT_EQ(j["splits"]["test"]["max"], 255.0);

  r = run_data_tool("inspect " + out + "/test-00001-of-00002.h5", d);
  EXPECT_EQ(r.exit_code, 0) << r.err;

  // Tamper with one shard: inspect fails with exit 3 naming it.
  const std::string shard = out + "/train-00000-of-00002.h5";
  {
    aevb::h5::Id f = aevb::h5::open_file_rw(shard);
    aevb::h5::Id data = aevb::h5::open_dataset(f, "data");
    std::vector<uint8_t> row(28, 1);
    aevb::h5::write_rows(data, 3, 1, row.data());
  }
  r = run_data_tool("inspect " + out, d);
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.err.rfind("aevb-data: error: " + shard + ": /data hashes to ", 0), 0u) << r.err;
}

TEST(DataCli, ExistingDatasetNeedsForce) {
  TempDir d;
  SmallMnist src(d, false);
  const std::string out = d / "ds";
  ASSERT_EQ(run_data_tool("convert mnist " + files_args(src) + " --out " + out, d).exit_code, 0);
  RunResult r = run_data_tool("convert mnist " + files_args(src) + " --out " + out, d);
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_EQ(r.err, "aevb-data: error: " + out + " already holds a dataset (" + out +
                       "/manifest.json); pass --force to replace it\n");
  r = run_data_tool("convert mnist " + files_args(src) + " --out " + out + " --force", d);
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST(DataCli, WrongMagic) {
  TempDir d;
  SmallMnist src(d, false);
  write_file(src.images_test, idx_bytes(0x801, {3}, {1, 2, 3}), false);
  const std::string out = d / "ds";
  expect_failure(run_data_tool("convert mnist " + files_args(src) + " --out " + out, d), 3,
                 src.images_test + ": bad IDX magic 0x00000801, expected 0x00000803 (images)", out);
}

TEST(DataCli, TruncatedIdx) {
  TempDir d;
  SmallMnist src(d, true);
  std::string bytes = idx_bytes(0x803, {SmallMnist::kTest, 4, 7},
                                test_pixels(SmallMnist::kTest, 28, 2));
  bytes.resize(bytes.size() - 100);
  write_file(src.images_test, bytes, true);
  const std::string out = d / "ds";
  expect_failure(run_data_tool("convert mnist " + files_args(src) + " --out " + out, d), 3,
                 src.images_test +
                     ": truncated IDX file: expected 476 bytes of data after the header, found 376 (header: 17 x 4 x 7)",
                 out);
}

TEST(DataCli, ImageLabelCountMismatch) {
  TempDir d;
  SmallMnist src(d, false);
  write_file(src.labels_train, idx_bytes(0x801, {SmallMnist::kTrain - 1},
                                         test_labels(SmallMnist::kTrain - 1, 0)),
             false);
  const std::string out = d / "ds";
  expect_failure(run_data_tool("convert mnist " + files_args(src) + " --out " + out, d), 3,
                 "image file " + src.images_train + " has 53 rows but label file " +
                     src.labels_train + " has 52",
                 out);
}

TEST(DataCli, MissingFile) {
  TempDir d;
  SmallMnist src(d, false);
  fs::remove(src.labels_test);
  const std::string out = d / "ds";
  expect_failure(run_data_tool("convert mnist " + files_args(src) + " --out " + out, d), 3,
                 src.labels_test + ": cannot open: No such file or directory", out);
}

TEST(DataCli, UnknownOption) {
  TempDir d;
  const std::string out = d / "ds";
  expect_failure(run_data_tool("convert mnist --bogus 3 --out " + out, d), 2,
                 "unrecognised option '--bogus' (see 'aevb-data convert mnist --help')", out);
  RunResult r = run_data_tool("frobnicate", d);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "aevb-data: error: unknown command 'frobnicate' (known: convert, inspect, verify, reshard)\n");
}

TEST(DataCli, UnwritableOutputDirectory) {
  TempDir d;
  SmallMnist src(d, false);
  write_file(d / "plainfile", "not a directory", false);
  const std::string out = d / "plainfile/ds";
  RunResult r = run_data_tool("convert mnist " + files_args(src) + " --out " + out, d);
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_EQ(r.err, "aevb-data: error: cannot create output directory " + out +
                       ": Not a directory\n");
  EXPECT_FALSE(fs::exists(out));
}

TEST(DataCli, StaticBinarizationNeedsASeed) {
  TempDir d;
  SmallMnist src(d, false);
  const std::string out = d / "ds";
  expect_failure(run_data_tool("convert mnist " + files_args(src) + " --out " + out +
                                   " --binarization static",
                               d),
                 2, "--binarization static needs --binarize-seed S (S >= 0)", out);
}

TEST(DataCli, HelpForEverySubcommand) {
  TempDir d;
  for (const char* cmd : {"--help", "convert --help", "convert mnist --help", "inspect --help"}) {
    RunResult r = run_data_tool(cmd, d);
    EXPECT_EQ(r.exit_code, 0) << cmd;
    EXPECT_NE(r.out.find("usage: aevb-data"), std::string::npos) << cmd;
  }
}

TEST(DataCli, InspectMissingPath) {
  TempDir d;
  RunResult r = run_data_tool("inspect " + d.path + "/nothing", d);
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.err, "aevb-data: error: " + d.path + "/nothing: no such file or directory\n");
}

}  // namespace

namespace {

// Non-UTF-8 bytes from the user's files never crash a tool or leak into its
// output: a Latin-1 byte in a CSV is reported (exit 3) with U+FFFD in its
// place, and the JSON line is still there and valid.
TEST(DataCli, NonUtf8InputIsReportedAsValidUtf8) {
  TempDir d;
  {
    std::ofstream f(d / "latin1.csv", std::ios::binary);
    f << "1,2,3\n4,\xa5,6\n";
  }
  const std::string out = d / "x";
  const RunResult r = run_data_tool("convert csv --input " + (d / "latin1.csv") + " --out " + out, d);
  expect_failure(r, 3, d / "latin1.csv" + ":2: column 1: '\xEF\xBF\xBD' is not a number", out);
  const json last = json::parse(r.last_out_line());
  EXPECT_NE(last["error"].get<std::string>().find("\xEF\xBF\xBD"), std::string::npos);
}

}  // namespace
