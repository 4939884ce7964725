// aevb-infer encode: the encoder's q(z|x) = N(mu, diag exp(logvar)) of every
// row of a split, streamed to HDF5 shards.
//
// Why fixed chunks: oneDNN's results depend on the batch shape, so the rows are
// encoded in chunks of --chunk-rows GLOBAL rows (chunk c = rows [c C, (c+1) C)),
// whatever the rank count; chunk c goes to rank c mod P. Every row then gets
// the same bits for P = 1, 2, 3, ... In each round every rank encodes one chunk,
// and rank 0 gathers them in global order, appends them to the shard it is
// filling, and writes each full shard atomically. Memory per rank: one chunk
// (rank 0: one shard plus one round).
#include <cmath>
#include <filesystem>
#include <memory>
#include <iostream>

#include "aevb/base/clock.hpp"
#include "aevb/base/error.hpp"
#include "aevb/base/rng.hpp"
#include "aevb/base/version.hpp"
#include "aevb/core/dnnl_context.hpp"
#include "aevb/core/model_use.hpp"
#include "aevb/infer/infer.hpp"
#include "aevb/io/array_file.hpp"
#include "aevb/io/binarization.hpp"
#include "aevb/io/durable_file.hpp"
#include "aevb/io/row_reader.hpp"
#include "infer_inputs.hpp"

