#include "aevb/train/train_step.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "aevb/base/error.hpp"
#include "aevb/base/rng.hpp"
#include "aevb/core/parallel.hpp"

namespace aevb {

TrainStep::TrainStep(const StepSetup& s, std::unique_ptr<GradientReduction> reduction)
    : s_(s), reduction_(reduction ? std::move(reduction) : make_allreduce_reduction(s.comm, s.overlap)) {
  if (s_.gather) exchange_ = std::make_unique<ActivationExchange>(s_.model, s_.sgvb, s_.comm);
  reduce_buf_.assign(static_cast<size_t>(s_.model.num_params() + kSlots), 0.f);
  s_.model.bind_gradients(reduce_buf_.data());
}

// The model keeps gradients of its own again when the step goes away.
TrainStep::~TrainStep() { s_.model.bind_gradients(nullptr); }

StepResult TrainStep::run(const StepInput& in) {
  Vae& m = s_.model;
  const int64_t P = m.num_params();
  float* ctl = reduce_buf_.data() + P;

  // 1. Gather and binarize.
  gather(in);

  // 2. Forward. N/M turns the minibatch sum into an estimate of the full-data
  // bound; M is the global batch, so the sum over ranks is rank-count invariant.
  const float loss_scale = static_cast<float>(s_.n_total) / static_cast<float>(in.global_batch);
  StepResult out;
  out.sums = s_.sgvb.forward({x_.data(), in.rows.global_index.data(), in.rows.size()},
                             {s_.seed, Purpose::kLatentNoise, static_cast<uint64_t>(in.step)}, loss_scale);

  std::fill(ctl, ctl + kSlots, 0.f);
  ctl[kDiverged] = std::isfinite(out.sums.elbo) ? 0.f : 1.f;
  ctl[kStop] = in.requests.stop ? 1.f : 0.f;
  ctl[kCheckpoint] = in.requests.checkpoint ? 1.f : 0.f;
  if (exchange_) {
    // 3-6 (--reduction gather): the deltas of this rank's rows, then every
    // rank's layer inputs and deltas to every rank, each forming the whole
    // batch's gradient (train/activation_exchange.hpp).
    s_.sgvb.backward_decoder(/*weights=*/false);
    s_.sgvb.backward_encoder(/*weights=*/false);
    if (s_.watchdog) s_.watchdog->phase("the activation exchange (waiting for the other ranks)", true, in.step);
    exchange_->exchange(in.global_batch, ctl, kSlots);
    if (s_.watchdog) s_.watchdog->phase("the weight gradients of the whole batch", false, in.step);
    exchange_->weight_gradients();
  } else {
    // 3. Decoder backward: its gradient block is final.
    s_.sgvb.backward_decoder();

    // 4. Start reducing the decoder block and the control slots behind it.
    reduction_->tail_ready(reduce_buf_.data(), m.decoder_begin(), P + kSlots);

    // 5. Encoder backward.
    s_.sgvb.backward_encoder();

    // 6. Finish the reduction.
    if (s_.watchdog) s_.watchdog->phase("the gradient reduction (waiting for the other ranks)", true, in.step);
    reduction_->finish(reduce_buf_.data(), P + kSlots);
  }
  if (s_.watchdog) s_.watchdog->phase("the optimizer update", false, in.step);

  // 7. Agreed checks: every rank sees the same reduced flags, so every rank
  // takes the same decision (one message, a clean exit with 5, no MPI_Abort).
  if (ctl[kDiverged] > 0.f)
    agreed_failure(s_.comm, "aevb-train", kExitDiverged,
                   "training diverged at step " + std::to_string(in.step) + ": the ELBO is NaN or infinite on " +
                       std::to_string(static_cast<int>(ctl[kDiverged])) + " rank(s); the last checkpoint is intact");
  out.stop = ctl[kStop] > 0.f;
  out.checkpoint = ctl[kCheckpoint] > 0.f;

  // With full VB the KL over the decoder's weights enters here, once, on every
  // rank alike (its noise is keyed by the step only).
  if (m.spec().bayes) weight_kl(m, s_.prior_precision, s_.weight_kl, s_.seed, static_cast<uint64_t>(in.step), m.grads.data());

  // 8. Update; the weight prior's gradient is added here, once. A non-finite
  // gradient (the loss can be finite while e.g. exp(log sigma^2) overflows in
  // float) stops the run the same way; the parameters in memory are then never
  // written.
  if (!s_.opt.step(m.params.data(), m.grads.data(), in.lr))
    agreed_failure(s_.comm, "aevb-train", kExitDiverged,
                   "training diverged at step " + std::to_string(in.step) +
                       ": NaN or infinite gradients; the last checkpoint is intact");
  return out;
}

// This rank's rows as model inputs, binarized with noise keyed by each point's
// global index, so the result does not depend on which rank or batch position
// handles the point.
void TrainStep::gather(const StepInput& in) {
  const int64_t D = in.format.cols, n = in.rows.size();
  if (static_cast<int64_t>(x_.size()) < n * D) x_.resize(static_cast<size_t>(n * D));
  parallel_for(n, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      // The rows lie anywhere in the split (47 MB for MNIST, beyond the
      // caches): fetching the next row while this one is converted and
      // binarized halves the gather's time.
      if (i + 1 < i1) {
        const uint8_t* next = in.rows.row[static_cast<size_t>(i + 1)];
        for (int64_t b = 0; b < in.format.row_bytes; b += 64) __builtin_prefetch(next + b);
      }
      float* dst = x_.data() + i * D;
      stored_to_float(in.format, in.rows.row[static_cast<size_t>(i)], dst);
      if (s_.dynamic_binarization)
        binarize({s_.seed, Purpose::kBinarize, static_cast<uint64_t>(in.step),
                  static_cast<uint64_t>(in.rows.global_index[static_cast<size_t>(i)]), 0},
                 dst, dst, D);
    }
  });
}

}  // namespace aevb
