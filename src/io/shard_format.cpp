#include "aevb/io/shard_format.hpp"

#include <cstdio>

#include "aevb/base/error.hpp"
#include "aevb/io/h5.hpp"

namespace aevb {

std::string shard_file_name(const std::string& split, int64_t index, int64_t count) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "-%05lld-of-%05lld.h5", static_cast<long long>(index),
                static_cast<long long>(count));
  return split + buf;
}

bool is_known_binarization(const std::string& b) {
  return b == "none" || b == "dynamic" || b == "static";
}

int64_t product(const std::vector<int64_t>& shape) {
  int64_t p = 1;
  for (int64_t d : shape)
    if (d < 0 || __builtin_mul_overflow(p, d, &p)) return -1;
  return p;
}

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(shape[i]);
  }
  s += ']';
  return s;
}

void write_shard_attrs(hid_t f, const ShardAttrs& a) {
  using namespace h5;
  write_attr_string(f, "format", a.format);
  write_attr_int(f, "format_version", a.format_version);
  write_attr_string(f, "split", a.split);
  write_attr_int(f, "shard_index", a.shard_index);
  write_attr_int(f, "shard_count", a.shard_count);
  write_attr_int(f, "rows", a.rows);
  write_attr_int(f, "row_offset", a.row_offset);
  write_attr_ints(f, "row_shape", a.row_shape);
  write_attr_double(f, "scale", a.scale);
  write_attr_doubles(f, "value_range", a.value_range);
  write_attr_string(f, "value_meaning", a.value_meaning);
  write_attr_string(f, "binarization", a.binarization);
  write_attr_int(f, "binarization_seed", a.binarization_seed);
  write_attr_strings(f, "source_files", a.source_files);
  write_attr_strings(f, "source_sha256", a.source_sha256);
  write_attr_string(f, "data_sha256", a.data_sha256);
  write_attr_string(f, "created_by", a.created_by);
}

ShardAttrs read_shard_attrs(hid_t f, const std::string& path) {
  using namespace h5;
  ShardAttrs a;
  if (!has_attr(f, "format"))
    throw input_error(path + ": not an aevb shard (no 'format' attribute on the root group)");
  a.format = read_attr_string(f, "format");
  if (a.format != kShardFormat)
    throw input_error(path + ": format is '" + a.format + "', expected '" + kShardFormat + "'");
  a.format_version = read_attr_int(f, "format_version");
  if (a.format_version != kShardFormatVersion)
    throw input_error(path + ": format_version " + std::to_string(a.format_version) +
                      " is not supported (this build reads version " +
                      std::to_string(kShardFormatVersion) + ")");
  a.split = read_attr_string(f, "split");
  a.shard_index = read_attr_int(f, "shard_index");
  a.shard_count = read_attr_int(f, "shard_count");
  a.rows = read_attr_int(f, "rows");
  a.row_offset = read_attr_int(f, "row_offset");
  a.row_shape = read_attr_ints(f, "row_shape");
  a.scale = read_attr_double(f, "scale");
  a.value_range = read_attr_doubles(f, "value_range");
  a.value_meaning = read_attr_string(f, "value_meaning");
  a.binarization = read_attr_string(f, "binarization");
  a.binarization_seed = read_attr_int(f, "binarization_seed");
  a.source_files = read_attr_strings(f, "source_files");
  a.source_sha256 = read_attr_strings(f, "source_sha256");
  a.data_sha256 = read_attr_string(f, "data_sha256");
  a.created_by = read_attr_string(f, "created_by");
  // Row bookkeeping from the file: non-negative, and the shard's last global
  // row must fit in int64 (messages compute row_offset + row; fuzz_shard found
  // row_offset = 2^63 - 1 overflowing there).
  int64_t end = 0;
  if (a.rows < 0 || a.row_offset < 0 || __builtin_add_overflow(a.row_offset, a.rows, &end))
    throw input_error(path + ": rows " + std::to_string(a.rows) + " at row_offset " + std::to_string(a.row_offset) +
                      " is not a valid row range");
  if (a.shard_count < 1 || a.shard_index < 0 || a.shard_index >= a.shard_count)
    throw input_error(path + ": shard_index " + std::to_string(a.shard_index) + " of shard_count " +
                      std::to_string(a.shard_count) + " is not a valid shard number");
  if (a.value_range.size() != 2 || !(a.value_range[0] <= a.value_range[1]))
    throw input_error(path + ": value_range must be two numbers [min, max] with min <= max");
  if (!is_known_binarization(a.binarization))
    throw input_error(path + ": binarization '" + a.binarization +
                      "' is not one of none, dynamic, static");
  return a;
}

}  // namespace aevb
