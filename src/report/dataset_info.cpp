// The dataset a run trained on (run_data.hpp): config.ini's `data = DIR` is
// relative to the directory aevb-train ran in, which the run directory does
// not record; it is recovered from `out = ...` (the run directory as the
// trainer was given it), then the current directory and the run directory are
// tried. When its manifest.json is found, the report lists the shards'
// SHA-256 and recomputes the training rows' fingerprint exactly as aevb-train
// does (src/train/train_inputs.cpp), to compare with the checkpoint's.
#include <algorithm>
#include <filesystem>

#include "aevb/base/error.hpp"
#include "aevb/io/checksum.hpp"
#include "aevb/io/dataset.hpp"
#include "run_data.hpp"

namespace aevb::report {

namespace fs = std::filesystem;

namespace {

// The directory aevb-train ran in: the run directory's absolute path with the
// `out` it was given removed from its end ("" when they do not line up).
fs::path training_cwd(const RunData& r) {
  const fs::path out = fs::path(r.config_value("out")).lexically_normal();
  if (out.empty() || out.is_absolute()) return {};
  std::error_code ec;
  fs::path run = fs::weakly_canonical(r.dir, ec);
  if (ec) return {};
  std::vector<fs::path> parts(out.begin(), out.end());
  while (!parts.empty() && parts.back().empty()) parts.pop_back();  // "runs/a/" ends in ""
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
    if (*it == ".") continue;
    if (run.filename() != *it) return {};
    run = run.parent_path();
  }
  return run;
}

int64_t to_int(const std::string& s, int64_t fallback) {
  try {
    size_t used = 0;
    const int64_t v = std::stoll(s, &used);
    return used == s.size() ? v : fallback;
  } catch (const std::exception&) {
    return fallback;
  }
}

}  // namespace

void load_dataset_info(RunData& r) {
  DatasetInfo& d = r.dataset;
  d.configured = r.config_value("data");
  if (d.configured.empty()) return;
  const fs::path data(d.configured);
  std::vector<fs::path> candidates;
  if (data.is_absolute()) {
    candidates.push_back(data);
  } else {
    const fs::path cwd = training_cwd(r);
    if (!cwd.empty()) candidates.push_back(cwd / data);
    candidates.push_back(data);
    candidates.push_back(fs::path(r.dir) / data);
  }
  for (const fs::path& c : candidates) {
    const std::string s = c.lexically_normal().string();
    if (std::find(d.tried.begin(), d.tried.end(), s) != d.tried.end()) continue;
    d.tried.push_back(s);
    std::error_code ec;
    if (fs::is_regular_file(c / "manifest.json", ec)) {
      d.dir = s;
      break;
    }
  }
  if (d.dir.empty()) return;
  Manifest m;
  try {
    m = Manifest::load(d.dir);
  } catch (const Error& e) {
    r.warnings.push_back(std::string("dataset: ") + e.what());
    d.dir.clear();
    return;
  }
  for (const auto& [name, split] : m.splits) {
    std::string joined;
    for (const auto& sh : split.shards) {
      d.shards.push_back({name, sh.file, sh.data_sha256, sh.rows});
      joined += sh.data_sha256 + ":";
    }
    d.split_sha256.emplace_back(name, sha256_hex(joined.data(), joined.size()));
  }
  // The training rows' fingerprint: "N:sha:sha..." over the train split's shards.
  const std::string train_split = r.config_value("train-split", "train");
  const auto it = m.splits.find(train_split);
  if (it == m.splits.end()) {
    d.fingerprint_check = "the dataset has no split '" + train_split + "' (config.ini train-split)";
    return;
  }
  const int64_t max_rows = to_int(r.config_value("max-train-rows", "-1"), -1);
  const int64_t n = max_rows >= 0 ? std::min(max_rows, it->second.rows) : it->second.rows;
  std::string f = std::to_string(n);
  for (const auto& sh : it->second.shards) f += ":" + sh.data_sha256;
  d.fingerprint = sha256_hex(f.data(), f.size());
  if (!r.has_checkpoint || r.checkpoint.data_fingerprint.empty())
    d.fingerprint_check = "no checkpoint to compare with";
  else if (r.checkpoint.data_fingerprint == d.fingerprint)
    d.fingerprint_check = "matches the checkpoint's data_fingerprint: the run trained on these rows";
  else
    d.fingerprint_check = "DIFFERS from the checkpoint's data_fingerprint " +
                          r.checkpoint.data_fingerprint.substr(0, 16) +
                          "...: the dataset found here is not the one the run trained on";
}

}  // namespace aevb::report
