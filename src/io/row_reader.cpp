#include "aevb/io/row_reader.hpp"

#include <algorithm>
#include <cstring>

#include <sys/stat.h>

#include "aevb/base/error.hpp"
#include "aevb/base/simd.hpp"
#include "shard_read.hpp"

namespace aevb {

using shard_read::OpenShard;

namespace {
constexpr int64_t kMaxSpanBytes = int64_t{4} << 20;  // one read: at most ~4 MiB of adjacent rows
constexpr size_t kOpenShards = 8;                    // shard files kept open
}  // namespace

struct RowReader::Open {
  size_t index;
  OpenShard s;
  int64_t bytes;       // the file's size when opened
  int64_t chunk_rows;  // rows per HDF5 chunk of /data; 0: contiguous
};

namespace {
int64_t file_bytes(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? static_cast<int64_t>(st.st_size) : -1;
}
}  // namespace

RowFormat row_format(const SplitInfo& split) {
  RowFormat f;
  f.u8 = split.dtype == "uint8";
  f.cols = split.cols;
  f.row_bytes = split.cols * (f.u8 ? 1 : 4);
  f.scale = split.scale;
  return f;
}

namespace {
// Vectorized (base/simd.hpp): the conversion runs once per row of every step.
// v * scale in double, rounded once to float: the same bits as load_split's table
// (shard_read.hpp; StoredToFloat.IsTheTableForEveryByteAndLength).
AEVB_CLONES void u8_to_float(const uint8_t* __restrict row, int64_t n, double scale, float* __restrict out) {
  for (int64_t j = 0; j < n; ++j) out[j] = static_cast<float>(static_cast<double>(row[j]) * scale);
}
AEVB_CLONES void scale_floats(float* out, int64_t n, double scale) {
  for (int64_t j = 0; j < n; ++j) out[j] = static_cast<float>(out[j] * scale);
}
}  // namespace

void stored_to_float(const RowFormat& f, const uint8_t* row, float* out) {
  if (f.u8) {
    u8_to_float(row, f.cols, f.scale, out);
    return;
  }
  std::memcpy(out, row, static_cast<size_t>(f.cols) * sizeof(float));
  if (f.scale != 1.0) scale_floats(out, f.cols, f.scale);
}

RowReader::RowReader(const Manifest& m, const std::string& split, const ValidateOptions& v)
    : manifest_(&m), split_(&m.split(split)), validate_(v), format_(row_format(*split_)) {
  validate_.verify_checksums = false;  // whole-shard hashes are verify_shard's job
}
RowReader::~RowReader() = default;
RowReader::RowReader(RowReader&&) noexcept = default;

size_t RowReader::shard_of(int64_t row) const {
  const auto& sh = split_->shards;
  const auto it = std::upper_bound(sh.begin(), sh.end(), row,
                                   [](int64_t r, const ShardInfo& s) { return r < s.row_offset; });
  return static_cast<size_t>(it - sh.begin()) - 1;
}

RowReader::Open& RowReader::shard(size_t index) {
  for (size_t i = 0; i < open_.size(); ++i)
    if (open_[i]->index == index) {
      std::rotate(open_.begin() + static_cast<std::ptrdiff_t>(i), open_.begin() + static_cast<std::ptrdiff_t>(i) + 1,
                  open_.end());
      return *open_.back();
    }
  if (open_.size() == kOpenShards) open_.erase(open_.begin());
  OpenShard s = shard_read::open_checked(*manifest_, *split_, index);
  h5::advise_random_access(s.file);  // reads fetch exactly the chunks asked for (docs/memory.md)
  const int64_t bytes = file_bytes(s.path);
  const int64_t chunk = static_cast<int64_t>(h5::chunk_rows(s.data));
  open_.push_back(std::make_unique<Open>(Open{index, std::move(s), bytes, chunk}));
  return *open_.back();
}

// Reads shard rows [local_first, local_first + n) and checks every value.
void RowReader::read_span(size_t index, int64_t local_first, int64_t n, uint8_t* out) {
  Open& o = shard(index);
  const OpenShard& s = o.s;
  // HDF5 reads the part of a file cut short while it is open as zeros, and
  // zeros pass a Fletcher32 check: the size is compared before every read.
  const int64_t now = file_bytes(s.path);
  if (now < o.bytes)
    throw input_error(s.path + ": truncated while in use (" + std::to_string(now) + " bytes, " +
                      std::to_string(o.bytes) + " when opened); re-create it with aevb-data");
  VerifySummary st;
  const auto local_row = [local_first](int64_t i) { return local_first + i; };
  try {
    if (format_.u8) {
      h5::read_rows(s.data, static_cast<hsize_t>(local_first), static_cast<hsize_t>(n), out);
      // The common case costs one pass over the bytes; convert_rows (which
      // also converts, and names the first bad value) only when it fails.
      uint8_t lo = 255, hi = 0;
      for (int64_t k = 0; k < n * s.cols; ++k) lo = std::min(lo, out[k]), hi = std::max(hi, out[k]);
      const double scale = s.attrs.scale;
      const bool ok = n * s.cols == 0 || (lo >= s.attrs.value_range[0] && hi <= s.attrs.value_range[1] &&
                                          (!validate_.require_unit_interval || (lo * scale >= 0 && hi * scale <= 1)));
      if (!ok) {
        scratch_.resize(static_cast<size_t>(n * s.cols));
        shard_read::convert_rows(s, out, n, local_row, validate_, scratch_.data(), st);
      }
    } else {
      float* f = reinterpret_cast<float*>(out);
      scratch_.resize(static_cast<size_t>(n * s.cols));
      h5::read_rows(s.data, static_cast<hsize_t>(local_first), static_cast<hsize_t>(n), f);
      shard_read::convert_rows(s, f, n, local_row, validate_, scratch_.data(), st);
    }
  } catch (const Error& e) {
    // A Fletcher32 mismatch or a file cut short surfaces as a failed read.
    if (std::string(e.what()).find("cannot read rows") == std::string::npos) throw;
    throw input_error(std::string(e.what()) + " (checksum mismatch or short read: " + s.path +
                      " is corrupted or truncated; re-create it with aevb-data)");
  }
}

void RowReader::read(const int64_t* rows, int64_t n, uint8_t* const* out) {
  const int64_t rb = format_.row_bytes;
  const int64_t max_span = std::max<int64_t>(1, kMaxSpanBytes / rb);
  int64_t i = 0;
  while (i < n) {
    if (rows[i] < 0 || rows[i] >= split_->rows || (i > 0 && rows[i] <= rows[i - 1]))
      throw Error(kExitInternal, "RowReader::read: rows must be increasing indices below " + std::to_string(split_->rows));
    const size_t si = shard_of(rows[i]);
    const ShardInfo& info = split_->shards[si];
    const int64_t end = info.row_offset + info.rows;
    int64_t j = i + 1;
    // One read covers adjacent rows, and rows of one HDF5 chunk: the chunk
    // is fetched and checksummed whole anyway, so a read per row would only
    // repeat that. Rows of other chunks (or of a contiguous dataset) with
    // gaps between them are separate reads: storage never delivers more
    // than the chunks that hold rows asked for (docs/memory.md).
    const int64_t chunk = shard(si).chunk_rows;
    const auto same_chunk = [&](int64_t a, int64_t b) {
      return chunk > 0 && (a - info.row_offset) / chunk == (b - info.row_offset) / chunk;
    };
    while (j < n && rows[j] < end && rows[j] > rows[j - 1] &&
           (rows[j] == rows[j - 1] + 1 || same_chunk(rows[j], rows[j - 1])) && rows[j] - rows[i] < max_span)
      ++j;
    const int64_t first = rows[i], span = rows[j - 1] - first + 1;
    if (span == 1) {
      read_span(si, first - info.row_offset, 1, out[i]);
    } else {
      span_.resize(static_cast<size_t>(span * rb));
      read_span(si, first - info.row_offset, span, span_.data());
      for (int64_t k = i; k < j; ++k)
        std::memcpy(out[k], span_.data() + (rows[k] - first) * rb, static_cast<size_t>(rb));
    }
    delivered_ += (j - i) * rb;
    i = j;
  }
}

void RowReader::read_range(int64_t first, int64_t n, uint8_t* out) {
  const int64_t rb = format_.row_bytes, max_span = std::max<int64_t>(1, kMaxSpanBytes / rb);
  if (first < 0 || n < 0 || first + n > split_->rows)
    throw Error(kExitInternal, "RowReader::read_range: rows out of range");
  for (int64_t r = first; r < first + n;) {
    const size_t si = shard_of(r);
    const ShardInfo& info = split_->shards[si];
    const int64_t k = std::min({first + n - r, info.row_offset + info.rows - r, max_span});
    read_span(si, r - info.row_offset, k, out + (r - first) * rb);
    delivered_ += k * rb;
    r += k;
  }
}

void RowReader::read_labels(int64_t first, int64_t n, int64_t* out) {
  for (int64_t r = first; r < first + n;) {
    const size_t si = shard_of(r);
    const ShardInfo& info = split_->shards[si];
    const int64_t k = std::min(first + n - r, info.row_offset + info.rows - r);
    h5::read_rows(shard(si).s.labels, static_cast<hsize_t>(r - info.row_offset), static_cast<hsize_t>(k),
                  out + (r - first));
    r += k;
  }
}

RowRange::RowRange(const Manifest& m, const std::string& split, const ValidateOptions& v, int64_t lo, int64_t hi,
                   int64_t cache_bytes, bool labels)
    : reader_(m, split, v), lo_(lo), hi_(hi), labels_(labels && m.split(split).has_labels) {
  const int64_t bytes = (hi - lo) * reader_.format().row_bytes + (labels_ ? (hi - lo) * 8 : 0);
  if (bytes > cache_bytes) return;
  stored_.resize(static_cast<size_t>((hi - lo) * reader_.format().row_bytes));
  reader_.read_range(lo, hi - lo, stored_.data());
  if (labels_) {
    cached_labels_.resize(static_cast<size_t>(hi - lo));
    reader_.read_labels(lo, hi - lo, cached_labels_.data());
  }
  cached_ = true;
}

DataMatrix& RowRange::chunk(int64_t first, int64_t n) {
  const RowFormat& f = reader_.format();
  if (first < lo_ || n < 0 || first + n > hi_) throw Error(kExitInternal, "RowRange::chunk: rows out of range");
  const uint8_t* src;
  if (cached_) {
    src = stored_.data() + (first - lo_) * f.row_bytes;
  } else {
    raw_.resize(static_cast<size_t>(n * f.row_bytes));
    reader_.read_range(first, n, raw_.data());
    src = raw_.data();
  }
  DataMatrix& d = chunk_;
  d.rows = n;
  d.cols = f.cols;
  d.x.resize(static_cast<size_t>(n * f.cols));
  d.global_index.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    stored_to_float(f, src + i * f.row_bytes, d.x.data() + i * f.cols);
    d.global_index[static_cast<size_t>(i)] = first + i;
  }
  if (labels_) {
    d.labels.resize(static_cast<size_t>(n));
    if (cached_)
      std::copy_n(cached_labels_.begin() + (first - lo_), n, d.labels.begin());
    else
      reader_.read_labels(first, n, d.labels.data());
  } else {
    d.labels.clear();
  }
  return d;
}

}  // namespace aevb
