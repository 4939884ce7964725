// The text and picture files of a run directory (run_data.hpp): config.ini,
// metrics.jsonl, pictures/*.png (aevb-infer) and samples/epoch-NNNNNN.png
// (aevb-train --samples-every).
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "aevb/base/error.hpp"
#include "html.hpp"
#include "run_data.hpp"

namespace aevb::report {

namespace fs = std::filesystem;

namespace {

// The whole file, or false (with a message) when it cannot be read.
bool slurp(const fs::path& path, std::string& out, std::string& why) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    why = "cannot open it";
    return false;
  }
  std::ostringstream ss;
  ss << f.rdbuf();
  if (f.bad()) {
    why = "read error";
    return false;
  }
  out = ss.str();
  return true;
}

std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r") - b + 1);
}

// A picture read and checked: PNG signature and a header with its size.
bool read_picture(const fs::path& path, Picture& p, RunData& r) {
  std::string why;
  p.path = path.string();
  p.name = path.filename().string();
  if (!slurp(path, p.bytes, why)) {
    r.warnings.push_back(p.path + ": " + why + "; not shown");
    return false;
  }
  if (!png_size(p.bytes, p.width, p.height)) {
    r.warnings.push_back(p.path + ": not a PNG file (no PNG signature and header); not shown");
    return false;
  }
  return true;
}

// The *.png files of a folder, sorted by name.
std::vector<fs::path> pngs_in(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_regular_file(ec) && e.path().extension() == ".png") out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

// The epoch of "epoch-NNNNNN.png", or -1 for another name.
int64_t grid_epoch(const std::string& name) {
  const std::string prefix = "epoch-", suffix = ".png";
  if (name.size() <= prefix.size() + suffix.size() || name.rfind(prefix, 0) != 0) return -1;
  const std::string digits = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
  if (digits.size() > 12 || !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return -1;
  return std::stoll(digits);
}

// m of n indices, evenly spaced, the first and the last always among them.
std::vector<size_t> evenly(size_t n, int64_t m) {
  std::vector<size_t> out;
  if (m < 0 || static_cast<size_t>(m) >= n) {
    for (size_t i = 0; i < n; ++i) out.push_back(i);
  } else if (m == 1) {
    out.push_back(n - 1);  // the last: where training ended
  } else {
    for (int64_t i = 0; i < m; ++i) {
      const size_t k = static_cast<size_t>((static_cast<double>(i) * static_cast<double>(n - 1)) / (m - 1) + 0.5);
      if (out.empty() || out.back() != k) out.push_back(k);
    }
  }
  return out;
}

}  // namespace

void load_config(RunData& r) {
  const fs::path path = fs::path(r.dir) / "config.ini";
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    r.warnings.push_back(path.string() + ": missing (aevb-train writes it at the start of a run)");
    return;
  }
  std::string why;
  if (!slurp(path, r.config_text, why)) {
    r.warnings.push_back(path.string() + ": " + why);
    return;
  }
  // The trainer's effective configuration: `name = value` lines and # comments.
  std::istringstream in(r.config_text);
  for (std::string line; std::getline(in, line);) {
    const std::string t = trim(line);
    if (t.empty() || t[0] == '#') continue;
    const size_t eq = t.find('=');
    if (eq == std::string::npos) continue;
    r.config.emplace_back(trim(t.substr(0, eq)), trim(t.substr(eq + 1)));
  }
}

void load_metrics(RunData& r) {
  const fs::path path = fs::path(r.dir) / "metrics.jsonl";
  std::string text, why;
  if (!slurp(path, text, why)) throw input_error(path.string() + ": " + why);
  std::istringstream in(text);
  std::vector<std::pair<int, std::string>> lines;
  int number = 0;
  for (std::string line; std::getline(in, line);) {
    ++number;
    if (!trim(line).empty()) lines.emplace_back(number, line);
  }
  for (size_t i = 0; i < lines.size(); ++i) {
    nlohmann::json j = nlohmann::json::parse(lines[i].second, nullptr, false);
    if (j.is_object() && j.contains("step") && j["step"].is_number()) {
      r.metrics.push_back(std::move(j));
      continue;
    }
    // A run killed mid-write leaves a torn last line (aevb-train drops it on
    // resume); anything else means the file is not what aevb-train writes.
    const std::string where = path.string() + ":" + std::to_string(lines[i].first);
    if (i + 1 == lines.size()) {
      r.warnings.push_back(where + ": the last line is not a complete metrics object (a run killed while "
                                   "writing it?); left out");
      continue;
    }
    throw input_error(where + ": not a metrics line of aevb-train (expected a JSON object with a numeric \"step\")");
  }
  if (r.metrics.empty()) r.warnings.push_back(path.string() + ": no metrics lines yet; the learning curves are empty");
}

void load_pictures(RunData& r, int64_t max_sample_grids) {
  for (const fs::path& p : pngs_in(fs::path(r.dir) / "pictures")) {
    Picture pic;
    if (read_picture(p, pic, r)) r.pictures.push_back(std::move(pic));
  }
  std::vector<std::pair<int64_t, fs::path>> grids;
  for (const fs::path& p : pngs_in(fs::path(r.dir) / "samples")) {
    const int64_t epoch = grid_epoch(p.filename().string());
    if (epoch >= 0) grids.emplace_back(epoch, p);
  }
  std::sort(grids.begin(), grids.end());
  r.sample_grids_total = static_cast<int64_t>(grids.size());
  for (const size_t i : evenly(grids.size(), max_sample_grids)) {
    Picture pic;
    pic.epoch = grids[i].first;
    if (read_picture(grids[i].second, pic, r)) r.sample_grids.push_back(std::move(pic));
  }
}

}  // namespace aevb::report
