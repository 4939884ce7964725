// aevb-infer denoise: the clean x given a corrupted y, by posterior inference
// under an explicit corruption model (core/conditional.hpp), against the naive
// reconstruction of y (the decoder's mean at the encoder's mean of y) and
// against y itself.
//
// Binary data: each pixel of the clean (binarized) point flipped with
// probability --noise; real data: N(0, noise^2) added. Per point: log p(x | y)
// of the clean point (importance sampling, K = --samples), and for each
// estimate of x (the posterior mean E[x|y], the naive reconstruction, y) the
// plug-in log-likelihood and pixel error rate (binary data) or the squared
// error (real data) on every pixel.
#include <algorithm>
#include <cmath>
#include <iostream>

#include "aevb/base/clock.hpp"
#include "aevb/base/error.hpp"
#include "aevb/base/partition.hpp"
#include "aevb/base/version.hpp"
#include "aevb/core/conditional.hpp"
#include "aevb/core/dnnl_context.hpp"
#include "aevb/core/model_use.hpp"
#include "aevb/infer/infer.hpp"
#include "aevb/io/array_file.hpp"
#include "infer_inputs.hpp"
#include "infer_scores.hpp"

namespace aevb {

nlohmann::json run_denoise(const InferConfig& cfg, const MpiComm& comm) {
  const double t0 = now_s();
  InferInputs in = load_infer_inputs(cfg, comm, 100, {cfg.out + ".png", cfg.out + ".h5"});
  Vae& m = *in.model.model;
  const ModelSpec& spec = m.spec();
  const int64_t N = in.points, D = spec.x_dim, J = spec.latent, G = cfg.group;
  const bool bern = spec.decoder == DecoderKind::kBernoulli;
  collectively(comm, "aevb-infer", [&] {  // one agreed exit, not one message per rank
    if (bern && cfg.noise >= 0.5)
      throw usage_error("--noise " + std::to_string(cfg.noise) + ": a flip probability must be below 0.5 (at 0.5 "
                        "the noisy point carries no information)");
  });
  set_compute_threads(cfg.threads);
  const Range mine = part_of(0, N, comm.rank(), comm.size());
  const int64_t n = mine.size();
  DataMatrix x;
  collectively(comm, "aevb-infer", [&] {
    if (n > 0) x = read_points(in, cfg, mine.lo, mine.hi);
    if (bern)
      for (int64_t i = 0; i < n * D; ++i)
        if (x.x[i] != 0.f && x.x[i] != 1.f)
          throw usage_error("denoise: the flip corruption needs binary points, but row " +
                            std::to_string(x.global_index[i / D]) + " of split '" + cfg.split + "' has the value " +
                            std::to_string(x.x[i]) + " (grey data: use --binarize auto or dynamic)");
  });
  DenoiseOptions o{bern ? Corruption::kFlip : Corruption::kGaussian, cfg.noise, cfg.denoise_samples, cfg.seed};
  std::vector<float> y(n * D), post(n * D), naive(n * D), mu(G * J), lv(G * J);
  std::vector<double> lp(n);
  collectively(comm, "aevb-infer", [&] {
    if (n > 0) corrupt(o.corruption, o.level, x.x.data(), n, D, x.global_index.data(), cfg.seed, y.data());
    double next_progress = 10;
    for (int64_t g0 = 0; g0 < n; g0 += G) {
      const int64_t g = std::min(G, n - g0);
      denoise(m, &y[g0 * D], x.row(g0), g, &x.global_index[g0], o, &post[g0 * D], &lp[g0]);
      encode_rows(m, &y[g0 * D], g, mu.data(), lv.data());
      decode_means(m, mu.data(), g, &naive[g0 * D]);
      if (comm.rank() == 0 && now_s() - t0 > next_progress) {
        next_progress += 10;
        std::cerr << "aevb-infer denoise: rank 0 " << g0 + g << "/" << n << " points" << std::endl;
      }
    }
  });
  std::vector<std::string> reals = {"log_p_clean"};
  for (const char* name : {"posterior", "naive", "noisy"}) {
    reals.push_back((bern ? "plugin_ll_" : "squared_error_") + std::string(name));
    if (bern) reals.push_back("pixel_error_" + std::string(name));
  }
  ScoreTable t(reals, {"index"});
  for (int64_t i = 0; i < n; ++i) {
    t.add("log_p_clean", lp[i]);
    auto score = [&](const std::string& name, const float* p) {
      const PixelScore s = score_pixels(x.row(i), p, nullptr, D, bern);
      t.add((bern ? "plugin_ll_" : "squared_error_") + name, bern ? s.log_lik : s.squared_error);
      if (bern) t.add("pixel_error_" + name, s.error_rate);
    };
    score("posterior", &post[i * D]);
    score("naive", &naive[i * D]);
    score("noisy", &y[i * D]);
    t.add_index("index", x.global_index[i]);
  }
  nlohmann::json j = summary_head(cfg, in);
  // The gathers first, on every rank; then rank 0 writes in an agreed phase.
  const ScoreTable all = t.gather(comm);
  // The pictured points (the first --cols of the split): clean, noisy, naive, posterior mean.
  const int64_t shown = std::min<int64_t>(N, cfg.cols > 0 ? cfg.cols : 10);
  const float* sources[4] = {x.x.data(), y.data(), naive.data(), post.data()};
  const std::vector<float> tiles =
      gather_pictured(comm, mine.lo, n, shown, 4, D, [&](int64_t k, int64_t i, int64_t d) { return sources[k][i * D + d]; });
  collectively(comm, "aevb-infer", [&] {
    if (comm.rank() != 0) return;
    ArrayFile f;
    f.format = "aevb-denoising";
    f.text = {{"model", cfg.model_path}, {"model_params_sha256", in.model.meta.params_sha256},
              {"data_dir", cfg.data_dir}, {"split", cfg.split}, {"corruption", bern ? "flip" : "gaussian"},
              {"binarization", in.binarized ? "fixed" : "none"}, {"created_by", std::string("aevb-infer ") + version()}};
    f.ints = {{"points", N}, {"samples", cfg.denoise_samples}, {"seed", int64_t(cfg.seed)},
              {"binarize_seed", int64_t(cfg.binarize_seed)}, {"model_step", in.model.meta.step}, {"ranks", comm.size()}};
    f.reals = {{"noise", cfg.noise}, {"plugin_clamp", kPluginClamp}};
    all.put(f);
    f.f32["pictured"] = {{4 * shown, D}, tiles};
    f.text["pictured_rows"] = "clean, noisy, naive, posterior (each: the first points)";
    write_png(cfg.out + ".png", grid_image(tiles.data(), 4 * shown, D,
                                           layout_for(in, shown, tiles.data(), int64_t(tiles.size()))));
    write_array_file(cfg.out + ".h5", f);
    j.update({{"png", cfg.out + ".png"}, {"h5", cfg.out + ".h5"}, {"points", N}, {"noise", cfg.noise},
              {"means", all.means()}, {"wall_seconds", now_s() - t0}, {"ranks", comm.size()}});
  });
  return j;
}

}  // namespace aevb
