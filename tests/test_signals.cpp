// What signals and stalls do to every executable (README "Signals"):
//  - SIGINT (Ctrl-C), SIGTERM, SIGUSR1: stop at the next boundary keeping the
//    work done, exit 75; a second Ctrl-C kills at once;
//  - aevb-eval keeps its finished points in OUT.partial and the same command
//    resumes them, with results identical to a run never stopped;
//  - the watchdog ends a run that makes no progress, naming the rank (exit 6).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <nlohmann/json.hpp>
#include <thread>

#include "aevb/base/watchdog.hpp"
#include "aevb/dist/stop_signal.hpp"
#include "aevb/io/checkpoint.hpp"
#include "aevb/io/eval_results.hpp"
#include "data_test_util.hpp"
#include "mpi_test_util.hpp"
#include "train_test_util.hpp"

namespace aevb::testing {
namespace {

using json = nlohmann::json;

// The handler in a child process: the first SIGINT sets the flag, the second
// kills with the default action.
TEST(StopSignal, FirstCtrlCRequestsAStopTheSecondKills) {
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    install_stop_signal_handlers();
    ::raise(SIGINT);
    if (!stop_signal_received() || stop_signal_number() != SIGINT) ::_exit(3);
    ::raise(SIGINT);  // default action now: the process ends here
    ::_exit(4);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status)) << "exit code " << WEXITSTATUS(status);
  EXPECT_EQ(WTERMSIG(status), SIGINT);
}

