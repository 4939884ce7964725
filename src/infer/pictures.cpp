// The picture commands of aevb-infer: sample, manifold, reconstruct and
// interpolate. Each handles at most a few thousand rows, so rank 0 does the
// work (other ranks wait in the collective phase); each writes PREFIX.png and
// PREFIX.h5 (README, "Files aevb-infer writes").
#include <algorithm>
#include <cmath>

#include "aevb/base/error.hpp"
#include "aevb/base/rng.hpp"
#include "aevb/base/version.hpp"
#include "aevb/core/conditional.hpp"
#include "aevb/core/dnnl_context.hpp"
#include "aevb/core/model_use.hpp"
#include "aevb/infer/infer.hpp"
#include "aevb/io/array_file.hpp"
#include "infer_inputs.hpp"

namespace aevb {

namespace {

ArrayFile file_of(const std::string& format, const InferConfig& cfg, const InferInputs& in) {
  ArrayFile f;
  f.format = format;
  f.text = {{"model", cfg.model_path}, {"model_params_sha256", in.model.meta.params_sha256},
            {"created_by", std::string("aevb-infer ") + version()}};
  f.ints = {{"seed", int64_t(cfg.seed)}, {"model_step", in.model.meta.step}};
  if (!cfg.data_dir.empty()) {
    f.text["data_dir"] = cfg.data_dir;
    f.text["split"] = cfg.split;
    f.text["binarization"] = in.binarized ? "fixed" : "none";
    f.ints["binarize_seed"] = int64_t(cfg.binarize_seed);
  }
  return f;
}

void write_picture(const std::string& path, const InferInputs& in, const std::vector<float>& tiles, int64_t cols) {
  const int64_t D = in.model.model->spec().x_dim;
  const int64_t n = int64_t(tiles.size()) / D;
  write_png(path, grid_image(tiles.data(), n, D, layout_for(in, cols, tiles.data(), int64_t(tiles.size()))));
}

// Runs `work` on rank 0 inside one collective phase (an error there stops
// every rank with the same message).
template <class F>
void on_rank0(const MpiComm& comm, F&& work) {
  collectively(comm, "aevb-infer", [&] {
    if (comm.rank() == 0) work();
  });
}

}  // namespace

nlohmann::json run_sample(const InferConfig& cfg, const MpiComm& comm) {
  std::vector<std::string> outs = {cfg.out + ".png", cfg.out + ".h5"};
  if (cfg.binary) outs.push_back(cfg.out + "-binary.png");
  InferInputs in = load_infer_inputs(cfg, comm, 64, outs);
  Vae& m = *in.model.model;
  const int64_t N = in.points, J = m.spec().latent, D = m.spec().x_dim;
  const bool bern = m.spec().decoder == DecoderKind::kBernoulli;
  collectively(comm, "aevb-infer", [&] {  // one agreed exit, not one message per rank
    if (cfg.binary && !bern)
      throw usage_error("--binary: only for a Bernoulli decoder; " + cfg.model_path + " has a Gaussian one");
  });
  set_compute_threads(cfg.threads);
  on_rank0(comm, [&] {
    std::vector<float> z(N * J), mean(N * D);
    for (int64_t i = 0; i < N; ++i) normals({cfg.seed, Purpose::kInferSample, 0, uint64_t(i), 0}, &z[i * J], J);
    decode_means(m, z.data(), N, mean.data());
    ArrayFile f = file_of("aevb-samples", cfg, in);
    f.f32["z"] = {{N, J}, z};
    f.f32["mean"] = {{N, D}, mean};
    const int64_t cols = cfg.cols > 0 ? cfg.cols : 8;
    if (cfg.binary) {
      std::vector<float> u(D), bin(N * D);
      std::vector<uint8_t> b(N * D);
      for (int64_t i = 0; i < N; ++i) {
        uniforms({cfg.seed, Purpose::kInferSample, 1, uint64_t(i), 0}, u.data(), D);
        for (int64_t d = 0; d < D; ++d) b[i * D + d] = u[d] < mean[i * D + d] ? 1 : 0, bin[i * D + d] = b[i * D + d];
      }
      f.u8["binary"] = {{N, D}, b};
      write_picture(cfg.out + "-binary.png", in, bin, cols);
    }
    write_picture(cfg.out + ".png", in, mean, cols);
    write_array_file(cfg.out + ".h5", f);
  });
  nlohmann::json j = summary_head(cfg, in);
  j.update({{"png", cfg.out + ".png"}, {"h5", cfg.out + ".h5"}, {"points", N}});
  return j;
}

nlohmann::json run_manifold(const InferConfig& cfg, const MpiComm& comm) {
  InferInputs in = load_infer_inputs(cfg, comm, 1000, {cfg.out + ".png", cfg.out + ".h5"});
  Vae& m = *in.model.model;
  const int64_t J = m.spec().latent, D = m.spec().x_dim, n = cfg.grid;
  const bool automatic = cfg.dims_text == "auto";
  collectively(comm, "aevb-infer", [&] {
    if (J < 2) throw usage_error("manifold: needs a latent dimension of at least 2; " + cfg.model_path + " has J = 1");
    if (!automatic && (cfg.dim_a >= J || cfg.dim_b >= J))
      throw usage_error("--dims " + cfg.dims_text + ": " + cfg.model_path + " has latent dimensions 0.." +
                        std::to_string(J - 1));
  });
  set_compute_threads(cfg.threads);
  int64_t dim_a = cfg.dim_a, dim_b = cfg.dim_b;
  on_rank0(comm, [&] {
    if (automatic) {
      // The two most active units (the variance over the data of E_q[z_j | x]):
      // the directions in which the decoder's output changes with the data.
      DataMatrix x = read_points(in, cfg, 0, in.points);
      std::vector<float> mu(in.points * J), lv(in.points * J);
      encode_rows(m, x.x.data(), in.points, mu.data(), lv.data());
      std::vector<double> s1(J, 0.0), s2(J, 0.0);
      for (int64_t i = 0; i < in.points; ++i)
        for (int64_t j = 0; j < J; ++j) s1[j] += mu[i * J + j], s2[j] += double(mu[i * J + j]) * mu[i * J + j];
      std::vector<int64_t> order(J);
      for (int64_t j = 0; j < J; ++j) order[j] = j;
      auto var = [&](int64_t j) { return s2[j] / in.points - (s1[j] / in.points) * (s1[j] / in.points); };
      std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return var(a) > var(b); });
      dim_a = order[0];
      dim_b = order[1];
    }
    const std::vector<float> z = manifold_grid(J, n, dim_a, dim_b);
    std::vector<float> mean(n * n * D);
    decode_means(m, z.data(), n * n, mean.data());
    ArrayFile f = file_of("aevb-manifold", cfg, in);
    f.ints["grid"] = n;
    f.ints["dim_rows"] = dim_a;
    f.ints["dim_cols"] = dim_b;
    f.f32["z"] = {{n * n, J}, z};
    f.f32["mean"] = {{n * n, D}, mean};
    write_picture(cfg.out + ".png", in, mean, n);
    write_array_file(cfg.out + ".h5", f);
  });
  nlohmann::json j = summary_head(cfg, in);
  j.update({{"png", cfg.out + ".png"}, {"h5", cfg.out + ".h5"}, {"grid", n}, {"dims", {dim_a, dim_b}}});
  return j;
}

