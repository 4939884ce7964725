#include "aevb/io/h5.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <type_traits>

#include "aevb/io/durable_file.hpp"
#include "aevb/base/error.hpp"

namespace aevb::h5 {
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

[[noreturn]] void fail_in(const std::string& msg) { throw input_error(msg + hdf5_detail()); }
// A failed write is usually the disk's fault: name it ("No space left on
// device") when errno says so right after the failing call.
[[noreturn]] void fail_out(const std::string& msg) {
  const int e = errno;
  const bool io = e == ENOSPC || e == EDQUOT || e == EIO || e == EROFS || e == EFBIG;
  throw output_error(msg + (io ? std::string(": ") + std::strerror(e) : std::string()) + hdf5_detail());
}

template <class T> struct Traits;
template <> struct Traits<uint8_t> {
  static hid_t mem() { return H5T_NATIVE_UINT8; }
  static hid_t file() { return H5T_STD_U8LE; }
};
template <> struct Traits<int32_t> {
  static hid_t mem() { return H5T_NATIVE_INT32; }
  static hid_t file() { return H5T_STD_I32LE; }
};
template <> struct Traits<int64_t> {
  static hid_t mem() { return H5T_NATIVE_INT64; }
  static hid_t file() { return H5T_STD_I64LE; }
};
template <> struct Traits<float> {
  static hid_t mem() { return H5T_NATIVE_FLOAT; }
  static hid_t file() { return H5T_IEEE_F32LE; }
};
template <> struct Traits<double> {
  static hid_t mem() { return H5T_NATIVE_DOUBLE; }
  static hid_t file() { return H5T_IEEE_F64LE; }
};

Id utf8_vlen_string_type() {
  Id t(H5Tcopy(H5T_C_S1));
  H5Tset_size(t, H5T_VARIABLE);
  H5Tset_cset(t, H5T_CSET_UTF8);
  return t;
}

Id simple_space(const std::vector<hsize_t>& dims) {
  return Id(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr));
}

// Writes replace: attributes are rewritten when a checkpoint is updated in place.
Id create_attr(hid_t loc, const std::string& name, hid_t type, hid_t space) {
  if (H5Aexists(loc, name.c_str()) > 0 && H5Adelete(loc, name.c_str()) < 0)
    fail_out(describe(loc) + ": cannot replace attribute '" + name + "'");
  Id a(H5Acreate2(loc, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT));
  if (!a.valid()) fail_out(describe(loc) + ": cannot create attribute '" + name + "'");
  return a;
}

template <class T>
void write_attr_numeric(hid_t loc, const std::string& name, const T* v, size_t n, bool scalar) {
  // An empty list (e.g. hidden = [] of a linear model) is a null dataspace:
  // HDF5 has no zero-length simple attribute.
  const bool empty = !scalar && n == 0;
  Id space = scalar ? Id(H5Screate(H5S_SCALAR))
                    : empty ? Id(H5Screate(H5S_NULL)) : simple_space({static_cast<hsize_t>(n)});
  Id a = create_attr(loc, name, Traits<T>::file(), space);
  if (!empty && H5Awrite(a, Traits<T>::mem(), v) < 0)
    fail_out(describe(loc) + ": cannot write attribute '" + name + "'");
}

Id open_attr(hid_t loc, const std::string& name) {
  if (H5Aexists(loc, name.c_str()) <= 0)
    throw input_error(describe(loc) + ": missing attribute '" + name + "'");
  Id a(H5Aopen(loc, name.c_str(), H5P_DEFAULT));
  if (!a.valid()) fail_in(describe(loc) + ": cannot open attribute '" + name + "'");
  return a;
}

size_t attr_elements(hid_t a) {
  Id space(H5Aget_space(a));
  hssize_t n = H5Sget_simple_extent_npoints(space);
  return n < 0 ? 0 : static_cast<size_t>(n);
}

template <class T>
std::vector<T> read_attr_numeric(hid_t loc, const std::string& name, bool allow_int_class) {
  Id a = open_attr(loc, name);
  Id type(H5Aget_type(a));
  H5T_class_t cls = H5Tget_class(type);
  const bool ok = cls == (std::is_integral_v<T> ? H5T_INTEGER : H5T_FLOAT) ||
                  (allow_int_class && cls == H5T_INTEGER);
  if (!ok)
    throw input_error(describe(loc) + ": attribute '" + name + "' is not " +
                      (std::is_integral_v<T> ? "an integer" : "a number"));
  std::vector<T> v(attr_elements(a));
  if (!v.empty() && H5Aread(a, Traits<T>::mem(), v.data()) < 0)
    fail_in(describe(loc) + ": cannot read attribute '" + name + "'");
  return v;
}

