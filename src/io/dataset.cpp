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
#include "aevb/io/row_reader.hpp"
#include "aevb/io/shard_format.hpp"
#include "shard_read.hpp"

namespace aevb {
namespace {

using shard_read::OpenShard;
using shard_read::open_checked;
using shard_read::open_shard;
using shard_read::convert_rows;

// data_sha256 is defined over little-endian bytes; hashing the in-memory
// buffer is only that on a little-endian host.
static_assert(std::endian::native == std::endian::little, "aevb data layer assumes little-endian");

constexpr int64_t kChunkRows = 4096;  // rows converted per step: bounds the extra memory

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

bool check_shard_for_streaming(const Manifest& m, const std::string& split, size_t index, const ValidateOptions& v) {
  const SplitInfo& sp = m.split(split);
  OpenShard s = open_checked(m, sp, index);
  if (h5::has_fletcher32(s.data)) return false;
  VerifySummary st;
  std::vector<int64_t> labels(s.labels.valid() ? static_cast<size_t>(s.rows) : 0);
  stream_any(s, s.rows, v, true, sp.shards[index].data_sha256, nullptr, s.labels.valid() ? labels.data() : nullptr, st);
  return true;
}

}  // namespace aevb
