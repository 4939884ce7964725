// Converters other than MNIST IDX (docs/data-format.md, "Converters"):
// fixed-binarization MNIST .amat text, Frey Face .mat, numeric CSV, NumPy .npy,
// plus resharding an existing dataset. All of them stream rows into
// DatasetWriter, so nothing is left under a final name when they fail.
#pragma once
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "aevb/io/dataset.hpp"
#include "aevb/io/h5.hpp"

namespace aevb {

// ---- options shared by every converter ----

// One entry of --split: "train=0.8", "valid=10000", "test=rest".
struct SplitRequest {
  enum Kind { kCount, kFraction, kRest };
  std::string name;
  Kind kind = kRest;
  double value = 0;  // count or fraction
};
// Parses "name=value,..." (value: integer count, fraction with a '.', or "rest").
// usage_error on bad syntax, repeated names, several "rest", fractions outside (0,1].
std::vector<SplitRequest> parse_split(const std::string& spec);
// Row counts per split for n rows, in the order given. Fractions are rounded
// down; "rest" takes what the others leave; without "rest", fractions that sum
// to 1 give the rounding remainder to the last split, and otherwise the
// counts must add up to exactly n. usage_error naming `what` (the input) otherwise.
std::vector<int64_t> resolve_split(const std::vector<SplitRequest>& req, int64_t n,
                                   const std::string& what);

struct CommonOptions {
  std::string out;
  std::string name;           // manifest "name" (default: from the input file name)
  int64_t shards = 0;         // --shards N (0: not given)
  int64_t rows_per_shard = 0; // --rows-per-shard R (0: not given); neither given = 1 shard
  int64_t shuffle_seed = -1;  // -1: keep source order
  std::string split = "train=rest";
  int gzip_level = 0;
  int64_t memory_budget_mb = 2048;  // cap on rows held in memory for --shuffle-seed
  bool force = false;
};
// usage_error for --shards with --rows-per-shard, negative values, bad --gzip.
void check_common(const CommonOptions& o);
// Shards for a split of `rows` rows: --shards (capped at rows), ceil(rows/R), or 1.
int64_t shard_count(const CommonOptions& o, int64_t rows);

struct ConvertStats {
  Manifest manifest;
  int64_t rows = 0, shards = 0;
  int64_t input_bytes = 0;  // bytes of the input files as read (compressed size for .gz)
};

// ---- a source of rows ----
class RowSource {
 public:
  virtual ~RowSource() = default;
  virtual int64_t rows() const = 0;  // total, known before the first read
  virtual int64_t cols() const = 0;  // stored values per row
  // Reads the next min(n, remaining) rows (row-major, stored dtype) and, if the
  // source has labels, their labels. Throws input_error naming file and line/row.
  virtual int64_t read(void* data, int64_t* labels, int64_t n) = 0;
};

// ---- the converters ----

struct AmatOptions {
  CommonOptions common;
  std::string train, valid, test;  // any subset, at least one
};
// binarized_mnist_{train,valid,test}.amat[.gz] inside dir (those present; at least one).
AmatOptions find_amat_files(const std::string& dir, AmatOptions base);
ConvertStats convert_amat(const AmatOptions& o);
// Both passes of convert_amat over one file (count, then parse every line),
// writing nothing. Returns the rows.
int64_t scan_amat(const std::string& path);

struct FreyOptions {
  CommonOptions common;
  std::string input;  // frey_rawface.mat
};
ConvertStats convert_frey(const FreyOptions& o);
// Reads n bytes at offset into dst; returns how many it read.
using MatReadAt = std::function<size_t(uint64_t offset, void* dst, size_t n)>;
// The pre-check convert_frey runs before matio sees a file of `size` bytes:
// in a level 5 MAT-file, every size a tag declares must fit in the bytes
// present, each compressed variable must inflate to exactly its declared size,
// and a numeric variable's data must be its dimensions' worth (input_error
// naming `name` otherwise). Level 4 and 7.3 (HDF5) files pass through to matio.
void check_mat_layout(const MatReadAt& read_at, uint64_t size, const std::string& name);

struct CsvOptions {
  CommonOptions common;
  std::string input;
  bool header = false;
  char delimiter = ',';
  std::string columns;       // "0,2,5" or "a,b" (needs header); empty = all but the label
  std::string label_column;  // index or name; empty = no labels
  double scale = 1.0;
  std::vector<double> value_range;  // empty: any finite float32
};
ConvertStats convert_csv(const CsvOptions& o);
// Both passes of convert_csv (header, columns, every value and label), writing
// nothing; o.common is not used. Returns the data rows.
int64_t scan_csv(const CsvOptions& o);

struct NpyOptions {
  CommonOptions common;
  std::string input;
  double scale = 1.0;
  std::vector<double> value_range;  // empty: [0,255] for uint8, any finite float32 otherwise
};
ConvertStats convert_npy(const NpyOptions& o);
// Every check convert_npy makes on a .npy stream of `size` bytes (header,
// declared size against the bytes present, every value against value_range),
// writing nothing; `name` stands for the file in messages. Returns the rows.
int64_t scan_npy(std::FILE* f, int64_t size, const std::string& name,
                 const std::vector<double>& value_range = {});

struct ReshardOptions {
  std::string in, out;
  int64_t shards = 0, rows_per_shard = 0;
  int gzip_level = 0;
  bool force = false;
};
// Streams every split of `in` (checking each input shard's checksum on the way)
// into `out` with a new shard count; rows, order, labels and attributes are kept.
ConvertStats reshard(const ReshardOptions& o);

// "LO,HI" for --value-range (usage_error naming `option`).
std::vector<double> parse_value_range(const std::string& s, const std::string& option);

// Peak resident set size of this process so far, in MiB (getrusage ru_maxrss).
double peak_rss_mb();

}  // namespace aevb
