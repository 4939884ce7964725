// Options shared by the converters (--split, --shards, --rows-per-shard,
// --shuffle-seed, --memory-budget), the text line reader, and the loop that
// streams a RowSource into DatasetWriter.
#include <sys/resource.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <set>

#include "aevb/base/error.hpp"
#include "aevb/base/interrupt.hpp"
#include "aevb/base/version.hpp"
#include "aevb/base/rng.hpp"
#include "aevb/io/shard_format.hpp"
#include "convert_internal.hpp"

namespace aevb {

namespace {

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return std::string(s);
}

}  // namespace

std::vector<SplitRequest> parse_split(const std::string& spec) {
  const std::string bad = "--split '" + spec + "': ";
  std::vector<SplitRequest> out;
  std::set<std::string> names;
  size_t pos = 0;
  while (pos <= spec.size()) {
    size_t comma = spec.find(',', pos);
    if (comma == std::string::npos) comma = spec.size();
    const std::string item = trim(std::string_view(spec).substr(pos, comma - pos));
    pos = comma + 1;
    const size_t eq = item.find('=');
    if (eq == std::string::npos || eq == 0)
      throw usage_error(bad + "expected name=value entries like train=0.8,valid=0.1,test=0.1 or "
                              "train=50000,test=rest, got '" + item + "'");
    SplitRequest r;
    r.name = trim(std::string_view(item).substr(0, eq));
    const std::string v = trim(std::string_view(item).substr(eq + 1));
    for (char c : r.name)
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_'))
        throw usage_error(bad + "split name '" + r.name + "' may only hold letters, digits and _");
    if (!names.insert(r.name).second) throw usage_error(bad + "split '" + r.name + "' given twice");
    if (v == "rest") {
      r.kind = SplitRequest::kRest;
    } else if (v.find('.') != std::string::npos) {
      r.kind = SplitRequest::kFraction;
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), r.value);
      if (ec != std::errc() || p != v.data() + v.size() || !(r.value > 0 && r.value <= 1))
        throw usage_error(bad + "fraction '" + v + "' for '" + r.name + "' must lie in (0,1]");
    } else {
      r.kind = SplitRequest::kCount;
      int64_t n = -1;
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
      if (ec != std::errc() || p != v.data() + v.size() || n < 0)
        throw usage_error(bad + "'" + v + "' for '" + r.name +
                          "' is not a row count, a fraction (with a '.') or 'rest'");
      r.value = static_cast<double>(n);
    }
    out.push_back(r);
  }
  if (std::count_if(out.begin(), out.end(),
                    [](const SplitRequest& r) { return r.kind == SplitRequest::kRest; }) > 1)
    throw usage_error(bad + "only one split may be 'rest'");
  return out;
}

std::vector<int64_t> resolve_split(const std::vector<SplitRequest>& req, int64_t n,
                                   const std::string& what) {
  std::vector<int64_t> rows(req.size(), 0);
  int64_t used = 0;
  int rest = -1;
  bool all_fractions = true;
  double fraction_sum = 0;
  for (size_t i = 0; i < req.size(); ++i) {
    const SplitRequest& r = req[i];
    if (r.kind == SplitRequest::kRest) {
      rest = static_cast<int>(i);
      all_fractions = false;
      continue;
    }
    if (r.kind == SplitRequest::kCount) {
      all_fractions = false;
      rows[i] = static_cast<int64_t>(r.value);
    } else {
      fraction_sum += r.value;
      rows[i] = static_cast<int64_t>(std::floor(r.value * static_cast<double>(n)));
    }
    used += rows[i];
  }
  const std::string total = what + " has " + std::to_string(n) + " rows";
  if (rest >= 0) {
    if (used > n)
      throw usage_error("--split asks for " + std::to_string(used) + " rows before 'rest' but " +
                        total);
    rows[static_cast<size_t>(rest)] = n - used;
  } else if (all_fractions) {
    if (std::fabs(fraction_sum - 1.0) > 1e-9)
      throw usage_error("--split fractions sum to " + detail::fmt_num(fraction_sum) +
                        ", not 1 (or name one split 'rest')");
    rows.back() += n - used;  // the rounding remainder
  } else if (used != n) {
    throw usage_error("--split asks for " + std::to_string(used) + " rows but " + total +
                      " (name one split 'rest' to take the remainder)");
  }
  // A split without rows is a dataset nobody can train or evaluate on (an
  // empty test split once scored a "perfect" ELBO of 0).
  for (size_t i = 0; i < req.size(); ++i)
    if (rows[i] == 0)
      throw usage_error("--split: split '" + req[i].name + "' would have no rows (" + total +
                        "); leave it out of --split");
  return rows;
}

