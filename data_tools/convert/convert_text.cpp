// Text converters: fixed-binarization MNIST .amat and numeric CSV. Both read
// each file twice, streaming: a first pass counts rows (DatasetWriter sizes
// shards from the total), a second parses and writes them.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <unistd.h>

#include "aevb/base/error.hpp"
#include "convert_internal.hpp"

namespace aevb {
namespace {

using detail::LineReader;

constexpr int64_t kAmatCols = 784;

std::string quote_token(std::string_view t) {
  if (t.size() > 32) return "'" + std::string(t.substr(0, 32)) + "...'";
  return "'" + std::string(t) + "'";
}

bool is_blank(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c == ' ' || c == '\t'; });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// ---- .amat ----

void parse_amat_line(std::string_view line, uint8_t* out, const std::string& path, int64_t line_no) {
  int64_t found = 0;
  size_t i = 0;
  const size_t n = line.size();
  for (;;) {
    while (i < n && (line[i] == ' ' || line[i] == '\t')) ++i;
    if (i == n) break;
    const size_t j = i;
    while (i < n && line[i] != ' ' && line[i] != '\t') ++i;
    if (found < kAmatCols) {
      if (i - j == 1 && (line[j] == '0' || line[j] == '1')) {
        out[found] = static_cast<uint8_t>(line[j] - '0');
      } else {
        throw input_error(path + ":" + std::to_string(line_no) + ": column " +
                          std::to_string(found) + ": " + quote_token(line.substr(j, i - j)) +
                          " is not 0 or 1");
      }
    }
    ++found;
  }
  if (found != kAmatCols)
    throw input_error(path + ":" + std::to_string(line_no) + ": expected " +
                      std::to_string(kAmatCols) + " values, found " + std::to_string(found));
}

class AmatSource final : public RowSource {
 public:
  AmatSource(const std::string& path, int64_t rows) : path_(path), lr_(path), rows_(rows) {}
  int64_t rows() const override { return rows_; }
  int64_t cols() const override { return kAmatCols; }
  int64_t read(void* data, int64_t*, int64_t n) override {
    auto* out = static_cast<uint8_t*>(data);
    std::string_view line;
    for (int64_t i = 0; i < n; ++i) {
      if (!lr_.next(line)) throw input_error(path_ + ": has fewer lines than when first counted");
      parse_amat_line(line, out + i * kAmatCols, path_, lr_.line_number());
    }
    return n;
  }
  int64_t bytes() const { return lr_.bytes(); }

 private:
  std::string path_;
  LineReader lr_;
  int64_t rows_;
};

// ---- CSV ----

void split_fields(std::string_view line, char delim, std::vector<std::string_view>& out) {
  out.clear();
  size_t pos = 0;
  for (;;) {
    const void* d = std::memchr(line.data() + pos, delim, line.size() - pos);
    if (!d) {
      out.push_back(line.substr(pos));
      return;
    }
    const size_t e = static_cast<size_t>(static_cast<const char*>(d) - line.data());
    out.push_back(line.substr(pos, e - pos));
    pos = e + 1;
  }
}

std::string unquote(std::string_view s) {
  s = trim(s);
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
  return std::string(s);
}

bool all_digits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

struct CsvLayout {
  int64_t fields = 0;               // values per line
  std::vector<std::string> names;   // header names (empty without --header)
  std::vector<int64_t> columns;     // stored columns, in --columns order
  int64_t label = -1;               // label column or -1
  std::vector<int64_t> role;        // per field: output position, -2 = label, -1 = skipped
  std::string col_name(int64_t c) const {
    std::string s = "column " + std::to_string(c);
    if (!names.empty()) s += " ('" + names[static_cast<size_t>(c)] + "')";
    return s;
  }
};

int64_t resolve_column(const std::string& tok, const CsvLayout& L, const std::string& path,
                       const std::string& option) {
  if (all_digits(tok)) {
    const int64_t c = std::stoll(tok);
    if (c >= L.fields)
      throw input_error(path + ": " + option + " names column " + tok + " but the file has " +
                        std::to_string(L.fields) + " columns (numbered from 0)");
    return c;
  }
  if (L.names.empty())
    throw usage_error(option + " '" + tok + "' is a column name; names need --header");
  auto it = std::find(L.names.begin(), L.names.end(), tok);
  if (it == L.names.end())
    throw input_error(path + ": " + option + " names column '" + tok +
                      "' but the header has no such column");
  return it - L.names.begin();
}

class CsvSource final : public RowSource {
 public:
  CsvSource(const CsvOptions& o, const CsvLayout& L, int64_t rows)
      : o_(o), L_(L), lr_(o.input), rows_(rows) {
    std::string_view line;
    if (o.header)  // the first non-blank line, as in the counting pass
      while (lr_.next(line) && is_blank(line)) {
      }
  }
  int64_t rows() const override { return rows_; }
  int64_t cols() const override { return static_cast<int64_t>(L_.columns.size()); }
  int64_t bytes() const { return lr_.bytes(); }