// The watchdog in a child process: a phase longer than the limit ends the
// process with exit 6; time the process spent stopped (SIGSTOP, SLURM's
// suspend) does not count.
int child_exit(const std::function<void()>& body) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    body();
    ::_exit(0);
  }
  int status = 0;
  while (::waitpid(pid, &status, WUNTRACED) == pid && WIFSTOPPED(status)) {
    std::this_thread::sleep_for(std::chrono::seconds(3));  // stopped three times the limit
    ::kill(pid, SIGCONT);
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(Watchdog, APhaseLongerThanTheLimitEndsTheProcess) {
  EXPECT_EQ(child_exit([] {
              Watchdog w("test", 3, 1.0);
              w.phase("a long phase");
              std::this_thread::sleep_for(std::chrono::seconds(6));
            }),
            6);
  EXPECT_EQ(child_exit([] {
              Watchdog w("test", 3, 1.0);
              for (int i = 0; i < 40; ++i) {  // progress every 50 ms against a 1 s limit: never fires
                w.phase("short phases");
                std::this_thread::sleep_for(std::chrono::milliseconds(50));
              }
            }),
            0);
}

TEST(Watchdog, TimeStoppedIsNotNoProgress) {
  EXPECT_EQ(child_exit([] {
              Watchdog w("test", 3, 1.0);
              w.phase("before a SIGSTOP");
              ::raise(SIGSTOP);  // the parent continues it 3 s later
              std::this_thread::sleep_for(std::chrono::milliseconds(100));
              w.pause();
            }),
            0);
}

// A command in the background (sh -c "exec ..."): pid is the tool's own.
Background start(const std::string& cmd, const TempDir& d, const std::string& tag) {
  Background b;
  b.out = d / (tag + ".out");
  b.err = d / (tag + ".err");
  const std::string full = "exec " + cmd + " >" + b.out + " 2>" + b.err;
  b.pid = ::fork();
  if (b.pid == 0) {
    ::execl("/bin/sh", "sh", "-c", full.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return b;
}

bool wait_for_text(const std::string& file, const std::string& text, double seconds) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < end) {
    if (slurp(file).find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

// Ctrl-C on a run started without mpirun: checkpoint, exit 75, JSON line.
TEST(TrainSignals, CtrlCCheckpointsAndExits75) {
  TempDir d;
  write_bars_dataset(d / "data", 500);
  const std::string run = d / "run";
  Background job = start(std::string(AEVB_BINARY_DIR) + "/aevb-train --progress-every 0 --data " + (d / "data") +
                             " --hidden 16 --latent 2 --batch 50 --epochs 100000 --out " + run,
                         d, "train");
  ASSERT_TRUE(wait_for_text(job.out, "overlap = ", 60)) << slurp(job.err);  // the config is printed before step 1
  ASSERT_EQ(::kill(job.pid, SIGINT), 0);
  const RunResult r = job.wait(60);
  EXPECT_EQ(r.exit_code, 75) << r.err;
  const json s = json::parse(r.last_out_line());
  EXPECT_EQ(s["status"], "checkpointed");
  EXPECT_EQ(read_checkpoint(s["checkpoint"]).progress.step, s["steps"].get<int64_t>());
  EXPECT_NE(r.err.find("exiting with 75"), std::string::npos) << r.err;
}

// The watchdog, with a limit no step can meet: exit 6, the rank named, JSON line.
TEST(TrainSignals, WatchdogEndsAStalledRunNamingTheRank) {
  TempDir d;
  write_bars_dataset(d / "data", 500);
  // Steps of ~0.1 s or more (a 2000-2000 MLP on 250 rows), far above the limit
  // and above the watchdog's 50 ms tick; --max-steps keeps a miss from hanging.
  const RunResult r = run_train("--data " + (d / "data") + " --hidden 2000,2000 --latent 2 --batch 250 " +
                                    "--max-steps 200 --watchdog-seconds 0.001 --out " + (d / "run"),
                                d);
  EXPECT_EQ(r.exit_code, 6) << r.err;
  EXPECT_NE(r.err.find("aevb-train: error: rank 0: no progress for "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("; ending the job (--watchdog-seconds 0.001)"), std::string::npos) << r.err;
  const json s = json::parse(r.last_out_line());
  EXPECT_EQ(s["status"], "error");
  EXPECT_EQ(s["exit_code"], 6);
}

// One rank frozen (SIGSTOP: alive, so the launcher notices nothing): the other
// rank's watchdog ends the job, naming itself and that it waited for the others.
TEST(MpiWatchdog, AFrozenRankEndsTheJobInsteadOfAHang) {
  TempDir d;
  write_bars_dataset(d / "data", 500);
  Background job = start_train_mpi(2,
                                   "--data " + (d / "data") + " --hidden 16 --latent 2 --batch 50 --epochs 100000 " +
                                       "--watchdog-seconds 1 --out " + (d / "run"),
                                   d);
  ASSERT_TRUE(wait_for_text(job.out, "overlap = ", 60)) << slurp(job.err);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const std::vector<int> ranks = descendant_pids_named(job.pid, "aevb-train");
  ASSERT_EQ(ranks.size(), 2u);
  const int frozen = ranks[1];
  // Its MPI rank (Open MPI or MPICH), from its environment.
  int frozen_rank = -1;
  for (const std::string key : {"OMPI_COMM_WORLD_RANK=", "PMI_RANK="}) {
    const std::string env = slurp("/proc/" + std::to_string(frozen) + "/environ");
    const size_t at = env.find(std::string(1, '\0') + key);
    if (at != std::string::npos) frozen_rank = std::atoi(env.c_str() + at + 1 + key.size());
  }
  ASSERT_EQ(::kill(frozen, SIGSTOP), 0);
  const RunResult r = job.wait(60);
  ::kill(frozen, SIGKILL);  // in case the launcher left it
  EXPECT_EQ(r.exit_code, 6) << r.err;
  // The running rank reports (the frozen one cannot), naming itself and the wait.
  if (frozen_rank >= 0) {
    EXPECT_NE(r.err.find("rank " + std::to_string(1 - frozen_rank) + ": no progress for "), std::string::npos) << r.err;
  }
  EXPECT_NE(r.err.find("no progress for "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("waiting for the other ranks"), std::string::npos) << r.err;
}

// aevb-eval: a tiny model, and the evaluation used by the cases below.
class EvalSignals : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    write_bars_dataset(*dir_ / "data", 300);
    const RunResult r = run_train("--data " + (*dir_ / "data") + " --hidden 16 --latent 2 --batch 50 --epochs 2 " +
                                      "--out " + (*dir_ / "run"),
                                  *dir_);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  static void TearDownTestSuite() { delete dir_; }
  // K = 20000: blocks of 10 points (30 in all), so a signal lands well before the end.
  static std::string eval_args(const std::string& out, const std::string& extra = "") {
    return "--progress-every 0 --model " + (*dir_ / "run/model.h5") + " --data " + (*dir_ / "data") +
           " --k 1,20000 --prior-samples 20 --out " + out + " " + extra;
  }
  static RunResult eval(const std::string& args, const TempDir& d, const std::string& tag) {
    return run_tool("aevb-eval", args, d, tag);
  }
  static TempDir* dir_;
};
TempDir* EvalSignals::dir_ = nullptr;

void expect_same_results(const std::string& a, const std::string& b) {
  const EvalResults x = read_eval_results(a), y = read_eval_results(b);
  EXPECT_EQ(x.index, y.index);
  ASSERT_EQ(x.log_px.size(), y.log_px.size());
  EXPECT_EQ(0, std::memcmp(x.log_px.data(), y.log_px.data(), x.log_px.size() * sizeof(double)));
  EXPECT_EQ(x.elbo, y.elbo);
  EXPECT_EQ(x.kl, y.kl);
  EXPECT_EQ(x.log_px_prior, y.log_px_prior);
  EXPECT_TRUE(x.complete && y.complete);
}

TEST_F(EvalSignals, UsrOneKeepsFinishedPointsAndTheSameCommandResumes) {
  TempDir d;
  const std::string out = d / "res.h5";
  Background job = start(std::string(AEVB_BINARY_DIR) + "/aevb-eval " + eval_args(out), d, "eval");
  ASSERT_TRUE(wait_for_text(job.err, "aevb-eval: K = ", 60)) << slurp(job.err);
  ASSERT_EQ(::kill(job.pid, SIGUSR1), 0);
  const RunResult r = job.wait(60);
  ASSERT_EQ(r.exit_code, 75) << r.err;
  const json s = json::parse(r.last_out_line());
  EXPECT_EQ(s["status"], "stopped");
  EXPECT_EQ(s["partial"], out + ".partial");
  const int64_t done = s["points_done"];
  EXPECT_GT(done, 0);
  EXPECT_LT(done, 300);
  EXPECT_FALSE(fs::exists(out));
  const EvalResults partial = read_eval_results(out + ".partial");
  EXPECT_FALSE(partial.complete);
  EXPECT_EQ(partial.points(), done);

  // Other settings: refused, the partial file kept.
  RunResult other = eval(eval_args(out, "--seed 7"), d, "other");
  EXPECT_EQ(other.exit_code, 4) << other.err;
  EXPECT_NE(other.err.find("the finished points of an interrupted evaluation with other settings (seed differ)"),
            std::string::npos)
      << other.err;
  EXPECT_TRUE(fs::exists(out + ".partial"));

  RunResult again = eval(eval_args(out), d, "again");
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.err.find("resuming: " + std::to_string(done) + " point(s) already finished"), std::string::npos);
  EXPECT_FALSE(fs::exists(out + ".partial"));
  RunResult ref = eval(eval_args(d / "ref.h5"), d, "ref");
  ASSERT_EQ(ref.exit_code, 0) << ref.err;
  expect_same_results(out, d / "ref.h5");
}

TEST_F(EvalSignals, ASecondEvaluationIntoTheSameResultsFileIsRefused) {
  TempDir d;
  const std::string out = d / "res.h5";
  // Slow on purpose (100000 prior samples per point): still running when the second starts.
  Background job =
      start(std::string(AEVB_BINARY_DIR) + "/aevb-eval " + eval_args(out, "--prior-samples 100000"), d, "first");
  ASSERT_TRUE(wait_for_text(job.err, "aevb-eval: K = ", 60)) << slurp(job.err);
  const RunResult second = eval(eval_args(out), d, "second");
  ::kill(job.pid, SIGUSR1);
  job.wait(60);
  EXPECT_EQ(second.exit_code, 4) << second.err;
  EXPECT_EQ(second.err.rfind("aevb-eval: error: results file " + out + " is in use by aevb-eval (PID " +
                                 std::to_string(job.pid),
                             0),
            0u)
      << second.err;
  // Another file of the same directory is free meanwhile.
  EXPECT_EQ(eval(eval_args(d / "other.h5"), d, "other").exit_code, 0);
}

TEST_F(EvalSignals, AnExistingResultsFileIsReplacedOnlyWithForce) {
  TempDir d;
  const std::string out = d / "res.h5";
  ASSERT_EQ(eval(eval_args(out), d, "first").exit_code, 0);
  const auto before = fs::last_write_time(out);
  const RunResult r = eval(eval_args(out), d, "second");
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_EQ(r.err, "aevb-eval: error: --out " + out +
                       " exists (a finished evaluation); use --force to replace it, or choose another --out\n");
  EXPECT_EQ(json::parse(r.last_out_line())["exit_code"], 4);
  EXPECT_EQ(fs::last_write_time(out), before);
  EXPECT_EQ(eval(eval_args(out, "--force"), d, "third").exit_code, 0);
}

}  // namespace
}  // namespace aevb::testing
