#include "aevb/base/watchdog.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>

#include "aevb/base/clock.hpp"
#include "aevb/base/error.hpp"
#include "aevb/base/utf8.hpp"

namespace aevb {

namespace {
void write_all(int fd, const std::string& s) {
  for (size_t done = 0; done < s.size();) {
    const ssize_t n = ::write(fd, s.data() + done, s.size() - done);
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}
}  // namespace

Watchdog::Watchdog(const char* tool, int rank, double seconds) : tool_(tool), rank_(rank), seconds_(seconds) {
  if (seconds_ > 0) thread_ = std::thread([this] { watch(); });
}

Watchdog::~Watchdog() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    done_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

double Watchdog::grace_seconds() const { return std::max(2.0, 0.25 * seconds_); }

void Watchdog::phase(const char* what, bool collective, int64_t step) {
  if (seconds_ <= 0) return;
  // seq_ is odd while the fields change: watch() never pairs a new phase's
  // name or limit with the previous phase's idle time.
  seq_.fetch_add(1);
  collective_.store(collective);
  step_.store(step);
  what_.store(what);
  seq_.fetch_add(1);
}

// Idle time is counted by this thread's own wake-ups, each worth at most two
// ticks: time in which the process was stopped (SIGSTOP, SLURM's suspend, a
// paused VM) is not "no progress" and must not fire on resume.
void Watchdog::watch() {
  std::unique_lock<std::mutex> lock(mu_);
  // Checks often enough for short limits (the tests use 1-2 s), rarely for long ones.
  const double tick = std::clamp(seconds_ / 10, 0.05, 1.0);
  uint64_t seen = seq_.load();
  double idle = 0, last = now_s();
  while (!cv_.wait_for(lock, std::chrono::duration<double>(tick), [this] { return done_; })) {
    const double t = now_s();
    const uint64_t seq = seq_.load();
    if (seq != seen || (seq & 1)) {
      seen = seq;
      idle = 0;
    } else {
      idle += std::min(t - last, 2 * tick);
    }
    last = t;
    const char* what = what_.load();
    if (!what) continue;
    const double limit = collective_.load() ? seconds_ + grace_seconds() : seconds_;
    if (idle > limit && seq_.load() == seen) fire(what, idle, step_.load());
  }
}

void Watchdog::fire(const char* what, double idle, int64_t step) {
  // write(2), not stdio: the main thread may hold stdout's or stderr's lock
  // (stuck writing to a full pipe or a hung file system).
  char msg[512];
  char at[48] = "";
  if (step >= 0) std::snprintf(at, sizeof at, " of step %lld", static_cast<long long>(step));
  std::snprintf(msg, sizeof msg, "rank %d: no progress for %.0f s in %s%s; ending the job (--watchdog-seconds %g)",
                rank_, idle, what, at, seconds_);
  const std::string err = std::string(tool_) + ": error: " + utf8_safe(msg) + "\n";
  const std::string line =
      json_text({{"tool", tool_}, {"status", "error"}, {"exit_code", static_cast<int>(kExitStalled)}, {"error", msg}}) +
      "\n";
  write_all(2, err);
  write_all(1, line);
  // The main thread may hold MPI or HDF5 locks: no destructors, no atexit.
  _exit(kExitStalled);
}

}  // namespace aevb
