// HDF5 attributes: scalars, lists, UTF-8 strings; empty lists as null dataspaces.
#include "aevb/io/h5.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <type_traits>

#include "aevb/base/error.hpp"
#include "aevb/io/durable_file.hpp"
#include "h5_detail.hpp"

namespace aevb::h5 {
using namespace detail;
namespace {

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

}  // namespace

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

}  // namespace aevb::h5
