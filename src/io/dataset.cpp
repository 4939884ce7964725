// Reading shards: open + validate against the manifest, then stream rows in
// chunks, converting stored values to float model inputs and checking them.
#include "aevb/io/dataset.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <numeric>
#include <sstream>

#include "aevb/io/checksum.hpp"
#include "aevb/base/error.hpp"
#include "aevb/io/h5.hpp"
#include "aevb/io/shard_format.hpp"

namespace aevb {
namespace {

// data_sha256 is defined over little-endian bytes; hashing the in-memory
// buffer is only that on a little-endian host.
static_assert(std::endian::native == std::endian::little, "aevb data layer assumes little-endian");

constexpr int64_t kChunkRows = 4096;  // rows converted per step: bounds the extra memory

struct OpenShard {
  std::string path;
  h5::Id file, data, labels;
  ShardAttrs attrs;
  h5::DType dtype = h5::DType::other;
  int64_t rows = 0, cols = 0;
};

std::string fmt(double v) {
  std::ostringstream o;
  o << v;
  return o.str();
}

// Checks the shard on its own terms: attributes present and sane, /data and
// /labels shaped and typed as the attributes say.
OpenShard open_shard(const std::string& path) {
  OpenShard s;
  s.path = path;
  s.file = h5::open_file_read(path);
  s.attrs = read_shard_attrs(s.file, path);
  const ShardAttrs& a = s.attrs;
  if (a.row_shape.empty() || std::any_of(a.row_shape.begin(), a.row_shape.end(),
                                         [](int64_t d) { return d <= 0; }))
    throw input_error(path + ": row_shape " + shape_string(a.row_shape) +
                      " must be a non-empty list of positive sizes");
  s.rows = a.rows;
  s.cols = product(a.row_shape);
  if (s.cols < 0) throw input_error(path + ": row_shape " + shape_string(a.row_shape) + " has more values than int64 holds");
  if (!h5::has_link(s.file, kDataDataset)) throw input_error(path + ": missing dataset /data");
  s.data = h5::open_dataset(s.file, kDataDataset);
  s.dtype = h5::dataset_dtype(s.data);
  if (s.dtype != h5::DType::uint8 && s.dtype != h5::DType::float32)
    throw input_error(path + ": /data has type " + h5::dtype_name(s.dtype) +
                      ", expected uint8 or float32");
  const auto dims = h5::dataset_dims(s.data);
  const std::vector<int64_t> got(dims.begin(), dims.end());
  const std::vector<int64_t> want = {s.rows, s.cols};
  if (got != want)
    throw input_error(path + ": /data has shape " + shape_string(got) + ", expected " +
                      shape_string(want) + " (rows x product of row_shape " +
                      shape_string(a.row_shape) + ")");
  if (h5::has_link(s.file, kLabelsDataset)) {
    s.labels = h5::open_dataset(s.file, kLabelsDataset);
    const auto lt = h5::dataset_dtype(s.labels);
    if (lt != h5::DType::uint8 && lt != h5::DType::int64)
      throw input_error(path + ": /labels has type " + h5::dtype_name(lt) +
                        ", expected uint8 or int64");
    const auto ld = h5::dataset_dims(s.labels);
    if (ld.size() != 1 || static_cast<int64_t>(ld[0]) != s.rows)
      throw input_error(path + ": /labels has shape " +
                        shape_string(std::vector<int64_t>(ld.begin(), ld.end())) + ", expected [" +
                        std::to_string(s.rows) + "]");
  }
  return s;
}

template <class T>
void require_equal(const std::string& path, const std::string& what, const T& shard,
                   const T& manifest) {
  if (!(shard == manifest)) {
    std::ostringstream o;
    o << path << ": " << what << " is ";
    if constexpr (std::is_same_v<T, std::vector<int64_t>>)
      o << shape_string(shard) << " but manifest.json says " << shape_string(manifest);
    else
      o << shard << " but manifest.json says " << manifest;
    throw input_error(o.str());
  }
}

// The shard must be exactly what the manifest describes.
OpenShard open_checked(const Manifest& m, const SplitInfo& sp, size_t index) {
  const ShardInfo& info = sp.shards[index];
  OpenShard s = open_shard(m.path_of(info));
  const ShardAttrs& a = s.attrs;
  const std::string& p = s.path;
  require_equal(p, "split", a.split, sp.name);
  require_equal(p, "row_shape", a.row_shape, sp.row_shape);
  require_equal(p, "rows", a.rows, info.rows);
  require_equal(p, "row_offset", a.row_offset, info.row_offset);
  require_equal(p, "/data dtype", h5::dtype_name(s.dtype), sp.dtype);
  require_equal(p, "scale", a.scale, sp.scale);
  require_equal(p, "binarization", a.binarization, sp.binarization);
  require_equal(p, "binarization_seed", a.binarization_seed, sp.binarization_seed);
  require_equal(p, "shard_index", a.shard_index, static_cast<int64_t>(index));
  require_equal(p, "shard_count", a.shard_count, static_cast<int64_t>(sp.shards.size()));
  require_equal(p, "data_sha256 attribute", a.data_sha256, info.data_sha256);
  if (s.labels.valid() != sp.has_labels)
    throw input_error(p + (sp.has_labels ? ": has no /labels but manifest.json says has_labels"
                                         : ": has /labels but manifest.json says it has none"));
  return s;
}

// Converts n stored rows to floats (value * scale) and checks every value.
// local_row(i) = the shard row of raw row i, for messages.
template <class T, class LocalRow>
void convert_rows(const OpenShard& s, const T* raw, int64_t n, LocalRow local_row,
                  const ValidateOptions& opt, float* out, VerifySummary& st) {
  const size_t count = static_cast<size_t>(n * s.cols);
  if (count == 0) return;
  const double scale = s.attrs.scale;
  const double lo = s.attrs.value_range[0], hi = s.attrs.value_range[1];
  double vmin, vmax;
  bool non_finite = false;
  if constexpr (std::is_same_v<T, uint8_t>) {
    float lut[256];  // exact: computed in double, rounded once
    for (int v = 0; v < 256; ++v) lut[v] = static_cast<float>(v * scale);
    uint8_t mn = 255, mx = 0;
    for (size_t k = 0; k < count; ++k) {
      mn = std::min(mn, raw[k]);
      mx = std::max(mx, raw[k]);
      out[k] = lut[raw[k]];
    }
    vmin = mn;
    vmax = mx;
  } else {
    float mn = raw[0], mx = raw[0];
    for (size_t k = 0; k < count; ++k) {
      const float v = raw[k];
      non_finite |= !std::isfinite(v);
      mn = std::min(mn, v);
      mx = std::max(mx, v);
      out[k] = scale == 1.0 ? v : static_cast<float>(v * scale);
    }
    vmin = mn;
    vmax = mx;
  }
  const bool unit_bad = opt.require_unit_interval && (vmin * scale < 0 || vmax * scale > 1);
  if (non_finite || unit_bad || vmin < lo || vmax > hi) {
    // Rare path: find the first offending element to name it precisely.
    for (size_t k = 0; k < count; ++k) {
      const double v = raw[k];
      const int64_t r = local_row(static_cast<int64_t>(k / static_cast<size_t>(s.cols)));
      const std::string where = " at row " + std::to_string(r) + " of the shard (global row " +
                                std::to_string(s.attrs.row_offset + r) + "), column " +
                                std::to_string(k % static_cast<size_t>(s.cols));
      if (!std::isfinite(v))
        throw input_error(s.path + ": non-finite value " + fmt(v) + " in /data" + where);
      if (opt.require_unit_interval && (out[k] < 0.0f || out[k] > 1.0f))
        throw input_error(s.path + ": value " + fmt(out[k]) + " (stored " + fmt(v) + " * scale " +
                          fmt(scale) + ")" + where +
                          " is outside [0,1], which the Bernoulli decoder requires");
      if (v < lo || v > hi)
        throw input_error(s.path + ": stored value " + fmt(v) + where +
                          " is outside the declared value_range [" + fmt(lo) + "," + fmt(hi) + "]");
    }
  }
  if (st.rows == 0 && st.bytes == 0) {
    st.min_value = vmin;
    st.max_value = vmax;
  } else {
    st.min_value = std::min(st.min_value, vmin);
    st.max_value = std::max(st.max_value, vmax);
  }
}

// Streams shard rows [0, n) through convert_rows, chunk by chunk; hashes them
// when `hash` (then n must be all rows) and compares with `expected_sha`.
template <class T>
void stream_shard(const OpenShard& s, int64_t n, const ValidateOptions& opt, bool hash,
                  const std::string& expected_sha, float* out, int64_t* labels,
                  VerifySummary& st) {
  std::vector<T> raw(static_cast<size_t>(std::min(n, kChunkRows) * s.cols));
  std::vector<float> scratch(out ? 0 : raw.size());
  Sha256 sha;
  for (int64_t first = 0; first < n; first += kChunkRows) {
    const int64_t k = std::min(kChunkRows, n - first);
    h5::read_rows(s.data, static_cast<hsize_t>(first), static_cast<hsize_t>(k), raw.data());
    if (hash) sha.update(raw.data(), static_cast<size_t>(k * s.cols) * sizeof(T));
    float* dst = out ? out + first * s.cols : scratch.data();
    convert_rows(s, raw.data(), k, [first](int64_t i) { return first + i; }, opt, dst, st);
    if (labels)
      h5::read_rows(s.labels, static_cast<hsize_t>(first), static_cast<hsize_t>(k), labels + first);
    st.rows += k;
    st.bytes += k * s.cols * static_cast<int64_t>(sizeof(T));
  }
  if (hash) {
    const std::string got = sha.hex_digest();
    if (got != expected_sha)
      throw input_error(s.path + ": /data hashes to " + got + " but data_sha256 says " +
                        expected_sha + " (file corrupted or modified after conversion)");
  }
}

void stream_any(const OpenShard& s, int64_t n, const ValidateOptions& opt, bool hash,
                const std::string& expected_sha, float* out, int64_t* labels, VerifySummary& st) {
  if (s.dtype == h5::DType::uint8)
    stream_shard<uint8_t>(s, n, opt, hash, expected_sha, out, labels, st);
  else
    stream_shard<float>(s, n, opt, hash, expected_sha, out, labels, st);
}

template <class T>
void read_selected(const OpenShard& s, const std::vector<int64_t>& local, const ValidateOptions& opt,
                   float* out, int64_t* labels, VerifySummary& st) {
  std::vector<T> raw;
  for (size_t first = 0; first < local.size(); first += kChunkRows) {
    const size_t k = std::min<size_t>(kChunkRows, local.size() - first);
    const std::vector<int64_t> chunk(local.begin() + static_cast<std::ptrdiff_t>(first),
                                     local.begin() + static_cast<std::ptrdiff_t>(first + k));
    raw.resize(k * static_cast<size_t>(s.cols));
    h5::read_row_list(s.data, chunk, raw.data());
    convert_rows(s, raw.data(), static_cast<int64_t>(k), [&](int64_t i) { return chunk[i]; }, opt,
                 out + first * s.cols, st);
    if (labels) h5::read_row_list(s.labels, chunk, labels + first);
    st.rows += static_cast<int64_t>(k);
  }
}

DataMatrix make_matrix(const SplitInfo& sp, int64_t rows) {
  DataMatrix d;
  d.rows = rows;
  d.cols = sp.cols;
  d.x.resize(static_cast<size_t>(rows * sp.cols));
  d.global_index.resize(static_cast<size_t>(rows));
  if (sp.has_labels) d.labels.resize(static_cast<size_t>(rows));
  return d;
}

}  // namespace

DataMatrix load_split(const Manifest& m, const std::string& split, const ValidateOptions& opt,
                      int64_t max_rows) {
  const SplitInfo& sp = m.split(split);
  const int64_t want = max_rows < 0 ? sp.rows : std::min(max_rows, sp.rows);
  DataMatrix d = make_matrix(sp, want);
  std::iota(d.global_index.begin(), d.global_index.end(), int64_t{0});
  VerifySummary st;
  int64_t filled = 0;
  for (size_t i = 0; i < sp.shards.size() && filled < want; ++i) {
    OpenShard s = open_checked(m, sp, i);
    const int64_t n = std::min(s.rows, want - filled);
    const bool hash = opt.verify_checksums && n == s.rows;  // a subset cannot be checked
    stream_any(s, n, opt, hash, sp.shards[i].data_sha256, d.x.data() + filled * d.cols,
               sp.has_labels ? d.labels.data() + filled : nullptr, st);
    filled += n;
  }
  return d;
}

DataMatrix load_rows(const Manifest& m, const std::string& split,
                     const std::vector<int64_t>& rows, const ValidateOptions& opt) {
  const SplitInfo& sp = m.split(split);
  for (size_t i = 0; i < rows.size(); ++i) {
    if (rows[i] < 0 || rows[i] >= sp.rows)
      throw usage_error("row " + std::to_string(rows[i]) + " is out of range for split '" + split +
                        "' of " + m.dir + " (it has " + std::to_string(sp.rows) + " rows)");
    if (i > 0 && rows[i] <= rows[i - 1])
      throw usage_error("load_rows needs strictly increasing row indices (got " +
                        std::to_string(rows[i - 1]) + " then " + std::to_string(rows[i]) + ")");
  }
  DataMatrix d = make_matrix(sp, static_cast<int64_t>(rows.size()));
  d.global_index = rows;
  VerifySummary st;
  size_t next = 0;
  for (size_t i = 0; i < sp.shards.size() && next < rows.size(); ++i) {
    const ShardInfo& info = sp.shards[i];
    std::vector<int64_t> local;
    const size_t start = next;
    while (next < rows.size() && rows[next] < info.row_offset + info.rows)
      local.push_back(rows[next++] - info.row_offset);
    if (local.empty()) continue;  // this shard is never opened
    OpenShard s = open_checked(m, sp, i);
    float* out = d.x.data() + start * static_cast<size_t>(d.cols);
    int64_t* labels = sp.has_labels ? d.labels.data() + start : nullptr;
    if (s.dtype == h5::DType::uint8)
      read_selected<uint8_t>(s, local, opt, out, labels, st);
    else
      read_selected<float>(s, local, opt, out, labels, st);
  }
  return d;
}

VerifySummary verify_split(const Manifest& m, const std::string& split, const ValidateOptions& opt) {
  const SplitInfo& sp = m.split(split);
  VerifySummary st;
  for (size_t i = 0; i < sp.shards.size(); ++i) {
    OpenShard s = open_checked(m, sp, i);
    std::vector<int64_t> labels(s.labels.valid() ? static_cast<size_t>(s.rows) : 0);
    stream_any(s, s.rows, opt, opt.verify_checksums, sp.shards[i].data_sha256, nullptr,
               s.labels.valid() ? labels.data() : nullptr, st);
    ++st.shards;
  }
  return st;
}

VerifySummary verify_shard_file(const std::string& path, const ValidateOptions& opts) {
  OpenShard s = open_shard(path);
  VerifySummary st;
  std::vector<int64_t> labels(s.labels.valid() ? static_cast<size_t>(s.rows) : 0);
  stream_any(s, s.rows, opts, true, s.attrs.data_sha256, nullptr,
             s.labels.valid() ? labels.data() : nullptr, st);
  st.shards = 1;
  return st;
}

}  // namespace aevb