void check_common(const CommonOptions& o) {
  if (o.shards < 0) throw usage_error("--shards must be >= 1");
  if (o.rows_per_shard < 0) throw usage_error("--rows-per-shard must be >= 1");
  if (o.shards > 0 && o.rows_per_shard > 0)
    throw usage_error("give --shards or --rows-per-shard, not both");
  if (o.gzip_level < 0 || o.gzip_level > 9) throw usage_error("--gzip must be 0..9");
  if (o.memory_budget_mb < 1) throw usage_error("--memory-budget must be >= 1 (MiB)");
  if (o.out.empty()) throw usage_error("missing --out DIR");
  if (o.shuffle_seed < -1) throw usage_error("--shuffle-seed must be >= 0");
}

int64_t shard_count(const CommonOptions& o, int64_t rows) {
  if (rows <= 0) return 1;
  if (o.shards > 0) return std::min(o.shards, rows);
  if (o.rows_per_shard > 0) return (rows + o.rows_per_shard - 1) / o.rows_per_shard;
  return 1;
}

double peak_rss_mb() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

std::vector<double> parse_value_range(const std::string& s, const std::string& option) {
  return detail::parse_range(s, option);
}

namespace detail {

std::string basename_of(const std::string& p) {
  return std::filesystem::path(p).filename().string();
}

int64_t file_size(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    throw input_error(path + ": cannot open: " + std::strerror(errno));
  return static_cast<int64_t>(st.st_size);
}

std::string fmt_num(double v) {
  char buf[64];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, p);
}

std::string created_by(const std::string& what) {
  return std::string("aevb-data ") + version() + " " + what;
}

std::vector<double> parse_range(const std::string& s, const std::string& option) {
  const size_t comma = s.find(',');
  std::vector<double> r(2);
  bool ok = comma != std::string::npos;
  for (int i = 0; ok && i < 2; ++i) {
    const std::string t = trim(i == 0 ? std::string_view(s).substr(0, comma)
                                      : std::string_view(s).substr(comma + 1));
    auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), r[static_cast<size_t>(i)]);
    ok = ec == std::errc() && p == t.data() + t.size() && !t.empty() &&
         std::isfinite(r[static_cast<size_t>(i)]);
  }
  if (!ok || r[0] > r[1]) throw usage_error(option + " '" + s + "': expected LO,HI with LO <= HI");
  return r;
}

// ---- LineReader ----

LineReader::LineReader(const std::string& path) : path_(path), buf_(1 << 16) {
  errno = 0;
  f_ = gzopen(path.c_str(), "rb");
  if (!f_)
    throw input_error(path + ": cannot open: " +
                      std::strerror(errno ? errno : ENOMEM));
  gzbuffer(f_, 1 << 16);  // 64 KiB: plenty for line reading; larger buffers cost a fresh mmap per file
}

LineReader::~LineReader() {
  if (f_) gzclose(f_);
}

bool LineReader::next(std::string_view& line) {
  if (!next_raw(line)) return false;
  // A UTF-8 byte order mark (spreadsheet exports) is not part of the first line.
  if (line_no_ == 1 && line.starts_with("\xEF\xBB\xBF")) line.remove_prefix(3);
  return true;
}

bool LineReader::next_raw(std::string_view& line) {
  for (;;) {
    const char* b = buf_.data() + beg_;
    if (const void* nl = std::memchr(b, '\n', end_ - beg_)) {
      const auto len = static_cast<size_t>(static_cast<const char*>(nl) - b);
      line = std::string_view(b, len > 0 && b[len - 1] == '\r' ? len - 1 : len);
      beg_ += len + 1;
      // A counting pass over a large file writes nothing, so SIGTERM is polled here too.
      if ((++line_no_ & 0xffff) == 0) throw_if_interrupted();
      return true;
    }
    if (eof_) {
      if (beg_ == end_) return false;
      line = std::string_view(b, end_ - beg_);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      beg_ = end_;
      ++line_no_;
      return true;
    }
    if (beg_ > 0) {
      std::memmove(buf_.data(), buf_.data() + beg_, end_ - beg_);
      end_ -= beg_;
      beg_ = 0;
    }
    if (end_ == buf_.size()) {
      if (buf_.size() >= (size_t{1} << 28))
        throw input_error(path_ + ":" + std::to_string(line_no_ + 1) +
                          ": line longer than 256 MiB");
      buf_.resize(buf_.size() * 2);
    }
    const int got = gzread(f_, buf_.data() + end_, static_cast<unsigned>(buf_.size() - end_));
    int err = Z_OK;
    const char* msg = gzerror(f_, &err);
    if (got < 0 || (err != Z_OK && err != Z_STREAM_END))
      throw input_error(path_ + ": read error after line " + std::to_string(line_no_) + ": " +
                        (err == Z_BUF_ERROR ? "truncated gzip stream" : msg));
    if (got == 0) {
      eof_ = true;
    } else {
      if (hash_) sha_.update(buf_.data() + end_, static_cast<size_t>(got));
      end_ += static_cast<size_t>(got);
      bytes_ += got;
    }
  }
}