  int64_t read(void* data, int64_t* labels, int64_t n) override {
    auto* out = static_cast<float*>(data);
    const int64_t cols = this->cols();
    std::string_view line;
    for (int64_t i = 0; i < n; ++i) {
      do {
        if (!lr_.next(line))
          throw input_error(o_.input + ": has fewer lines than when first counted");
      } while (is_blank(line));
      split_fields(line, o_.delimiter, f_);
      const std::string where = o_.input + ":" + std::to_string(lr_.line_number()) + ": ";
      if (static_cast<int64_t>(f_.size()) != L_.fields)
        throw input_error(where + "expected " + std::to_string(L_.fields) + " values, found " +
                          std::to_string(f_.size()));
      float* row = out + i * cols;
      for (size_t c = 0; c < f_.size(); ++c) {
        const int64_t role = L_.role[c];
        if (role == -1) continue;
        std::string_view t = trim(f_[c]);
        if (role == -2) {
          int64_t v = 0;
          auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
          if (ec != std::errc() || p != t.data() + t.size() || t.empty())
            throw input_error(where + "label " + L_.col_name(static_cast<int64_t>(c)) + ": " +
                              quote_token(t) + " is not an integer");
          labels[i] = v;
          continue;
        }
        if (!t.empty() && t.front() == '+') t.remove_prefix(1);
        float v = 0;
        auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
        if (ec != std::errc() || p != t.data() + t.size() || t.empty())
          throw input_error(where + L_.col_name(static_cast<int64_t>(c)) + ": " +
                            quote_token(trim(f_[c])) + " is not a number");
        if (!std::isfinite(v))
          throw input_error(where + L_.col_name(static_cast<int64_t>(c)) + ": " +
                            quote_token(trim(f_[c])) + " is not a finite float32 number");
        if (!o_.value_range.empty() && (v < o_.value_range[0] || v > o_.value_range[1]))
          throw input_error(where + L_.col_name(static_cast<int64_t>(c)) + ": " +
                            detail::fmt_num(v) + " is outside --value-range [" +
                            detail::fmt_num(o_.value_range[0]) + "," +
                            detail::fmt_num(o_.value_range[1]) + "]");
        row[role] = v;
      }
    }
    return n;
  }

 private:
  const CsvOptions& o_;
  const CsvLayout& L_;
  LineReader lr_;
  int64_t rows_;
  std::vector<std::string_view> f_;
};

std::string stem_of(const std::string& path) {
  std::string b = detail::basename_of(path);
  for (const char* ext : {".gz", ".csv", ".amat", ".npy", ".mat"})
    if (b.size() > std::strlen(ext) && b.ends_with(ext)) b.resize(b.size() - std::strlen(ext));
  return b;
}

}  // namespace

// ---- public ----

AmatOptions find_amat_files(const std::string& dir, AmatOptions o) {
  auto find = [&](const std::string& split) -> std::string {
    const std::string stem = "binarized_mnist_" + split + ".amat";
    for (const std::string& name : {stem, stem + ".gz"}) {
      const std::string p = dir + "/" + name;
      if (::access(p.c_str(), R_OK) == 0) return p;
    }
    return "";
  };
  o.train = find("train");
  o.valid = find("valid");
  o.test = find("test");
  if (o.train.empty() && o.valid.empty() && o.test.empty())
    throw input_error(dir + ": no binarized_mnist_{train,valid,test}.amat(.gz) in the --amat-dir directory");
  return o;
}

