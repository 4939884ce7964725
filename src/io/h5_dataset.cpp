// HDF5 datasets: creation (chunked, compressed where asked), whole and
// row-range reads and writes, reads of a sorted row list.
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

bool has_fletcher32(hid_t dset) {
  Id dcpl(H5Dget_create_plist(dset));
  if (!dcpl.valid()) return false;
  unsigned flags = 0, config = 0;
  size_t nelem = 0;
  return H5Pget_filter_by_id2(dcpl, H5Z_FILTER_FLETCHER32, &flags, &nelem, nullptr, 0, nullptr, &config) >= 0;
}

hsize_t chunk_rows(hid_t dset) {
  Id dcpl(H5Dget_create_plist(dset));
  if (!dcpl.valid() || H5Pget_layout(dcpl) != H5D_CHUNKED) return 0;
  hsize_t dims[H5S_MAX_RANK];
  return H5Pget_chunk(dcpl, H5S_MAX_RANK, dims) >= 1 ? dims[0] : 0;
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
  if ((opt.gzip_level > 0 || opt.fletcher32) && chunk_rows == 0 && !dims.empty()) {
    // gzip: ~1 MiB chunks, big enough for compression to pay off. A checksum
    // alone: ~64 KiB chunks, so that a read of a block of rows verifies little
    // beyond it (a chunk is read and checked whole).
    hsize_t row_bytes = sizeof(T);
    for (size_t i = 1; i < dims.size(); ++i) row_bytes *= dims[i];
    const hsize_t target = opt.gzip_level > 0 ? hsize_t{1} << 20 : hsize_t{1} << 16;
    chunk_rows = std::max<hsize_t>(1, target / std::max<hsize_t>(1, row_bytes));
  }
  if (chunk_rows > 0 && !dims.empty() && dims[0] > 0) {
    std::vector<hsize_t> chunk = dims;
    chunk[0] = std::min(chunk_rows, dims[0]);
    for (auto& c : chunk) c = std::max<hsize_t>(c, 1);
    H5Pset_chunk(dcpl, static_cast<int>(chunk.size()), chunk.data());
    if (opt.gzip_level > 0) H5Pset_deflate(dcpl, static_cast<unsigned>(opt.gzip_level));
    if (opt.fletcher32) H5Pset_fletcher32(dcpl);  // after deflate: checks the stored (compressed) bytes
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

}  // namespace aevb::h5