template <class T>
T read_attr_scalar(hid_t loc, const std::string& name, bool allow_int_class) {
  auto v = read_attr_numeric<T>(loc, name, allow_int_class);
  if (v.size() != 1)
    throw input_error(describe(loc) + ": attribute '" + name + "' should hold one value, holds " +
                      std::to_string(v.size()));
  return v[0];
}

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

void quiet() {
  static std::once_flag once;
  std::call_once(once, [] { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); });
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

// ---- attributes ----
bool has_attr(hid_t loc, const std::string& name) {
  htri_t r = H5Aexists(loc, name.c_str());
  H5Eclear2(H5E_DEFAULT);
  return r > 0;
}

void write_attr_int(hid_t loc, const std::string& name, int64_t v) {
  write_attr_numeric(loc, name, &v, 1, true);
}
void write_attr_double(hid_t loc, const std::string& name, double v) {
  write_attr_numeric(loc, name, &v, 1, true);
}
void write_attr_ints(hid_t loc, const std::string& name, const std::vector<int64_t>& v) {
  write_attr_numeric(loc, name, v.data(), v.size(), false);
}
void write_attr_doubles(hid_t loc, const std::string& name, const std::vector<double>& v) {
  write_attr_numeric(loc, name, v.data(), v.size(), false);
}

void write_attr_string(hid_t loc, const std::string& name, const std::string& v) {
  Id type = utf8_vlen_string_type();
  Id space(H5Screate(H5S_SCALAR));
  Id a = create_attr(loc, name, type, space);
  const char* p = v.c_str();
  if (H5Awrite(a, type, &p) < 0) fail_out(describe(loc) + ": cannot write attribute '" + name + "'");
}

void write_attr_strings(hid_t loc, const std::string& name, const std::vector<std::string>& v) {
  Id type = utf8_vlen_string_type();
  Id space = simple_space({static_cast<hsize_t>(v.size())});
  Id a = create_attr(loc, name, type, space);
  std::vector<const char*> ptrs;
  for (const auto& s : v) ptrs.push_back(s.c_str());
  if (!v.empty() && H5Awrite(a, type, ptrs.data()) < 0)
    fail_out(describe(loc) + ": cannot write attribute '" + name + "'");
}

std::vector<std::string> read_attr_strings(hid_t loc, const std::string& name) {
  Id a = open_attr(loc, name);
  Id ftype(H5Aget_type(a));
  if (H5Tget_class(ftype) != H5T_STRING)
    throw input_error(describe(loc) + ": attribute '" + name + "' is not a string");
  const size_t n = attr_elements(a);
  std::vector<std::string> out;
  if (H5Tis_variable_str(ftype) > 0) {
    Id mtype = utf8_vlen_string_type();
    std::vector<char*> ptrs(n, nullptr);
    if (n && H5Aread(a, mtype, ptrs.data()) < 0)
      fail_in(describe(loc) + ": cannot read attribute '" + name + "'");
    for (char* p : ptrs) out.emplace_back(p ? p : "");
    Id space(H5Aget_space(a));
    if (n) H5Dvlen_reclaim(mtype, space, H5P_DEFAULT, ptrs.data());
  } else {
    // Fixed-length strings (e.g. written by h5py with numpy bytes): pad is NUL or space.
    const size_t len = H5Tget_size(ftype);
    std::vector<char> buf(n * len);
    if (n && H5Aread(a, ftype, buf.data()) < 0)
      fail_in(describe(loc) + ": cannot read attribute '" + name + "'");
    for (size_t i = 0; i < n; ++i) {
      std::string s(buf.data() + i * len, len);
      s.erase(std::find(s.begin(), s.end(), '\0'), s.end());
      if (H5Tget_strpad(ftype) == H5T_STR_SPACEPAD)
        while (!s.empty() && s.back() == ' ') s.pop_back();
      out.push_back(std::move(s));
    }
  }
  return out;
}

std::string read_attr_string(hid_t loc, const std::string& name) {
  auto v = read_attr_strings(loc, name);
  if (v.size() != 1)
    throw input_error(describe(loc) + ": attribute '" + name + "' should hold one string, holds " +
                      std::to_string(v.size()));
  return v[0];
}

int64_t read_attr_int(hid_t loc, const std::string& name) {
  return read_attr_scalar<int64_t>(loc, name, false);
}
double read_attr_double(hid_t loc, const std::string& name) {
  return read_attr_scalar<double>(loc, name, true);
}
std::vector<int64_t> read_attr_ints(hid_t loc, const std::string& name) {
  return read_attr_numeric<int64_t>(loc, name, false);
}
std::vector<double> read_attr_doubles(hid_t loc, const std::string& name) {
  return read_attr_numeric<double>(loc, name, true);
}

