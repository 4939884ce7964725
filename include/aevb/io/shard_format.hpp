// The shard file format (see docs/data-format.md): names, version numbers and
// the root attributes every shard carries. Writer, reader and `aevb-data
// inspect` all go through this one definition so they cannot drift apart.
#pragma once
#include <hdf5.h>

#include <cstdint>
#include <string>
#include <vector>

namespace aevb {

inline constexpr const char* kShardFormat = "aevb-shard";
inline constexpr int64_t kShardFormatVersion = 1;
inline constexpr const char* kManifestFormat = "aevb-manifest";
inline constexpr int64_t kManifestFormatVersion = 1;
inline constexpr const char* kManifestFile = "manifest.json";
inline constexpr const char* kDataDataset = "data";
inline constexpr const char* kLabelsDataset = "labels";

// "<split>-<iiiii>-of-<nnnnn>.h5", e.g. "train-00000-of-00002.h5".
std::string shard_file_name(const std::string& split, int64_t index, int64_t count);

// True for the binarization modes the format defines: "none", "dynamic", "static".
bool is_known_binarization(const std::string& b);

struct ShardAttrs {
  std::string format = kShardFormat;
  int64_t format_version = kShardFormatVersion;
  std::string split;
  int64_t shard_index = 0, shard_count = 1, rows = 0;
  int64_t row_offset = 0;  // global sample index of the shard's first row in its split
  std::vector<int64_t> row_shape;
  double scale = 1.0;                 // model input = stored value * scale
  std::vector<double> value_range;    // [min, max] the stored values may take
  std::string value_meaning;
  std::string binarization = "none";  // none | dynamic | static
  int64_t binarization_seed = -1;
  std::vector<std::string> source_files, source_sha256;
  std::string data_sha256;  // SHA-256 of /data as stored (little-endian, row-major)
  std::string created_by;
};

void write_shard_attrs(hid_t file, const ShardAttrs& a);
// Checks format and format_version first (so a foreign HDF5 file gets a clear
// "not an aevb shard" message), then reads the rest. input_error naming the file.
ShardAttrs read_shard_attrs(hid_t file, const std::string& path);

// Values per row of a row shape; -1 if a size is negative or the product
// overflows int64 (shapes come from files: callers refuse -1).
int64_t product(const std::vector<int64_t>& shape);
std::string shape_string(const std::vector<int64_t>& shape);  // "[28,28]"

}  // namespace aevb
