#include "infer_inputs.hpp"

#include <algorithm>
#include <filesystem>
#include <iostream>

#include "aevb/base/error.hpp"
#include "aevb/io/binarization.hpp"
#include "aevb/io/durable_file.hpp"
#include "aevb/io/row_reader.hpp"

namespace aevb {

InferInputs load_infer_inputs(const InferConfig& cfg, const MpiComm& comm, int64_t default_points,
                              const std::vector<std::string>& outputs) {
  InferInputs in;
  collectively(comm, "aevb-infer", [&] {
    if (comm.rank() == 0 && !outputs.empty()) {
      make_output_dir(parent_dir(outputs[0]));  // e.g. RUN/pictures/ on first use; the lock file lives there
      const std::filesystem::path first(outputs[0]);
      in.lock = DirLock::acquire_file((std::filesystem::path(parent_dir(outputs[0])) / ("." + first.filename().string() + ".lock")).string(),
                                      outputs[0], "aevb-infer", "output", "wait for that command to end, or choose another --out");
      if (!in.lock.notice().empty()) std::cerr << "aevb-infer: warning: " << in.lock.notice() << std::endl;
    }
    if (comm.rank() == 0)
      for (const std::string& out : outputs) {
        if (out != outputs[0]) make_output_dir(parent_dir(out));
        require_writable_dir(parent_dir(out), "cannot write " + out);
        if (std::filesystem::exists(out) && !cfg.force)
          throw output_error("--out: " + out + " exists; use --force to replace it, or choose another --out");
      }
    in.model = load_model_or_checkpoint(cfg.model_path);
    const ModelSpec& spec = in.model.model->spec();
    const bool bernoulli = spec.decoder == DecoderKind::kBernoulli;
    in.unit_range = bernoulli || spec.gaussian_sigmoid_mean;
    std::vector<int64_t> shape = in.model.meta.row_shape;
    const bool reads_data = !cfg.data_dir.empty() && cfg.command != "sample";
    if (reads_data) {
      if (cfg.binarize == "dynamic" && !bernoulli)
        throw usage_error("--binarize dynamic: only meaningful for a model with a Bernoulli decoder");
      in.manifest = Manifest::load(cfg.data_dir);
      const SplitInfo& info = in.manifest.split(cfg.split);
      if (info.cols != spec.x_dim)
        throw input_error("model " + cfg.model_path + " has " + std::to_string(spec.x_dim) +
                          " values per data point but split '" + cfg.split + "' of " + cfg.data_dir + " has " +
                          std::to_string(info.cols));
      in.validate.require_unit_interval = bernoulli;
      const int64_t want = cfg.points > 0 ? cfg.points : (default_points > 0 ? default_points : info.rows);
      in.points = std::min(want, info.rows);
      if (in.points == 0) throw input_error(cfg.data_dir + ": split '" + cfg.split + "' has no rows");
      const std::string& trained = in.model.meta.binarization;
      in.binarized = binarization_applies(cfg.binarize, bernoulli, trained.empty() ? info.binarization : trained);
      if (shape.empty()) shape = info.row_shape;
    } else {
      in.points = cfg.points > 0 ? cfg.points : default_points;
    }
    tile_size(shape, spec.x_dim, in.tile_h, in.tile_w);
  });
  return in;
}

DataMatrix read_points(const InferInputs& in, const InferConfig& cfg, int64_t lo, int64_t hi, const std::string& split) {
  const std::string& s = split.empty() ? cfg.split : split;
  // Whole range at once: these commands read at most a few thousand rows per
  // rank (encode streams its own chunks, see encode.cpp).
  RowRange range(in.manifest, s, in.validate, lo, hi, 0, in.manifest.split(s).has_labels);
  DataMatrix d = range.chunk(lo, hi - lo);
  if (in.binarized) binarize_for_evaluation(d, cfg.binarize_seed);
  return d;
}

GridLayout layout_for(const InferInputs& in, int64_t cols, const float* values, int64_t n) {
  GridLayout l;
  l.tile_h = in.tile_h;
  l.tile_w = in.tile_w;
  l.cols = cols;
  if (!in.unit_range && n > 0) {
    const auto [mn, mx] = std::minmax_element(values, values + n);
    l.lo = *mn;
    l.hi = *mx > *mn ? *mx : *mn + 1;
  }
  return l;
}

nlohmann::json summary_head(const InferConfig& cfg, const InferInputs& in) {
  return {{"tool", "aevb-infer"}, {"status", "ok"}, {"command", cfg.command}, {"model", cfg.model_path},
          {"model_params_sha256", in.model.meta.params_sha256}, {"model_step", in.model.meta.step}};
}

}  // namespace aevb
