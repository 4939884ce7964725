// Training on rows streamed from the shards (train/train_rows.hpp) with a
// tiny --memory-budget, under real mpirun: the same result as holding the
// split in memory for P = 1, 2, 3 and both orders, every row read once,
// bitwise resume from the middle of a window, and a shard corrupted or cut
// short during the run stopping every rank with one message while the last
// checkpoint stays intact. Then the options and a read-only dataset.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>
#include <unistd.h>

#include "aevb/io/checkpoint.hpp"
#include "aevb/io/model_file.hpp"
#include "mpi_test_util.hpp"
#include "train_test_util.hpp"

namespace aevb::testing {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

FloatBuffer params_of(const std::string& model) { return load_model(model).model->params; }
double rel_diff(const FloatBuffer& a, const FloatBuffer& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) num += (double(a[i]) - b[i]) * (double(a[i]) - b[i]), den += double(a[i]) * a[i];
  return std::sqrt(num / den);
}
int count_of(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

constexpr int64_t kRows = 1000, kCols = 64;
// Distinct values in [0, 1): a row's bytes can be found in its shard.
float value_of(int64_t i, int64_t j) { return static_cast<float>(i * kCols + j) / (kRows * kCols); }

class MpiStream : public ::testing::Test {
 protected:
  void SetUp() override { write_float_dataset(d / "data", kRows, kCols, value_of, "none", 4); }
  // 128 KiB: an eighth is 64 rows of 256 bytes per rank and unit; the split
  // (256 KB) is far beyond half of it, so the rows are streamed.
  std::string args(int64_t steps, const std::string& shuffle, const std::string& budget = "128KiB",
                   const std::string& resume = "none") const {
    return "--data " + (d / "data") + " --hidden 32 --latent 4 --batch 50 --epochs 1000000000 --max-steps " +
           std::to_string(steps) + " --resume " + resume + " --shuffle " + shuffle + " --memory-budget " + budget;
  }
  // Finds row `row`'s first two values in its shard file and flips a bit.
  void corrupt_row(const std::string& shard, int64_t row) {
    std::string bytes = slurp(shard);
    const float v[2] = {value_of(row, 0), value_of(row, 1)};
    const size_t at = bytes.find(std::string(reinterpret_cast<const char*>(v), sizeof v));
    ASSERT_NE(at, std::string::npos);
    bytes[at + 2] ^= 0x04;
    write_file(shard, bytes, false);
  }
  TempDir d;
};

TEST_F(MpiStream, StreamedRowsGiveTheResidentResultForAnyRankCount) {
  const int64_t steps = 60, bytes_used = steps * 50 * kCols * 4;
  for (const std::string shuffle : {"global", "blocks:16,4"}) {
    const std::string tag = shuffle == "global" ? "g" : "b";
    const RunResult ref = run_train_mpi(1, args(steps, shuffle, "1GiB") + " --out " + (d / (tag + "ref")), d);
    ASSERT_EQ(ref.exit_code, 0) << ref.err;
    EXPECT_EQ(json::parse(ref.last_out_line())["data_mode"], "resident");
    const FloatBuffer want = params_of(d / (tag + "ref/model.h5"));
    for (int p : {1, 2, 3}) {
      const std::string out = d / (tag + std::to_string(p));
      const RunResult r = run_train_mpi(p, args(steps, shuffle) + " --out " + out, d);
      ASSERT_EQ(r.exit_code, 0) << shuffle << " P=" << p << "\n" << r.err;
      const json s = json::parse(r.last_out_line());
      EXPECT_EQ(s["data_mode"], "streamed");
      EXPECT_EQ(s["shuffle"], shuffle);
      // Summed over ranks, each row used was read once, and nothing else.
      EXPECT_EQ(s["rows_bytes_read"].get<double>(), static_cast<double>(bytes_used)) << shuffle << " P=" << p;
      if (p == 1)
        EXPECT_EQ(params_of(out + "/model.h5"), want) << shuffle << ": streaming changed the result";
      else
        EXPECT_LE(rel_diff(want, params_of(out + "/model.h5")), 1e-5) << shuffle << " P=" << p;
    }
  }
}

// Step 30 is position 500 of epoch 1: inside a window of 64 rows.
TEST_F(MpiStream, ResumeFromTheMiddleOfAWindowIsBitwise) {
  ASSERT_EQ(run_train_mpi(2, args(60, "blocks:16,4") + " --out " + (d / "straight"), d).exit_code, 0);
  ASSERT_EQ(run_train_mpi(2, args(30, "blocks:16,4") + " --out " + (d / "split"), d).exit_code, 0);
  EXPECT_EQ(read_checkpoint(d / "split/checkpoints/ckpt-0000000030.h5").id.shuffle, "blocks:16,4");
  const RunResult r = run_train_mpi(2, args(60, "blocks:16,4", "128KiB", "auto") + " --out " + (d / "split"), d);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.last_out_line())["resumed_from_step"], 30);
  EXPECT_EQ(params_of(d / "straight/model.h5"), params_of(d / "split/model.h5"));
}

