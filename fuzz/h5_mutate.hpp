// Structure-aware fuzzing of the HDF5 formats (shards, model files,
// checkpoints): a valid file written once by our own writer, then per input a
// copy with edits the input encodes (attributes deleted or rewritten with other
// values and types; datasets deleted or replaced with other shapes and types,
// including huge declared shapes with no data written) and our reader on it.
#pragma once
#include <hdf5.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "fuzz_util.hpp"

namespace aevb::fuzz {

struct H5Names {
  std::vector<std::string> attrs;     // "obj@attr" ("." = root)
  std::vector<std::string> datasets;  // "params", "optimizer/m", ...
};

// Every attribute and dataset of the file (the edit targets).
inline H5Names list_h5(const std::string& path) {
  H5Names n;
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) __builtin_trap();
  std::vector<std::string> objs{"."};
  H5Ovisit2(f, H5_INDEX_NAME, H5_ITER_NATIVE,
            [](hid_t, const char* name, const H5O_info_t* info, void* op) -> herr_t {
              if (info->type == H5O_TYPE_DATASET) static_cast<std::vector<std::string>*>(op)->push_back(name);
              return 0;
            },
            &objs, H5O_INFO_BASIC);
  for (const std::string& o : objs) {
    if (o != ".") n.datasets.push_back(o);
    hid_t obj = H5Oopen(f, o.c_str(), H5P_DEFAULT);
    std::vector<std::string> names;
    H5Aiterate2(obj, H5_INDEX_NAME, H5_ITER_NATIVE, nullptr,
                [](hid_t, const char* name, const H5A_info_t*, void* op) -> herr_t {
                  static_cast<std::vector<std::string>*>(op)->push_back(name);
                  return 0;
                },
                &names);
    for (const auto& a : names) n.attrs.push_back(o + "@" + a);
    H5Oclose(obj);
  }
  H5Fclose(f);
  return n;
}

inline int64_t pick_int(Bytes& in) {
  static const int64_t interesting[] = {0, 1, -1, 2, 3, 5, 6, 28, 784, 1 << 20, int64_t{1} << 31,
                                        int64_t{1} << 40, int64_t{1} << 62, INT64_MAX, INT64_MIN};
  const uint8_t k = in.u8();
  if (k < 0xc0) return interesting[k % (sizeof interesting / sizeof *interesting)];
  return static_cast<int64_t>(in.u64());
}

inline double pick_double(Bytes& in) {
  static const double interesting[] = {0.0, 1.0, -1.0, 1.0 / 255, 255, -0.0, 1e308, -1e308, 1e-310,
                                       __builtin_nan(""), __builtin_inf(), -__builtin_inf()};
  const uint8_t k = in.u8();
  if (k < 0xc0) return interesting[k % (sizeof interesting / sizeof *interesting)];
  const uint64_t b = in.u64();
  double d;
  std::memcpy(&d, &b, 8);
  return d;
}

inline std::string pick_string(Bytes& in) {
  static const char* interesting[] = {"", "aevb-shard", "aevb-model", "aevb-checkpoint", "train",
                                      "none", "dynamic", "static", "uint8", "float32", "adam",
                                      "adagrad", "sgd", "tanh", "relu", "gaussian", "bernoulli",
                                      "sigmoid", "identity"};
  const uint8_t k = in.u8();
  if (k < 0xc0) return interesting[k % (sizeof interesting / sizeof *interesting)];
  return in.str(24);
}

// Writes attribute `name` on obj with a value of the kind the input picks.
inline void write_attr(hid_t obj, const char* name, uint8_t kind, Bytes& in) {
  hid_t space = -1, type = -1;
  std::vector<int64_t> ints;
  std::vector<double> dbls;
  std::vector<int32_t> i32;
  std::vector<std::string> strs;
  const size_t len = kind & 0x10 ? in.u8() % 5 : 1;  // arrays of 0..4, or a scalar
  switch (kind % 5) {
    case 0: for (size_t i = 0; i < len; ++i) ints.push_back(pick_int(in)); break;
    case 1: for (size_t i = 0; i < len; ++i) dbls.push_back(pick_double(in)); break;
    case 2: for (size_t i = 0; i < len; ++i) strs.push_back(pick_string(in)); break;
    case 3: for (size_t i = 0; i < len; ++i) i32.push_back(static_cast<int32_t>(pick_int(in))); break;
    default: for (size_t i = 0; i < len; ++i) strs.push_back(pick_string(in)); break;
  }
  const hsize_t n = len;
  space = kind & 0x10 ? H5Screate_simple(1, &n, nullptr) : H5Screate(H5S_SCALAR);
  std::vector<const char*> cstr;
  for (const auto& s : strs) cstr.push_back(s.c_str());
  const void* buf = nullptr;
  if (!ints.empty() || (kind % 5 == 0)) { type = H5Tcopy(H5T_STD_I64LE); buf = ints.data(); }
  else if (!dbls.empty() || kind % 5 == 1) { type = H5Tcopy(H5T_IEEE_F64LE); buf = dbls.data(); }
  else if (!i32.empty() || kind % 5 == 3) { type = H5Tcopy(H5T_STD_I32LE); buf = i32.data(); }
  else if (kind % 5 == 2) {  // variable-length strings, as our writer stores them
    type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, H5T_VARIABLE);
    buf = cstr.data();
  } else {  // fixed-length strings
    size_t w = 1;
    for (const auto& s : strs) w = std::max(w, s.size());
    type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, w);
    static std::vector<char> fixed;
    fixed.assign(w * strs.size() + 1, '\0');
    for (size_t i = 0; i < strs.size(); ++i) std::memcpy(fixed.data() + i * w, strs[i].data(), strs[i].size());
    buf = fixed.data();
  }
  hid_t a = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
  if (a >= 0) {
    if (n > 0) H5Awrite(a, type, buf);
    H5Aclose(a);
  }
  H5Tclose(type);
  H5Sclose(space);
}

