// manifest.json: parsing with field-by-field checks, and serialization.
#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

#include "aevb/io/dataset.hpp"
#include "aevb/base/error.hpp"
#include "aevb/io/shard_format.hpp"
#include "aevb/base/utf8.hpp"

namespace aevb {
namespace {

using json = nlohmann::json;

// Typed field access that names the file and the JSON path in its message.
struct Reader {
  std::string file;
  [[noreturn]] void fail(const std::string& where, const std::string& what) const {
    throw input_error(file + ": " + where + ": " + what);
  }
  const json& field(const json& obj, const std::string& key, const std::string& where) const {
    if (!obj.is_object()) fail(where, "expected an object");
    auto it = obj.find(key);
    if (it == obj.end()) fail(where.empty() ? key : where + "." + key, "missing");
    return *it;
  }
  std::string str(const json& o, const std::string& k, const std::string& w) const {
    const json& v = field(o, k, w);
    if (!v.is_string()) fail(w.empty() ? k : w + "." + k, "expected a string");
    return v.get<std::string>();
  }
  int64_t integer(const json& o, const std::string& k, const std::string& w) const {
    const json& v = field(o, k, w);
    if (!v.is_number_integer()) fail(w.empty() ? k : w + "." + k, "expected an integer");
    return v.get<int64_t>();
  }
  double number(const json& o, const std::string& k, const std::string& w) const {
    const json& v = field(o, k, w);
    if (!v.is_number()) fail(w.empty() ? k : w + "." + k, "expected a number");
    return v.get<double>();
  }
  bool boolean(const json& o, const std::string& k, const std::string& w) const {
    const json& v = field(o, k, w);
    if (!v.is_boolean()) fail(w.empty() ? k : w + "." + k, "expected true or false");
    return v.get<bool>();
  }
};

SplitInfo parse_split(const Reader& r, const std::string& name, const json& j) {
  const std::string w = "splits." + name;
  SplitInfo s;
  s.name = name;
  s.rows = r.integer(j, "rows", w);
  s.dtype = r.str(j, "dtype", w);
  if (s.dtype != "uint8" && s.dtype != "float32")
    r.fail(w + ".dtype", "'" + s.dtype + "' is not uint8 or float32");
  const json& shape = r.field(j, "row_shape", w);
  if (!shape.is_array() || shape.empty()) r.fail(w + ".row_shape", "expected a non-empty array");
  for (const auto& d : shape) {
    if (!d.is_number_integer() || d.get<int64_t>() <= 0)
      r.fail(w + ".row_shape", "expected positive integers");
    s.row_shape.push_back(d.get<int64_t>());
  }
  s.cols = product(s.row_shape);
  if (s.cols < 0) r.fail(w + ".row_shape", "its product overflows int64");
  s.scale = r.number(j, "scale", w);
  s.binarization = r.str(j, "binarization", w);
  if (!is_known_binarization(s.binarization))
    r.fail(w + ".binarization", "'" + s.binarization + "' is not one of none, dynamic, static");
  s.binarization_seed = r.integer(j, "binarization_seed", w);
  s.has_labels = r.boolean(j, "has_labels", w);
  const json& shards = r.field(j, "shards", w);
  if (!shards.is_array() || shards.empty()) r.fail(w + ".shards", "expected a non-empty array");
  int64_t next_offset = 0;
  for (size_t i = 0; i < shards.size(); ++i) {
    const std::string ws = w + ".shards[" + std::to_string(i) + "]";
    ShardInfo sh;
    sh.file = r.str(shards[i], "file", ws);
    sh.rows = r.integer(shards[i], "rows", ws);
    sh.row_offset = r.integer(shards[i], "row_offset", ws);
    sh.data_sha256 = r.str(shards[i], "data_sha256", ws);
    if (sh.file.empty() || sh.file.find('/') != std::string::npos)
      r.fail(ws + ".file", "expected a plain file name inside the dataset directory");
    if (sh.rows < 0) r.fail(ws + ".rows", "expected >= 0");
    if (sh.row_offset != next_offset)
      r.fail(ws + ".row_offset", std::to_string(sh.row_offset) + ", expected " +
                                     std::to_string(next_offset) + " (shards must tile the split)");
    next_offset += sh.rows;
    s.shards.push_back(std::move(sh));
  }
  if (next_offset != s.rows)
    r.fail(w + ".rows", std::to_string(s.rows) + ", but its shards hold " +
                            std::to_string(next_offset) + " rows");
  return s;
}

}  // namespace

Manifest Manifest::load(const std::string& dir) {
  const std::string path = dir + "/" + kManifestFile;
  std::ifstream in(path);
  if (!in) throw input_error(path + ": cannot open (is " + dir + " an aevb dataset directory?)");
  return parse(in, dir);
}

Manifest Manifest::parse(std::istream& in, const std::string& dir) {
  Manifest m;
  m.dir = dir;
  const std::string path = dir + "/" + kManifestFile;
  Reader r{path};
  json j;
  try {
    j = json::parse(in);
  } catch (const json::exception& e) {  // parse_error, and out_of_range for a number like 1e999
    throw input_error(path + ": invalid JSON: " + e.what());
  }
  const std::string format = r.str(j, "format", "");
  if (format != kManifestFormat)
    r.fail("format", "'" + format + "', expected '" + kManifestFormat + "'");
  const int64_t version = r.integer(j, "format_version", "");
  if (version != kManifestFormatVersion)
    r.fail("format_version", std::to_string(version) + " is not supported (this build reads " +
                                 std::to_string(kManifestFormatVersion) + ")");
  m.name = r.str(j, "name", "");
  const json& splits = r.field(j, "splits", "");
  if (!splits.is_object() || splits.empty()) r.fail("splits", "expected a non-empty object");
  for (const auto& [name, sj] : splits.items()) m.splits[name] = parse_split(r, name, sj);
  return m;
}

const SplitInfo& Manifest::split(const std::string& name) const {
  auto it = splits.find(name);
  if (it != splits.end()) return it->second;
  std::string avail;
  for (const auto& [n, s] : splits) {
    if (!avail.empty()) avail += ", ";
    avail += n;
  }
  throw input_error(dir + "/" + kManifestFile + ": no split '" + name + "' (available: " + avail +
                    ")");
}

std::string Manifest::to_json() const {
  json j;
  j["format"] = kManifestFormat;
  j["format_version"] = kManifestFormatVersion;
  j["name"] = name;
  j["splits"] = json::object();
  for (const auto& [n, s] : splits) {
    json sj;
    sj["rows"] = s.rows;
    sj["row_shape"] = s.row_shape;
    sj["dtype"] = s.dtype;
    sj["scale"] = s.scale;
    sj["binarization"] = s.binarization;
    sj["binarization_seed"] = s.binarization_seed;
    sj["has_labels"] = s.has_labels;
    sj["shards"] = json::array();
    for (const auto& sh : s.shards)
      sj["shards"].push_back({{"file", sh.file},
                              {"rows", sh.rows},
                              {"row_offset", sh.row_offset},
                              {"data_sha256", sh.data_sha256}});
    j["splits"][n] = std::move(sj);
  }
  return json_text(j, 2) + "\n";
}

}  // namespace aevb
