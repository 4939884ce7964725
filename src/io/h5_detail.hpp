// Internals shared by the HDF5 helpers (h5.cpp, h5_attr.cpp, h5_dataset.cpp);
// not a public header.
#pragma once
#include <hdf5.h>

#include <cstdint>
#include <string>
#include <vector>

#include "aevb/io/h5.hpp"

namespace aevb::h5::detail {

// Throw input_error / output_error with HDF5's innermost error description
// appended; fail_out also names the errno of a failed write (e.g. "No space
// left on device").
[[noreturn]] void fail_in(const std::string& msg);
[[noreturn]] void fail_out(const std::string& msg);

// Memory and file (little-endian) types of the element types we store.
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

Id utf8_vlen_string_type();
Id simple_space(const std::vector<hsize_t>& dims);

}  // namespace aevb::h5::detail