ConvertStats convert_amat(const AmatOptions& o) {
  check_common(o.common);
  struct In {
    std::string split, path;
    int64_t rows = 0;
    std::string sha;
  };
  std::vector<In> ins;
  for (const auto& [split, path] :
       {std::pair<std::string, std::string>{"train", o.train}, {"valid", o.valid}, {"test", o.test}})
    if (!path.empty()) ins.push_back({split, path, 0, ""});
  if (ins.empty()) throw usage_error("convert amat: give --amat-dir D or at least one of --train/--valid/--test");
  // Counting pass over every file before the output is touched.
  for (In& in : ins) {
    LineReader lr(in.path);
    lr.hash_plain_file();
    std::string_view line;
    while (lr.next(line)) ++in.rows;
    in.sha = detail::source_sha256(lr, in.path);
  }
  SplitSpec base;
  base.dtype = h5::DType::uint8;
  base.row_shape = {28, 28};
  base.scale = 1.0;
  base.value_range = {0, 1};
  base.value_meaning = "binary pixel, 1=ink (fixed binarization of Larochelle & Murray 2011)";
  base.binarization = "static";
  base.binarization_seed = -1;
  base.gzip_level = o.common.gzip_level;

  DatasetWriter w(o.common.out, o.common.name.empty() ? "binarized_mnist" : o.common.name,
                  detail::created_by("convert amat"), o.common.force);
  ConvertStats st;
  uint64_t stream = 0;
  for (const In& in : ins) {
    SplitSpec spec = base;
    spec.source_files = {detail::basename_of(in.path)};
    spec.source_sha256 = {in.sha};
    AmatSource src(in.path, in.rows);
    detail::write_source(w, src, spec, {{in.split, in.rows}}, o.common, stream++, in.path);
    st.input_bytes += src.bytes();
  }
  st.manifest = w.commit();
  return st;
}

