// One data-parallel SGVB training step, from data to update. run() reads top to
// bottom:
//
//   1. convert this rank's rows of the global minibatch (stored dtype -> float)
//      and binarize them
//      (dynamic binarization: noise keyed by (seed, step, global index))
//   2. forward: encoder, z = mu + sigma * eps, decoder, log p(x|z)
//   3. decoder backward
//   4. start reducing the decoder's gradient block and the control slots
//   5. encoder backward
//   6. finish the reduction: every rank holds the sum over ranks
//   (3-6 with --reduction gather: the deltas of both networks, then one
//   allgather of every rank's layer inputs and deltas and the control slots,
//   after which every rank forms the whole batch's weight gradients:
//   train/activation_exchange.hpp)
//   7. agreed checks: divergence stops every rank; stop/checkpoint requests
//      of any rank reach all
//   8. the optimizer update, which adds the weight prior's gradient once (with
//      full VB over the decoder's weights, the gradient of KL(q(theta) || p(theta))
//      is added once instead, just before)
//
// The loss is  -(N/M) sum_batch ELBO  with M the GLOBAL batch: summed over
// ranks it is the same for any rank count. The control slots sit behind the
// gradient in this step's reduction buffer, so the flags travel in the same
// reduction as the gradient (no extra message).
#pragma once
#include "aevb/base/watchdog.hpp"
#include <cstdint>
#include <memory>
#include <vector>

#include "aevb/base/buffer.hpp"
#include "aevb/core/optimizer.hpp"
#include "aevb/core/sgvb.hpp"
#include "aevb/core/vae.hpp"
#include "aevb/dist/gradient_reduction.hpp"
#include "aevb/dist/mpi_comm.hpp"
#include "aevb/io/row_reader.hpp"
#include "aevb/train/activation_exchange.hpp"
#include "aevb/train/train_rows.hpp"

namespace aevb {

struct StepSetup {
  Vae& model;
  Sgvb& sgvb;
  Optimizer& opt;
  const MpiComm& comm;
  int64_t n_total;          // N, rows in the training split (the N of N/M)
  uint64_t seed;
  bool dynamic_binarization;
  bool overlap;             // overlap the decoder block's reduction with the encoder backward
  Watchdog* watchdog = nullptr;  // told when the step waits for the other ranks (base/watchdog.hpp)
  // Full VB (model.spec().bayes): the KL term's prior precision and estimator.
  float prior_precision = 1.f;
  WeightKl weight_kl = WeightKl::kAnalytic;
  // Exchange layer inputs and deltas instead of gradients (--reduction gather).
  bool gather = false;
};

// What this rank asks of all ranks at the end of a step.
struct StepRequests {
  bool stop = false;        // a stop signal (SIGUSR1/SIGTERM) reached this rank
  bool checkpoint = false;  // this rank's checkpoint timer is due
};

struct StepInput {
  const StepRows& rows;     // this rank's slice of the global minibatch, as stored
  const RowFormat& format;  // how to turn a stored row into model inputs
  int64_t global_batch;     // M of this step over all ranks
  int64_t step;
  float lr;
  StepRequests requests;
};

struct StepResult {
  ElboSums sums;            // this rank's slice
  bool stop = false;        // agreed: some rank asked to stop
  bool checkpoint = false;  // agreed: some rank asked for a checkpoint
};

class TrainStep {
 public:
  // reduction: how the gradient is summed over ranks; nullptr = one allreduce
  // (split in two when s.overlap).
  explicit TrainStep(const StepSetup& s, std::unique_ptr<GradientReduction> reduction = nullptr);
  ~TrainStep();
  // Ends every rank with exit 5 (agreed, one message) if the loss or the
  // gradient is not finite on any rank.
  StepResult run(const StepInput& in);

  // Seconds blocked in the gradient reduction, summed over run() calls.
  double comm_seconds() const { return exchange_ ? exchange_->blocked_seconds() : reduction_->blocked_seconds(); }

 private:
  void gather(const StepInput& in);

  // Behind the gradient in the reduction buffer: summed over ranks, each slot
  // counts the ranks that raised the flag.
  enum Slot { kDiverged = 0, kStop = 1, kCheckpoint = 2, kSlots = 16 };

  StepSetup s_;
  FloatBuffer reduce_buf_;  // [gradient (num_params) | control slots]
  std::unique_ptr<GradientReduction> reduction_;
  std::unique_ptr<ActivationExchange> exchange_;  // set with StepSetup::gather
  FloatBuffer x_;
};

}  // namespace aevb
