// Importance-sampled log-likelihood of a VAE (the evaluator's inner loop):
//
//   log p^(x) = log 1/K sum_k exp w_k,   w_k = log p(x|z_k) + log p(z_k) - log q(z_k|x)
//
// with z_k = mu + sigma * eps_k ~ q(z|x) (Proposal::kPosterior) or z_k ~ p(z)
// (Proposal::kPrior, the naive Monte Carlo estimator: w_k = log p(x|z_k)).
//
// eps_k is keyed by (seed, purpose, step 0, global point index, k): a point's
// estimate depends neither on the number of ranks nor on the batching, and the
// estimate for K uses the first K samples of the same stream, so several K come
// out of one pass. Samples stream through the decoder in chunks of a FIXED row
// count (oneDNN primitives are created once per row count and GEMMs want many
// rows); a running log-sum-exp in double per point keeps memory independent of K.
#pragma once
#include <cstdint>
#include <limits>
#include <vector>

#include "aevb/base/buffer.hpp"
#include "aevb/core/likelihood.hpp"
#include "aevb/base/rng.hpp"
#include "aevb/core/vae.hpp"

namespace aevb {

// Running log-sum-exp in double: add(w) folds exp(w) in; value() = log sum.
struct LogSumExp {
  double max = -std::numeric_limits<double>::infinity(), sum = 0;
  void add(double w);
  double value() const;
};

// log 1/n sum_i exp w_i and its delta-method standard error,
// sd(exp w) / (sqrt(n) mean(exp w)) (0 for n < 2): the estimate of log E[exp w]
// from n independent weights (AIS chains, importance samples).
struct LogMeanExp {
  double value = 0, se = 0;
};
LogMeanExp log_mean_exp(const double* w, int64_t n);

enum class Proposal { kPosterior, kPrior };

// How the samples of a group of points are laid out in one decoder call:
// `points` points x `samples` consecutive samples each (sample-major within a
// point, as DecoderLikelihood expects), `passes` calls per group.
struct ChunkPlan {
  int64_t points = 1, samples = 1, passes = 1;
  int64_t rows() const { return points * samples; }
};
// About chunk_rows rows per decoder call: k_max >= chunk_rows -> one point per
// call, k_max split evenly over the fewest passes; else whole points (k_max
// samples each), as many as fit.
ChunkPlan plan_chunks(int64_t k_max, int64_t chunk_rows);

class ImportanceSampler {
 public:
  // ks: increasing, >= 1 (checked by the caller's option parsing; asserted here).
  // points_per_group > 0 overrides plan_chunks' choice of points per decoder call
  // (the evaluator aligns the groups of two samplers that way).
  ImportanceSampler(Vae& model, Proposal proposal, std::vector<int64_t> ks, uint64_t seed, int64_t chunk_rows,
                    int64_t points_per_group = 0);

  // x: rows x D model inputs, index: global point indices (key the noise).
  // log_px: rows x ks.size(), log_px[i * nK + j] = estimate of point i with ks[j] samples.
  // se (optional, rows): the standard error of the estimate with the largest K,
  // sd(w) / (sqrt(K) mean(w)) over its K weights (the delta method).
  // Any number of rows; they are processed in groups of plan().points (the last
  // group padded), so callers that want bit-identical results across rank counts
  // hand each rank whole groups of the same global points.
  void run(const float* x, const int64_t* index, int64_t rows, double* log_px, double* se = nullptr);

  const ChunkPlan& plan() const { return plan_; }
  const std::vector<int64_t>& ks() const { return ks_; }
  // Sample evaluations done so far (rows of the decoder that were used).
  int64_t sample_evals() const { return sample_evals_; }

 private:
  void run_group(const float* x, const int64_t* index, int64_t n, double* log_px, double* se);

  Vae& m_;
  Proposal proposal_;
  std::vector<int64_t> ks_;
  uint64_t seed_;
  ChunkPlan plan_;
  DecoderLikelihood lik_;
  FloatBuffer xg_, enc_, eps_, z_;
  std::vector<double> ll_, logq_minus_logp_;
  std::vector<LogSumExp> acc_, acc2_;  // of w and of 2w per point
  int64_t sample_evals_ = 0;
};

}  // namespace aevb
