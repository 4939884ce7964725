#include "aevb/io/dir_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <nlohmann/json.hpp>
#include <utility>

#include "aevb/base/error.hpp"
#include "aevb/base/utf8.hpp"

namespace aevb {
namespace {

using json = nlohmann::json;

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "unknown";
  return buf;
}

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// The holder recorded in an open lock file; nullopt when it is empty or not
// ours (a holder between creating and writing it, or a foreign file).
std::optional<LockHolder> read_holder(int fd) {
  char buf[4096];
  const ssize_t n = ::pread(fd, buf, sizeof buf, 0);
  if (n <= 0) return std::nullopt;
  const json j = json::parse(std::string(buf, static_cast<size_t>(n)), nullptr, false);
  if (!j.is_object()) return std::nullopt;
  // Whatever the file holds (another tool's lock, a damaged record): a field
  // of the wrong type is "unknown", not an exception.
  auto field = [&](const char* k) {
    const auto it = j.find(k);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string("?");
  };
  LockHolder h;
  h.tool = field("tool");
  h.host = field("host");
  h.since = field("since");
  const auto pid = j.find("pid");
  h.pid = pid != j.end() && pid->is_number_integer() ? pid->get<long>() : 0L;
  return h;
}

int do_flock(int fd, int op, DirLock::FlockFn f) {
  int rc;
  do rc = f ? f(fd, op) : ::flock(fd, op);
  while (rc != 0 && errno == EINTR);
  return rc;
}

bool same_file(int fd, const std::string& path) {
  struct stat a {}, b {};
  return ::fstat(fd, &a) == 0 && ::stat(path.c_str(), &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

}  // namespace

std::string LockHolder::describe() const {
  return tool + " (PID " + std::to_string(pid) + " on host " + host + ", since " + since + ")";
}

DirLock::DirLock(DirLock&& o) noexcept
    : path_(std::move(o.path_)), unsupported_(std::move(o.unsupported_)),
      taken_over_(std::move(o.taken_over_)), fd_(std::exchange(o.fd_, -1)) {}

DirLock& DirLock::operator=(DirLock&& o) noexcept {
  if (this != &o) {
    release();
    path_ = std::move(o.path_);
    unsupported_ = std::move(o.unsupported_);
    taken_over_ = std::move(o.taken_over_);
    fd_ = std::exchange(o.fd_, -1);
  }
  return *this;
}

DirLock DirLock::acquire(const std::string& dir, const std::string& tool, const std::string& what,
                         const std::string& advice, FlockFn flock_fn) {
  return acquire_file(dir + "/" + kFileName, dir, tool, what, advice, flock_fn);
}

DirLock DirLock::acquire_file(const std::string& lock_path, const std::string& dir, const std::string& tool,
                              const std::string& what, const std::string& advice, FlockFn flock_fn) {
  DirLock l;
  l.path_ = lock_path;
  // A releasing holder unlinks the file before unlocking it, so a lock won on
  // the old inode is worthless: try again on the file now at the path.
  for (int attempt = 0; attempt < 100; ++attempt) {
    const int fd = ::open(l.path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) throw output_error("cannot create the lock file " + l.path_ + ": " + std::strerror(errno));
    if (do_flock(fd, LOCK_EX | LOCK_NB, flock_fn) != 0) {
      const int err = errno;
      if (err == EWOULDBLOCK) {
        // The holder writes its record just after locking: give it a moment.
        std::optional<LockHolder> h = read_holder(fd);
        for (int i = 0; i < 50 && !h; ++i) {
          ::usleep(10000);
          h = read_holder(fd);
        }
        ::close(fd);
        throw output_error(what + " " + dir + " is in use by " +
                           (h ? h->describe() : "another process (its lock file " + l.path_ + " names none yet)") +
                           "; " + advice);
      }
      if (err == ENOSYS || err == EOPNOTSUPP || err == ENOLCK) {
        struct stat st {};
        if (::fstat(fd, &st) == 0 && st.st_size == 0) ::unlink(l.path_.c_str());  // leave no empty file behind
        ::close(fd);
        l.unsupported_ = "cannot lock " + l.path_ + " (" + std::strerror(err) +
                         "): the file system does not support flock (Lustre mounted without the flock option?); "
                         "carrying on without a lock: make sure no other process writes to " + dir;
        l.path_.clear();
        return l;
      }
      ::close(fd);
      throw output_error("cannot lock " + l.path_ + ": " + std::strerror(err));
    }
    if (!same_file(fd, l.path_)) {
      ::close(fd);
      continue;
    }
    l.fd_ = fd;
    // A live holder removes its file on release, so a record we could lock was
    // left by a process that died holding it.
    l.taken_over_ = read_holder(fd);
    const std::string rec =
        json_text({{"tool", tool}, {"host", host_name()}, {"pid", static_cast<long>(::getpid())}, {"since", utc_now()}}) +
        "\n";
    // Informational only (the flock is the lock): a failed write is not fatal.
    const bool recorded = ::ftruncate(fd, 0) == 0 && ::pwrite(fd, rec.data(), rec.size(), 0) >= 0;
    (void)recorded;
    return l;
  }
  throw output_error("cannot lock " + l.path_ + ": the lock file keeps being replaced");
}

void DirLock::release() noexcept {
  if (fd_ < 0) return;
  // Unlink before unlocking: whoever locks next creates a fresh file.
  ::unlink(path_.c_str());
  ::close(fd_);
  fd_ = -1;
}

std::string DirLock::notice() const {
  if (!unsupported_.empty()) return unsupported_;
  if (taken_over_)
    return "took over " + path_ + " from " + taken_over_->describe() +
           ", which ended without releasing it (killed or crashed)";
  return "";
}

}  // namespace aevb
