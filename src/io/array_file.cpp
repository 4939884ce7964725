#include "aevb/io/array_file.hpp"

#include <exception>

#include "aevb/base/error.hpp"
#include "aevb/io/h5.hpp"

namespace aevb {

namespace {

template <class T>
void put(hid_t root, const std::map<std::string, NamedArray<T>>& arrays) {
  for (const auto& [name, a] : arrays) {
    std::vector<hsize_t> dims(a.dims.begin(), a.dims.end());
    int64_t n = 1;
    for (int64_t d : a.dims) n *= d;
    if (n != static_cast<int64_t>(a.data.size()))
      throw Error(kExitInternal, "write_array_file: /" + name + " has " + std::to_string(a.data.size()) +
                                     " values for its dims");
    h5::write_dataset<T>(root, name, a.data.data(), dims);
  }
}

template <class T>
NamedArray<T> get(hid_t root, const std::string& name) {
  h5::Array<T> a = h5::read_dataset<T>(root, name);
  NamedArray<T> out;
  out.dims.assign(a.dims.begin(), a.dims.end());
  out.data = std::move(a.data);
  return out;
}

// HDF5's iterations are C: an exception must not unwind through them. The
// callbacks catch it, stop the iteration (-1) and the caller rethrows.
struct Visit {
  hid_t root;
  ArrayFile* f;
  std::exception_ptr error;
};

herr_t on_attr(hid_t loc, const char* name, const H5A_info_t*, void* p) try {
  auto* v = static_cast<Visit*>(p);
  const std::string n(name);
  h5::Id a(H5Aopen(loc, name, H5P_DEFAULT));
  h5::Id t(H5Aget_type(a));
  h5::Id s(H5Aget_space(a));
  const bool scalar = H5Sget_simple_extent_npoints(s) == 1;
  switch (H5Tget_class(t)) {
    case H5T_STRING: if (scalar) v->f->text[n] = h5::read_attr_string(v->root, n); break;
    case H5T_INTEGER: if (scalar) v->f->ints[n] = h5::read_attr_int(v->root, n); break;
    case H5T_FLOAT: if (scalar) v->f->reals[n] = h5::read_attr_double(v->root, n); break;
    default: break;
  }
  return 0;
} catch (...) {
  static_cast<Visit*>(p)->error = std::current_exception();
  return -1;
}

herr_t on_link(hid_t, const char* name, const H5L_info_t*, void* p) try {
  auto* v = static_cast<Visit*>(p);
  const std::string n(name);
  {
    h5::Id o(H5Oopen(v->root, name, H5P_DEFAULT));
    if (!o.valid() || H5Iget_type(o) != H5I_DATASET) return 0;  // groups and others: not ours
  }
  h5::Id d = h5::open_dataset(v->root, n);
  switch (h5::dataset_dtype(d)) {
    case h5::DType::float32: v->f->f32[n] = get<float>(v->root, n); break;
    case h5::DType::float64: v->f->f64[n] = get<double>(v->root, n); break;
    case h5::DType::uint8: v->f->u8[n] = get<uint8_t>(v->root, n); break;
    case h5::DType::int32:
    case h5::DType::int64: v->f->i64[n] = get<int64_t>(v->root, n); break;
    default: break;
  }
  return 0;
} catch (...) {
  static_cast<Visit*>(p)->error = std::current_exception();
  return -1;
}

}  // namespace

void write_array_file(const std::string& path, const ArrayFile& f) {
  h5::AtomicFile file(path);
  const hid_t root = file.id();
  h5::write_attr_string(root, "format", f.format);
  h5::write_attr_int(root, "format_version", f.format_version);
  for (const auto& [k, v] : f.text) h5::write_attr_string(root, k, v);
  for (const auto& [k, v] : f.ints) h5::write_attr_int(root, k, v);
  for (const auto& [k, v] : f.reals) h5::write_attr_double(root, k, v);
  put(root, f.f32);
  put(root, f.f64);
  put(root, f.i64);
  put(root, f.u8);
  file.commit();
}

ArrayFile read_array_file(const std::string& path, const std::string& expected_format) {
  h5::Id file = h5::open_file_read(path);
  ArrayFile f;
  Visit v{file.get(), &f, nullptr};
  const herr_t a = H5Aiterate2(file, H5_INDEX_NAME, H5_ITER_INC, nullptr, on_attr, &v);
  if (v.error) std::rethrow_exception(v.error);
  const herr_t l = H5Literate(file, H5_INDEX_NAME, H5_ITER_INC, nullptr, on_link, &v);
  if (v.error) std::rethrow_exception(v.error);
  if (a < 0 || l < 0) throw input_error(path + ": cannot list the file's attributes and datasets");
  f.format = f.text.count("format") ? f.text["format"] : "";
  f.format_version = f.ints.count("format_version") ? f.ints["format_version"] : 0;
  f.text.erase("format");
  f.ints.erase("format_version");
  if (!expected_format.empty() && f.format != expected_format)
    throw input_error(path + ": expected an HDF5 file of format '" + expected_format + "', found format '" + f.format +
                      "'");
  return f;
}

}  // namespace aevb
