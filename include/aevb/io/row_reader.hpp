// Stored rows of a split read by global index: the trainer's streamed reads
// and the evaluator's chunks. Values stay in the stored dtype (uint8 stays
// uint8) until a minibatch is formed; nearby rows of one shard are one read;
// every value is checked as it arrives (the checks of load_split), and shards
// written with the Fletcher32 filter are checksummed by HDF5 on every read.
//
// Not thread-safe: one reader per thread. HDF5 itself is (a global lock).
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "aevb/io/dataset.hpp"

namespace aevb {

struct RowFormat {
  bool u8 = true;  // stored uint8; else float32
  int64_t cols = 0, row_bytes = 0;
  double scale = 1;  // model input = stored value * scale
};
RowFormat row_format(const SplitInfo& split);

// One stored row -> cols float model inputs, bit-identical to load_split's conversion.
void stored_to_float(const RowFormat& f, const uint8_t* row, float* out);

class RowReader {
 public:
  RowReader(const Manifest& m, const std::string& split, const ValidateOptions& v);
  ~RowReader();
  RowReader(RowReader&&) noexcept;
  const RowFormat& format() const { return format_; }

  // Rows `rows[0..n)` (strictly increasing global indices); row rows[i] lands at
  // out[i] (format().row_bytes each). input_error naming the shard on a bad
  // value, a failed checksum or a short file.
  void read(const int64_t* rows, int64_t n, uint8_t* const* out);
  // Contiguous rows [first, first + n) into out, back to back.
  void read_range(int64_t first, int64_t n, uint8_t* out);
  // Labels of contiguous rows (the split must have labels).
  void read_labels(int64_t first, int64_t n, int64_t* out);

  // Bytes of the rows delivered so far (what the caller asked for; HDF5
  // fetches whole chunks, so /proc/self/io's read_bytes tells what the
  // storage delivered, page cache aside).
  int64_t bytes_read() const { return delivered_; }

 private:
  struct Open;
  Open& shard(size_t index);
  size_t shard_of(int64_t row) const;
  void read_span(size_t shard, int64_t local_first, int64_t n, uint8_t* out);

  const Manifest* manifest_;
  const SplitInfo* split_;
  ValidateOptions validate_;
  RowFormat format_;
  std::vector<std::unique_ptr<Open>> open_;  // a few open shards, most recent last
  std::vector<uint8_t> span_;
  std::vector<float> scratch_;
  int64_t delivered_ = 0;
};

// Contiguous rows [lo, hi) of a split visited in chunks as float model inputs
// (DataMatrix with global_index and, if asked, labels): held in the stored
// dtype when they fit `cache_bytes` (read and checked at construction), else
// read again at every pass, so memory stays bounded for any split size.
// Chunks start at lo and have `chunk_rows` rows (the last one fewer) either
// way, so results computed per chunk do not depend on the cache.
class RowRange {
 public:
  RowRange(const Manifest& m, const std::string& split, const ValidateOptions& v, int64_t lo, int64_t hi,
           int64_t cache_bytes, bool labels = false);
  int64_t rows() const { return hi_ - lo_; }
  bool cached() const { return cached_; }
  template <class F>
  void for_each(int64_t chunk_rows, F&& f) {
    for (int64_t r = lo_; r < hi_; r += chunk_rows) f(chunk(r, std::min(chunk_rows, hi_ - r)));
  }
  // Rows [first, first + n) (global indices inside [lo, hi)) as one chunk.
  DataMatrix& chunk(int64_t first, int64_t n);
  int64_t bytes_read() const { return reader_.bytes_read(); }

 private:
  RowReader reader_;
  int64_t lo_, hi_;
  bool cached_ = false, labels_ = false;
  std::vector<uint8_t> stored_, raw_;
  std::vector<int64_t> cached_labels_;
  DataMatrix chunk_;
};

// Checks shard `index` of a split before training streams it: its attributes
// against the manifest always; and when its /data has no Fletcher32 filter (so
// reads are not checksummed: shards written before the converter added it, or
// by other tools), the full pass of verify_split (SHA-256, every value).
// Returns true if the full pass ran.
bool check_shard_for_streaming(const Manifest& m, const std::string& split, size_t index, const ValidateOptions& v);

}  // namespace aevb
