#include "aevb/io/shard_writer.hpp"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <set>

#include "aevb/io/checksum.hpp"
#include "aevb/io/durable_file.hpp"
#include "aevb/base/error.hpp"
#include "aevb/base/interrupt.hpp"

namespace aevb {

struct DatasetWriter::Shard {
  h5::AtomicFile file;
  h5::Id data, labels;
  ShardAttrs attrs;
  int64_t rows_done = 0;
  Sha256 sha;  // over /data as written, so no second pass is needed
  explicit Shard(const std::string& path) : file(path) {}
};

DatasetWriter::DatasetWriter(std::string out_dir, std::string name, std::string created_by,
                             bool force)
    : dir_(std::move(out_dir)), name_(std::move(name)), created_by_(std::move(created_by)),
      force_(force) {
  const std::string manifest = dir_ + "/" + kManifestFile;
  if (!force_ && ::access(manifest.c_str(), F_OK) == 0)
    throw output_error(dir_ + " already holds a dataset (" + manifest +
                       "); pass --force to replace it");
  created_dir_ = make_output_dir(dir_);
  try {
    require_writable_dir(dir_, "cannot write dataset to " + dir_);
    lock_ = DirLock::acquire(dir_, created_by_, "dataset directory",
                             "another conversion is writing there: wait for it to end, or choose another --out");
    // Checked again under the lock: another writer may have committed since.
    if (!force_ && ::access(manifest.c_str(), F_OK) == 0)
      throw output_error(dir_ + " already holds a dataset (" + manifest + "); pass --force to replace it");
  } catch (...) {
    cleanup_after_failure();
    throw;
  }
  if (!lock_.notice().empty()) note(lock_.notice());
  remove_stale_temps();
  manifest_.dir = dir_;
  manifest_.name = name_;
}

DatasetWriter::~DatasetWriter() {
  if (!committed_) cleanup_after_failure();
}

void DatasetWriter::cleanup_after_failure() noexcept {
  shard_.reset();     // AtomicFile destructors unlink the temp files
  finished_.clear();
  for (const auto& p : renamed_) ::unlink(p.c_str());
  renamed_.clear();
  if (created_dir_) {
    lock_.release();        // its file would keep the directory from being removed
    ::rmdir(dir_.c_str());  // only succeeds if nothing else is in it
  }
}

void DatasetWriter::note(const std::string& msg) {
  notices_.push_back(msg);
  const std::string tool = created_by_.substr(0, created_by_.find(' '));
  std::cerr << tool << ": warning: " << msg << std::endl;
}

// Temp files of the two kinds this writer makes, whatever their PID: with the
// lock held, no live writer owns one. Without a working lock (unsupported file
// system) another writer might, so they stay.
namespace {
// "<x>.h5.tmp.<digits>" or "manifest.json.tmp.<digits>": what AtomicFile and
// write_text_atomically name their temps (no std::regex: GCC 12 warns inside it
// under the sanitizer build).
bool is_writer_temp(const std::string& n) {
  const size_t t = n.rfind(".tmp.");
  if (t == std::string::npos || t + 5 == n.size()) return false;
  for (size_t i = t + 5; i < n.size(); ++i)
    if (n[i] < '0' || n[i] > '9') return false;
  const std::string base = n.substr(0, t);
  return base == "manifest.json" || (base.size() > 3 && base.compare(base.size() - 3, 3, ".h5") == 0);
}
}  // namespace

void DatasetWriter::remove_stale_temps() {
  if (!lock_.locked()) return;
  std::vector<std::string> removed;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir_, ec)) {
    const std::string n = e.path().filename().string();
    if (is_writer_temp(n) && e.is_regular_file(ec) && ::unlink(e.path().c_str()) == 0) removed.push_back(n);
  }
  if (removed.empty()) return;
  std::string list;
  for (const auto& n : removed) list += (list.empty() ? "" : ", ") + n;
  note("removed " + std::to_string(removed.size()) + " temp file(s) of an interrupted writer from " + dir_ + ": " + list);
}

