// No silent hang: a rank stuck in I/O, or waiting in a collective for a rank
// that died without the launcher noticing, ends the job with one message
// naming the rank and what it was doing.
//
// A thread checks, once a second, how long ago the main thread last said what
// it is doing (phase()). Past the limit it prints
//   TOOL: error: rank R: no progress for T s in PHASE; ending the job (--watchdog-seconds)
// and the JSON failure line, and ends the process with kExitStalled: mpirun and
// srun then tear down the other ranks. It never calls MPI (the main thread may
// be inside it). Waiting in a collective gets a longer limit (limit + grace) than
// local work, so that the rank that is actually stuck fires first and is the
// one named.
#pragma once
#include <atomic>
#include <cstdint>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

namespace aevb {

class Watchdog {
 public:
  // seconds <= 0: off (phase() does nothing).
  Watchdog(const char* tool, int rank, double seconds);
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  // The main thread starts `what` now (a string literal: kept by pointer).
  // collective: waiting for the other ranks.
  void phase(const char* what, bool collective = false, int64_t step = -1);
  // Stop watching (e.g. before a final phase that has no limit).
  void pause() { phase(nullptr); }

  double grace_seconds() const;

 private:
  void watch();
  [[noreturn]] void fire(const char* what, double idle, int64_t step);

  const char* tool_;
  int rank_;
  double seconds_;
  std::atomic<const char*> what_{nullptr};
  std::atomic<bool> collective_{false};
  std::atomic<int64_t> step_{-1};
  std::atomic<uint64_t> seq_{0};  // bumped by every phase()
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

}  // namespace aevb
