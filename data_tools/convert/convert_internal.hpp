// Pieces shared by the converters in data_tools/convert (not a public header).
#pragma once
#include <zlib.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aevb/io/checksum.hpp"
#include "aevb/convert/convert.hpp"
#include "aevb/io/shard_writer.hpp"

namespace aevb::detail {

std::string basename_of(const std::string& path);
int64_t file_size(const std::string& path);  // input_error naming the file

// Line-by-line reader of a text file, gzipped or plain (zlib detects which).
// Holds one buffer (1 MiB, grown only for longer lines), whatever the file size.
class LineReader {
 public:
  explicit LineReader(const std::string& path);  // input_error "PATH: cannot open: ..."
  ~LineReader();
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;
  // The next line without its "\n" (and "\r"), and the first without a UTF-8
  // byte order mark; false at the end of the file.
  bool next(std::string_view& line);
  int64_t line_number() const { return line_no_; }  // 1-based, of the last line returned
  int64_t bytes() const { return bytes_; }          // decompressed bytes read so far
  // With hash_plain: SHA-256 of the file when it is not gzipped (the bytes read
  // are then the file itself), "" for a gzipped file.
  void hash_plain_file() { hash_ = true; }
  std::string plain_sha256();

 private:
  bool next_raw(std::string_view& line);
  std::string path_;
  gzFile f_ = nullptr;
  std::vector<char> buf_;
  size_t beg_ = 0, end_ = 0;
  bool eof_ = false, hash_ = false;
  int64_t line_no_ = 0, bytes_ = 0;
  Sha256 sha_;
};

// SHA-256 of a text input: from the counting pass when the file is plain,
// otherwise of the (compressed) file read once more.
std::string source_sha256(LineReader& counted, const std::string& path);

struct SplitRows {
  std::string name;
  int64_t rows = 0;
};
// The rows of each split of --split for a source of `rows` rows (usage_error
// or input_error naming `what`).
std::vector<SplitRows> split_rows(const CommonOptions& o, int64_t rows, const std::string& what);

// Writes the rows of `src` into consecutive splits (in the order given, which
// must cover src.rows()). Without --shuffle-seed rows stream through a 4 MiB
// buffer; with it they are all read into memory first (refused above
// --memory-budget) and written in the order permutation(seed, kDataShuffle,
// stream, rows). `base` carries everything but name, rows and shards.
void write_source(DatasetWriter& w, RowSource& src, const SplitSpec& base,
                  const std::vector<SplitRows>& splits, const CommonOptions& o, uint64_t stream,
                  const std::string& what);

std::string created_by(const std::string& what);  // "aevb-data 0.1.0 convert csv"
// Parses "LO,HI" (usage_error naming the option).
std::vector<double> parse_range(const std::string& s, const std::string& option);
std::string fmt_num(double v);  // shortest round-trip text

}  // namespace aevb::detail
