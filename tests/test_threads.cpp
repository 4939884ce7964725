// --threads: our own loops (parallel.hpp) give the same bits for any thread
// count, and a whole training step agrees up to oneDNN's GEMM summation order.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <vector>

#include "aevb/base/rng.hpp"
#include "aevb/core/dnnl_context.hpp"
#include "aevb/core/likelihood.hpp"
#include "aevb/core/optimizer.hpp"
#include "aevb/core/parallel.hpp"
#include "aevb/core/sgvb.hpp"
#include "aevb/core/vae.hpp"
#include "aevb/train/layout_advice.hpp"
#include "train_test_util.hpp"

namespace aevb {
namespace {

// Restores one thread whatever a test does.
struct Threads {
  explicit Threads(int t) { set_compute_threads(t); }
  ~Threads() { set_compute_threads(1); }
};

TEST(Threads, ParallelForCoversEveryIndexOnce) {
  Threads t(3);
  for (int64_t n : {0, 1, 2, 5, 1000})
    for (int64_t min_part : {1, 4, 100}) {
      std::vector<int> hits(static_cast<size_t>(n), 0);
      parallel_for(n, [&](int64_t lo, int64_t hi) { for (int64_t i = lo; i < hi; ++i) ++hits[static_cast<size_t>(i)]; },
                   min_part);
      for (int h : hits) ASSERT_EQ(h, 1);
    }
  EXPECT_EQ(compute_threads(), 3);
}

// The optimizer update, split over threads in 16-float blocks, is bitwise the
// single-thread update (an n that is not a multiple of 16 included), and a
// NaN in any part is caught.
TEST(Threads, OptimizerUpdateIsBitwiseTheSame) {
  const int64_t n = 300001;
  std::vector<float> g(static_cast<size_t>(n)), p0(g.size());
  normals({3, Purpose::kInit, 0, 0, 0}, g.data(), n);
  normals({3, Purpose::kInit, 0, 1, 0}, p0.data(), n);
  for (OptimizerKind kind : {OptimizerKind::kAdagrad, OptimizerKind::kAdam, OptimizerKind::kSgd}) {
    OptimizerConfig c;
    c.kind = kind;
    std::vector<std::vector<float>> out;
    for (int threads : {1, 2, 3}) {
      Threads t(threads);
      Optimizer opt(c, n);
      std::vector<float> p = p0;
      for (int s = 0; s < 3; ++s) ASSERT_TRUE(opt.step(p.data(), g.data(), 0.01f));
      out.push_back(p);
      std::vector<float> bad = g;
      bad[static_cast<size_t>(n - 7)] = std::numeric_limits<float>::quiet_NaN();
      EXPECT_FALSE(opt.step(p.data(), bad.data(), 0.01f)) << threads;
    }
    EXPECT_EQ(out[0], out[1]);
    EXPECT_EQ(out[0], out[2]);
  }
}

// A forward and backward pass of the model on 2 threads: the likelihood, the
// per-point terms and the bias sums are ours (same code per element), the
// GEMMs oneDNN's (their sums may be split differently): equal to float
// round-off.
// (Also with full VB over the decoder's weights: its elementwise loops are
// split over the threads too.)
class ThreadsStep : public ::testing::TestWithParam<bool> {};
TEST_P(ThreadsStep, SgvbStepAgreesWithOneThread) {
  ModelSpec spec;
  spec.hidden = {64};
  spec.latent = 8;
  spec.bayes = GetParam();
  const int64_t rows = 37;
  std::vector<float> x(static_cast<size_t>(rows * spec.x_dim));
  uniforms({5, Purpose::kInit, 0, 0, 0}, x.data(), static_cast<int64_t>(x.size()));
  for (float& v : x) v = v < 0.3f ? 1.f : 0.f;
  std::vector<int64_t> index(static_cast<size_t>(rows));
  for (int64_t i = 0; i < rows; ++i) index[static_cast<size_t>(i)] = 1000 + 3 * i;
  std::vector<std::vector<float>> grads;
  std::vector<double> elbo;
  for (int threads : {1, 2}) {
    Threads t(threads);
    Vae m(spec);
    init_params(m, InitScheme::kNormal, 0.1f, 1);
    if (spec.bayes) init_weight_posterior(m, 0.05f);
    std::unique_ptr<BayesDecoder> bd = spec.bayes ? std::make_unique<BayesDecoder>(m) : nullptr;
    Sgvb sg(m, Estimator::kB, 2);
    sg.set_bayes_decoder(bd.get());
    elbo.push_back(sg.forward({x.data(), index.data(), rows}, {7, Purpose::kLatentNoise, 4}, 10.f).elbo);
    sg.backward_decoder();
    sg.backward_encoder();
    grads.emplace_back(m.grads.begin(), m.grads.end());
  }
  EXPECT_NEAR(elbo[0], elbo[1], 1e-4 * std::abs(elbo[0]));
  double scale = 0;
  for (float v : grads[0]) scale = std::max(scale, double(std::abs(v)));
  for (size_t k = 0; k < grads[0].size(); ++k) ASSERT_NEAR(grads[0][k], grads[1][k], 1e-4 * scale) << k;
}
INSTANTIATE_TEST_SUITE_P(MapAndFullVb, ThreadsStep, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& i) { return i.param ? "full_vb" : "map"; });

// The advice rules at their thresholds (layout_advice.hpp).
TEST(LayoutAdvice, NamesTheSlowerLayoutsOnly) {
  auto has = [](const std::vector<std::string>& v, const std::string& s) {
    for (const auto& a : v)
      if (a.find(s) != std::string::npos) return true;
    return false;
  };
  EXPECT_TRUE(layout_advice({1, 1, 100, 2}).empty());
  EXPECT_TRUE(layout_advice({2, 1, 100, 1}).empty());  // 50 rows per rank: pays
  EXPECT_TRUE(layout_advice({1, 2, 50, 2}).empty());   // 25 rows per thread: pays
  // Small batches with the allreduce: the activation exchange is faster.
  const auto comm = layout_advice({2, 1, 20, 1});
  ASSERT_EQ(comm.size(), 1u);
  EXPECT_TRUE(has(comm, "10 rows per rank per step (--batch 20 over 2 ranks) is communication-bound"));
  EXPECT_TRUE(has(comm, "--reduction gather"));
  EXPECT_TRUE(layout_advice({2, 1, 20, 1, /*gather=*/true}).empty());  // what auto picks: no advice
  // Above kGatherMaxBatch, below 50 rows per rank: fewer ranks.
  const auto fewer = layout_advice({4, 1, 100, 1});
  ASSERT_EQ(fewer.size(), 1u);
  EXPECT_TRUE(has(fewer, "25 rows per rank"));
  EXPECT_TRUE(has(fewer, "mpirun -np 2"));
  // IWAE with K = 50 at M = 20: the exchange does not pay either.
  const auto iwae = layout_advice({2, 1, 20, 1, false, 50});
  ASSERT_EQ(iwae.size(), 1u);
  EXPECT_TRUE(has(iwae, "mpirun -np 1"));
  EXPECT_TRUE(gather_pays(64, 1) && !gather_pays(65, 1) && gather_pays(21, 5) && !gather_pays(22, 5));
  // The exchange forced where it does not pay.
  const auto forced = layout_advice({2, 1, 1000, 1, /*gather=*/true});
  ASSERT_EQ(forced.size(), 1u);
  EXPECT_TRUE(has(forced, "--reduction allreduce (what auto picks here) is faster"));
  EXPECT_TRUE(has(layout_advice({1, 2, 20, 2}), "--threads 1 is faster"));
  const auto bound = layout_advice({1, 2, 100, 1});
  ASSERT_EQ(bound.size(), 1u);
  EXPECT_TRUE(has(bound, "may run on only 1 CPU(s)"));
  EXPECT_TRUE(has(bound, "--bind-to none"));
  EXPECT_TRUE(has(bound, "--cpus-per-task=2"));
  EXPECT_GE(cpus_in_affinity(), 1);
}

// A rank bound to one CPU (as mpirun binds by default) and asked for 2
// threads says so at start, and its summary carries the advice.
TEST(TrainLayout, WarnsWhenThreadsShareOneCpu) {
  testing::TempDir d;
  testing::write_bars_dataset(d / "data", 200);
  const std::string cmd = "taskset -c 0 " + std::string(AEVB_BINARY_DIR) +
                          "/aevb-train --progress-every 0 --threads 2 --hidden 16 --latent 2 --batch 100 --epochs 1 "
                          "--data " + (d / "data") + " --out " + (d / "run") + " >" + (d / "out") + " 2>" + (d / "err");
  ASSERT_EQ(std::system(cmd.c_str()), 0) << testing::slurp(d / "err");
  const std::string err = testing::slurp(d / "err");
  EXPECT_NE(err.find("aevb-train: advice: --threads 2 but this rank may run on only 1 CPU(s)"), std::string::npos)
      << err;
  std::string out = testing::slurp(d / "out");
  while (!out.empty() && out.back() == '\n') out.pop_back();
  const auto summary = nlohmann::json::parse(out.substr(out.rfind('\n') + 1));
  ASSERT_EQ(summary["advice"].size(), 1u);
}

}  // namespace
}  // namespace aevb
