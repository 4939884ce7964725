#include "aevb/io/checkpoint.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "aevb/io/checksum.hpp"
#include "aevb/base/error.hpp"
#include "aevb/io/h5.hpp"
#include "aevb/io/model_file.hpp"

namespace aevb {

namespace fs = std::filesystem;
constexpr int64_t kCheckpointVersion = 1;

namespace {
std::string state_checksum(const float* params, int64_t n, const std::vector<const float*>& state) {
  Sha256 h;
  h.update(params, static_cast<size_t>(n) * sizeof(float));
  for (const float* s : state) h.update(s, static_cast<size_t>(n) * sizeof(float));
  return h.hex_digest();
}
}  // namespace

std::string checkpoint_dir(const std::string& run_dir) { return run_dir + "/checkpoints"; }

std::string checkpoint_path(const std::string& run_dir, int64_t step) {
  char name[64];
  std::snprintf(name, sizeof name, "/ckpt-%010lld.h5", static_cast<long long>(step));
  return checkpoint_dir(run_dir) + name;
}

void write_checkpoint(const std::string& path, const Vae& m, Optimizer& opt, const TrainProgress& p,
                      const RunIdentity& id) {
  const int64_t n = m.num_params();
  h5::AtomicFile f(path);
  const hid_t root = f.id();
  write_model_core(root, "aevb-checkpoint", kCheckpointVersion, m);
  h5::write_attr_int(root, "step", p.step);
  h5::write_attr_int(root, "epoch", p.epoch);
  h5::write_attr_int(root, "step_in_epoch", p.step_in_epoch);
  h5::write_attr_double(root, "epoch_elbo_sum", p.epoch_partial.elbo);
  h5::write_attr_double(root, "epoch_rec_sum", p.epoch_partial.rec);
  h5::write_attr_double(root, "epoch_kl_sum", p.epoch_partial.kl);
  h5::write_attr_int(root, "epoch_points", p.epoch_partial.points);
  h5::write_attr_double(root, "train_seconds", p.train_seconds);
  h5::write_attr_double(root, "best_valid_bound", p.best_valid);
  h5::write_attr_int(root, "best_valid_epoch", p.best_valid_epoch);
  h5::write_attr_string(root, "rng", "philox4x32-10");
  h5::write_attr_int(root, "rng_seed", static_cast<int64_t>(id.seed));
  h5::write_attr_string(root, "optimizer", id.optimizer);
  h5::write_attr_int(root, "optimizer_steps", opt.steps());
  h5::write_attr_string(root, "dataset", id.dataset);
  h5::write_attr_string(root, "train_split", id.train_split);
  h5::write_attr_string(root, "binarization", id.binarization);
  h5::write_attr_string(root, "data_fingerprint", id.data_fingerprint);
  h5::write_attr_int(root, "train_rows", id.train_rows);
  h5::write_attr_int(root, "x_dim", id.x_dim);
  h5::write_attr_int(root, "batch", id.batch);
  h5::write_attr_int(root, "ranks", id.ranks);
  h5::write_attr_string(root, "shuffle", id.shuffle);
  h5::write_attr_string(root, "config_ini", id.config_ini);
  h5::Id g = h5::create_group(root, "optimizer");
  std::vector<const float*> state;
  for (auto& [name, buf] : opt.state()) {
    h5::write_dataset(g, name, buf->data(), {static_cast<hsize_t>(n)});
    state.push_back(buf->data());
  }
  g.reset();
  h5::write_attr_string(root, "checksum_sha256", state_checksum(m.params.data(), n, state));
  f.commit();
}

Checkpoint read_checkpoint(const std::string& path) {
  Checkpoint c;
  c.path = path;
  h5::Id f = h5::open_file_read(path);
  if (!h5::has_attr(f, "format") || h5::read_attr_string(f, "format") != "aevb-checkpoint")
    throw input_error(path + ": not an aevb checkpoint (format attribute is not 'aevb-checkpoint')");
  const int64_t v = h5::read_attr_int(f, "format_version");
  if (v != kCheckpointVersion)
    throw input_error(path + ": checkpoint format_version " + std::to_string(v) + " is not supported (expected " +
                      std::to_string(kCheckpointVersion) + ")");
  c.spec = read_model_spec(f, path);
  auto& p = c.progress;
  p.step = h5::read_attr_int(f, "step");
  p.epoch = h5::read_attr_int(f, "epoch");
  p.step_in_epoch = h5::read_attr_int(f, "step_in_epoch");
  p.epoch_partial = {h5::read_attr_double(f, "epoch_elbo_sum"), h5::read_attr_double(f, "epoch_rec_sum"),
                     h5::read_attr_double(f, "epoch_kl_sum"), h5::read_attr_int(f, "epoch_points")};
  p.train_seconds = h5::read_attr_double(f, "train_seconds");
  // Checkpoints of earlier releases have no best-model attributes: none yet.
  if (h5::has_attr(f, "best_valid_epoch")) {
    p.best_valid = h5::read_attr_double(f, "best_valid_bound");
    p.best_valid_epoch = h5::read_attr_int(f, "best_valid_epoch");
  }
  auto& id = c.id;
  id.seed = static_cast<uint64_t>(h5::read_attr_int(f, "rng_seed"));
  id.optimizer = h5::read_attr_string(f, "optimizer");
  id.dataset = h5::read_attr_string(f, "dataset");
  id.train_split = h5::read_attr_string(f, "train_split");
  id.binarization = h5::read_attr_string(f, "binarization");
  id.data_fingerprint = h5::read_attr_string(f, "data_fingerprint");
  id.train_rows = h5::read_attr_int(f, "train_rows");
  id.x_dim = h5::read_attr_int(f, "x_dim");
  id.batch = h5::read_attr_int(f, "batch");
  id.ranks = h5::read_attr_int(f, "ranks");
  // Checkpoints written before --shuffle existed used the global order.
  id.shuffle = h5::has_attr(f, "shuffle") ? h5::read_attr_string(f, "shuffle") : "global";
  id.config_ini = h5::read_attr_string(f, "config_ini");
  c.optimizer_steps = h5::read_attr_int(f, "optimizer_steps");
  const int64_t n_params = param_count(c.spec);  // read_model_spec checked it against /params
  check_param_count(f, "params", n_params, path);
  c.params = h5::read_dataset<float>(f, "params").data;
  h5::Id g = h5::open_group(f, "optimizer");
  if (static_cast<int64_t>(c.params.size()) != n_params)
    throw input_error(path + ": /params has " + std::to_string(c.params.size()) + " values but the architecture needs " +
                      std::to_string(n_params));
  std::vector<const float*> state;
  OptimizerConfig oc;
  oc.kind = parse_optimizer(id.optimizer);
  Optimizer probe(oc, 0);
  for (auto& [name, buf] : probe.state()) {
    (void)buf;
    check_param_count(g, name, n_params, path);
    auto arr = h5::read_dataset<float>(g, name);
    if (arr.data.size() != c.params.size())
      throw input_error(path + ": /optimizer/" + name + " has " + std::to_string(arr.data.size()) + " values, expected " +
                        std::to_string(c.params.size()));
    c.opt_state.emplace_back(name, std::move(arr.data));
  }
  for (auto& s : c.opt_state) state.push_back(s.second.data());
  if (state_checksum(c.params.data(), static_cast<int64_t>(c.params.size()), state) !=
      h5::read_attr_string(f, "checksum_sha256"))
    throw input_error(path + ": checksum mismatch (the checkpoint is corrupted or truncated)");
  return c;
}

void check_resumable(const Checkpoint& c, const ModelSpec& spec, const RunIdentity& id) {
  std::string diff;
  auto differs = [&](const std::string& what, const std::string& ckpt, const std::string& now) {
    if (ckpt != now) diff += "; " + what + ": checkpoint has " + ckpt + ", this run has " + now;
  };
  differs("hidden", c.spec.hidden_string(), spec.hidden_string());
  differs("latent", std::to_string(c.spec.latent), std::to_string(spec.latent));
  differs("activation", to_string(c.spec.activation), to_string(spec.activation));
  differs("decoder", to_string(c.spec.decoder), to_string(spec.decoder));
  differs("gaussian-mean", c.spec.gaussian_sigmoid_mean ? "sigmoid" : "identity",
          spec.gaussian_sigmoid_mean ? "sigmoid" : "identity");
  differs("x_dim", std::to_string(c.id.x_dim), std::to_string(id.x_dim));
  differs("dataset", c.id.dataset, id.dataset);
  differs("train-split", c.id.train_split, id.train_split);
  differs("training rows", std::to_string(c.id.train_rows), std::to_string(id.train_rows));
  differs("data fingerprint", c.id.data_fingerprint.substr(0, 16), id.data_fingerprint.substr(0, 16));
  differs("batch", std::to_string(c.id.batch), std::to_string(id.batch));
  differs("optimizer", c.id.optimizer, id.optimizer);
  differs("seed", std::to_string(c.id.seed), std::to_string(id.seed));
  differs("shuffle (the data order)", c.id.shuffle, id.shuffle);
  if (!diff.empty())
    throw input_error(c.path + ": cannot resume, the checkpoint does not match this configuration" + diff);
}

int64_t read_step_from_name(const std::string& path) {
  const std::string n = fs::path(path).filename().string();  // ckpt-<10 digits>.h5
  return std::stoll(n.substr(5, 10));
}

std::vector<std::string> list_checkpoints(const std::string& run_dir) {
  std::vector<std::string> out;
  std::error_code ec;
  const std::string dir = checkpoint_dir(run_dir);
  if (!fs::is_directory(dir, ec)) return out;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string n = e.path().filename().string();
    // Final names only: ckpt-<10 digits>.h5 (temp files end in .tmp.<pid>).
    if (n.size() == 18 && n.rfind("ckpt-", 0) == 0 && n.substr(15) == ".h5") out.push_back(e.path().string());
  }
  std::sort(out.rbegin(), out.rend());  // zero-padded steps: lexical order is step order
  return out;
}

void prune_checkpoints(const std::string& run_dir, int64_t keep) {
  const auto all = list_checkpoints(run_dir);
  std::error_code ec;
  for (size_t i = static_cast<size_t>(keep); i < all.size(); ++i) fs::remove(all[i], ec);
  for (const auto& e : fs::directory_iterator(checkpoint_dir(run_dir), ec)) {
    const std::string n = e.path().filename().string();
    if (n.rfind("ckpt-", 0) == 0 && n.find(".h5.tmp.") != std::string::npos) fs::remove(e.path(), ec);
  }
}

}  // namespace aevb
