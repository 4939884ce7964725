// The two measurements bench/scaling_calculator.py combines into a prediction
// of samples/s for P ranks at a global batch M:
//
//   compute   one rank, one thread: seconds per training step (TrainStep:
//             gather, binarization, forward, backward, optimizer update; its
//             reduction on one rank costs nothing) at r rows, r = 1 .. 1000;
//             and for --reduction gather (train/activation_exchange.hpp) the
//             same step with the activation exchange's phases ("gather_seconds")
//             and its weight-gradient GEMMs alone ("wgrad_seconds"), which on
//             P ranks run over all M rows instead of M/P
//   allreduce on the ranks it is started with (P > 1): seconds per
//             MPI_Allreduce of the step's buffer and of sizes around it, as
//             osu_allreduce measures a site's network
//   allgather on P > 1 ranks: seconds per MPI_Allgatherv of r points' layer
//             inputs and deltas per rank (what --reduction gather sends), as
//             osu_allgather measures (its sizes are per rank, like these)
//
//   build/bench/aevb_bench_scaling [--hidden 500] [--latent 20] > compute.json
//   mpirun -np 2 build/bench/aevb_bench_scaling > p2.json     (adds "allreduce")
//
// Prints one JSON object (the last line of stdout).
#include <mpi.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "aevb/base/partition.hpp"
#include "aevb/base/rng.hpp"
#include "aevb/core/dnnl_context.hpp"
#include "aevb/train/train_step.hpp"
#include "synthetic_rows.hpp"

