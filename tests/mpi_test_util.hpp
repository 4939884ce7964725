// Running aevb-train under a real `mpirun -np P` from a test, in the
// foreground or in the background (for signal and kill tests).
#pragma once
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "data_test_util.hpp"

namespace aevb::testing {

inline std::string mpi_train_command(int ranks, const std::string& args, const TempDir& scratch,
                                     const std::string& tag) {
  return std::string("exec ") + AEVB_MPIEXEC + " -np " + std::to_string(ranks) + " " + AEVB_BINARY_DIR +
         "/aevb-train --progress-every 0 " + args + " >" + (scratch / (tag + ".out")) + " 2>" +
         (scratch / (tag + ".err"));
}

// A job started in the background; pid is mpirun's own (the shell exec's it).
struct Background {
  pid_t pid = -1;
  std::string out, err;
  // Waits up to `seconds`; on timeout kills the job and reports exit code -2.
  RunResult wait(double seconds) {
    RunResult r;
    int status = 0;
    const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (::waitpid(pid, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > end) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        r.exit_code = -2;
        r.out = slurp(out), r.err = slurp(err);
        return r;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = slurp(out), r.err = slurp(err);
    return r;
  }
};

inline Background start_train_mpi(int ranks, const std::string& args, const TempDir& scratch,
                                  const std::string& tag = "bg") {
  Background b;
  b.out = scratch / (tag + ".out");
  b.err = scratch / (tag + ".err");
  const std::string cmd = mpi_train_command(ranks, args, scratch, tag);
  b.pid = ::fork();
  if (b.pid == 0) {
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return b;
}

inline RunResult run_train_mpi(int ranks, const std::string& args, const TempDir& scratch,
                               const std::string& tag = "mpi") {
  return start_train_mpi(ranks, args, scratch, tag).wait(300);
}

// The pids of `launcher`'s descendants whose command name is `name` (from
// /proc): Open MPI's mpirun starts the ranks as its children, MPICH's mpiexec
// (hydra) as children of a hydra_pmi_proxy child.
inline std::vector<int> descendant_pids_named(pid_t launcher, const std::string& name) {
  std::vector<std::tuple<int, int, std::string>> procs;  // pid, parent pid, command name
  for (const auto& e : fs::directory_iterator("/proc")) {
    const std::string pid = e.path().filename().string();
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream f(e.path() / "stat");
    std::string line;
    if (!std::getline(f, line)) continue;
    const auto open = line.find('('), close = line.rfind(')');
    if (open == std::string::npos || close == std::string::npos) continue;
    std::istringstream rest(line.substr(close + 2));
    std::string state;
    int ppid = 0;
    rest >> state >> ppid;
    procs.emplace_back(std::stoi(pid), ppid, line.substr(open + 1, close - open - 1));
  }
  std::vector<int> tree{launcher}, out;
  for (size_t i = 0; i < tree.size(); ++i)  // breadth first from the launcher
    for (const auto& [pid, ppid, comm] : procs)
      if (ppid == tree[i]) {
        tree.push_back(pid);
        if (comm == name) out.push_back(pid);
      }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace aevb::testing
