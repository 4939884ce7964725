// aevb-data's tools for existing datasets: verify, reshard, --force keeping
// the old dataset when a new conversion fails; the help of every subcommand;
// data-preparation randomness through rng.hpp.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <set>

#include "aevb/convert/convert.hpp"
#include "aevb/io/dataset.hpp"
#include "aevb/base/error.hpp"
#include "aevb/io/h5.hpp"
#include "aevb/base/rng.hpp"
#include "aevb/base/seeded_random.hpp"
#include "converter_test_util.hpp"
#include "data_test_util.hpp"

namespace {

using namespace aevb;
using namespace aevb::testing;
using nlohmann::json;

// ---- verify, reshard, --force ----

TEST(Reshard, SameRowsNewShardCountValidChecksums) {
  TempDir d;
  write_file(d / "t.csv", csv_text(23, false), false);
  const std::string a = d / "a", b = d / "b";
  ok_json(run_data_tool("convert csv --input " + d / "t.csv" + " --out " + a +
                            " --label-column 0 --split train=17,test=rest --shards 3",
                        d));
  const json j = ok_json(run_data_tool("reshard " + a + " " + b + " --shards 2", d));
  EXPECT_EQ(j["shards"], 4);
  const Manifest ma = Manifest::load(a), mb = Manifest::load(b);
  for (const char* split : {"train", "test"}) {
    EXPECT_EQ(mb.split(split).shards.size(), 2u);
    const DataMatrix xa = load_split(ma, split, {}), xb = load_split(mb, split, {});
    EXPECT_EQ(xa.x, xb.x);
    EXPECT_EQ(xa.labels, xb.labels);
    EXPECT_EQ(xa.global_index, xb.global_index);
  }
  ok_json(run_data_tool("verify " + b, d));
  // In place, with --force: one shard per split; the old shards are deleted.
  ok_json(run_data_tool("reshard " + b + " " + b + " --rows-per-shard 100 --force", d));
  auto files = all_files(b);
  std::sort(files.begin(), files.end());
  EXPECT_EQ(files, (std::vector<std::string>{"manifest.json", "test-00000-of-00001.h5",
                                             "train-00000-of-00001.h5"}));
  EXPECT_EQ(load_split(Manifest::load(b), "train", {}).x, load_split(ma, "train", {}).x);
}

TEST(Verify, DetectsATamperedShard) {
  TempDir d;
  write_file(d / "t.csv", csv_text(12, false), false);
  const std::string a = d / "a";
  ok_json(run_data_tool("convert csv --input " + d / "t.csv" + " --out " + a + " --shards 2", d));
  const json j = ok_json(run_data_tool("verify " + a, d));
  EXPECT_EQ(j["rows"], 12);
  EXPECT_EQ(j["shards"], 2);
  const std::string shard = a + "/train-00001-of-00002.h5";
  {
    h5::Id f = h5::open_file_rw(shard);
    h5::Id data = h5::open_dataset(f, "data");
    std::vector<float> row(4, 0.5f);
    h5::write_rows(data, 2, 1, row.data());
  }
  RunResult r = run_data_tool("verify " + a, d);
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.err.rfind("aevb-data: error: " + shard + ": /data hashes to ", 0), 0u) << r.err;
  r = run_data_tool("reshard " + a + " " + d / "b" + " --shards 1", d);
  EXPECT_EQ(r.exit_code, 3) << "reshard checks checksums too";
  EXPECT_FALSE(fs::exists(d / "b"));
}

TEST(ForceConversion, AFailedForcedConversionLeavesTheOldDatasetLoadable) {
  TempDir d;
  write_file(d / "good.csv", csv_text(10, false), false);
  const std::string out = d / "ds";
  ok_json(run_data_tool("convert csv --input " + d / "good.csv" + " --out " + out + " --shards 2", d));
  const auto before = all_rows(out, "train");
  auto files_before = all_files(out);
  std::sort(files_before.begin(), files_before.end());
  // Same shard names, malformed on the last line: fails after writing temp shards.
  write_file(d / "bad.csv", csv_text(9, false) + "9,9,x,9\n", false);
  RunResult r = run_data_tool("convert csv --input " + d / "bad.csv" + " --out " + out +
                                  " --shards 2 --force",
                              d);
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.err, "aevb-data: error: " + d / "bad.csv" + ":10: column 2: 'x' is not a number\n");
  auto files_after = all_files(out);
  std::sort(files_after.begin(), files_after.end());
  EXPECT_EQ(files_after, files_before) << "no temp files, nothing replaced";
  EXPECT_EQ(all_rows(out, "train"), before);
  ok_json(run_data_tool("verify " + out, d));
  // A successful forced conversion replaces it (3 shards; old 2-shard files go).
  ok_json(run_data_tool("convert csv --input " + d / "good.csv" + " --out " + out + " --shards 3 --force", d));
  EXPECT_EQ(final_outputs(out).size(), 4u);
  EXPECT_EQ(all_rows(out, "train"), before);
}

TEST(DataCliNew, HelpForEveryNewSubcommand) {
  TempDir d;
  for (const char* cmd : {"convert amat --help", "convert frey --help", "convert csv --help",
                          "convert npy --help", "verify --help", "reshard --help"}) {
    RunResult r = run_data_tool(cmd, d);
    EXPECT_EQ(r.exit_code, 0) << cmd;
    EXPECT_NE(r.out.find("usage: aevb-data"), std::string::npos) << cmd;
  }
  RunResult r = run_data_tool("reshard " + d.path, d);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "aevb-data: error: reshard: need IN and OUT (see 'aevb-data reshard --help')\n");
}

// ---- data-preparation randomness goes through rng.hpp ----

TEST(DataRandomness, UsesTheProjectRngWithDataPurposes) {
  EXPECT_EQ(permutation(5, Purpose::kPermutation, 3, 50), permutation(5, 3, 50))
      << "the general helper keeps the training permutation";
  EXPECT_EQ(seeded_permutation(50, 9), permutation(9, Purpose::kDataSplit, 0, 50));
  std::vector<uint8_t> grey(37), bits(37);
  for (size_t i = 0; i < grey.size(); ++i) grey[i] = static_cast<uint8_t>(i * 7);
  grey[0] = 0;
  grey[36] = 255;
  binarize_static_row(grey.data(), bits.data(), 37, 4, 1, 123);
  std::vector<float> u(37);
  uniforms({4, Purpose::kStaticBinarize, 1, 123, 0}, u.data(), 37);
  for (size_t j = 0; j < 37; ++j) EXPECT_EQ(bits[j], u[j] < grey[j] / 255.0f ? 1 : 0) << j;
  EXPECT_EQ(bits[0], 0);
  EXPECT_EQ(bits[36], 1);
}

}  // namespace