nlohmann::json run_reconstruct(const InferConfig& cfg, const MpiComm& comm) {
  InferInputs in = load_infer_inputs(cfg, comm, 32, {cfg.out + ".png", cfg.out + ".h5"});
  Vae& m = *in.model.model;
  const int64_t N = in.points, J = m.spec().latent, D = m.spec().x_dim, L = cfg.rec_samples;
  set_compute_threads(cfg.threads);
  double mean_at_mu = 0, mean_sampled = 0;
  on_rank0(comm, [&] {
    DataMatrix x = read_points(in, cfg, 0, N);
    std::vector<float> mu(N * J), lv(N * J), mean(N * D), z(N * J);
    encode_rows(m, x.x.data(), N, mu.data(), lv.data());
    decode_means(m, mu.data(), N, mean.data());
    // log p(x | z = mu), and E_q[log p(x|z)] by L draws: the ELBO's first term.
    std::vector<double> at_mu(N), sampled(N, 0.0), ll(N);
    masked_log_prob(m.spec(), x.x.data(), nullptr, 1, m.decoder.forward(mu.data(), N), N, at_mu.data());
    for (int64_t l = 0; l < L; ++l) {
      for (int64_t i = 0; i < N; ++i) {
        normals({cfg.seed, Purpose::kEncodeSample, 1, uint64_t(x.global_index[i]), uint32_t(l)}, &z[i * J], J);
        for (int64_t k = 0; k < J; ++k) z[i * J + k] = mu[i * J + k] + std::exp(0.5f * lv[i * J + k]) * z[i * J + k];
      }
      masked_log_prob(m.spec(), x.x.data(), nullptr, 1, m.decoder.forward(z.data(), N), N, ll.data());
      for (int64_t i = 0; i < N; ++i) sampled[i] += ll[i] / double(L);
    }
    for (int64_t i = 0; i < N; ++i) mean_at_mu += at_mu[i] / N, mean_sampled += sampled[i] / N;
    // Originals and reconstructions side by side: tiles 2i, 2i + 1.
    std::vector<float> tiles(2 * N * D);
    for (int64_t i = 0; i < N; ++i) {
      std::copy_n(x.row(i), D, &tiles[2 * i * D]);
      std::copy_n(&mean[i * D], D, &tiles[(2 * i + 1) * D]);
    }
    write_picture(cfg.out + ".png", in, tiles, 2 * (cfg.cols > 0 ? cfg.cols : 8));
    ArrayFile f = file_of("aevb-reconstructions", cfg, in);
    f.ints["samples"] = L;
    f.f32["x"] = {{N, D}, x.x};
    f.f32["mean"] = {{N, D}, mean};
    f.f32["mu"] = {{N, J}, mu};
    f.f32["logvar"] = {{N, J}, lv};
    f.i64["index"] = {{N}, x.global_index};
    if (!x.labels.empty()) f.i64["labels"] = {{N}, x.labels};
    f.f64["log_lik_at_mean"] = {{N}, at_mu};
    f.f64["log_lik_sampled"] = {{N}, sampled};
    write_array_file(cfg.out + ".h5", f);
  });
  nlohmann::json j = summary_head(cfg, in);
  j.update({{"png", cfg.out + ".png"}, {"h5", cfg.out + ".h5"}, {"points", N},
            {"log_lik_at_mean", mean_at_mu}, {"log_lik_sampled", mean_sampled}});
  return j;
}

