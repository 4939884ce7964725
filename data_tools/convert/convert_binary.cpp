// Binary converters: Frey Face (.mat via matio), NumPy .npy, and resharding an
// existing aevb dataset.
#include <matio.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>

#include "aevb/base/error.hpp"
#include "aevb/io/shard_format.hpp"
#include "convert_internal.hpp"

namespace aevb {
namespace {

std::string stem_of(const std::string& path, const char* ext) {
  std::string b = detail::basename_of(path);
  if (b.size() > std::strlen(ext) && b.ends_with(ext)) b.resize(b.size() - std::strlen(ext));
  return b;
}

// Rows already in memory (Frey Face: 1965 x 560 bytes).
class MemorySource final : public RowSource {
 public:
  MemorySource(const uint8_t* data, int64_t rows, int64_t cols) : p_(data), rows_(rows), cols_(cols) {}
  int64_t rows() const override { return rows_; }
  int64_t cols() const override { return cols_; }
  int64_t read(void* data, int64_t*, int64_t n) override {
    n = std::min(n, rows_ - done_);
    std::memcpy(data, p_ + done_ * cols_, static_cast<size_t>(n * cols_));
    done_ += n;
    return n;
  }

 private:
  const uint8_t* p_;
  int64_t rows_, cols_, done_ = 0;
};

std::vector<detail::SplitRows> split_rows(const CommonOptions& o, int64_t rows, const std::string& what) {
  const auto req = parse_split(o.split);
  const auto counts = resolve_split(req, rows, what);
  std::vector<detail::SplitRows> out;
  for (size_t i = 0; i < req.size(); ++i) out.push_back({req[i].name, counts[i]});
  return out;
}

// ---- .mat ----

void silent_matio_log(int, char*) {}

const char* mat_class_name(matio_classes c) {
  switch (c) {
    case MAT_C_CELL: return "cell";
    case MAT_C_STRUCT: return "struct";
    case MAT_C_OBJECT: return "object";
    case MAT_C_CHAR: return "char";
    case MAT_C_SPARSE: return "sparse";
    case MAT_C_DOUBLE: return "double";
    case MAT_C_SINGLE: return "single";
    case MAT_C_INT8: return "int8";
    case MAT_C_UINT8: return "uint8";
    case MAT_C_INT16: return "int16";
    case MAT_C_UINT16: return "uint16";
    case MAT_C_INT32: return "int32";
    case MAT_C_UINT32: return "uint32";
    case MAT_C_INT64: return "int64";
    case MAT_C_UINT64: return "uint64";
    case MAT_C_FUNCTION: return "function";
    case MAT_C_OPAQUE: return "opaque";
    default: return "empty";
  }
}

struct MatCloser {
  void operator()(mat_t* m) const { Mat_Close(m); }
};
struct VarFree {
  void operator()(matvar_t* v) const { Mat_VarFree(v); }
};

// ---- .npy ----

enum class NpyType { u1, f4, f8 };

struct NpyHeader {
  NpyType type = NpyType::u1;
  std::vector<int64_t> shape;
  int64_t data_offset = 0;
  size_t elem = 1;
};

std::string dict_value(const std::string& h, const std::string& key, const std::string& path) {
  size_t k = h.find("'" + key + "'");
  if (k == std::string::npos) k = h.find("\"" + key + "\"");
  if (k == std::string::npos)
    throw input_error(path + ": .npy header has no '" + key + "' entry");
  size_t c = h.find(':', k);
  if (c == std::string::npos) throw input_error(path + ": malformed .npy header near '" + key + "'");
  ++c;
  while (c < h.size() && h[c] == ' ') ++c;
  if (c < h.size() && (h[c] == '\'' || h[c] == '"')) {
    const size_t e = h.find(h[c], c + 1);
    if (e == std::string::npos) throw input_error(path + ": malformed .npy header near '" + key + "'");
    return h.substr(c + 1, e - c - 1);
  }
  if (c < h.size() && h[c] == '(') {
    const size_t e = h.find(')', c);
    if (e == std::string::npos) throw input_error(path + ": malformed .npy header near '" + key + "'");
    return h.substr(c, e - c + 1);
  }
  size_t e = c;
  while (e < h.size() && h[e] != ',' && h[e] != '}') ++e;
  std::string v = h.substr(c, e - c);
  while (!v.empty() && v.back() == ' ') v.pop_back();
  return v;
}

NpyHeader read_npy_header(std::FILE* f, const std::string& path) {
  unsigned char pre[12] = {};
  const size_t got = std::fread(pre, 1, 10, f);
  if (got < 10 || std::memcmp(pre, "\x93NUMPY", 6) != 0)
    throw input_error(path + ": not a NumPy .npy file (no \\x93NUMPY magic)");
  const int major = pre[6];
  int64_t hlen = 0, start = 10;
  if (major == 1) {
    hlen = pre[8] | (pre[9] << 8);
  } else if (major == 2 || major == 3) {
    if (std::fread(pre + 10, 1, 2, f) != 2) throw input_error(path + ": truncated .npy header");
    hlen = static_cast<int64_t>(pre[8] | (pre[9] << 8) | (pre[10] << 16)) |
           (static_cast<int64_t>(pre[11]) << 24);
    start = 12;
  } else {
    throw input_error(path + ": unsupported .npy format version " + std::to_string(major) + "." +
                      std::to_string(pre[7]));
  }
  std::string h(static_cast<size_t>(hlen), '\0');
  if (std::fread(h.data(), 1, h.size(), f) != h.size())
    throw input_error(path + ": truncated .npy header (expected " + std::to_string(hlen) + " bytes)");
  NpyHeader out;
  out.data_offset = start + hlen;
  const std::string descr = dict_value(h, "descr", path);
  if (descr == "|u1" || descr == "<u1" || descr == "u1") {
    out.type = NpyType::u1;
    out.elem = 1;
  } else if (descr == "<f4") {
    out.type = NpyType::f4;
    out.elem = 4;
  } else if (descr == "<f8") {
    out.type = NpyType::f8;
    out.elem = 8;
  } else {
    throw input_error(path + ": unsupported dtype '" + descr +
                      "' (supported: '|u1' uint8, '<f4' float32, '<f8' float64)");
  }
  const std::string fortran = dict_value(h, "fortran_order", path);
  if (fortran == "True")
    throw input_error(path + ": fortran_order is True; only C-order arrays are supported "
                             "(save np.ascontiguousarray(a))");
  if (fortran != "False")
    throw input_error(path + ": malformed .npy header: fortran_order is '" + fortran + "'");
  const std::string shape = dict_value(h, "shape", path);
  if (shape.size() < 2 || shape.front() != '(')
    throw input_error(path + ": malformed .npy header: shape '" + shape + "'");
  std::string inner = shape.substr(1, shape.size() - 2);
  size_t pos = 0;
  while (pos < inner.size()) {
    size_t comma = inner.find(',', pos);
    if (comma == std::string::npos) comma = inner.size();
    std::string t = inner.substr(pos, comma - pos);
    pos = comma + 1;
    t.erase(std::remove(t.begin(), t.end(), ' '), t.end());
    if (t.empty()) continue;
    char* end = nullptr;
    errno = 0;
    const long long v = std::strtoll(t.c_str(), &end, 10);
    if (*end || errno || v < 0)
      throw input_error(path + ": malformed .npy header: shape '" + shape + "'");
    out.shape.push_back(v);
  }
  if (out.shape.empty())
    throw input_error(path + ": shape () is a scalar; need an array with one row per sample");
  return out;
}

class NpySource final : public RowSource {
 public:
  NpySource(const std::string& path, std::FILE* f, const NpyHeader& h, std::vector<double> range)
      : path_(path), f_(f), h_(h), range_(std::move(range)) {
    cols_ = 1;
    for (size_t i = 1; i < h.shape.size(); ++i) cols_ *= h.shape[i];
  }
  int64_t rows() const override { return h_.shape[0]; }
  int64_t cols() const override { return cols_; }
  int64_t read(void* data, int64_t*, int64_t n) override {
    n = std::min(n, rows() - done_);
    const size_t count = static_cast<size_t>(n * cols_);
    if (h_.type == NpyType::u1) {
      read_exact(data, count);
      const auto* p = static_cast<const uint8_t*>(data);
      if (range_[0] > 0 || range_[1] < 255)
        for (size_t i = 0; i < count; ++i) check(p[i], i);
    } else if (h_.type == NpyType::f4) {
      read_exact(data, count * 4);
      const auto* p = static_cast<const float*>(data);
      for (size_t i = 0; i < count; ++i) check(p[i], i);
    } else {
      raw_.resize(count);
      read_exact(raw_.data(), count * 8);
      auto* out = static_cast<float*>(data);
      for (size_t i = 0; i < count; ++i) {
        const double v = raw_[i];
        if (std::isfinite(v) && std::fabs(v) > std::numeric_limits<float>::max())
          fail(i, detail::fmt_num(v) + " is outside the float32 range");
        out[i] = static_cast<float>(v);
        check(out[i], i);
      }
    }
    done_ += n;
    return n;
  }
  int64_t bytes() const { return done_ * cols_ * static_cast<int64_t>(h_.elem); }