namespace {

// Header names select columns and name them in messages and attributes: two
// columns of one name would make both ambiguous.
void check_unique_names(const std::vector<std::string>& names, const std::string& path,
                        int64_t line_no) {
  std::map<std::string_view, size_t> seen;
  for (size_t c = 0; c < names.size(); ++c) {
    const auto [it, fresh] = seen.emplace(names[c], c);
    if (!fresh)
      throw input_error(path + ":" + std::to_string(line_no) + ": columns " +
                        std::to_string(it->second) + " and " + std::to_string(c) + " are both named " +
                        quote_token(names[c]) + " (header names must be unique)");
  }
}

// Pass 1 over the CSV: header names, the number of fields, the data rows and
// the file's checksum.
int64_t scan_csv(const CsvOptions& o, CsvLayout& L, std::string& sha) {
  int64_t rows = 0;
  LineReader lr(o.input);
  lr.hash_plain_file();
  std::string_view line;
  std::vector<std::string_view> f;
  bool first = true;
  while (lr.next(line)) {
    if (is_blank(line)) continue;
    if (first) {
      split_fields(line, o.delimiter, f);
      L.fields = static_cast<int64_t>(f.size());
      first = false;
      if (o.header) {
        for (auto s : f) L.names.push_back(unquote(s));
        check_unique_names(L.names, o.input, lr.line_number());
        continue;
      }
    }
    ++rows;
  }
  sha = detail::source_sha256(lr, o.input);
  return rows;
}

// The label column, the value columns (--columns, or all but the label) and
// each field's role.
void choose_columns(const CsvOptions& o, CsvLayout& L) {
  if (!o.label_column.empty()) L.label = resolve_column(o.label_column, L, o.input, "--label-column");
  if (o.columns.empty()) {
    for (int64_t c = 0; c < L.fields; ++c)
      if (c != L.label) L.columns.push_back(c);
  } else {
    size_t pos = 0;
    while (pos <= o.columns.size()) {
      size_t comma = o.columns.find(',', pos);
      if (comma == std::string::npos) comma = o.columns.size();
      const std::string tok(trim(std::string_view(o.columns).substr(pos, comma - pos)));
      pos = comma + 1;
      if (tok.empty()) throw usage_error("--columns '" + o.columns + "' has an empty entry");
      const int64_t c = resolve_column(tok, L, o.input, "--columns");
      if (c == L.label) throw usage_error("--columns includes the --label-column " + tok);
      if (std::find(L.columns.begin(), L.columns.end(), c) != L.columns.end())
        throw usage_error("--columns names column " + tok + " twice");
      L.columns.push_back(c);
    }
  }
  if (L.columns.empty()) throw usage_error(o.input + ": no value columns left to store");
  L.role.assign(static_cast<size_t>(L.fields), -1);
  for (size_t k = 0; k < L.columns.size(); ++k) L.role[static_cast<size_t>(L.columns[k])] = static_cast<int64_t>(k);
  if (L.label >= 0) L.role[static_cast<size_t>(L.label)] = -2;
}

// What the shards of a CSV conversion say about themselves.
SplitSpec csv_split_spec(const CsvOptions& o, const CsvLayout& L, const std::string& sha) {
  SplitSpec base;
  base.dtype = h5::DType::float32;
  base.row_shape = {static_cast<int64_t>(L.columns.size())};
  base.scale = o.scale;
  const double big = std::numeric_limits<float>::max();
  base.value_range = o.value_range.empty() ? std::vector<double>{-big, big} : o.value_range;
  std::string cols;
  for (size_t k = 0; k < L.columns.size(); ++k) {
    if (L.columns.size() > 12 && k == 6) {
      cols += ", ... (" + std::to_string(L.columns.size()) + " columns)";
      break;
    }
    cols += (k ? ", " : "") + (L.names.empty() ? std::to_string(L.columns[k])
                                               : L.names[static_cast<size_t>(L.columns[k])]);
  }
  base.value_meaning = "CSV column values: " + cols;
  base.binarization = "none";
  base.labels = L.label >= 0 ? h5::DType::int64 : h5::DType::other;
  base.source_files = {detail::basename_of(o.input)};
  base.source_sha256 = {sha};
  base.gzip_level = o.common.gzip_level;
  return base;
}

}  // namespace

int64_t scan_amat(const std::string& path) {
  int64_t rows = 0;
  {
    LineReader lr(path);
    std::string_view line;
    while (lr.next(line)) ++rows;
  }
  AmatSource src(path, rows);
  std::vector<uint8_t> row(kAmatCols);
  for (int64_t r = 0; r < rows; ++r) src.read(row.data(), nullptr, 1);
  return rows;
}

int64_t scan_csv(const CsvOptions& o) {
  CsvLayout L;
  std::string sha;
  const int64_t rows = scan_csv(o, L, sha);
  if (rows == 0) throw input_error(o.input + ": no data rows");
  choose_columns(o, L);
  CsvSource src(o, L, rows);
  std::vector<float> row(L.columns.size());
  int64_t label = 0;
  for (int64_t r = 0; r < rows; ++r) src.read(row.data(), &label, 1);
  return rows;
}

ConvertStats convert_csv(const CsvOptions& o) {
  check_common(o.common);
  if (o.input.empty()) throw usage_error("convert csv: missing --input FILE");
  if (!o.value_range.empty() && o.value_range.size() != 2)
    throw usage_error("--value-range needs LO,HI");
  parse_split(o.common.split);  // a bad --split is reported before the file is read

  CsvLayout L;
  std::string sha;
  const int64_t rows = scan_csv(o, L, sha);
  if (rows == 0) throw input_error(o.input + ": no data rows");
  choose_columns(o, L);
  const std::vector<detail::SplitRows> splits = detail::split_rows(o.common, rows, o.input);

  DatasetWriter w(o.common.out, o.common.name.empty() ? stem_of(o.input) : o.common.name,
                  detail::created_by("convert csv"), o.common.force);
  CsvSource src(o, L, rows);
  detail::write_source(w, src, csv_split_spec(o, L, sha), splits, o.common, 0, o.input);
  ConvertStats st;
  st.input_bytes = src.bytes();
  st.manifest = w.commit();
  return st;
}

}  // namespace aevb
