// NumPy .npy files (uint8, float32 or float64; C order) into shards, streamed.
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

// `size`: the bytes the file holds; nothing the header declares is allocated
// before it is checked against them.
NpyHeader read_npy_header(std::FILE* f, int64_t size, const std::string& path) {
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
  if (hlen > size - start)
    throw input_error(path + ": truncated .npy header: expected " + std::to_string(hlen) +
                      " bytes, the file has " + std::to_string(std::max<int64_t>(size - start, 0)) +
                      " after the " + std::to_string(start) + "-byte preamble");
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

const char* dtype_text(NpyType t) { return t == NpyType::u1 ? "|u1" : t == NpyType::f4 ? "<f4" : "<f8"; }

// The header, and the data size it declares (overflow-checked) against the
// bytes after it: exactly equal, or an input_error naming shape and sizes.
NpyHeader open_npy(std::FILE* f, int64_t size, const std::string& path) {
  const NpyHeader h = read_npy_header(f, size, path);
  std::string shape = "(";
  for (size_t i = 0; i < h.shape.size(); ++i) shape += (i ? ", " : "") + std::to_string(h.shape[i]);
  shape += h.shape.size() == 1 ? ",)" : ")";
  int64_t expect = static_cast<int64_t>(h.elem);
  bool overflow = false;
  for (int64_t d : h.shape) overflow = overflow || __builtin_mul_overflow(expect, d, &expect);
  const int64_t found = size - h.data_offset;
  const std::string declared = "shape " + shape + " of " + dtype_text(h.type);
  if (overflow)
    throw input_error(path + ": .npy " + declared + " declares more data than any file can hold; the file has " +
                      std::to_string(size) + " bytes");
  if (found < expect)
    throw input_error(path + ": truncated .npy: " + declared + " needs " + std::to_string(expect) +
                      " bytes of data after the header, found " + std::to_string(found) +
                      " (file size " + std::to_string(size) + ")");
  if (found > expect)
    throw input_error(path + ": " + declared + " needs " + std::to_string(expect) +
                      " bytes of data after the header, found " + std::to_string(found) +
                      " (file size " + std::to_string(size) + ")");
  if (expect == 0) throw input_error(path + ": the array holds no data");
  return h;
}

std::vector<double> default_range(const NpyHeader& h, std::vector<double> range) {
  const double big = std::numeric_limits<float>::max();
  if (range.empty()) range = h.type == NpyType::u1 ? std::vector<double>{0, 255} : std::vector<double>{-big, big};
  return range;
}

}  // namespace

int64_t scan_npy(std::FILE* f, int64_t size, const std::string& name,
                 const std::vector<double>& value_range) {
  const NpyHeader h = open_npy(f, size, name);
  NpySource src(name, f, h, default_range(h, value_range));
  std::vector<uint8_t> buf(std::max<size_t>(h.elem, 4) * static_cast<size_t>(src.cols()));
  while (src.read(buf.data(), nullptr, 1) == 1) {
  }
  return src.rows();
}

ConvertStats convert_npy(const NpyOptions& o) {
  check_common(o.common);
  if (o.input.empty()) throw usage_error("convert npy: missing --input FILE");
  std::unique_ptr<std::FILE, FileCloser> f(std::fopen(o.input.c_str(), "rb"));
  if (!f) throw input_error(o.input + ": cannot open: " + std::strerror(errno));
  const NpyHeader h = open_npy(f.get(), detail::file_size(o.input), o.input);
  const auto splits = detail::split_rows(o.common, h.shape[0], o.input);
  const std::vector<double> range = default_range(h, o.value_range);

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

}  // namespace aevb
