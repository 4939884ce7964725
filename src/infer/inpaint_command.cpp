// aevb-infer inpaint: missing pixels imputed by approximate marginal inference
// (core/conditional.hpp), scored on the true pixels against two baselines.
//
// Each rank takes a contiguous part of the points (base/partition.hpp) and
// works through it in groups of --group points. Per point it computes:
//  - the model's log p(x_miss | x_obs) by importance sampling (K = --is-samples;
//    core/conditional.hpp: the proposal for p(x_obs) mixes q over 64 of the
//    sampler's completions);
//  - for each imputation (MwG, pseudo-Gibbs, the training mean image, the
//    nearest training image on the observed pixels) its per-pixel
//    probabilities' log-likelihood of the true missing pixels ("plug-in":
//    probabilities clamped to [1e-3, 1 - 1e-3]; Bernoulli data) or their
//    squared error (Gaussian data), and the pixel error rate (binary data:
//    probability > 1/2 against the truth);
// rank 0 gathers the per-point values and writes PREFIX.h5 and PREFIX.png.
#include <algorithm>
#include <cmath>
#include <functional>
#include <iostream>

#include "aevb/base/clock.hpp"
#include "aevb/base/error.hpp"
#include "aevb/base/partition.hpp"
#include "aevb/base/rng.hpp"
#include "aevb/base/version.hpp"
#include "aevb/core/conditional.hpp"
#include "aevb/core/dnnl_context.hpp"
#include "aevb/core/nearest.hpp"
#include "aevb/infer/infer.hpp"
#include "aevb/io/array_file.hpp"
#include "aevb/io/row_reader.hpp"
#include "infer_inputs.hpp"
#include "infer_scores.hpp"

namespace aevb {

namespace {

// 1 = observed, per pixel of one point (tile h x w, row-major).
std::vector<uint8_t> mask_of(const InferConfig& cfg, const InferInputs& in, int64_t index,
                             const std::vector<uint8_t>& file_mask) {
  const int64_t h = in.tile_h, w = in.tile_w, D = h * w;
  std::vector<uint8_t> m(D, 1);
  if (cfg.mask == "random") {
    std::vector<float> u(D);
    uniforms({cfg.seed, Purpose::kMask, 0, uint64_t(index), 0}, u.data(), D);
    for (int64_t d = 0; d < D; ++d) m[d] = u[d] < cfg.missing_fraction ? 0 : 1;
    return m;
  }
  if (!file_mask.empty()) return file_mask;
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) {
      const bool miss = (cfg.mask == "bottom" && y >= h / 2) || (cfg.mask == "top" && y < h / 2) ||
                        (cfg.mask == "left" && x < w / 2) || (cfg.mask == "right" && x >= w / 2);
      m[y * w + x] = miss ? 0 : 1;
    }
  return m;
}

std::vector<uint8_t> read_mask_file(const InferConfig& cfg, const InferInputs& in) {
  if (cfg.mask.rfind("file:", 0) != 0) return {};
  const std::string path = cfg.mask.substr(5);
  const GreyImage img = read_png(path);
  if (img.width != in.tile_w || img.height != in.tile_h)
    throw input_error("--mask " + path + ": expected a " + std::to_string(in.tile_w) + "x" + std::to_string(in.tile_h) +
                      " picture (width x height of one data point), found " + std::to_string(img.width) + "x" +
                      std::to_string(img.height));
  std::vector<uint8_t> m(img.pixels.size());
  int64_t missing = 0;
  for (size_t i = 0; i < m.size(); ++i) missing += (m[i] = img.pixels[i] >= 128 ? 1 : 0) == 0;
  if (missing == 0) throw input_error("--mask " + path + ": no pixel is black (missing): nothing to inpaint");
  return m;
}

}  // namespace