nlohmann::json run_interpolate(const InferConfig& cfg, const MpiComm& comm) {
  InferInputs in = load_infer_inputs(cfg, comm, 10, {cfg.out + ".png", cfg.out + ".h5"});
  Vae& m = *in.model.model;
  const int64_t J = m.spec().latent, D = m.spec().x_dim, T = cfg.steps, paths = in.points / 2;
  collectively(comm, "aevb-infer", [&] {
    if (paths < 1)
      throw usage_error("--points " + std::to_string(in.points) + ": interpolate needs at least 2 points (one pair)");
  });
  set_compute_threads(cfg.threads);
  on_rank0(comm, [&] {
    DataMatrix x = read_points(in, cfg, 0, 2 * paths);
    std::vector<float> mu(2 * paths * J), lv(2 * paths * J), z(paths * T * J), mean(paths * T * D);
    encode_rows(m, x.x.data(), 2 * paths, mu.data(), lv.data());
    for (int64_t p = 0; p < paths; ++p)
      interpolate_latents(&mu[2 * p * J], &mu[(2 * p + 1) * J], J, T, cfg.spherical, &z[p * T * J]);
    decode_means(m, z.data(), paths * T, mean.data());
    // One strip per pair: the first point, the path's T decoded means, the second point.
    std::vector<float> tiles;
    std::vector<int64_t> ia, ib;
    for (int64_t p = 0; p < paths; ++p) {
      tiles.insert(tiles.end(), x.row(2 * p), x.row(2 * p) + D);
      tiles.insert(tiles.end(), &mean[p * T * D], &mean[(p + 1) * T * D]);
      tiles.insert(tiles.end(), x.row(2 * p + 1), x.row(2 * p + 1) + D);
      ia.push_back(x.global_index[2 * p]);
      ib.push_back(x.global_index[2 * p + 1]);
    }
    write_picture(cfg.out + ".png", in, tiles, T + 2);
    ArrayFile f = file_of("aevb-interpolations", cfg, in);
    f.ints["steps"] = T;
    f.text["path"] = cfg.spherical ? "spherical" : "linear";
    f.f32["z"] = {{paths, T, J}, z};
    f.f32["mean"] = {{paths * T, D}, mean};
    f.i64["index_a"] = {{paths}, ia};
    f.i64["index_b"] = {{paths}, ib};
    write_array_file(cfg.out + ".h5", f);
  });
  nlohmann::json j = summary_head(cfg, in);
  j.update({{"png", cfg.out + ".png"}, {"h5", cfg.out + ".h5"}, {"paths", paths}, {"steps", T}});
  return j;
}

}  // namespace aevb