// ---- datasets ----
std::string dtype_name(DType t) {
  switch (t) {
    case DType::uint8: return "uint8";
    case DType::int32: return "int32";
    case DType::int64: return "int64";
    case DType::float32: return "float32";
    case DType::float64: return "float64";
    default: return "other";
  }
}

DType dataset_dtype(hid_t dset) {
  Id t(H5Dget_type(dset));
  const size_t size = H5Tget_size(t);
  switch (H5Tget_class(t)) {
    case H5T_INTEGER: {
      const bool is_signed = H5Tget_sign(t) == H5T_SGN_2;
      if (!is_signed && size == 1) return DType::uint8;
      if (is_signed && size == 4) return DType::int32;
      if (is_signed && size == 8) return DType::int64;
      return DType::other;
    }
    case H5T_FLOAT:
      return size == 4 ? DType::float32 : size == 8 ? DType::float64 : DType::other;
    default: return DType::other;
  }
}

std::vector<hsize_t> dataset_dims(hid_t dset) {
  Id space(H5Dget_space(dset));
  int rank = H5Sget_simple_extent_ndims(space);
  if (rank < 0) fail_in(describe(dset) + ": cannot read dataset shape");
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  H5Sget_simple_extent_dims(space, dims.data(), nullptr);
  return dims;
}

hsize_t row_elements(hid_t dset) {
  auto dims = dataset_dims(dset);
  hsize_t n = 1;
  for (size_t i = 1; i < dims.size(); ++i) n *= dims[i];
  return n;
}

template <class T>
Id create_dataset(hid_t loc, const std::string& name, const std::vector<hsize_t>& dims,
                  const WriteOptions& opt) {
  Id space = simple_space(dims);
  Id dcpl(H5Pcreate(H5P_DATASET_CREATE));
  hsize_t chunk_rows = opt.chunk_rows;
  if (opt.gzip_level > 0 && chunk_rows == 0 && !dims.empty()) {
    // ~1 MiB chunks: big enough for gzip to pay off, small enough for row reads.
    hsize_t row_bytes = sizeof(T);
    for (size_t i = 1; i < dims.size(); ++i) row_bytes *= dims[i];
    chunk_rows = std::max<hsize_t>(1, (hsize_t{1} << 20) / std::max<hsize_t>(1, row_bytes));
  }
  if (chunk_rows > 0 && !dims.empty() && dims[0] > 0) {
    std::vector<hsize_t> chunk = dims;
    chunk[0] = std::min(chunk_rows, dims[0]);
    for (auto& c : chunk) c = std::max<hsize_t>(c, 1);
    H5Pset_chunk(dcpl, static_cast<int>(chunk.size()), chunk.data());
    if (opt.gzip_level > 0) H5Pset_deflate(dcpl, static_cast<unsigned>(opt.gzip_level));
  }
  Id d(H5Dcreate2(loc, name.c_str(), Traits<T>::file(), space, H5P_DEFAULT, dcpl, H5P_DEFAULT));
  if (!d.valid()) fail_out(describe(loc) + ": cannot create dataset '" + name + "'");
  return d;
}