// Replaces dataset `name` with one of the shape and type the input picks.
inline void write_dataset(hid_t f, const std::string& name, Bytes& in) {
  static const hid_t* types[] = {&H5T_NATIVE_UINT8_g, &H5T_NATIVE_FLOAT_g, &H5T_NATIVE_DOUBLE_g,
                                 &H5T_NATIVE_INT64_g, &H5T_NATIVE_INT32_g, &H5T_NATIVE_INT8_g};
  static const hsize_t sizes[] = {0, 1, 2, 3, 5, 6, 8, 28, 64, 784, 1u << 20, hsize_t{1} << 36};
  const hid_t type = *types[in.u8() % 6];
  const int rank = 1 + in.u8() % 3;
  hsize_t dims[3], chunk[3], total = 1;
  for (int i = 0; i < rank; ++i) {
    const uint8_t k = in.u8();
    dims[i] = k < 0xe0 ? sizes[k % (sizeof sizes / sizeof *sizes)] : k - 0xe0;
    chunk[i] = std::max<hsize_t>(1, std::min<hsize_t>(dims[i], 64));
    total = total > (hsize_t{1} << 50) / std::max<hsize_t>(dims[i], 1) ? hsize_t{1} << 50 : total * dims[i];
  }
  hid_t space = H5Screate_simple(rank, dims, nullptr);
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  if (total > 4096) H5Pset_chunk(dcpl, rank, chunk);  // declared, never written
  hid_t d = H5Dcreate2(f, name.c_str(), type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  if (d >= 0) {
    if (total <= 4096 && total > 0) {
      std::vector<uint8_t> buf(total * H5Tget_size(type));
      for (size_t i = 0; i < buf.size(); ++i) buf[i] = in.empty() ? static_cast<uint8_t>(i) : in.u8();
      H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data());
    }
    H5Dclose(d);
  }
  H5Pclose(dcpl);
  H5Sclose(space);
}

// Copies `pristine` to `work` and applies up to 8 edits from the input.
inline void mutate_copy(const std::string& pristine, const std::string& work, const H5Names& names,
                        Bytes in) {
  // libFuzzer's -timeout alarm (SIGALRM every second) can interrupt the copy:
  // EINTR is retried (it once ended a campaign after 779,667 runs).
  for (int attempt = 0;; ++attempt) {
    std::error_code ec;
    std::filesystem::copy_file(pristine, work, std::filesystem::copy_options::overwrite_existing, ec);
    if (!ec) break;
    if (ec != std::errc::interrupted || attempt > 100) __builtin_trap();
  }
  hid_t f = H5Fopen(work.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  if (f < 0) __builtin_trap();
  for (int op = 0; op < 8 && !in.empty(); ++op) {
    const uint8_t k = in.u8();
    if (k & 0x80) {  // a dataset
      const std::string& d = names.datasets[in.u8() % names.datasets.size()];
      if (H5Lexists(f, d.c_str(), H5P_DEFAULT) > 0) H5Ldelete(f, d.c_str(), H5P_DEFAULT);
      if (k & 0x40) write_dataset(f, d, in);
    } else {  // an attribute
      const std::string& full = names.attrs[in.u8() % names.attrs.size()];
      const size_t at = full.find('@');
      const std::string obj = full.substr(0, at), attr = full.substr(at + 1);
      if (H5Lexists(f, obj.c_str(), H5P_DEFAULT) <= 0 && obj != ".") continue;
      hid_t o = H5Oopen(f, obj.c_str(), H5P_DEFAULT);
      if (o < 0) continue;
      if (H5Aexists(o, attr.c_str()) > 0) H5Adelete(o, attr.c_str());
      if (k & 0x40) write_attr(o, attr.c_str(), k, in);
      H5Oclose(o);
    }
  }
  H5Fclose(f);
}

}  // namespace aevb::fuzz
