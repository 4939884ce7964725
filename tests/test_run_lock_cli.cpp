// One writer per directory, end to end: a second aevb-train on a busy --out
// and a second conversion into a busy dataset directory fail at once with a
// message naming the first; a dead run's lock is taken over; SIGTERM during a
// conversion leaves no temp file and the status "killed by SIGTERM"; a killed
// writer's temp files go with the next conversion.
//
// No timing assumptions: the first process is seen holding its lock (polled,
// generous timeouts) and then frozen with SIGSTOP while the second one runs,
// so "the first is still busy" holds on any machine load.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "aevb/io/dir_lock.hpp"
#include "aevb/io/dataset.hpp"
#include "data_test_util.hpp"
#include "mpi_test_util.hpp"
#include "train_test_util.hpp"

namespace aevb::testing {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

// A process started in the background: `exec <build>/<binary> args`.
struct Child {
  pid_t pid = -1;
  std::string out, err;
  int status = 0;
  bool done = false;
  bool finished() {
    if (!done && ::waitpid(pid, &status, WNOHANG) == pid) done = true;
    return done;
  }
  int wait(double seconds = 600) {
    const auto end = Clock::now() + std::chrono::duration<double>(seconds);
    while (!finished()) {
      if (Clock::now() > end) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        done = true;
        ADD_FAILURE() << "background process " << pid << " did not end within " << seconds << " s";
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return status;
  }
};

Child start(const std::string& binary, const std::string& args, const TempDir& scratch, const std::string& tag) {
  Child c;
  c.out = scratch / (tag + ".out");
  c.err = scratch / (tag + ".err");
  const std::string cmd =
      "exec " + std::string(AEVB_BINARY_DIR) + "/" + binary + " " + args + " >" + c.out + " 2>" + c.err;
  c.pid = ::fork();
  if (c.pid == 0) {
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return c;
}

// Polls until `dir/.lock` records `pid` (true) or the child ends first (false).
bool wait_for_lock(const std::string& dir, Child& c, double seconds = 300) {
  const std::string needle = "\"pid\":" + std::to_string(c.pid);
  const auto end = Clock::now() + std::chrono::duration<double>(seconds);
  while (Clock::now() < end) {
    if (slurp(dir + "/" + DirLock::kFileName).find(needle) != std::string::npos) return true;
    if (c.finished()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return false;
}

std::vector<std::string> temp_files(const std::string& dir) {
  std::vector<std::string> t;
  for (const auto& n : all_files(dir))
    if (n.find(".tmp.") != std::string::npos) t.push_back(n);
  return t;
}

// The files a dataset directory should hold: manifest.json and its shards.
std::vector<std::string> expected_files(const std::string& dir) {
  std::vector<std::string> v{"manifest.json"};
  for (const auto& [name, s] : Manifest::load(dir).splits)
    for (const auto& sh : s.shards) v.push_back(sh.file);
  std::sort(v.begin(), v.end());
  return v;
}
std::vector<std::string> sorted_files(const std::string& dir) {
  auto v = all_files(dir);
  std::sort(v.begin(), v.end());
  return v;
}

// ---- training ----

class RunDirLock : public ::testing::Test {
 protected:
  void SetUp() override { write_bars_dataset(d / "data", 2000); }
  std::string args(int epochs) const {
    return "--progress-every 0 --data " + (d / "data") + " --out " + run + " --epochs " + std::to_string(epochs) +
           " --hidden 10 --latent 2 --batch 50 --checkpoint-every-steps 5";
  }
  TempDir d;
  const std::string run = d / "run";
};

// Bug 5: the second trainer "resumed" the first's in-flight checkpoint, set its
// newer ones aside and rewrote metrics.jsonl.
TEST_F(RunDirLock, SecondTrainerFailsAtOnceAndTheFirstFinishesIntact) {
  const int kEpochs = 40;
  Child first = start("aevb-train", args(kEpochs), d, "first");
  ASSERT_TRUE(wait_for_lock(run, first)) << "the first run ended before holding its lock?\n" << slurp(first.err);
  ::kill(first.pid, SIGSTOP);  // busy for as long as the second one runs
  const auto t0 = Clock::now();
  const RunResult second = run_train(args(kEpochs), d);
  const double second_s = std::chrono::duration<double>(Clock::now() - t0).count();
  ::kill(first.pid, SIGCONT);
  EXPECT_EQ(second.exit_code, kExitOutput) << second.err;
  EXPECT_NE(second.err.find("aevb-train: error: run directory " + run + " is in use by aevb-train (PID " +
                            std::to_string(first.pid) + " on host "),
            std::string::npos)
      << second.err;
  EXPECT_NE(second.err.find("choose another --out"), std::string::npos) << second.err;
  EXPECT_EQ(second.err.find("resuming"), std::string::npos) << second.err;
  const json line = json::parse(second.last_out_line());
  EXPECT_EQ(line["status"], "error");
  EXPECT_EQ(line["exit_code"], kExitOutput);
  std::cerr << "second trainer refused after " << second_s << " s\n";

  const int st = first.wait();
  ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << slurp(first.err);
  const json summary = json::parse(RunResult{0, slurp(first.out), ""}.last_out_line());
  EXPECT_EQ(summary["epochs"], kEpochs);
  const auto m = read_metrics(run + "/metrics.jsonl");
  ASSERT_FALSE(m.empty());
  EXPECT_EQ(m.back()["epoch"], kEpochs) << "metrics reach the last epoch";
  for (size_t i = 1; i < m.size(); ++i)
    EXPECT_EQ(m[i]["epoch"].get<int64_t>(), m[i - 1]["epoch"].get<int64_t>() + 1) << "line " << i;
  for (const auto& e : fs::directory_iterator(run + "/checkpoints"))
    EXPECT_NE(e.path().filename().string().rfind("abandoned-", 0), 0u) << "nothing set aside: " << e.path();
  EXPECT_FALSE(fs::exists(run + "/" + DirLock::kFileName)) << "the lock file goes with the run";
}

// A run killed with -9 leaves its lock file (the kernel drops the lock itself):
// the next run takes it over, says so, and trains.
TEST_F(RunDirLock, LockOfAKilledRunIsTakenOver) {
  Child first = start("aevb-train", args(1000), d, "first");
  ASSERT_TRUE(wait_for_lock(run, first)) << slurp(first.err);
  ::kill(first.pid, SIGKILL);
  first.wait();
  ASSERT_TRUE(fs::exists(run + "/" + DirLock::kFileName));
  const RunResult r = run_train(args(2) + " --resume none", d);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("aevb-train: warning: took over " + run + "/.lock from aevb-train (PID " +
                       std::to_string(first.pid) + " on host "),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(fs::exists(run + "/" + DirLock::kFileName));
}

// Under mpirun every rank stops together, with one message, when rank 0
// cannot take the lock (no rank goes on to read checkpoints).
TEST(MpiRunDirLock, AllRanksStopTogetherWhenTheRunDirectoryIsBusy) {
  TempDir d;
  write_bars_dataset(d / "data", 400);
  const std::string run = d / "run";
  fs::create_directories(run);
  DirLock held = DirLock::acquire(run, "another-run", "run directory", "-");
  const RunResult r = run_train_mpi(
      2, "--data " + (d / "data") + " --out " + run + " --epochs 1 --hidden 8 --latent 2 --batch 50", d);
  EXPECT_EQ(r.exit_code, kExitOutput) << r.err;
  const std::string msg = "is in use by another-run (PID " + std::to_string(::getpid());
  const size_t at = r.err.find(msg);
  EXPECT_NE(at, std::string::npos) << r.err;
  EXPECT_EQ(r.err.find(msg, at + 1), std::string::npos) << "printed once:\n" << r.err;
  EXPECT_EQ(json::parse(r.last_out_line())["exit_code"], kExitOutput);
  EXPECT_FALSE(fs::exists(run + "/metrics.jsonl"));
}

// ---- conversion ----

// Another writer (this test) holds the dataset directory: a forced conversion
// fails at once, names it, and touches nothing; afterwards it succeeds.
TEST(ConvertLock, ConversionIntoABusyDirectoryFailsAndTouchesNothing) {
  TempDir d;
  SmallMnist src(d, true);
  const std::string out = d / "ds";
  const std::string conv = "convert mnist --mnist-dir " + d.path + " --out " + out + " --force";
  ASSERT_EQ(run_data_tool(conv + " --shards 2", d).exit_code, 0);
  const auto before = sorted_files(out);
  {
    DirLock held = DirLock::acquire(out, "aevb-data 9 convert csv", "dataset directory", "-");
    const RunResult r = run_data_tool(conv + " --shards 3", d);
    EXPECT_EQ(r.exit_code, kExitOutput);
    EXPECT_NE(r.err.find("aevb-data: error: dataset directory " + out + " is in use by aevb-data 9 convert csv (PID " +
                         std::to_string(::getpid()) + " on host "),
              std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("wait for it to end, or choose another --out"), std::string::npos) << r.err;
    auto now = sorted_files(out);
    std::erase(now, std::string(DirLock::kFileName));
    EXPECT_EQ(now, before);
  }
  ASSERT_EQ(run_data_tool(conv + " --shards 3", d).exit_code, 0);
  EXPECT_EQ(sorted_files(out), expected_files(out));
}

// Two forced conversions with different shard counts at the same time: one
// commits; the other either fails with the lock message or runs after it.
// Either way the directory holds exactly the manifest and its shards.
TEST(ConvertLock, ConcurrentForcedConversionsLeaveNoOrphans) {
  TempDir d;
  SmallMnist src(d, true);
  const std::string out = d / "ds";
  const std::string conv = "convert mnist --mnist-dir " + d.path + " --out " + out + " --force --shards ";
  for (int round = 0; round < 5; ++round) {
    Child a = start("aevb-data", conv + "3", d, "a"), b = start("aevb-data", conv + "2", d, "b");
    int failed = 0;
    for (Child* c : {&a, &b}) {
      const int st = c->wait();
      ASSERT_TRUE(WIFEXITED(st)) << slurp(c->err);
      if (WEXITSTATUS(st) == 0) continue;
      ++failed;
      EXPECT_EQ(WEXITSTATUS(st), kExitOutput) << slurp(c->err);
      EXPECT_NE(slurp(c->err).find("dataset directory " + out + " is in use by aevb-data "), std::string::npos)
          << slurp(c->err);
    }
    EXPECT_LE(failed, 1);
    EXPECT_EQ(sorted_files(out), expected_files(out)) << "round " << round;
    EXPECT_EQ(run_data_tool("verify " + out, d).exit_code, 0);
  }
}

// The same race with real MNIST, made certain: the first conversion is frozen
// while it holds the lock, the second (other shard count) is refused, the first
// then completes alone.
TEST(ConvertLock, SecondConversionOfRealMnistIsRefusedWhileTheFirstRuns) {
  const std::string mnist = real_mnist_dir();
  if (mnist.empty()) GTEST_SKIP() << "real MNIST not found (set AEVB_DATA)";
  TempDir d;
  const std::string out = d / "ds";
  const std::string conv = "convert mnist --mnist-dir " + mnist + " --out " + out + " --force --shards ";
  Child first = start("aevb-data", conv + "3", d, "first");
  ASSERT_TRUE(wait_for_lock(out, first)) << slurp(first.err);
  ::kill(first.pid, SIGSTOP);
  const RunResult second = run_data_tool(conv + "2", d);
  ::kill(first.pid, SIGCONT);
  EXPECT_EQ(second.exit_code, kExitOutput);
  EXPECT_NE(second.err.find("dataset directory " + out + " is in use by aevb-data "), std::string::npos) << second.err;
  EXPECT_NE(second.err.find("convert mnist (PID " + std::to_string(first.pid)), std::string::npos) << second.err;
  const int st = first.wait();
  ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << slurp(first.err);
  EXPECT_EQ(sorted_files(out), expected_files(out));
  EXPECT_EQ(expected_files(out).size(), 7u);  // 3 train + 3 test shards + manifest
}

// Bug 7: SIGTERM mid-conversion left ~47 MB of *.tmp.<pid> shards. Now the
// temp files go, an existing dataset stays, and the status is "killed by SIGTERM".
TEST(ConvertInterrupt, SigtermDuringARealMnistConversionLeavesNoTempFiles) {
  const std::string mnist = real_mnist_dir();
  if (mnist.empty()) GTEST_SKIP() << "real MNIST not found (set AEVB_DATA)";
  TempDir d;
  SmallMnist small(d, true);
  const std::string out = d / "ds";
  ASSERT_EQ(run_data_tool("convert mnist --mnist-dir " + d.path + " --out " + out, d).exit_code, 0);
  const auto before = sorted_files(out);
  Child c = start("aevb-data", "convert mnist --mnist-dir " + mnist + " --out " + out + " --force", d, "conv");
  // Poll for a temp shard: the converter is then writing rows.
  const auto end = Clock::now() + std::chrono::seconds(300);
  while (temp_files(out).empty() && !c.finished() && Clock::now() < end)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  ASSERT_FALSE(c.finished()) << "the conversion ended before a temp file was seen\n" << slurp(c.err);
  ASSERT_FALSE(temp_files(out).empty());
  // Frozen, the signal waits; delivered on SIGCONT, at some row chunk.
  ::kill(c.pid, SIGSTOP);
  ::kill(c.pid, SIGTERM);
  ::kill(c.pid, SIGCONT);
  const int st = c.wait();
  ASSERT_TRUE(WIFSIGNALED(st)) << "status " << st << "\n" << slurp(c.err);
  EXPECT_EQ(WTERMSIG(st), SIGTERM);
  EXPECT_NE(slurp(c.err).find("aevb-data: interrupted by SIGTERM: temp files removed"), std::string::npos)
      << slurp(c.err);
  EXPECT_EQ(json::parse(RunResult{0, slurp(c.out), ""}.last_out_line())["exit_code"], 128 + SIGTERM);
  EXPECT_TRUE(temp_files(out).empty());
  EXPECT_EQ(sorted_files(out), before) << "the old dataset is untouched, no lock file is left";
  EXPECT_EQ(run_data_tool("verify " + out, d).exit_code, 0);
}

// A writer killed with -9 cannot clean up: the next conversion into the
// directory (holding its lock, so no live writer owns them) removes the leftovers.
TEST(ConvertInterrupt, StaleTempFilesAreRemovedByTheNextConversion) {
  TempDir d;
  SmallMnist small(d, false);
  const std::string out = d / "ds";
  fs::create_directories(out);
  for (const char* n : {"train-00000-of-00001.h5.tmp.999999", "manifest.json.tmp.999999", "mine.tmp.1"})
    std::ofstream(out + "/" + n) << std::string(1000, 'x');
  const RunResult r = run_data_tool("convert mnist --mnist-dir " + d.path + " --out " + out, d);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("aevb-data: warning: removed 2 temp file(s) of an interrupted writer from " + out),
            std::string::npos)
      << r.err;
  auto want = expected_files(out);
  want.push_back("mine.tmp.1");  // not a kind of file the writer makes
  std::sort(want.begin(), want.end());
  EXPECT_EQ(sorted_files(out), want);
}

}  // namespace
}  // namespace aevb::testing
