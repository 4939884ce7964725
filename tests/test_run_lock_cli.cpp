// One writer per directory, end to end: a second aevb-train on a busy --out
// fails at once with a message naming the first; a dead run's lock is taken over.
//
// No timing assumptions: the first process is seen holding its lock (polled,
// generous timeouts) and then frozen with SIGSTOP while the second one runs,
// so "the first is still busy" holds on any machine load.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "aevb/io/dir_lock.hpp"
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

}  // namespace
}  // namespace aevb::testing