nlohmann::json run_inpaint(const InferConfig& cfg, const MpiComm& comm) {
  const double t0 = now_s();
  InferInputs in = load_infer_inputs(cfg, comm, 100, {cfg.out + ".png", cfg.out + ".h5"});
  Vae& m = *in.model.model;
  const ModelSpec& spec = m.spec();
  const int64_t N = in.points, D = spec.x_dim, G = cfg.group;
  const bool bern = spec.decoder == DecoderKind::kBernoulli;
  const bool run_mwg = cfg.sampler != "pseudo-gibbs", run_pg = cfg.sampler != "mwg";
  set_compute_threads(cfg.threads);
  std::vector<uint8_t> file_mask;
  int64_t base_rows = 0;
  collectively(comm, "aevb-infer", [&] {
    file_mask = read_mask_file(cfg, in);
    const SplitInfo& b = in.manifest.split(cfg.baseline_split);
    base_rows = cfg.baseline_rows > 0 ? std::min(cfg.baseline_rows, b.rows) : b.rows;
    if (base_rows == 0) throw input_error(cfg.data_dir + ": baseline split '" + cfg.baseline_split + "' has no rows");
  });
  const Range mine = part_of(0, N, comm.rank(), comm.size());
  const int64_t n = mine.size();
  DataMatrix x;
  std::vector<uint8_t> obs(n * D);
  collectively(comm, "aevb-infer", [&] {
    if (n > 0) x = read_points(in, cfg, mine.lo, mine.hi);
    for (int64_t i = 0; i < n; ++i) {
      const std::vector<uint8_t> mk = mask_of(cfg, in, mine.lo + i, file_mask);
      std::copy(mk.begin(), mk.end(), obs.begin() + i * D);
    }
  });
  // Baselines: one pass over the training rows (as stored, in [0, 1] grey for
  // binary data: their mean is the mean image, a probability per pixel).
  std::vector<double> mean_image(D, 0.0);
  MaskedNearest nearest(x.x.data(), obs.data(), n, D);
  const std::vector<float>& nn_rows = nearest.best_rows();
  collectively(comm, "aevb-infer", [&] {
    RowRange train(in.manifest, cfg.baseline_split, ValidateOptions{}, 0, base_rows, 0);
    train.for_each(1024, [&](DataMatrix& b) {
      for (int64_t r = 0; r < b.rows; ++r)
        for (int64_t d = 0; d < D; ++d) mean_image[d] += b.row(r)[d];
      if (n > 0) nearest.offer(b.x.data(), b.rows, b.global_index[0]);
    });
    for (double& v : mean_image) v /= double(base_rows);
  });
  // The samplers and the model's conditional log-likelihood, group by group.
  std::vector<float> imp_mwg(run_mwg ? n * D : 0), imp_pg(run_pg ? n * D : 0), draws;
  std::vector<double> accept(n, 0.0), lpx(n), lpobs(n), lpx_se(n), lpobs_se(n);
  collectively(comm, "aevb-infer", [&] {
    double next_progress = 10;
    for (int64_t g0 = 0; g0 < n; g0 += G) {
      const int64_t g = std::min(G, n - g0);
      const float* xg = x.row(g0);
      const uint8_t* og = obs.data() + g0 * D;
      const int64_t* idx = x.global_index.data() + g0;
      InpaintOptions o;
      o.iterations = cfg.iterations;
      o.burn_in = cfg.burn_in;
      o.seed = cfg.seed;
      if (run_pg) {
        o.metropolis = false;
        InpaintResult r = inpaint(m, xg, og, g, idx, o);
        std::copy(r.imputed.begin(), r.imputed.end(), imp_pg.begin() + g0 * D);
        draws = std::move(r.draws);
      }
      if (run_mwg) {  // after pseudo-Gibbs: its draws (the exact sampler's) make the proposal
        o.metropolis = true;
        InpaintResult r = inpaint(m, xg, og, g, idx, o);
        std::copy(r.imputed.begin(), r.imputed.end(), imp_mwg.begin() + g0 * D);
        std::copy(r.accept.begin(), r.accept.end(), accept.begin() + g0);
        draws = std::move(r.draws);
      }
      // log p(x) with q(z|x); log p(x_obs) with the mixture of q(z | completion) over the sampler's draws.
      const int64_t M = int64_t(draws.size()) / (g * D);
      masked_log_marginal(m, xg, 1, xg, nullptr, g, idx, cfg.is_samples, cfg.seed, 0, &lpx[g0], &lpx_se[g0]);
      masked_log_marginal(m, draws.data(), M, xg, og, g, idx, cfg.is_samples, cfg.seed, 1, &lpobs[g0], &lpobs_se[g0]);
      if (comm.rank() == 0 && now_s() - t0 > next_progress) {
        next_progress += 10;
        std::cerr << "aevb-infer inpaint: rank 0 " << g0 + g << "/" << n << " points" << std::endl;
      }
    }
  });
  // Per-point scores, gathered in global order (contiguous parts, rank order).
  std::vector<std::string> reals = {"log_p_miss", "log_p_miss_se", "log_p_x", "log_p_obs"};
  if (run_mwg) reals.push_back("mwg_accept");
  for (const char* name : {"mwg", "pseudo_gibbs", "mean_image", "nearest_neighbour"}) {
    if ((name == std::string("mwg") && !run_mwg) || (name == std::string("pseudo_gibbs") && !run_pg)) continue;
    reals.push_back((bern ? "plugin_ll_" : "squared_error_") + std::string(name));
    if (bern) reals.push_back("pixel_error_" + std::string(name));
  }
  ScoreTable t(reals, {"index", "nearest_index", "missing_pixels"});
  const std::vector<float> mimg(mean_image.begin(), mean_image.end());
  for (int64_t i = 0; i < n; ++i) {
    const float* xi = x.row(i);
    const uint8_t* oi = obs.data() + i * D;
    t.add("log_p_miss", lpx[i] - lpobs[i]);
    t.add("log_p_miss_se", std::sqrt(lpx_se[i] * lpx_se[i] + lpobs_se[i] * lpobs_se[i]));
    t.add("log_p_x", lpx[i]);
    t.add("log_p_obs", lpobs[i]);
    if (run_mwg) t.add("mwg_accept", accept[i]);
    auto score = [&](const std::string& name, const float* p) {
      const PixelScore s = score_pixels(xi, p, oi, D, bern);
      t.add((bern ? "plugin_ll_" : "squared_error_") + name, bern ? s.log_lik : s.squared_error);
      if (bern) t.add("pixel_error_" + name, s.error_rate);
    };
    if (run_mwg) score("mwg", &imp_mwg[i * D]);
    if (run_pg) score("pseudo_gibbs", &imp_pg[i * D]);
    score("mean_image", mimg.data());
    score("nearest_neighbour", &nn_rows[i * D]);
    t.add_index("index", x.global_index[i]);
    t.add_index("nearest_index", nearest.best_index()[i]);
    int64_t missing = 0;
    for (int64_t d = 0; d < D; ++d) missing += oi[d] == 0;
    t.add_index("missing_pixels", missing);
  }
  nlohmann::json j = summary_head(cfg, in);
  // The gathers first, on every rank; then rank 0 writes in an agreed phase.
  const ScoreTable all = t.gather(comm);
  // The pictured points (the first --cols of the split): truth, observed part, imputations.
  const int64_t shown = std::min<int64_t>(N, cfg.cols > 0 ? cfg.cols : 10);
  const float hole = in.unit_range ? 0.5f : 0.f;  // missing pixels shown grey
  std::vector<std::function<float(int64_t, int64_t)>> kinds = {
      [&](int64_t i, int64_t d) { return x.row(i)[d]; },
      [&](int64_t i, int64_t d) { return obs[i * D + d] ? x.row(i)[d] : hole; }};
  if (run_mwg) kinds.push_back([&](int64_t i, int64_t d) { return imp_mwg[i * D + d]; });
  if (run_pg) kinds.push_back([&](int64_t i, int64_t d) { return imp_pg[i * D + d]; });
  kinds.push_back([&](int64_t i, int64_t d) { return obs[i * D + d] ? x.row(i)[d] : float(mean_image[d]); });
  kinds.push_back([&](int64_t i, int64_t d) { return obs[i * D + d] ? x.row(i)[d] : nn_rows[i * D + d]; });
  const std::vector<float> tiles = gather_pictured(comm, mine.lo, n, shown, int64_t(kinds.size()), D,
                                                   [&](int64_t k, int64_t i, int64_t d) { return kinds[k](i, d); });
  collectively(comm, "aevb-infer", [&] {
    if (comm.rank() != 0) return;
    ArrayFile f;
    f.format = "aevb-inpainting";
    f.text = {{"model", cfg.model_path}, {"model_params_sha256", in.model.meta.params_sha256},
              {"data_dir", cfg.data_dir}, {"split", cfg.split}, {"mask", cfg.mask}, {"sampler", cfg.sampler},
              {"baseline_split", cfg.baseline_split}, {"binarization", in.binarized ? "fixed" : "none"},
              {"created_by", std::string("aevb-infer ") + version()}};
    f.ints = {{"points", N}, {"iterations", cfg.iterations}, {"burn_in", cfg.burn_in}, {"is_samples", cfg.is_samples},
              {"baseline_rows", base_rows}, {"seed", int64_t(cfg.seed)}, {"binarize_seed", int64_t(cfg.binarize_seed)},
              {"model_step", in.model.meta.step}, {"ranks", comm.size()}};
    f.reals = {{"missing_fraction", cfg.missing_fraction}, {"plugin_clamp", kPluginClamp}};
    all.put(f);
    f.f64["mean_image"] = {{D}, mean_image};
    f.f32["pictured"] = {{int64_t(tiles.size()) / D, D}, tiles};
    f.text["pictured_rows"] = std::string("truth, observed") + (run_mwg ? ", mwg" : "") + (run_pg ? ", pseudo_gibbs" : "") +
                              ", mean_image, nearest_neighbour (each: the first points)";
    write_png(cfg.out + ".png", grid_image(tiles.data(), int64_t(tiles.size()) / D, D,
                                           layout_for(in, shown, tiles.data(), int64_t(tiles.size()))));
    write_array_file(cfg.out + ".h5", f);
    j.update({{"png", cfg.out + ".png"}, {"h5", cfg.out + ".h5"}, {"points", N}, {"mask", cfg.mask},
              {"means", all.means()}, {"wall_seconds", now_s() - t0}, {"ranks", comm.size()}});
  });
  return j;
}

}  // namespace aevb