template <class T>
void write_dataset(hid_t loc, const std::string& name, const T* data,
                   const std::vector<hsize_t>& dims, const WriteOptions& opt) {
  Id d = create_dataset<T>(loc, name, dims, opt);
  hsize_t n = 1;
  for (auto x : dims) n *= x;
  if (n && H5Dwrite(d, Traits<T>::mem(), H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
    fail_out(describe(loc, name) + ": cannot write dataset");
}

namespace {
// File and memory spaces for rows [first, first+n) of dset.
std::pair<Id, Id> row_spaces(hid_t dset, hsize_t first, hsize_t n, bool reading) {
  auto dims = dataset_dims(dset);
  if (dims.empty() || first + n > dims[0]) {
    std::string msg = describe(dset) + ": rows [" + std::to_string(first) + ", " +
                      std::to_string(first + n) + ") out of range, dataset has " +
                      std::to_string(dims.empty() ? 0 : dims[0]) + " rows";
    if (reading) throw input_error(msg);
    throw output_error(msg);
  }
  Id fspace(H5Dget_space(dset));
  std::vector<hsize_t> start(dims.size(), 0), count = dims;
  start[0] = first;
  count[0] = n;
  H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr);
  return {std::move(fspace), simple_space(count)};
}
}  // namespace

template <class T>
void write_rows(hid_t dset, hsize_t first_row, hsize_t nrows, const T* data) {
  if (nrows == 0) return;
  auto [fspace, mspace] = row_spaces(dset, first_row, nrows, false);
  if (H5Dwrite(dset, Traits<T>::mem(), mspace, fspace, H5P_DEFAULT, data) < 0)
    fail_out(describe(dset) + ": cannot write rows starting at " + std::to_string(first_row));
}

template <class T>
Array<T> read_dataset(hid_t loc, const std::string& name) {
  Id d = open_dataset(loc, name);
  Array<T> a;
  a.dims = dataset_dims(d);
  hsize_t n = 1;
  for (auto x : a.dims) n *= x;
  a.data.resize(n);
  if (n && H5Dread(d, Traits<T>::mem(), H5S_ALL, H5S_ALL, H5P_DEFAULT, a.data.data()) < 0)
    fail_in(describe(loc, name) + ": cannot read dataset");
  return a;
}

template <class T>
void read_rows(hid_t dset, hsize_t first_row, hsize_t nrows, T* out) {
  if (nrows == 0) return;
  auto [fspace, mspace] = row_spaces(dset, first_row, nrows, true);
  if (H5Dread(dset, Traits<T>::mem(), mspace, fspace, H5P_DEFAULT, out) < 0)
    fail_in(describe(dset) + ": cannot read rows [" + std::to_string(first_row) + ", " +
            std::to_string(first_row + nrows) + ")");
}

template <class T>
void read_row_list(hid_t dset, const std::vector<int64_t>& rows, T* out) {
  if (rows.empty()) return;
  const hsize_t row_elems = row_elements(dset);
  const hsize_t row_bytes = std::max<hsize_t>(1, row_elems * sizeof(T));
  // Reading a few unwanted rows is cheaper than another H5Dread call, up to a
  // point: merge rows closer than ~256 KiB, and cap one read at ~8 MiB.
  const int64_t max_gap = static_cast<int64_t>(std::max<hsize_t>(1, (256u << 10) / row_bytes));
  const int64_t max_span = static_cast<int64_t>(std::max<hsize_t>(1, (8u << 20) / row_bytes));
  std::vector<T> scratch;
  size_t i = 0;
  while (i < rows.size()) {
    size_t j = i + 1;
    while (j < rows.size() && rows[j] - rows[j - 1] <= max_gap && rows[j] - rows[i] < max_span) {
      if (rows[j] <= rows[j - 1])
        throw Error(kExitInternal, describe(dset) + ": read_row_list needs strictly increasing rows");
      ++j;
    }
    if (j < rows.size() && rows[j] <= rows[j - 1])
      throw Error(kExitInternal, describe(dset) + ": read_row_list needs strictly increasing rows");
    if (rows[i] < 0) throw input_error(describe(dset) + ": negative row index " + std::to_string(rows[i]));
    const hsize_t first = static_cast<hsize_t>(rows[i]);
    const hsize_t span = static_cast<hsize_t>(rows[j - 1] - rows[i] + 1);
    T* dst = out + i * row_elems;
    if (span == j - i) {
      read_rows(dset, first, span, dst);  // a contiguous run: straight into out
    } else {
      scratch.resize(span * row_elems);
      read_rows(dset, first, span, scratch.data());
      for (size_t k = i; k < j; ++k)
        std::memcpy(out + k * row_elems,
                    scratch.data() + (static_cast<hsize_t>(rows[k]) - first) * row_elems,
                    row_elems * sizeof(T));
    }
    i = j;
  }
}

#define AEVB_H5_INSTANTIATE(T)                                                              \
  template Id create_dataset<T>(hid_t, const std::string&, const std::vector<hsize_t>&,     \
                                const WriteOptions&);                                       \
  template void write_dataset<T>(hid_t, const std::string&, const T*,                       \
                                 const std::vector<hsize_t>&, const WriteOptions&);         \
  template void write_rows<T>(hid_t, hsize_t, hsize_t, const T*);                           \
  template Array<T> read_dataset<T>(hid_t, const std::string&);                             \
  template void read_rows<T>(hid_t, hsize_t, hsize_t, T*);                                  \
  template void read_row_list<T>(hid_t, const std::vector<int64_t>&, T*);
AEVB_H5_INSTANTIATE(uint8_t)
AEVB_H5_INSTANTIATE(int32_t)
AEVB_H5_INSTANTIATE(int64_t)
AEVB_H5_INSTANTIATE(float)
AEVB_H5_INSTANTIATE(double)
#undef AEVB_H5_INSTANTIATE

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
