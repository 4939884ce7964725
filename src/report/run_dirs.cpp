// Which directories are runs, where the report goes, and one run loaded whole
// (run_data.hpp).
#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "aevb/base/error.hpp"
#include "run_data.hpp"

namespace aevb::report {

namespace fs = std::filesystem;

namespace {

bool is_run_dir(const fs::path& dir) {
  std::error_code ec;
  return fs::is_regular_file(dir / "metrics.jsonl", ec);
}

// The run subdirectories of a sweep directory, sorted by name.
std::vector<fs::path> run_subdirs(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_directory(ec) && is_run_dir(e.path())) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

// "runs/a/" -> "runs/a": a trailing slash would give an empty file name.
fs::path tidy(const std::string& arg) {
  fs::path p = fs::path(arg).lexically_normal();
  if (!p.has_filename() && p.has_parent_path() && p != p.root_path()) p = p.parent_path();
  return p;
}

std::string dir_name(const fs::path& dir) {
  std::error_code ec;
  const fs::path c = fs::weakly_canonical(dir, ec);
  const fs::path& p = ec ? dir : c;
  return p.filename().empty() ? p.string() : p.filename().string();
}

}  // namespace

std::string RunData::config_value(const std::string& key, const std::string& fallback) const {
  for (const auto& [k, v] : config)
    if (k == key) return v;
  return fallback;
}

std::vector<std::string> find_run_dirs(const std::vector<std::string>& args) {
  if (args.empty()) throw usage_error("missing RUN_DIR (see 'aevb-report --help')");
  std::vector<std::string> runs;
  std::set<std::string> seen;  // a run named twice (directly and through its sweep) is shown once
  const auto add = [&](const fs::path& p) {
    std::error_code ec;
    const fs::path c = fs::weakly_canonical(p, ec);
    if (seen.insert((ec ? p : c).string()).second) runs.push_back(p.string());
  };
  for (const std::string& arg : args) {
    const fs::path p = tidy(arg);
    std::error_code ec;
    if (!fs::exists(p, ec)) throw usage_error(arg + ": no such directory (expected an aevb-train run directory)");
    if (!fs::is_directory(p, ec))
      throw usage_error(arg + ": not a directory (expected an aevb-train run directory holding metrics.jsonl)");
    if (is_run_dir(p)) {
      add(p);
      continue;
    }
    const auto subs = run_subdirs(p);
    if (subs.empty())
      throw usage_error(arg + ": not an aevb-train run directory (no metrics.jsonl in it) nor a sweep directory "
                              "(none of its subdirectories holds a metrics.jsonl)");
    for (const auto& s : subs) add(s);
  }
  return runs;
}

std::string default_out_dir(const std::vector<std::string>& args, const std::vector<std::string>& runs) {
  if (runs.size() == 1) return (fs::path(runs[0]) / "report").string();
  if (args.size() == 1) return (tidy(args[0]) / "report").string();  // one sweep directory
  fs::path parent = fs::path(runs[0]).parent_path();
  if (parent.empty()) parent = ".";
  return (parent / "report").string();
}

RunData load_run(const std::string& dir, int64_t max_sample_grids) {
  RunData r;
  r.dir = dir;
  r.name = dir_name(dir);
  load_config(r);
  load_metrics(r);
  load_model_info(r);
  load_checkpoint_info(r);
  load_dataset_info(r);
  load_latents(r);
  load_evals(r);
  load_pictures(r, max_sample_grids);
  // samples seen = step x batch: config.ini's batch, else the checkpoint's.
  const std::string b = r.config_value("batch");
  try {
    size_t used = 0;
    r.batch = b.empty() ? 0 : std::stoll(b, &used);
    if (used != b.size()) r.batch = 0;
  } catch (const std::exception&) {
    r.batch = 0;
  }
  if (r.batch <= 0 && r.checkpoint.batch > 0) r.batch = r.checkpoint.batch;
  if (r.batch <= 0)
    throw input_error(dir + ": cannot tell the minibatch size (no 'batch = N' in config.ini and no checkpoint): "
                            "the learning curves need samples seen = step x batch");
  return r;
}

void label_runs(std::vector<RunData>& runs) {
  std::map<std::string, int> count;
  for (const auto& r : runs) ++count[r.name];
  for (auto& r : runs) {
    std::string name = r.name;
    if (count[name] > 1) {
      fs::path up = tidy(r.dir).parent_path();
      const std::string parent = dir_name(up.empty() ? fs::path(".") : up);
      name = parent + "/" + name;
    }
    const std::string latent = r.config_value("latent");
    r.label = latent.empty() ? name : name + " (J=" + latent + ")";
  }
}

}  // namespace aevb::report
