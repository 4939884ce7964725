#include "aevb/train/train_resume.hpp"

#include <sys/stat.h>

#include <bit>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "aevb/base/error.hpp"
#include "aevb/io/durable_file.hpp"

namespace aevb {
namespace {

constexpr const char* kTool = "aevb-train";

// Options whose change on resume breaks "the same bits as never stopping"
// without making the checkpoint unusable: listed as a warning. (Architecture,
// data, batch, optimizer and seed are refused by check_resumable.)
void warn_about_changed_options(const std::string& before_ini, const std::string& now_ini, const std::string& path) {
  auto parse = [](const std::string& ini) {
    std::map<std::string, std::string> kv;
    std::istringstream in(ini);
    for (std::string line; std::getline(in, line);) {
      const auto eq = line.find(" = ");
      if (line.empty() || line[0] == '#' || eq == std::string::npos) continue;
      kv[line.substr(0, eq)] = line.substr(eq + 3);
    }
    return kv;
  };
  static const std::set<std::string> kFree = {"out",       "metrics",    "model-out",       "progress-every", "resume",
                                               "threads",   "overlap",    "reduction",    "check-every",     "epochs",         "max-steps",
                                               "keep-checkpoints", "checkpoint-every-steps", "checkpoint-every-seconds"};
  const auto a = parse(before_ini), b = parse(now_ini);
  std::string changed;
  for (const auto& [k, v] : b)
    if (!kFree.count(k) && a.count(k) && a.at(k) != v) changed += " " + k + " (" + a.at(k) + " -> " + v + ")";
  if (!changed.empty())
    std::cerr << kTool << ": warning: resuming " << path << " with changed options:" << changed
              << "; the run will differ from one that never stopped" << std::endl;
}

// A new folder checkpoints/abandoned-<time>[-<n>]/: mkdir either creates it or
// fails, so two set-asides within one second never share (and overwrite) one.
std::string new_set_aside_dir(const std::string& run_dir) {
  const std::string base = checkpoint_dir(run_dir) + "/abandoned-" + std::to_string(std::time(nullptr));
  for (int n = 0;; ++n) {
    const std::string dir = n == 0 ? base : base + "-" + std::to_string(n);
    if (::mkdir(dir.c_str(), 0777) == 0) return dir;
    if (errno != EEXIST) throw output_error("cannot create " + dir + ": " + std::strerror(errno));
  }
}

// Moves the checkpoints newer than `step` (all of them for step < 0) into a
// new checkpoints/abandoned-<time>/.
void set_aside_checkpoints_after(const std::string& run_dir, int64_t step) {
  std::vector<std::string> newer;
  for (const auto& p : list_checkpoints(run_dir))
    if (step < 0 || read_step_from_name(p) > step) newer.push_back(p);
  if (newer.empty()) return;
  const std::string dest = new_set_aside_dir(run_dir);
  for (const auto& p : newer) rename_durably(p, dest + "/" + std::filesystem::path(p).filename().string());
  std::cerr << kTool << ": " << newer.size() << " newer checkpoint(s) moved to " << dest << std::endl;
}

// Rank 0: the checkpoint to resume from, if any.
bool find_checkpoint(const TrainConfig& cfg, const RunIdentity& id, const ModelSpec& spec, Checkpoint& c) {
  if (cfg.resume == "none") return false;
  const bool automatic = cfg.resume == "auto";
  const std::vector<std::string> candidates =
      automatic ? list_checkpoints(cfg.out_dir) : std::vector<std::string>{cfg.resume};
  for (const auto& path : candidates) {
    try {
      c = read_checkpoint(path);
    } catch (const std::exception& e) {  // also bad_alloc from corrupted sizes
      if (!automatic) throw;
      std::cerr << kTool << ": warning: " << e.what() << "; trying the previous checkpoint" << std::endl;
      continue;
    }
    check_resumable(c, spec, id);
    warn_about_changed_options(c.id.config_ini, id.config_ini, c.path);
    return true;
  }
  if (!candidates.empty())
    throw input_error(checkpoint_dir(cfg.out_dir) + ": none of the " + std::to_string(candidates.size()) +
                      " checkpoints is readable; move them away or pass --resume none to start over");
  return false;
}

// Rank 0's checkpoint to every rank: parameters, optimizer state, progress.
TrainProgress share_checkpoint(const Checkpoint& c, Vae& m, Optimizer& opt, const MpiComm& comm) {
  if (comm.rank() == 0) {
    std::copy(c.params.begin(), c.params.end(), m.params.begin());
    auto state = opt.state();
    for (size_t i = 0; i < state.size(); ++i)
      std::copy(c.opt_state[i].second.begin(), c.opt_state[i].second.end(), state[i].second->begin());
  }
  comm.bcast(m.params.data(), m.num_params());
  for (auto& [name, buf] : opt.state()) comm.bcast(buf->data(), m.num_params());
  const TrainProgress& p = c.progress;
  // Doubles hold every value exactly (steps < 2^53).
  double exact[9] = {double(p.step),         double(p.epoch),        double(p.step_in_epoch),
                     double(c.optimizer_steps), p.epoch_partial.elbo, p.epoch_partial.rec,
                     p.epoch_partial.kl,     double(p.epoch_partial.points), p.train_seconds};
  comm.bcast(exact, 9);
  TrainProgress out;
  out.step = static_cast<int64_t>(exact[0]);
  out.epoch = static_cast<int64_t>(exact[1]);
  out.step_in_epoch = static_cast<int64_t>(exact[2]);
  opt.set_steps(static_cast<int64_t>(exact[3]));
  // The partial epoch's global sums continue on rank 0 (they are reduced at the epoch end).
  if (comm.rank() == 0) out.epoch_partial = {exact[4], exact[5], exact[6], static_cast<int64_t>(exact[7])};
  out.train_seconds = exact[8];
  return out;
}

}  // namespace

TrainProgress resume_training(const TrainConfig& cfg, const RunIdentity& id, Vae& m, Optimizer& opt,
                              const MpiComm& comm) {
  Checkpoint c;
  bool found = false;
  collectively(comm, kTool, [&] {
    if (comm.rank() == 0) found = find_checkpoint(cfg, id, m.spec(), c);
  });
  // Going back starts a new line of work in this run directory: the newer
  // checkpoints move aside, so pruning cannot delete the new ones and
  // --resume auto cannot jump back to the old line.
  if (comm.rank() == 0) set_aside_checkpoints_after(cfg.out_dir, found ? c.progress.step : -1);
  float flag = found ? 1.f : 0.f;
  comm.bcast(&flag, 1);
  if (flag == 0.f) return {};
  const TrainProgress out = share_checkpoint(c, m, opt, comm);
  if (comm.rank() == 0)
    std::cerr << kTool << ": resuming from " << c.path << " (step " << out.step << ", epoch " << out.epoch + 1 << ")"
              << std::endl;
  return out;
}

int64_t params_hash(const Vae& m) {
  uint64_t h = 1469598103934665603ull;
  for (int64_t i = 0; i < m.num_params(); ++i) h = (h ^ std::bit_cast<uint32_t>(m.params[i])) * 1099511628211ull;
  return static_cast<int64_t>(h >> 1);
}

}  // namespace aevb
