// The one-writer-per-directory lock (io/dir_lock.hpp) and the dataset writer
// under it, in process: a held lock refuses a second taker and names the
// holder, a dead holder's lock is taken over, a file system without flock is
// warned about and tolerated, stale temp files go.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "aevb/base/error.hpp"
#include "aevb/io/dir_lock.hpp"
#include "aevb/io/shard_writer.hpp"
#include "data_test_util.hpp"

namespace aevb::testing {
namespace {

std::string lock_file(const TempDir& d) { return d / DirLock::kFileName; }

DirLock take(const TempDir& d, DirLock::FlockFn f = nullptr) {
  return DirLock::acquire(d.path, "lock-test", "test directory", "try again later", f);
}

TEST(DirLock, SecondTakerFailsNamingTheHolderAndRelease) {
  TempDir d;
  DirLock first = take(d);
  ASSERT_TRUE(first.locked());
  EXPECT_TRUE(first.notice().empty());
  EXPECT_TRUE(fs::exists(lock_file(d)));
  // flock conflicts between open file descriptions, so a second open in this
  // process stands for a second process.
  const auto [code, msg] = error_of([&] { take(d); });
  EXPECT_EQ(code, kExitOutput);
  EXPECT_NE(msg.find("test directory " + d.path + " is in use by lock-test (PID " + std::to_string(::getpid()) +
                     " on host "),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("since 20"), std::string::npos) << msg;
  EXPECT_NE(msg.find("; try again later"), std::string::npos) << msg;
  first.release();
  EXPECT_FALSE(fs::exists(lock_file(d))) << "a released lock leaves no file";
  DirLock again = take(d);
  EXPECT_TRUE(again.locked());
  EXPECT_FALSE(again.taken_over()) << "a released lock is no takeover";
  DirLock moved = std::move(again);
  EXPECT_TRUE(moved.locked());
  EXPECT_FALSE(again.locked());  // NOLINT(bugprone-use-after-move): moved-from holds nothing
}

// A child takes the lock and is killed with it: the kernel drops the flock,
// the file (with the child's record) stays, and the next taker takes over.
TEST(DirLock, LockOfAKilledProcessIsTakenOver) {
  TempDir d;
  const pid_t child = ::fork();
  if (child == 0) {
    DirLock l = take(d);
    ::raise(SIGKILL);
    ::_exit(1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status));
  ASSERT_TRUE(fs::exists(lock_file(d)));
  DirLock l = take(d);
  ASSERT_TRUE(l.locked());
  ASSERT_TRUE(l.taken_over());
  EXPECT_EQ(l.taken_over()->pid, child);
  EXPECT_EQ(l.taken_over()->tool, "lock-test");
  EXPECT_NE(l.notice().find("took over " + lock_file(d) + " from lock-test (PID " + std::to_string(child)),
            std::string::npos)
      << l.notice();
  // The file now records this process.
  EXPECT_NE(slurp(lock_file(d)).find("\"pid\":" + std::to_string(::getpid())), std::string::npos);
}

int g_errno = 0;
int failing_flock(int, int) {
  errno = g_errno;
  return -1;
}

// Lustre without the flock mount option (ENOSYS), and the other "no locks
// here" answers: a warning, no lock, no refusal.
TEST(DirLock, FileSystemWithoutFlockWarnsAndCarriesOn) {
  for (int e : {ENOSYS, EOPNOTSUPP, ENOLCK}) {
    TempDir d;
    g_errno = e;
    DirLock l = take(d, failing_flock);
    EXPECT_FALSE(l.locked());
    EXPECT_NE(l.unsupported().find(std::strerror(e)), std::string::npos) << l.unsupported();
    EXPECT_NE(l.notice().find("does not support flock (Lustre"), std::string::npos) << l.notice();
    EXPECT_NE(l.notice().find("carrying on without a lock"), std::string::npos) << l.notice();
    EXPECT_FALSE(fs::exists(lock_file(d))) << "no empty lock file is left behind";
  }
  TempDir d;
  g_errno = EIO;  // anything else is an error
  const auto [code, msg] = error_of([&] { take(d, failing_flock); });
  EXPECT_EQ(code, kExitOutput);
  EXPECT_NE(msg.find("cannot lock " + lock_file(d)), std::string::npos) << msg;
}

TEST(DirLock, MissingDirectoryIsAnOutputError) {
  TempDir d;
  const auto [code, msg] = error_of([&] { DirLock::acquire(d / "absent", "t", "dir", "x"); });
  EXPECT_EQ(code, kExitOutput);
  EXPECT_NE(msg.find("cannot create the lock file " + (d / "absent") + "/.lock"), std::string::npos) << msg;
}

void write_one_split(DatasetWriter& w) {
  SplitSpec s;
  s.name = "train";
  s.row_shape = {2};
  s.rows = 1;
  s.value_range = {0, 255};
  w.begin_split(s);
  const uint8_t row[2] = {1, 2};
  w.add_rows(row, static_cast<const uint8_t*>(nullptr), 1);
  w.end_split();
}

TEST(DatasetWriterLock, SecondWriterIsRefusedAndTheFirstCommits) {
  TempDir d;
  const std::string out = d / "ds";
  DatasetWriter a(out, "a", "aevb-data test", false);
  const auto [code, msg] = error_of([&] { DatasetWriter b(out, "b", "aevb-data test", true); });
  EXPECT_EQ(code, kExitOutput);
  EXPECT_NE(msg.find("dataset directory " + out + " is in use by aevb-data test (PID "), std::string::npos) << msg;
  EXPECT_NE(msg.find("another conversion is writing there"), std::string::npos) << msg;
  write_one_split(a);
  a.commit();
  EXPECT_EQ(Manifest::load(out).name, "a");
}

TEST(DatasetWriterLock, LockFileDoesNotKeepAFailedWritersDirectory) {
  TempDir d;
  const std::string out = d / "new";
  { DatasetWriter w(out, "x", "aevb-data test", false); }  // never committed
  EXPECT_FALSE(fs::exists(out));
}

// Leftovers of a killed writer (any PID) go; files that are not the writer's
// own kinds of temp file stay.
TEST(DatasetWriterLock, StaleTempFilesAreRemovedUnderTheLock) {
  TempDir d;
  for (const char* n : {"train-00000-of-00001.h5.tmp.4242", "manifest.json.tmp.17", "notes.txt.tmp.5", "x.h5.tmp.z"})
    std::ofstream(d / n) << "debris";
  DatasetWriter w(d.path, "x", "aevb-data test", true);
  ASSERT_EQ(w.notices().size(), 1u);
  EXPECT_NE(w.notices()[0].find("removed 2 temp file(s) of an interrupted writer"), std::string::npos)
      << w.notices()[0];
  EXPECT_FALSE(fs::exists(d / "train-00000-of-00001.h5.tmp.4242"));
  EXPECT_FALSE(fs::exists(d / "manifest.json.tmp.17"));
  EXPECT_TRUE(fs::exists(d / "notes.txt.tmp.5"));
  EXPECT_TRUE(fs::exists(d / "x.h5.tmp.z"));
}

}  // namespace
}  // namespace aevb::testing
