// Reading sharded datasets (docs/data-format.md): the manifest, whole splits,
// or chosen rows, converted to float model inputs and validated first.
//
// Every problem is an input_error naming the manifest or shard file and what
// was expected; nothing is returned until the rows it covers have passed.
#pragma once
#include <cstdint>
#include <iosfwd>
#include <map>
#include <string>
#include <vector>

namespace aevb {

struct ShardInfo {
  std::string file;  // relative to the dataset directory
  int64_t rows = 0, row_offset = 0;
  std::string data_sha256;
};

struct SplitInfo {
  std::string name, dtype, binarization;  // dtype: "uint8" | "float32"
  std::vector<int64_t> row_shape;
  int64_t rows = 0, cols = 0, binarization_seed = -1;
  double scale = 1;
  bool has_labels = false;
  std::vector<ShardInfo> shards;
};

struct Manifest {
  std::string dir, name;
  std::map<std::string, SplitInfo> splits;

  // input_error naming <dir>/manifest.json (and the field) on any problem.
  static Manifest load(const std::string& dir);
  // The same checks on manifest text from a stream (load's parser; the fuzz target's entry).
  static Manifest parse(std::istream& in, const std::string& dir);
  // input_error listing the available splits.
  const SplitInfo& split(const std::string& name) const;
  std::string to_json() const;  // the manifest.json text (pretty, trailing newline)
  std::string path_of(const ShardInfo& s) const { return dir + "/" + s.file; }
};

// Rows of one split held in memory, converted to float model inputs (stored value * scale).
struct DataMatrix {
  int64_t rows = 0, cols = 0;
  std::vector<float> x;
  std::vector<int64_t> global_index;  // row i of x is sample global_index[i] of the split
  std::vector<int64_t> labels;        // empty if the split has none
  const float* row(int64_t i) const { return x.data() + i * cols; }
};

struct ValidateOptions {
  bool require_unit_interval = false;  // Bernoulli decoder: every value*scale must lie in [0,1]
  bool verify_checksums = true;        // only for shards read in full
};

// First max_rows rows of a split (-1 = all).
DataMatrix load_split(const Manifest&, const std::string& split, const ValidateOptions&,
                      int64_t max_rows = -1);
// Only these rows (strictly increasing global indices); opens only the shards
// that hold them. Checksums cannot be verified on a subset and are skipped.
DataMatrix load_rows(const Manifest&, const std::string& split,
                     const std::vector<int64_t>& sorted_global_rows, const ValidateOptions&);

// What a full verification pass found (used by `aevb-data inspect`).
struct VerifySummary {
  int64_t rows = 0, shards = 0;
  double min_value = 0, max_value = 0;  // of the stored values
  int64_t bytes = 0;                    // of /data as stored
};
// Streams every shard of a split through all the checks of load_split (with
// checksums) without keeping the rows.
VerifySummary verify_split(const Manifest&, const std::string& split, const ValidateOptions& = {});
// Checks one shard file on its own: attributes, shapes, its data_sha256 attribute.
VerifySummary verify_shard_file(const std::string& path, const ValidateOptions& = {});

}  // namespace aevb
