// HDF5 basics: error reporting, handles, names, files and groups, atomic files.
// Attributes are in h5_attr.cpp, datasets in h5_dataset.cpp.
#include "aevb/io/h5.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>

#include <fcntl.h>
#include <type_traits>

#include "aevb/base/error.hpp"
#include "aevb/io/durable_file.hpp"
#include "h5_detail.hpp"

namespace aevb::h5 {
using namespace detail;
namespace {

// Innermost HDF5 error description, to append to our message (e.g. "file
// signature not found"). Our own message stays first so it reads as one line.
herr_t take_first(unsigned n, const H5E_error2_t* e, void* out) {
  if (n == 0 && e->desc) *static_cast<std::string*>(out) = e->desc;
  return 0;
}
std::string hdf5_detail() {
  std::string d;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, take_first, &d);
  H5Eclear2(H5E_DEFAULT);
  return d.empty() ? "" : " (HDF5: " + d + ")";
}

// No atexit teardown of the HDF5 library: after a failed flush (disk full)
// HDF5 1.10 crashes at exit closing that file again. Every file aevb writes is
// committed (flushed, fsynced) explicitly and the OS reclaims the rest. This
// must run before the library initializes (even the H5F_ACC_* macros do), so
// it is a static initializer.
const bool kNoAtexitTeardown = (H5dont_atexit(), true);

Id open_file(const std::string& path, unsigned flags) {
  quiet();
  if (::access(path.c_str(), F_OK) != 0) throw input_error(path + ": no such file");
  if (H5Fis_hdf5(path.c_str()) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    throw input_error(path + ": not an HDF5 file");
  }
  Id f(H5Fopen(path.c_str(), flags, H5P_DEFAULT));
  if (!f.valid()) fail_in(path + ": cannot open HDF5 file");
  return f;
}

}  // namespace

namespace detail {
[[noreturn]] void fail_in(const std::string& msg) { throw input_error(msg + hdf5_detail()); }
// A failed write is usually the disk's fault: name it ("No space left on
// device") when errno says so right after the failing call.
[[noreturn]] void fail_out(const std::string& msg) {
  const int e = errno;
  const bool io = e == ENOSPC || e == EDQUOT || e == EIO || e == EROFS || e == EFBIG;
  throw output_error(msg + (io ? std::string(": ") + std::strerror(e) : std::string()) + hdf5_detail());
}

Id utf8_vlen_string_type() {
  Id t(H5Tcopy(H5T_C_S1));
  H5Tset_size(t, H5T_VARIABLE);
  H5Tset_cset(t, H5T_CSET_UTF8);
  return t;
}

Id simple_space(const std::vector<hsize_t>& dims) {
  return Id(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr));
}

}  // namespace detail

// The thread-safe HDF5 library keeps an error stack per thread: each thread
// that calls HDF5 switches its own printing off, once.
void quiet() {
  thread_local bool done = false;
  if (!done) H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  done = true;
}

// ---- Id ----
Id& Id::operator=(Id&& o) noexcept {
  if (this != &o) {
    reset();
    id_ = o.id_;
    o.id_ = -1;
  }
  return *this;
}

hid_t Id::release() {
  hid_t h = id_;
  id_ = -1;
  return h;
}

void Id::reset() {
  if (id_ < 0) return;
  switch (H5Iget_type(id_)) {
    case H5I_FILE: H5Fclose(id_); break;
    case H5I_GROUP: H5Gclose(id_); break;
    case H5I_DATASET: H5Dclose(id_); break;
    case H5I_DATASPACE: H5Sclose(id_); break;
    case H5I_DATATYPE: H5Tclose(id_); break;
    case H5I_ATTR: H5Aclose(id_); break;
    case H5I_GENPROP_LST: H5Pclose(id_); break;
    default: H5Idec_ref(id_); break;
  }
  id_ = -1;
}

// ---- naming ----
std::string describe(hid_t loc) {
  std::string file = "?", obj;
  ssize_t n = H5Fget_name(loc, nullptr, 0);
  if (n > 0) {
    file.assign(static_cast<size_t>(n) + 1, '\0');
    H5Fget_name(loc, file.data(), file.size());
    file.resize(static_cast<size_t>(n));
  }
  if (H5Iget_type(loc) != H5I_FILE) {
    n = H5Iget_name(loc, nullptr, 0);
    if (n > 0) {
      obj.assign(static_cast<size_t>(n) + 1, '\0');
      H5Iget_name(loc, obj.data(), obj.size());
      obj.resize(static_cast<size_t>(n));
    }
  }
  H5Eclear2(H5E_DEFAULT);
  return obj.empty() || obj == "/" ? file : file + ":" + obj;
}