void DatasetWriter::begin_split(const SplitSpec& spec) {
  if (in_split_) throw Error(kExitInternal, "DatasetWriter: begin_split before end_split");
  if (manifest_.splits.count(spec.name))
    throw Error(kExitInternal, "DatasetWriter: split '" + spec.name + "' written twice");
  if (spec.dtype != h5::DType::uint8 && spec.dtype != h5::DType::float32)
    throw Error(kExitInternal, "DatasetWriter: /data must be uint8 or float32");
  if (spec.labels != h5::DType::other && spec.labels != h5::DType::uint8 &&
      spec.labels != h5::DType::int64)
    throw Error(kExitInternal, "DatasetWriter: /labels must be uint8 or int64");
  if (spec.value_range.size() != 2 || !is_known_binarization(spec.binarization) ||
      spec.row_shape.empty() || product(spec.row_shape) <= 0 || spec.rows < 0)
    throw Error(kExitInternal, "DatasetWriter: inconsistent spec for split '" + spec.name + "'");
  if (spec.shards < 1 || (spec.rows > 0 && spec.shards > spec.rows))
    throw usage_error("--shards " + std::to_string(spec.shards) + " is invalid for split '" +
                      spec.name + "' with " + std::to_string(spec.rows) +
                      " rows (need 1 <= shards <= rows)");
  spec_ = spec;
  in_split_ = true;
  split_rows_done_ = 0;
  SplitInfo& info = manifest_.splits[spec.name];
  info.name = spec.name;
  info.dtype = h5::dtype_name(spec.dtype);
  info.binarization = spec.binarization;
  info.binarization_seed = spec.binarization_seed;
  info.row_shape = spec.row_shape;
  info.rows = spec.rows;
  info.cols = product(spec.row_shape);
  info.scale = spec.scale;
  info.has_labels = spec.labels != h5::DType::other;
}

void DatasetWriter::open_shard() {
  const SplitInfo& info = manifest_.splits[spec_.name];
  const int64_t i = static_cast<int64_t>(info.shards.size());
  const int64_t n = spec_.shards, total = spec_.rows;
  // Near-equal shards: shard i holds rows [i*N/S, (i+1)*N/S).
  const int64_t begin = i * total / n, end = (i + 1) * total / n;
  shard_ = std::make_unique<Shard>(dir_ + "/" + shard_file_name(spec_.name, i, n));
  ShardAttrs& a = shard_->attrs;
  a.split = spec_.name;
  a.shard_index = i;
  a.shard_count = n;
  a.rows = end - begin;
  a.row_offset = begin;
  a.row_shape = spec_.row_shape;
  a.scale = spec_.scale;
  a.value_range = spec_.value_range;
  a.value_meaning = spec_.value_meaning;
  a.binarization = spec_.binarization;
  a.binarization_seed = spec_.binarization_seed;
  a.source_files = spec_.source_files;
  a.source_sha256 = spec_.source_sha256;
  a.created_by = created_by_;
  const std::vector<hsize_t> dims = {static_cast<hsize_t>(a.rows),
                                     static_cast<hsize_t>(info.cols)};
  h5::WriteOptions opt;
  opt.gzip_level = spec_.gzip_level;
  // Every read of /data is then checked by HDF5, so training need not verify
  // whole shards before it starts (docs/data-format.md).
  opt.fletcher32 = true;
  const hid_t f = shard_->file.id();
  shard_->data = spec_.dtype == h5::DType::uint8
                     ? h5::create_dataset<uint8_t>(f, kDataDataset, dims, opt)
                     : h5::create_dataset<float>(f, kDataDataset, dims, opt);
  if (spec_.labels == h5::DType::uint8)
    shard_->labels = h5::create_dataset<uint8_t>(f, kLabelsDataset, {dims[0]}, opt);
  else if (spec_.labels == h5::DType::int64)
    shard_->labels = h5::create_dataset<int64_t>(f, kLabelsDataset, {dims[0]}, opt);
}

void DatasetWriter::close_shard() {
  Shard& s = *shard_;
  s.attrs.data_sha256 = s.sha.hex_digest();
  write_shard_attrs(s.file.id(), s.attrs);
  s.data.reset();
  s.labels.reset();
  s.file.finish();  // flushed, closed and fsynced; renamed only at commit()
  manifest_.splits[spec_.name].shards.push_back(
      {shard_file_name(spec_.name, s.attrs.shard_index, s.attrs.shard_count), s.attrs.rows,
       s.attrs.row_offset, s.attrs.data_sha256});
  finished_.push_back(std::move(s.file));
  shard_.reset();
}

void DatasetWriter::add_rows(const void* data, const uint8_t* labels, int64_t n) {
  add_rows_impl(data, labels, h5::DType::uint8, n);
}
void DatasetWriter::add_rows(const void* data, const int64_t* labels, int64_t n) {
  add_rows_impl(data, labels, h5::DType::int64, n);
}