std::string LineReader::plain_sha256() {
  if (!hash_ || !gzdirect(f_)) return "";
  return sha_.hex_digest();
}

std::string source_sha256(LineReader& counted, const std::string& path) {
  std::string s = counted.plain_sha256();
  return s.empty() ? sha256_file_hex(path) : s;
}

// ---- RowSource -> DatasetWriter ----

void write_source(DatasetWriter& w, RowSource& src, const SplitSpec& base,
                  const std::vector<SplitRows>& splits, const CommonOptions& o, uint64_t stream,
                  const std::string& what) {
  const int64_t n = src.rows(), cols = src.cols();
  const size_t elem = base.dtype == h5::DType::uint8 ? 1 : 4;
  const bool labels = base.labels != h5::DType::other;
  const size_t row_bytes = static_cast<size_t>(cols) * elem;
  const int64_t chunk = std::max<int64_t>(1, static_cast<int64_t>((size_t{4} << 20) / row_bytes));

  std::vector<uint8_t> all;  // only with --shuffle-seed
  std::vector<int64_t> all_labels, perm;
  if (o.shuffle_seed >= 0) {
    const double need_mb =
        static_cast<double>(n) * static_cast<double>(row_bytes + (labels ? 8 : 0)) / 1048576.0;
    if (need_mb > static_cast<double>(o.memory_budget_mb))
      throw usage_error("--shuffle-seed holds all rows of " + what + " in memory (" +
                        std::to_string(static_cast<int64_t>(std::ceil(need_mb))) +
                        " MiB), more than --memory-budget " + std::to_string(o.memory_budget_mb) +
                        " MiB: raise --memory-budget or convert without shuffling (training "
                        "shuffles every epoch anyway)");
    all.resize(static_cast<size_t>(n) * row_bytes);
    if (labels) all_labels.resize(static_cast<size_t>(n));
    for (int64_t done = 0; done < n;) {
      const int64_t k = src.read(all.data() + static_cast<size_t>(done) * row_bytes,
                                 labels ? all_labels.data() + done : nullptr,
                                 std::min(chunk, n - done));
      if (k <= 0) throw input_error(what + ": ended before the rows counted first");
      done += k;
      throw_if_interrupted();
    }
    perm = permutation(static_cast<uint64_t>(o.shuffle_seed), Purpose::kDataShuffle, stream, n);
  }

  std::vector<uint8_t> buf(static_cast<size_t>(chunk) * row_bytes);
  std::vector<int64_t> lab(labels ? static_cast<size_t>(chunk) : 0);
  int64_t pos = 0;  // position in the output order
  for (const SplitRows& sr : splits) {
    SplitSpec spec = base;
    spec.name = sr.name;
    spec.rows = sr.rows;
    spec.shards = shard_count(o, sr.rows);
    w.begin_split(spec);
    for (int64_t left = sr.rows; left > 0;) {
      const int64_t want = std::min(chunk, left);
      int64_t k = want;
      if (perm.empty()) {
        k = src.read(buf.data(), labels ? lab.data() : nullptr, want);
        if (k <= 0) throw input_error(what + ": ended before the rows counted first");
      } else {
        for (int64_t i = 0; i < k; ++i) {
          const auto r = static_cast<size_t>(perm[static_cast<size_t>(pos + i)]);
          std::memcpy(buf.data() + static_cast<size_t>(i) * row_bytes, all.data() + r * row_bytes,
                      row_bytes);
          if (labels) lab[static_cast<size_t>(i)] = all_labels[r];
        }
      }
      w.add_rows(buf.data(), labels ? lab.data() : static_cast<const int64_t*>(nullptr), k);
      pos += k;
      left -= k;
    }
    w.end_split();
  }
  if (pos != n) throw Error(kExitInternal, "write_source: splits do not cover " + what);
}

std::vector<SplitRows> split_rows(const CommonOptions& o, int64_t rows, const std::string& what) {
  const auto req = parse_split(o.split);
  const auto counts = resolve_split(req, rows, what);
  std::vector<SplitRows> out;
  for (size_t i = 0; i < req.size(); ++i) out.push_back({req[i].name, counts[i]});
  return out;
}

}  // namespace detail
}  // namespace aevb