namespace {

using namespace aevb;

// Seconds per step at `rows` rows on this rank, single-rank communicator.
double step_seconds(const ModelSpec& spec, int64_t rows, const MpiComm& self, bool gather) {
  Vae m(spec);
  init_params(m, InitScheme::kNormal, 0.01f, 1);
  Sgvb sgvb(m, Estimator::kB, 1);
  OptimizerConfig oc;
  Optimizer opt(oc, m.num_params());
  const bench::SyntheticRows data(spec.x_dim);
  constexpr int64_t kRows = bench::SyntheticRows::kRows;
  TrainStep step({m, sgvb, opt, self, kRows, 1, true, false, nullptr, 1.f, WeightKl::kAnalytic, gather});
  StepRows sr;
  auto run = [&](int64_t t) {
    const int64_t b0 = (t * rows) % (kRows - rows);
    data.fill({b0, b0 + rows}, sr);
    step.run({sr, data.format(), rows, t, 0.02f, {}});
  };
  for (int64_t t = 0; t < 5; ++t) run(t);  // warm: plans, pages
  // About 0.5 s of steps, at least 10; the median of 3 such repetitions.
  const double t0 = MpiComm::wtime();
  run(5);
  const double one = std::max(1e-6, MpiComm::wtime() - t0);
  const int64_t iters = std::max<int64_t>(10, static_cast<int64_t>(0.5 / one));
  std::vector<double> reps;
  for (int rep = 0; rep < 3; ++rep) {
    const double s = MpiComm::wtime();
    for (int64_t t = 0; t < iters; ++t) run(6 + rep * iters + t);
    reps.push_back((MpiComm::wtime() - s) / static_cast<double>(iters));
  }
  std::sort(reps.begin(), reps.end());
  return reps[1];
}

// Seconds of the weight-gradient GEMMs (and bias sums) of both networks at
// `rows` rows: what the activation exchange repeats on every rank.
double wgrad_seconds(const ModelSpec& spec, int64_t rows) {
  Vae m(spec);
  init_params(m, InitScheme::kNormal, 0.01f, 1);
  Sgvb sgvb(m, Estimator::kB, 1);
  std::vector<float> x(static_cast<size_t>(rows * spec.x_dim));
  uniforms({1, Purpose::kInit, 0, 0, 0}, x.data(), static_cast<int64_t>(x.size()));
  for (float& v : x) v = v < 0.13f ? 1.f : 0.f;
  std::vector<int64_t> index(static_cast<size_t>(rows));
  for (int64_t i = 0; i < rows; ++i) index[static_cast<size_t>(i)] = i;
  sgvb.forward({x.data(), index.data(), rows}, {1, Purpose::kLatentNoise, 0}, 1.f);
  sgvb.backward_decoder(false);
  sgvb.backward_encoder(false);
  std::vector<Mlp::LayerIo> enc, dec;
  for (size_t i = 0; i < m.encoder.num_layers(); ++i) enc.push_back(m.encoder.layer_io(rows, i));
  for (size_t i = 0; i < m.decoder.num_layers(); ++i) dec.push_back(m.decoder.layer_io(rows, i));
  auto run = [&] {
    m.encoder.weight_gradients(enc.data(), rows);
    m.decoder.weight_gradients(dec.data(), rows);
  };
  for (int i = 0; i < 3; ++i) run();
  const double t0 = MpiComm::wtime();
  run();
  const int64_t iters = std::max<int64_t>(10, static_cast<int64_t>(0.3 / std::max(1e-6, MpiComm::wtime() - t0)));
  std::vector<double> reps;
  for (int rep = 0; rep < 3; ++rep) {
    const double s = MpiComm::wtime();
    for (int64_t t = 0; t < iters; ++t) run();
    reps.push_back((MpiComm::wtime() - s) / static_cast<double>(iters));
  }
  std::sort(reps.begin(), reps.end());
  return reps[1];
}

// Seconds per MPI_Allgatherv of `floats` floats from every rank.
double allgather_seconds(const MpiComm& comm, int64_t floats) {
  const int P = comm.size();
  std::vector<float> buf(static_cast<size_t>(floats * P), 1.f);
  std::vector<int> counts(static_cast<size_t>(P), static_cast<int>(floats)), displs(static_cast<size_t>(P));
  for (int q = 0; q < P; ++q) displs[static_cast<size_t>(q)] = static_cast<int>(q * floats);
  for (int i = 0; i < 3; ++i) comm.allgatherv(buf.data(), counts, displs);
  std::vector<double> reps;
  for (int rep = 0; rep < 3; ++rep) {
    comm.barrier();
    const double s = MpiComm::wtime();
    const int iters = floats > 100000 ? 50 : 500;
    for (int i = 0; i < iters; ++i) comm.allgatherv(buf.data(), counts, displs);
    reps.push_back(comm.allreduce_max((MpiComm::wtime() - s) / iters));
  }
  std::sort(reps.begin(), reps.end());
  return reps[1];
}

double allreduce_seconds(const MpiComm& comm, int64_t floats) {
  std::vector<float> buf(static_cast<size_t>(floats), 1.f);
  for (int i = 0; i < 3; ++i) comm.allreduce_sum(buf.data(), floats);
  std::vector<double> reps;
  for (int rep = 0; rep < 3; ++rep) {
    comm.barrier();
    const double s = MpiComm::wtime();
    const int iters = floats > 100000 ? 50 : 500;
    for (int i = 0; i < iters; ++i) comm.allreduce_sum(buf.data(), floats);
    reps.push_back(comm.allreduce_max((MpiComm::wtime() - s) / iters));
  }
  std::sort(reps.begin(), reps.end());
  return reps[1];
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  set_compute_threads(1);
  ModelSpec spec;
  spec.hidden = {500};
  spec.latent = 20;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    if (k == "--hidden") spec.hidden = ModelSpec::parse_hidden(argv[i + 1]);
    else if (k == "--latent") spec.latent = std::atoi(argv[i + 1]);
  }
  MpiComm world;
  nlohmann::json out{{"tool", "aevb_bench_scaling"}, {"ranks", world.size()}, {"hidden", spec.hidden_string()},
                     {"latent", spec.latent}};
  const Vae probe(spec);
  const int64_t n = probe.num_params() + 16;  // the step's buffer: gradient and control slots
  out["params"] = probe.num_params();
  out["buffer_bytes"] = n * 4;
  const int64_t fpp = ActivationExchange::floats_per_point(probe, 1);
  out["floats_per_point"] = fpp;
  if (world.size() == 1) {
    MpiComm self(MPI_COMM_SELF);
    for (int64_t r : {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000})
      out["compute"].push_back({{"rows", r},
                                {"seconds", step_seconds(spec, r, self, false)},
                                {"gather_seconds", step_seconds(spec, r, self, true)},
                                {"wgrad_seconds", wgrad_seconds(spec, r)}});
  } else {
    for (int64_t f : {int64_t{1}, int64_t{256}, int64_t{16384}, n / 16, n / 4, n, 2 * n})
      out["allreduce"].push_back({{"bytes", f * 4}, {"seconds", allreduce_seconds(world, f)}});
    // Per rank: r points' inputs and deltas and the 16 control slots.
    for (int64_t r : {1, 2, 5, 10, 20, 50, 100, 200, 500})
      out["allgather"].push_back({{"bytes", (r * fpp + 16) * 4}, {"seconds", allgather_seconds(world, r * fpp + 16)}});
  }
  if (world.rank() == 0) std::cout << out.dump() << std::endl;
  MPI_Finalize();
  return 0;
}
