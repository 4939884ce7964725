#include "aevb/convert/inspect.hpp"

#include <sys/stat.h>

#include "aevb/io/dataset.hpp"
#include "aevb/base/error.hpp"
#include "aevb/io/h5.hpp"
#include "aevb/io/shard_format.hpp"

namespace aevb {
namespace {

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) {
    if (!s.empty()) s += ", ";
    s += x;
  }
  return s;
}

void print_shard_attrs(const ShardAttrs& a, std::ostream& out) {
  out << "  split " << a.split << ", shard " << a.shard_index << " of " << a.shard_count << ": "
      << a.rows << " rows from global row " << a.row_offset << ", row_shape "
      << shape_string(a.row_shape) << "\n"
      << "  scale " << a.scale << ", value_range [" << a.value_range[0] << ","
      << a.value_range[1] << "] (" << a.value_meaning << ")\n"
      << "  binarization " << a.binarization << " (seed " << a.binarization_seed << ")\n"
      << "  sources: " << join(a.source_files) << "\n"
      << "  created by: " << a.created_by << "\n"
      << "  data_sha256: " << a.data_sha256 << "\n";
}

nlohmann::json inspect_shard(const std::string& path, std::ostream& out) {
  ShardAttrs a;
  {
    h5::Id f = h5::open_file_read(path);
    a = read_shard_attrs(f, path);
  }
  out << path << "\n";
  print_shard_attrs(a, out);
  const VerifySummary st = verify_shard_file(path);
  out << "  OK: shapes and checksum verified; stored values in [" << st.min_value << ","
      << st.max_value << "]\n";
  return {{"shard", path},  {"split", a.split},          {"rows", st.rows},
          {"min", st.min_value}, {"max", st.max_value}, {"checksum_verified", true},
          {"bytes", st.bytes}};
}

nlohmann::json inspect_dataset(const std::string& dir, std::ostream& out) {
  const Manifest m = Manifest::load(dir);
  out << "dataset " << m.name << " (" << dir << ")\n";
  nlohmann::json splits = nlohmann::json::object();
  int64_t bytes = 0;
  for (const auto& [name, s] : m.splits) {
    out << "split " << name << ": " << s.rows << " rows of " << shape_string(s.row_shape) << " "
        << s.dtype << ", scale " << s.scale << ", binarization " << s.binarization
        << ", labels " << (s.has_labels ? "yes" : "no") << ", " << s.shards.size()
        << " shard(s)\n";
    {
      h5::Id f = h5::open_file_read(m.path_of(s.shards.front()));
      print_shard_attrs(read_shard_attrs(f, m.path_of(s.shards.front())), out);
    }
    const VerifySummary st = verify_split(m, name);
    out << "  OK: " << st.shards << " shard(s) verified; stored values in [" << st.min_value
        << "," << st.max_value << "]\n";
    bytes += st.bytes;
    splits[name] = {{"rows", st.rows},
                    {"shards", st.shards},
                    {"dtype", s.dtype},
                    {"row_shape", s.row_shape},
                    {"min", st.min_value},
                    {"max", st.max_value},
                    {"checksums_verified", true}};
  }
  return {{"dataset", dir}, {"name", m.name}, {"splits", splits}, {"bytes", bytes}};
}

}  // namespace

nlohmann::json inspect_path(const std::string& path, std::ostream& out) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw input_error(path + ": no such file or directory");
  return S_ISDIR(st.st_mode) ? inspect_dataset(path, out) : inspect_shard(path, out);
}

}  // namespace aevb
