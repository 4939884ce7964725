// Resharding an existing aevb dataset (new shard sizes, same rows and order).
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>

#include "aevb/base/error.hpp"
#include "aevb/io/shard_format.hpp"
#include "convert_internal.hpp"

namespace aevb {

namespace {

// A split's description for the writer: the manifest's record, and what only
// its first shard holds (the reader guarantees that all shards agree).
SplitSpec spec_of(const Manifest& in, const std::string& name, const SplitInfo& sp, const CommonOptions& co,
                  int gzip_level) {
  SplitSpec spec;
  {
    const std::string p0 = in.path_of(sp.shards.front());
    h5::Id f = h5::open_file_read(p0);
    const ShardAttrs a = read_shard_attrs(f, p0);
    spec.value_range = a.value_range;
    spec.value_meaning = a.value_meaning;
    spec.source_files = a.source_files;
    spec.source_sha256 = a.source_sha256;
    if (sp.has_labels) {
      h5::Id l = h5::open_dataset(f, kLabelsDataset);
      spec.labels = h5::dataset_dtype(l);
    }
  }
  spec.name = name;
  spec.dtype = sp.dtype == "uint8" ? h5::DType::uint8 : h5::DType::float32;
  spec.row_shape = sp.row_shape;
  spec.rows = sp.rows;
  spec.scale = sp.scale;
  spec.binarization = sp.binarization;
  spec.binarization_seed = sp.binarization_seed;
  spec.shards = shard_count(co, sp.rows);
  spec.gzip_level = gzip_level;
  return spec;
}

// Streams one input shard into the writer in ~4 MiB pieces, checking its data
// checksum on the way; returns the bytes read.
int64_t copy_shard(const std::string& path, const ShardInfo& sh, const SplitInfo& sp, const SplitSpec& spec,
                   DatasetWriter& w) {
  const size_t elem = spec.dtype == h5::DType::uint8 ? 1 : 4;
  const size_t row_bytes = static_cast<size_t>(sp.cols) * elem;
  const int64_t chunk = std::max<int64_t>(1, static_cast<int64_t>((size_t{4} << 20) / row_bytes));
  std::vector<uint8_t> buf(static_cast<size_t>(chunk) * row_bytes);
  std::vector<uint8_t> lab8(static_cast<size_t>(chunk));
  std::vector<int64_t> lab64(static_cast<size_t>(chunk));
  h5::Id f = h5::open_file_read(path);
  h5::Id data = h5::open_dataset(f, kDataDataset);
  const auto dims = h5::dataset_dims(data);
  if (dims.size() != 2 || static_cast<int64_t>(dims[0]) != sh.rows || static_cast<int64_t>(dims[1]) != sp.cols)
    throw input_error(path + ": /data has shape " +
                      shape_string({static_cast<int64_t>(dims[0]), dims.size() > 1 ? static_cast<int64_t>(dims[1]) : 0}) +
                      ", expected " + shape_string({sh.rows, sp.cols}));
  h5::Id labels;
  if (sp.has_labels) labels = h5::open_dataset(f, kLabelsDataset);
  Sha256 sha;
  for (int64_t r = 0; r < sh.rows;) {
    const int64_t k = std::min(chunk, sh.rows - r);
    const auto first = static_cast<hsize_t>(r), cnt = static_cast<hsize_t>(k);
    if (elem == 1)
      h5::read_rows(data, first, cnt, buf.data());
    else
      h5::read_rows(data, first, cnt, reinterpret_cast<float*>(buf.data()));
    sha.update(buf.data(), static_cast<size_t>(k) * row_bytes);
    if (spec.labels == h5::DType::uint8) {
      h5::read_rows(labels, first, cnt, lab8.data());
      w.add_rows(buf.data(), lab8.data(), k);
    } else if (spec.labels == h5::DType::int64) {
      h5::read_rows(labels, first, cnt, lab64.data());
      w.add_rows(buf.data(), lab64.data(), k);
    } else {
      w.add_rows(buf.data(), static_cast<const int64_t*>(nullptr), k);
    }
    r += k;
  }
  const std::string got = sha.hex_digest();
  if (got != sh.data_sha256)
    throw input_error(path + ": /data hashes to " + got + " but data_sha256 says " + sh.data_sha256 +
                      " (file corrupted or modified after conversion)");
  return sh.rows * static_cast<int64_t>(row_bytes);
}

}  // namespace

ConvertStats reshard(const ReshardOptions& o) {
  if (o.shards < 0 || o.rows_per_shard < 0) throw usage_error("--shards and --rows-per-shard must be >= 1");
  if ((o.shards > 0) == (o.rows_per_shard > 0))
    throw usage_error("reshard: give exactly one of --shards N or --rows-per-shard R");
  if (o.gzip_level < 0 || o.gzip_level > 9) throw usage_error("--gzip must be 0..9");
  const Manifest in = Manifest::load(o.in);
  CommonOptions co;
  co.shards = o.shards;
  co.rows_per_shard = o.rows_per_shard;

  std::string created;  // of the input, from its first shard
  {
    const SplitInfo& s0 = in.splits.begin()->second;
    h5::Id f = h5::open_file_read(in.path_of(s0.shards.front()));
    created = read_shard_attrs(f, in.path_of(s0.shards.front())).created_by;
  }
  DatasetWriter w(o.out, in.name, detail::created_by("reshard") + " (from: " + created + ")", o.force);
  ConvertStats st;
  for (const auto& [name, sp] : in.splits) {
    const SplitSpec spec = spec_of(in, name, sp, co, o.gzip_level);
    w.begin_split(spec);
    for (const ShardInfo& sh : sp.shards) st.input_bytes += copy_shard(in.path_of(sh), sh, sp, spec, w);
    w.end_split();
  }
  st.manifest = w.commit();
  return st;
}

}  // namespace aevb
