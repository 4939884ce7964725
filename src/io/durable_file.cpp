#include "aevb/io/durable_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "aevb/base/error.hpp"

namespace aevb {

std::string temp_path_for(const std::string& final_path) {
  return final_path + ".tmp." + std::to_string(::getpid());
}

std::string parent_dir(const std::string& path) {
  std::string p = std::filesystem::path(path).parent_path().string();
  return p.empty() ? "." : p;
}

void require_writable_dir(const std::string& dir, const std::string& purpose) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0)
    throw output_error(purpose + ": directory " + dir + " does not exist or is not reachable (" +
                       std::strerror(errno) + ")");
  if (!S_ISDIR(st.st_mode)) throw output_error(purpose + ": " + dir + " is not a directory");
  if (::access(dir.c_str(), W_OK | X_OK) != 0)
    throw output_error(purpose + ": directory " + dir + " is not writable (" +
                       std::strerror(errno) + ")");
}

bool make_output_dir(const std::string& dir) {
  namespace fs = std::filesystem;
  // Create first, then look: looking first raced with another writer creating
  // the same directory in between ("exists and is not a directory").
  std::error_code ec, ec2;
  const bool created = fs::create_directories(dir, ec);
  if (!ec) return created;
  if (fs::is_directory(dir, ec2)) return false;
  if (fs::exists(dir, ec2))
    throw output_error("output path " + dir + " exists and is not a directory");
  throw output_error("cannot create output directory " + dir + ": " + ec.message());
}

void fsync_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) throw output_error(path + ": cannot open to fsync: " + std::strerror(errno));
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) throw output_error(path + ": fsync failed: " + std::strerror(err));
}

void fsync_dir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) throw output_error(dir + ": cannot open directory to fsync: " + std::strerror(errno));
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  // Some file systems refuse fsync on directories (EINVAL); the rename is still atomic.
  if (rc != 0 && err != EINVAL)
    throw output_error(dir + ": directory fsync failed: " + std::strerror(err));
}

void rename_durably(const std::string& tmp_path, const std::string& final_path) {
  if (std::rename(tmp_path.c_str(), final_path.c_str()) != 0)
    throw output_error("cannot rename " + tmp_path + " to " + final_path + ": " +
                       std::strerror(errno));
  fsync_dir(parent_dir(final_path));
}

void write_text_atomically(const std::string& final_path, const std::string& content) {
  require_writable_dir(parent_dir(final_path), "cannot write " + final_path);
  const std::string tmp = temp_path_for(final_path);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) throw output_error(tmp + ": cannot create: " + std::strerror(errno));
  size_t done = 0;
  while (done < content.size()) {
    ssize_t w = ::write(fd, content.data() + done, content.size() - done);
    if (w < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      throw output_error(tmp + ": write failed: " + std::strerror(err));
    }
    done += static_cast<size_t>(w);
  }
  const bool synced = ::fsync(fd) == 0;
  int err = errno;
  const bool closed = ::close(fd) == 0;  // always close, even after a failed fsync
  if (!synced || !closed) {
    if (synced) err = errno;
    ::unlink(tmp.c_str());
    throw output_error(tmp + ": fsync/close failed: " + std::strerror(err));
  }
  try {
    rename_durably(tmp, final_path);
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
}

}  // namespace aevb