std::string describe(hid_t loc, const std::string& child) {
  std::string base = describe(loc);
  return base + (base.find(':') == std::string::npos ? ":/" : "/") + child;
}

// ---- files, groups ----
Id open_file_read(const std::string& path) { return open_file(path, H5F_ACC_RDONLY); }

void advise_random_access(hid_t file) {
  Id fapl(H5Fget_access_plist(file));
  if (!fapl.valid() || H5Pget_driver(fapl) != H5FD_SEC2) return;
  void* handle = nullptr;
  if (H5Fget_vfd_handle(file, H5P_DEFAULT, &handle) < 0 || handle == nullptr) return;
  ::posix_fadvise(*static_cast<int*>(handle), 0, 0, POSIX_FADV_RANDOM);
}
Id open_file_rw(const std::string& path) { return open_file(path, H5F_ACC_RDWR); }

Id create_file(const std::string& path) {
  quiet();
  Id f(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
  if (!f.valid()) fail_out(path + ": cannot create HDF5 file");
  return f;
}

bool has_link(hid_t loc, const std::string& name) {
  // H5Lexists needs each intermediate group to exist, so walk the path.
  std::string prefix;
  size_t pos = 0;
  while (true) {
    size_t slash = name.find('/', pos);
    prefix = name.substr(0, slash);
    if (!prefix.empty() && H5Lexists(loc, prefix.c_str(), H5P_DEFAULT) <= 0) {
      H5Eclear2(H5E_DEFAULT);
      return false;
    }
    if (slash == std::string::npos) return true;
    pos = slash + 1;
  }
}

Id open_group(hid_t loc, const std::string& name) {
  if (!has_link(loc, name)) throw input_error(describe(loc) + ": missing group '" + name + "'");
  Id g(H5Gopen2(loc, name.c_str(), H5P_DEFAULT));
  if (!g.valid()) fail_in(describe(loc) + ": cannot open group '" + name + "'");
  return g;
}

Id create_group(hid_t loc, const std::string& name) {
  Id g(H5Gcreate2(loc, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  if (!g.valid()) fail_out(describe(loc) + ": cannot create group '" + name + "'");
  return g;
}

Id open_dataset(hid_t loc, const std::string& name) {
  if (!has_link(loc, name)) throw input_error(describe(loc) + ": missing dataset '" + name + "'");
  Id d(H5Dopen2(loc, name.c_str(), H5P_DEFAULT));
  if (!d.valid()) fail_in(describe(loc) + ": cannot open dataset '" + name + "'");
  return d;
}

// ---- AtomicFile ----
AtomicFile::AtomicFile(const std::string& final_path)
    : final_(final_path), temp_(temp_path_for(final_path)) {
  // Checked before HDF5 so the message names the directory, not an HDF5 errno.
  require_writable_dir(parent_dir(final_path), "cannot write " + final_path);
  quiet();
  // CLOSE_SEMI: closing fails loudly if a dataset is still open, instead of
  // silently deferring the close (and the flush) past our fsync.
  Id fapl(H5Pcreate(H5P_FILE_ACCESS));
  H5Pset_fclose_degree(fapl, H5F_CLOSE_SEMI);
  file_ = Id(H5Fcreate(temp_.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl));
  if (!file_.valid()) fail_out(temp_ + ": cannot create HDF5 file");
}

AtomicFile::AtomicFile(AtomicFile&& o) noexcept
    : final_(std::move(o.final_)), temp_(std::move(o.temp_)), file_(std::move(o.file_)),
      finished_(o.finished_), committed_(o.committed_) {
  o.committed_ = true;  // the moved-from object must not delete our temp file
}

AtomicFile::~AtomicFile() {
  if (committed_) return;
  file_.reset();
  ::unlink(temp_.c_str());
}

void AtomicFile::finish() {
  if (finished_) return;
  if (H5Fflush(file_, H5F_SCOPE_GLOBAL) < 0) fail_out(temp_ + ": cannot flush HDF5 file");
  hid_t f = file_.release();
  if (H5Fclose(f) < 0) fail_out(temp_ + ": cannot close HDF5 file (objects still open?)");
  fsync_file(temp_);
  finished_ = true;
}

void AtomicFile::commit() {
  finish();
  rename_durably(temp_, final_);
  committed_ = true;
}

}  // namespace aevb::h5