// With --shuffle none the rows of shard 2 (500..749) are first needed near
// step 7; the checkpoint of step 4 was written before.
TEST_F(MpiStream, CorruptedShardStopsEveryRankAndKeepsTheCheckpoint) {
  const std::string shard = d / "data/train-00002-of-00004.h5";
  corrupt_row(shard, 600);
  const std::string run = d / "run";
  const RunResult r = run_train_mpi(2, args(100, "none") + " --checkpoint-every-steps 4 --out " + run, d);
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_EQ(count_of(r.err, "aevb-train: error:"), 1) << r.err;
  EXPECT_NE(r.err.find(shard), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("corrupted"), std::string::npos) << r.err;
  const json s = json::parse(r.last_out_line());
  EXPECT_EQ(s["exit_code"], 3);
  EXPECT_EQ(read_checkpoint(run + "/checkpoints/ckpt-0000000004.h5").progress.step, 4);
  EXPECT_FALSE(fs::exists(run + "/model.h5"));
}

// The shard is cut short while the ranks hold it open.
TEST_F(MpiStream, ShardTruncatedDuringTheRunStopsEveryRank) {
  const std::string shard = d / "data/train-00002-of-00004.h5", run = d / "run";
  Background job = start_train_mpi(2, args(100000000, "none") + " --checkpoint-every-steps 10 --out " + run, d);
  for (int i = 0; i < 600 && list_checkpoints(run).empty(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_FALSE(list_checkpoints(run).empty());
  fs::resize_file(shard, fs::file_size(shard) / 2);
  const RunResult r = job.wait(120);
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_EQ(count_of(r.err, "aevb-train: error:"), 1) << r.err;
  EXPECT_NE(r.err.find(shard + ": truncated"), std::string::npos) << r.err;
  const auto ckpts = list_checkpoints(run);
  ASSERT_FALSE(ckpts.empty());
  EXPECT_GT(read_checkpoint(ckpts.front()).progress.step, 0);
}

class TrainStream : public MpiStream {};

TEST_F(TrainStream, ChangingTheOrderAtResumeIsRefused) {
  ASSERT_EQ(run_train(args(10, "global") + " --out " + (d / "run"), d).exit_code, 0);
  const RunResult r = run_train(args(20, "blocks:16,4", "128KiB", "auto") + " --out " + (d / "run"), d);
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("shuffle (the data order): checkpoint has global, this run has blocks:16,4"), std::string::npos)
      << r.err;
}

TEST_F(TrainStream, BadBudgetOrOrderIsAUsageError) {
  const std::string base = "--data " + (d / "data") + " --hidden 8 --latent 2 --batch 50 --out " + (d / "run");
  for (const auto& [opt, what] : std::vector<std::pair<std::string, std::string>>{
           {"--memory-budget 0", "--memory-budget"},
           {"--memory-budget 12XB", "--memory-budget"},
           {"--memory-budget 1023B", "--memory-budget"},
           {"--shuffle blocks:0,4", "--shuffle"},
           {"--shuffle random", "--shuffle"},
           {"--shuffle blocks:500,4 --memory-budget 64KiB", "does not fit"}}) {
    const RunResult r = run_train(base + " " + opt, d);
    EXPECT_EQ(r.exit_code, 2) << opt << "\n" << r.err;
    EXPECT_NE(r.err.find(what), std::string::npos) << opt << "\n" << r.err;
    EXPECT_EQ(json::parse(r.last_out_line())["exit_code"], 2) << opt;
  }
}

// What a user reads to see whether data kept up.
TEST_F(TrainStream, DataWaitMemoryAndReadsAreReported) {
  const RunResult r = run_train(args(60, "blocks:16,4") + " --out " + (d / "run"), d);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json s = json::parse(r.last_out_line());
  EXPECT_GT(s["peak_rss_bytes"].get<double>(), 1e6);
  EXPECT_GE(s["storage_bytes_read"].get<double>(), 0);
  EXPECT_GT(s["first_step_seconds"].get<double>(), 0);
  EXPECT_GE(s["data_wait_fraction"].get<double>(), 0);
  EXPECT_LE(s["data_wait_fraction"].get<double>(), 1);
  for (const json& line : read_metrics(d / "run/metrics.jsonl"))
    if (line["epoch"] > 0) {
      EXPECT_GE(line["data_wait_fraction"].get<double>(), 0) << line;
      EXPECT_LE(line["data_wait_fraction"].get<double>(), 1) << line;
    }
}

// Training only reads its data: a dataset on a read-only mount (made with a
// private mount namespace where that is allowed, as root in CI).
TEST_F(TrainStream, DatasetOnAReadOnlyMountTrains) {
  const std::string data = d / "data", out = d / "run.out", err = d / "run.err";
  const std::string train = std::string(AEVB_BINARY_DIR) + "/aevb-train --progress-every 0 " + args(30, "blocks:16,4") +
                            " --out " + (d / "run");
  const std::string cmd = "unshare -m sh -c 'mount --bind " + data + " " + data + " && mount -o remount,ro,bind " +
                          data + " " + data + " && touch " + data + "/probe 2>/dev/null; test ! -e " + data +
                          "/probe && exec " + train + "' >" + out + " 2>" + err;
  if (::geteuid() != 0 || std::system(("unshare -m true 2>/dev/null")) != 0)
    GTEST_SKIP() << "needs a private mount namespace (root): " << cmd;
  const int status = std::system(cmd.c_str());
  ASSERT_EQ(WEXITSTATUS(status), 0) << slurp(err);
  const std::string o = slurp(out);
  const json s = json::parse(o.substr(o.rfind('\n', o.size() - 2) + 1));
  EXPECT_EQ(s["status"], "done");
  EXPECT_EQ(s["data_mode"], "streamed");
}

}  // namespace
}  // namespace aevb::testing