void DatasetWriter::add_rows_impl(const void* data, const void* labels, h5::DType label_type,
                                  int64_t n) {
  if (!in_split_) throw Error(kExitInternal, "DatasetWriter: add_rows outside a split");
  if (n < 0 || split_rows_done_ + n > spec_.rows)
    throw Error(kExitInternal, "DatasetWriter: split '" + spec_.name + "' was declared with " +
                                   std::to_string(spec_.rows) + " rows but more were added");
  const bool want_labels = spec_.labels != h5::DType::other;
  if (want_labels && (!labels || label_type != spec_.labels))
    throw Error(kExitInternal, "DatasetWriter: split '" + spec_.name + "' needs " +
                                   h5::dtype_name(spec_.labels) + " labels");
  const int64_t cols = product(spec_.row_shape);
  const size_t elem = spec_.dtype == h5::DType::uint8 ? 1 : 4;
  const size_t lelem = spec_.labels == h5::DType::int64 ? 8 : 1;
  auto* p = static_cast<const uint8_t*>(data);
  auto* lp = static_cast<const uint8_t*>(labels);
  throw_if_interrupted();  // between chunks: the temp files then go with the writer
  while (n > 0) {
    if (!shard_) open_shard();
    Shard& s = *shard_;
    const int64_t k = std::min(n, s.attrs.rows - s.rows_done);
    const auto first = static_cast<hsize_t>(s.rows_done);
    if (spec_.dtype == h5::DType::uint8)
      h5::write_rows(s.data, first, static_cast<hsize_t>(k), p);
    else
      h5::write_rows(s.data, first, static_cast<hsize_t>(k), reinterpret_cast<const float*>(p));
    s.sha.update(p, static_cast<size_t>(k * cols) * elem);
    if (want_labels) {
      if (spec_.labels == h5::DType::uint8)
        h5::write_rows(s.labels, first, static_cast<hsize_t>(k), lp);
      else
        h5::write_rows(s.labels, first, static_cast<hsize_t>(k),
                       reinterpret_cast<const int64_t*>(lp));
      lp += static_cast<size_t>(k) * lelem;
    }
    p += static_cast<size_t>(k * cols) * elem;
    s.rows_done += k;
    split_rows_done_ += k;
    n -= k;
    if (s.rows_done == s.attrs.rows) close_shard();
  }
}

void DatasetWriter::end_split() {
  if (!in_split_) throw Error(kExitInternal, "DatasetWriter: end_split outside a split");
  if (split_rows_done_ != spec_.rows)
    throw Error(kExitInternal, "DatasetWriter: split '" + spec_.name + "' was declared with " +
                                   std::to_string(spec_.rows) + " rows but got " +
                                   std::to_string(split_rows_done_));
  // A split with 0 rows still gets its one (empty) shard.
  while (static_cast<int64_t>(manifest_.splits[spec_.name].shards.size()) < spec_.shards) {
    open_shard();
    close_shard();
  }
  in_split_ = false;
}

const Manifest& DatasetWriter::commit() {
  if (in_split_) throw Error(kExitInternal, "DatasetWriter: commit before end_split");
  if (manifest_.splits.empty()) throw Error(kExitInternal, "DatasetWriter: no splits written");
  throw_if_interrupted();  // the last chance to stop: past here the new dataset goes live
  const std::string manifest_path = dir_ + "/" + kManifestFile;
  // Replacing a dataset (--force): the old manifest.json stays in place, and the
  // old dataset readable, until the new manifest atomically replaces it. Only
  // then are old shards that the new manifest does not name deleted.
  std::set<std::string> old_files;
  if (::access(manifest_path.c_str(), F_OK) == 0) {
    try {
      for (const auto& [n, s] : Manifest::load(dir_).splits)
        for (const auto& sh : s.shards) old_files.insert(sh.file);
    } catch (const Error&) {
      // An unreadable old manifest: nothing known to clean up beyond it.
    }
  }
  try {
    for (auto& f : finished_) {
      f.commit();
      renamed_.push_back(f.final_path());
    }
    write_text_atomically(manifest_path, manifest_.to_json());
  } catch (...) {
    // The new manifest may already be in place (its rename succeeded and only
    // the directory fsync failed): then the new dataset is live, and removing
    // its shards would break it. Report the error, keep everything.
    std::ifstream now(manifest_path);
    std::stringstream text;
    text << now.rdbuf();
    if (text.str() == manifest_.to_json()) {
      committed_ = true;
      throw;
    }
    // Failed before the new manifest took effect: new shards that did not
    // replace a file of the old dataset go again. A new shard that did replace
    // an old one of the same name stays (removing it cannot bring the old bytes
    // back); the old manifest then fails that shard's checksum loudly.
    std::vector<std::string> keep;
    for (const auto& p : renamed_)
      if (old_files.count(std::filesystem::path(p).filename().string())) keep.push_back(p);
    std::erase_if(renamed_, [&](const std::string& p) {
      return std::find(keep.begin(), keep.end(), p) != keep.end();
    });
    cleanup_after_failure();
    throw;
  }
  committed_ = true;
  renamed_.clear();
  finished_.clear();
  for (const auto& [n, s] : manifest_.splits)
    for (const auto& sh : s.shards) old_files.erase(sh.file);
  for (const auto& f : old_files) ::unlink((dir_ + "/" + f).c_str());
  if (!old_files.empty()) {
    try {
      fsync_dir(dir_);
    } catch (const Error&) {
      // The dataset is committed; a lingering unreferenced old shard is harmless.
    }
  }
  lock_.release();  // the directory is complete: the next writer may come
  return manifest_;
}

}  // namespace aevb
