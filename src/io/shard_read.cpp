#include "shard_read.hpp"

#include <sstream>

namespace aevb::shard_read {

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

}  // namespace aevb::shard_read