namespace aevb {

namespace {

// Activity threshold of Burda et al. (2016): a unit is active when the
// variance over the data of E_q[z_j | x] exceeds 0.01.
constexpr double kActiveThreshold = 0.01;

struct ShardBuffer {
  int64_t J = 0, S = 0, first = 0, rows = 0;
  bool labels = false;
  std::vector<float> mu, logvar, z;
  std::vector<int64_t> index, label;
  void clear(int64_t next_first) {
    first = next_first;
    rows = 0;
    mu.clear(), logvar.clear(), z.clear(), index.clear(), label.clear();
  }
};

std::string shard_name(int64_t i) {
  char b[32];
  std::snprintf(b, sizeof b, "latents-%05lld.h5", static_cast<long long>(i));
  return b;
}

void write_shard(const std::string& dir, int64_t i, const ShardBuffer& s) {
  ArrayFile f;
  f.format = "aevb-latents-shard";
  f.ints = {{"row_offset", s.first}, {"rows", s.rows}, {"latent", s.J}};
  f.f32["mu"] = {{s.rows, s.J}, s.mu};
  f.f32["logvar"] = {{s.rows, s.J}, s.logvar};
  if (s.S > 0) f.f32["z"] = {{s.rows, s.S, s.J}, s.z};
  f.i64["index"] = {{s.rows}, s.index};
  if (s.labels) f.i64["labels"] = {{s.rows}, s.label};
  write_array_file(dir + "/" + shard_name(i), f);
}

}  // namespace

nlohmann::json run_encode(const InferConfig& cfg, const MpiComm& comm) {
  const double t0 = now_s();
  const std::string index_path = cfg.out + "/latents.h5";
  collectively(comm, "aevb-infer", [&] {
    if (comm.rank() == 0) make_output_dir(cfg.out);
  });
  InferInputs in = load_infer_inputs(cfg, comm, 0, {index_path});
  Vae& m = *in.model.model;
  set_compute_threads(cfg.threads);
  const int64_t N = in.points, J = m.spec().latent, S = cfg.z_samples, D = m.spec().x_dim, C = cfg.chunk_rows;
  const SplitInfo& info = in.manifest.split(cfg.split);
  // Cache 0: rows are read chunk by chunk, never held (bounded memory for any split).
  std::unique_ptr<RowRange> rows;
  collectively(comm, "aevb-infer", [&] {
    rows = std::make_unique<RowRange>(in.manifest, cfg.split, in.validate, 0, N, 0, info.has_labels);
  });

  const int64_t chunks = (N + C - 1) / C, P = comm.size(), rounds = (chunks + P - 1) / P;
  // One chunk's record, as doubles for the gather (exact for floats and for
  // indices below 2^53): per row [mu J | logvar J | z S*J | index | label].
  const int64_t width = 2 * J + S * J + 2;
  ShardBuffer shard{J, S, 0, 0, info.has_labels, {}, {}, {}, {}, {}};
  std::vector<double> kl(J, 0.0), mu_sum(J, 0.0), mu_sq(J, 0.0);
  int64_t shards_written = 0;
  std::vector<std::string> shard_files;
  std::vector<float> mu(C * J), lv(C * J), eps(J);
  double next_progress = 10;
  // Every round: the local work in one agreed phase (a bad shard on one rank
  // stops every rank there), the gather, then rank 0's writing in another.
  for (int64_t q = 0; q < rounds; ++q) {
    std::vector<double> rec;
    collectively(comm, "aevb-infer", [&] {
      const int64_t c = q * P + comm.rank();
      if (c < chunks) {
        const int64_t first = c * C, n = std::min(C, N - first);
        DataMatrix& x = rows->chunk(first, n);
        if (in.binarized) binarize_for_evaluation(x, cfg.binarize_seed);
        encode_rows(m, x.x.data(), n, mu.data(), lv.data());
        rec.resize(n * width);
        for (int64_t r = 0; r < n; ++r) {
          double* o = rec.data() + r * width;
          for (int64_t j = 0; j < J; ++j) o[j] = mu[r * J + j], o[J + j] = lv[r * J + j];
          for (int64_t s = 0; s < S; ++s) {
            normals({cfg.seed, Purpose::kEncodeSample, 0, uint64_t(first + r), uint32_t(s)}, eps.data(), J);
            for (int64_t j = 0; j < J; ++j)
              o[2 * J + s * J + j] = mu[r * J + j] + std::exp(0.5f * lv[r * J + j]) * eps[j];
          }
          o[width - 2] = double(x.global_index[r]);
          o[width - 1] = x.labels.empty() ? -1.0 : double(x.labels[r]);
        }
      }
    });
    const std::vector<double> all = comm.gather(rec);
    collectively(comm, "aevb-infer", [&] {
      if (comm.rank() != 0) return;
      for (size_t off = 0; off < all.size(); off += width) {
        const double* o = all.data() + off;
        for (int64_t j = 0; j < J; ++j) {
          shard.mu.push_back(float(o[j]));
          shard.logvar.push_back(float(o[J + j]));
          const double m1 = float(o[j]), l1 = float(o[J + j]);
          kl[j] += 0.5 * (m1 * m1 + std::exp(l1) - 1 - l1);
          mu_sum[j] += m1;
          mu_sq[j] += m1 * m1;
        }
        for (int64_t k = 0; k < S * J; ++k) shard.z.push_back(float(o[2 * J + k]));
        shard.index.push_back(int64_t(o[width - 2]));
        shard.label.push_back(int64_t(o[width - 1]));
        if (++shard.rows == cfg.shard_rows) {
          write_shard(cfg.out, shards_written, shard);
          shard_files.push_back(shard_name(shards_written++));
          shard.clear(shard.first + shard.rows);
        }
      }
      if ((now_s() - t0) > next_progress) {
        next_progress += 10;
        const int64_t done = std::min(N, (q + 1) * P * C);
        std::cerr << "aevb-infer encode: " << done << "/" << N << " rows | " << std::lround(done / (now_s() - t0))
                  << " rows/s" << std::endl;
      }
    });
  }
  collectively(comm, "aevb-infer", [&] {
    if (comm.rank() == 0 && shard.rows > 0) {
      write_shard(cfg.out, shards_written, shard);
      shard_files.push_back(shard_name(shards_written++));
    }
  });
  const double seconds = (now_s() - t0);
  nlohmann::json j = summary_head(cfg, in);
  collectively(comm, "aevb-infer", [&] {
    if (comm.rank() != 0) return;
    ArrayFile f;
    f.format = "aevb-latents";
    std::vector<double> var(J);
    int64_t active = 0;
    for (int64_t k = 0; k < J; ++k) {
      kl[k] /= double(N);
      var[k] = mu_sq[k] / double(N) - (mu_sum[k] / double(N)) * (mu_sum[k] / double(N));
      if (var[k] > kActiveThreshold) ++active;
    }
    f.text = {{"model", cfg.model_path}, {"model_params_sha256", in.model.meta.params_sha256},
              {"dataset", in.manifest.name}, {"data_dir", cfg.data_dir}, {"split", cfg.split},
              {"binarization", in.binarized ? "fixed" : "none"}, {"shard_files", nlohmann::json(shard_files).dump()},
              {"created_by", std::string("aevb-infer ") + version()}};
    f.ints = {{"rows", N}, {"latent", J}, {"x_dim", D}, {"z_samples", S}, {"chunk_rows", C},
              {"shard_rows", cfg.shard_rows}, {"shards", shards_written}, {"active_units", active},
              {"model_step", in.model.meta.step}, {"seed", int64_t(cfg.seed)}, {"binarize_seed", int64_t(cfg.binarize_seed)},
              {"ranks", comm.size()}};
    f.reals = {{"active_threshold", kActiveThreshold}, {"wall_seconds", seconds}, {"rows_per_s", N / seconds}};
    f.f64["kl_per_dim"] = {{J}, kl};
    f.f64["mu_variance"] = {{J}, var};
    write_array_file(index_path, f);
    fsync_dir(cfg.out);
    double kl_total = 0;
    for (double v : kl) kl_total += v;
    j.update({{"out", cfg.out}, {"rows", N}, {"shards", shards_written}, {"active_units", active},
              {"kl_per_point", kl_total}, {"rows_per_s", N / seconds}, {"wall_seconds", seconds}, {"ranks", comm.size()}});
  });
  return j;
}

}  // namespace aevb
