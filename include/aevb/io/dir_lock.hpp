// One writer per directory: an exclusive flock() on "<dir>/.lock", held for
// as long as the DirLock lives.
//
// Why: two aevb-train runs with one --out (or two conversions into one dataset
// directory) would interleave their checkpoints, metrics or shards. The lock
// makes the second one fail at once, naming the first (tool, host, PID, start
// time recorded in the file).
//
// The kernel drops a flock when its holder dies, however it dies, so a lock file
// left by a killed process is simply taken over (taken_over() says whose it
// was). Where the file system does not implement flock (Lustre mounted without
// "flock", some NFS setups: ENOSYS, EOPNOTSUPP, ENOLCK) the DirLock holds
// nothing and says why (unsupported()); callers warn and carry on rather than
// refuse to run on such a cluster.
#pragma once
#include <optional>
#include <string>

namespace aevb {

// Who holds (or held) a lock, as recorded in its file.
struct LockHolder {
  std::string tool, host, since;  // since: UTC, ISO 8601
  long pid = 0;
  std::string describe() const;   // "aevb-train (PID 123 on host n1, since 2024-05-01T10:00:00Z)"
};

class DirLock {
 public:
  // The flock(2) to call: a seam for tests of unsupported file systems.
  using FlockFn = int (*)(int fd, int operation);
  static constexpr const char* kFileName = ".lock";

  DirLock() = default;  // holds nothing
  // Locks `dir` (which must exist) for `tool`. If another process holds it,
  // throws output_error: "<what> <dir> is in use by <holder>; <advice>".
  static DirLock acquire(const std::string& dir, const std::string& tool, const std::string& what,
                         const std::string& advice, FlockFn flock_fn = nullptr);
  // The same for one file of a directory shared with other writers (e.g. an
  // aevb-eval results file): lock_path is that file's own lock file, `name` is
  // what the messages call "in use".
  static DirLock acquire_file(const std::string& lock_path, const std::string& name, const std::string& tool,
                              const std::string& what, const std::string& advice, FlockFn flock_fn = nullptr);
  ~DirLock() { release(); }
  DirLock(DirLock&& o) noexcept;
  DirLock& operator=(DirLock&& o) noexcept;
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;

  // Removes the lock file and unlocks. Idempotent; also done by the destructor.
  void release() noexcept;
  bool locked() const { return fd_ >= 0; }
  const std::string& path() const { return path_; }
  // Non-empty when the file system refused to lock: the reason, for a warning.
  const std::string& unsupported() const { return unsupported_; }
  // The holder recorded by a process that died while holding the lock.
  const std::optional<LockHolder>& taken_over() const { return taken_over_; }
  // One line for stderr about either of the two above ("" when neither applies).
  std::string notice() const;

 private:
  std::string path_, unsupported_;
  std::optional<LockHolder> taken_over_;
  int fd_ = -1;
};

}  // namespace aevb
