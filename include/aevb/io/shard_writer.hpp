// Writing a sharded dataset (docs/data-format.md) from a stream of rows.
//
// All-or-nothing: shards are written under temp names and only renamed to their
// final names at commit(), manifest.json last. If anything fails (or commit()
// is never reached), the destructor removes every temp file, and the output
// directory too if this writer created it and it is empty again.
//
// Replacing a dataset (force): nothing of the old dataset is touched before
// commit(), so a run that fails earlier (bad input, full disk) leaves it fully
// readable. commit() renames the new shards into place, replaces manifest.json
// atomically last, then deletes old shards the new manifest does not name. Only
// a crash inside commit() itself can leave the old manifest next to some new
// shards of the same names; readers then fail those shards' checksums loudly.
//
// One writer per directory: the writer holds the directory's lock (dir_lock.hpp)
// from construction to the end of commit() (or its destruction), so a second conversion into the same
// directory fails at once instead of leaving its shards as orphans. Holding the
// lock proves that no live writer owns a "*.h5.tmp.<pid>" or
// "manifest.json.tmp.<pid>" file there, so such leftovers of a killed writer are
// removed at construction. Between row chunks the writer checks for SIGINT /
// SIGTERM (base/interrupt.hpp) and throws Interrupted, which removes its temp files.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "aevb/io/dataset.hpp"
#include "aevb/io/dir_lock.hpp"
#include "aevb/io/h5.hpp"
#include "aevb/io/shard_format.hpp"

namespace aevb {

struct SplitSpec {
  std::string name;                  // "train", "valid", "test"
  h5::DType dtype = h5::DType::uint8;  // uint8 or float32
  std::vector<int64_t> row_shape;
  int64_t rows = 0;  // total rows, known up front so shards can be sized while streaming
  double scale = 1.0;
  std::vector<double> value_range;  // [min, max] of the stored values
  std::string value_meaning;
  std::string binarization = "none";
  int64_t binarization_seed = -1;
  std::vector<std::string> source_files, source_sha256;
  h5::DType labels = h5::DType::other;  // uint8, int64, or other = no labels
  int64_t shards = 1;
  int gzip_level = 0;
};

class DatasetWriter {
 public:
  // Creates out_dir if needed and locks it. output_error if out_dir cannot be
  // created or written, another writer holds it, or it already holds a
  // manifest.json and !force. Warnings (stale temp files removed, a lock taken
  // over, a file system without locks) go to stderr, prefixed with the first
  // word of created_by, and stay in notices().
  DatasetWriter(std::string out_dir, std::string name, std::string created_by, bool force);
  ~DatasetWriter();
  DatasetWriter(const DatasetWriter&) = delete;
  DatasetWriter& operator=(const DatasetWriter&) = delete;

  void begin_split(const SplitSpec& spec);  // usage_error on an inconsistent spec
  // n rows of row-major data of the split's dtype; labels as declared (or null).
  void add_rows(const void* data, const uint8_t* labels, int64_t n);
  void add_rows(const void* data, const int64_t* labels, int64_t n);
  void end_split();  // checks that exactly spec.rows rows arrived
  // Renames every shard to its final name, then writes manifest.json, then
  // deletes shards of a replaced dataset that the new manifest does not name.
  const Manifest& commit();
  const std::vector<std::string>& notices() const { return notices_; }

 private:
  struct Shard;
  void add_rows_impl(const void* data, const void* labels, h5::DType label_type, int64_t n);
  void open_shard();
  void close_shard();
  void cleanup_after_failure() noexcept;
  void note(const std::string& msg);
  void remove_stale_temps();

  std::string dir_, name_, created_by_;
  bool force_ = false, created_dir_ = false, committed_ = false;
  DirLock lock_;
  std::vector<std::string> notices_;
  Manifest manifest_;
  std::vector<h5::AtomicFile> finished_;  // closed shards, still under temp names
  std::vector<std::string> renamed_;      // final paths renamed so far in commit()
  // State of the split being written.
  bool in_split_ = false;
  SplitSpec spec_;
  int64_t split_rows_done_ = 0;
  std::unique_ptr<Shard> shard_;
};

}  // namespace aevb