 private:
  void read_exact(void* dst, size_t bytes) {
    if (std::fread(dst, 1, bytes, f_) != bytes)
      throw input_error(path_ + ": read error at row " + std::to_string(done_));
  }
  [[noreturn]] void fail(size_t i, const std::string& what) {
    const int64_t row = done_ + static_cast<int64_t>(i) / cols_, col = static_cast<int64_t>(i) % cols_;
    throw input_error(path_ + ": row " + std::to_string(row) + ", element " + std::to_string(col) +
                      ": " + what);
  }
  void check(double v, size_t i) {
    if (!std::isfinite(v)) fail(i, detail::fmt_num(v) + " is not a finite number");
    if (v < range_[0] || v > range_[1])
      fail(i, detail::fmt_num(v) + " is outside --value-range [" + detail::fmt_num(range_[0]) +
                  "," + detail::fmt_num(range_[1]) + "]");
  }
  std::string path_;
  std::FILE* f_;
  NpyHeader h_;
  std::vector<double> range_;
  int64_t cols_ = 1, done_ = 0;
  std::vector<double> raw_;
};

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

}  // namespace

ConvertStats convert_frey(const FreyOptions& o) {
  check_common(o.common);
  if (o.input.empty()) throw usage_error("convert frey: missing --input FILE");
  detail::file_size(o.input);  // "cannot open: No such file or directory"
  Mat_LogInitFunc("aevb-data", silent_matio_log);
  std::unique_ptr<mat_t, MatCloser> mat(Mat_Open(o.input.c_str(), MAT_ACC_RDONLY));
  if (!mat) throw input_error(o.input + ": not a MATLAB MAT-file (matio cannot open it)");
  std::unique_ptr<matvar_t, VarFree> ff(Mat_VarRead(mat.get(), "ff"));
  if (!ff) {
    std::string names;
    Mat_Rewind(mat.get());
    while (matvar_t* v = Mat_VarReadNextInfo(mat.get())) {
      names += std::string(names.empty() ? "" : ", ") + (v->name ? v->name : "?");
      Mat_VarFree(v);
    }
    throw input_error(o.input + ": no variable 'ff' (variables in the file: " +
                      (names.empty() ? "none" : names) + ")");
  }
  if (ff->class_type != MAT_C_UINT8 || ff->isComplex)
    throw input_error(o.input + ": variable 'ff' is of class " +
                      (ff->isComplex ? std::string("complex ") : std::string()) +
                      mat_class_name(ff->class_type) + ", expected uint8");
  if (ff->rank != 2 || ff->dims[0] != 560 || !ff->data) {
    std::string size;
    for (int i = 0; i < ff->rank; ++i) size += (i ? " x " : "") + std::to_string(ff->dims[i]);
    throw input_error(o.input + ": variable 'ff' has size " + size +
                      ", expected 560 x N (one 28 x 20 image per column)");
  }
  const int64_t n = static_cast<int64_t>(ff->dims[1]);
  if (n == 0) throw input_error(o.input + ": variable 'ff' holds no images (560 x 0)");
  const auto splits = split_rows(o.common, n, o.input);

  SplitSpec base;
  base.dtype = h5::DType::uint8;
  base.row_shape = {28, 20};
  base.scale = 1.0 / 255.0;
  base.value_range = {0, 255};
  base.value_meaning = "grey level 0..255 (Frey Face); model input = grey/255";
  base.binarization = "none";
  base.source_files = {detail::basename_of(o.input)};
  base.source_sha256 = {sha256_file_hex(o.input)};
  base.gzip_level = o.common.gzip_level;
  DatasetWriter w(o.common.out, o.common.name.empty() ? "frey_face" : o.common.name,
                  detail::created_by("convert frey"), o.common.force);
  // MATLAB stores column-major, so image i (column i) is 560 contiguous bytes:
  // exactly the 28 x 20 image in row-major order.
  MemorySource src(static_cast<const uint8_t*>(ff->data), n, 560);
  detail::write_source(w, src, base, splits, o.common, 0, o.input);
  ConvertStats st;
  st.input_bytes = n * 560;
  st.manifest = w.commit();
  return st;
}

ConvertStats convert_npy(const NpyOptions& o) {
  check_common(o.common);
  if (o.input.empty()) throw usage_error("convert npy: missing --input FILE");
  std::unique_ptr<std::FILE, FileCloser> f(std::fopen(o.input.c_str(), "rb"));
  if (!f) throw input_error(o.input + ": cannot open: " + std::strerror(errno));
  const NpyHeader h = read_npy_header(f.get(), o.input);
  int64_t cols = 1;
  for (size_t i = 1; i < h.shape.size(); ++i) cols *= h.shape[i];
  const int64_t expect = h.shape[0] * cols * static_cast<int64_t>(h.elem);
  const int64_t found = detail::file_size(o.input) - h.data_offset;
  if (found < expect)
    throw input_error(o.input + ": truncated .npy: expected " + std::to_string(expect) +
                      " bytes of data after the header, found " + std::to_string(found));
  if (found > expect)
    throw input_error(o.input + ": expected " + std::to_string(expect) +
                      " bytes of data after the header, found " + std::to_string(found));
  if (h.shape[0] == 0 || cols == 0) throw input_error(o.input + ": the array holds no data");
  const auto splits = split_rows(o.common, h.shape[0], o.input);
  const double big = std::numeric_limits<float>::max();
  std::vector<double> range = o.value_range;
  if (range.empty()) range = h.type == NpyType::u1 ? std::vector<double>{0, 255} : std::vector<double>{-big, big};

  SplitSpec base;
  base.dtype = h.type == NpyType::u1 ? h5::DType::uint8 : h5::DType::float32;
  base.row_shape = h.shape.size() == 1 ? std::vector<int64_t>{1}
                                       : std::vector<int64_t>(h.shape.begin() + 1, h.shape.end());
  base.scale = o.scale;
  base.value_range = range;
  base.value_meaning = std::string("NumPy array values (") +
                       (h.type == NpyType::u1 ? "uint8" : h.type == NpyType::f4 ? "float32" : "float64 stored as float32") + ")";
  base.binarization = "none";
  base.source_files = {detail::basename_of(o.input)};
  base.source_sha256 = {sha256_file_hex(o.input)};
  base.gzip_level = o.common.gzip_level;
  DatasetWriter w(o.common.out, o.common.name.empty() ? stem_of(o.input, ".npy") : o.common.name,
                  detail::created_by("convert npy"), o.common.force);
  NpySource src(o.input, f.get(), h, range);
  detail::write_source(w, src, base, splits, o.common, 0, o.input);
  ConvertStats st;
  st.input_bytes = src.bytes();
  st.manifest = w.commit();
  return st;
}

ConvertStats reshard(const ReshardOptions& o) {
  if (o.shards < 0 || o.rows_per_shard < 0) throw usage_error("--shards and --rows-per-shard must be >= 1");
  if ((o.shards > 0) == (o.rows_per_shard > 0))
    throw usage_error("reshard: give exactly one of --shards N or --rows-per-shard R");
  if (o.gzip_level < 0 || o.gzip_level > 9) throw usage_error("--gzip must be 0..9");
  const Manifest in = Manifest::load(o.in);
  CommonOptions co;
  co.shards = o.shards;
  co.rows_per_shard = o.rows_per_shard;

  // Attributes of each split come from its first shard (the reader guarantees
  // that all shards of a split agree with the manifest).
  std::string created;
  {
    const SplitInfo& s0 = in.splits.begin()->second;
    h5::Id f = h5::open_file_read(in.path_of(s0.shards.front()));
    created = read_shard_attrs(f, in.path_of(s0.shards.front())).created_by;
  }
  DatasetWriter w(o.out, in.name, detail::created_by("reshard") + " (from: " + created + ")", o.force);
  ConvertStats st;
  for (const auto& [name, sp] : in.splits) {
    SplitSpec spec;
    {
      const std::string p0 = in.path_of(sp.shards.front());
      h5::Id f = h5::open_file_read(p0);
      const ShardAttrs a = read_shard_attrs(f, p0);
      spec.value_range = a.value_range;
      spec.value_meaning = a.value_meaning;
      spec.source_files = a.source_files;
      spec.source_sha256 = a.source_sha256;
      if (sp.has_labels) {
        h5::Id l = h5::open_dataset(f, kLabelsDataset);
        spec.labels = h5::dataset_dtype(l);
      }
    }
    spec.name = name;
    spec.dtype = sp.dtype == "uint8" ? h5::DType::uint8 : h5::DType::float32;
    spec.row_shape = sp.row_shape;
    spec.rows = sp.rows;
    spec.scale = sp.scale;
    spec.binarization = sp.binarization;
    spec.binarization_seed = sp.binarization_seed;
    spec.shards = shard_count(co, sp.rows);
    spec.gzip_level = o.gzip_level;
    w.begin_split(spec);
    const size_t elem = spec.dtype == h5::DType::uint8 ? 1 : 4;
    const size_t row_bytes = static_cast<size_t>(sp.cols) * elem;
    const int64_t chunk = std::max<int64_t>(1, static_cast<int64_t>((size_t{4} << 20) / row_bytes));
    std::vector<uint8_t> buf(static_cast<size_t>(chunk) * row_bytes);
    std::vector<uint8_t> lab8(static_cast<size_t>(chunk));
    std::vector<int64_t> lab64(static_cast<size_t>(chunk));
    for (const ShardInfo& sh : sp.shards) {
      const std::string path = in.path_of(sh);
      h5::Id f = h5::open_file_read(path);
      h5::Id data = h5::open_dataset(f, kDataDataset);
      const auto dims = h5::dataset_dims(data);
      if (dims.size() != 2 || static_cast<int64_t>(dims[0]) != sh.rows ||
          static_cast<int64_t>(dims[1]) != sp.cols)
        throw input_error(path + ": /data has shape " + shape_string({static_cast<int64_t>(dims[0]),
                                                                      dims.size() > 1 ? static_cast<int64_t>(dims[1]) : 0}) +
                          ", expected " + shape_string({sh.rows, sp.cols}));
      h5::Id labels;
      if (sp.has_labels) labels = h5::open_dataset(f, kLabelsDataset);
      Sha256 sha;
      for (int64_t r = 0; r < sh.rows;) {
        const int64_t k = std::min(chunk, sh.rows - r);
        const auto first = static_cast<hsize_t>(r), cnt = static_cast<hsize_t>(k);
        if (elem == 1)
          h5::read_rows(data, first, cnt, buf.data());
        else
          h5::read_rows(data, first, cnt, reinterpret_cast<float*>(buf.data()));
        sha.update(buf.data(), static_cast<size_t>(k) * row_bytes);
        if (spec.labels == h5::DType::uint8) {
          h5::read_rows(labels, first, cnt, lab8.data());
          w.add_rows(buf.data(), lab8.data(), k);
        } else if (spec.labels == h5::DType::int64) {
          h5::read_rows(labels, first, cnt, lab64.data());
          w.add_rows(buf.data(), lab64.data(), k);
        } else {
          w.add_rows(buf.data(), static_cast<const int64_t*>(nullptr), k);
        }
        r += k;
      }
      const std::string got = sha.hex_digest();
      if (got != sh.data_sha256)
        throw input_error(path + ": /data hashes to " + got + " but data_sha256 says " +
                          sh.data_sha256 + " (file corrupted or modified after conversion)");
      st.input_bytes += sh.rows * static_cast<int64_t>(row_bytes);
    }
    w.end_split();
  }
  st.manifest = w.commit();
  return st;
}

}  // namespace aevb
