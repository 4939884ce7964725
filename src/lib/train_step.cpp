#include "aevb/train_step.hpp"

#include <cmath>

#include "aevb/error.hpp"
#include "aevb/rng.hpp"
#include "aevb/stop_signal.hpp"

namespace aevb {

TrainStep::TrainStep(const StepSetup& s) : s_(s) {}

ElboSums TrainStep::run(const int64_t* rows, int64_t n, int64_t global_batch, int64_t step, float lr,
                        bool request_checkpoint) {
  Vae& m = s_.model;
  const int64_t D = s_.data.cols;
  if (static_cast<int64_t>(index_.size()) < n) {
    x_.resize(static_cast<size_t>(n * D));
    index_.resize(static_cast<size_t>(n));
  }
  // 1.+2. Gather; binarize with noise keyed by the point's global index, so the
  // result does not depend on which rank or batch position handles the point.
  for (int64_t i = 0; i < n; ++i) {
    const int64_t r = rows[i];
    index_[static_cast<size_t>(i)] = s_.data.global_index[static_cast<size_t>(r)];
    const float* src = s_.data.row(r);
    float* dst = x_.data() + i * D;
    if (s_.dynamic_binarization)
      binarize({s_.seed, Purpose::kBinarize, static_cast<uint64_t>(step), static_cast<uint64_t>(index_[i]), 0}, src,
               dst, D);
    else
      std::copy(src, src + D, dst);
  }

  // 3.+4. Forward/backward scaled by N/M of the GLOBAL batch, then the gradient
  // sum over ranks. The control slots behind the gradients carry each rank's
  // divergence, stop-signal and checkpoint flags through the same reduction.
  const int64_t P = m.num_params(), dec0 = m.decoder_begin(), tail = P - dec0 + Vae::kControlSlots;
  MPI_Request dec_req = MPI_REQUEST_NULL;
  auto on_decoder_done = [&](const ElboSums& sums) {
    float* ctl = m.control();
    ctl[kDiverged] = std::isfinite(sums.elbo) ? 0.f : 1.f;
    ctl[kStop] = stop_signal_received() ? 1.f : 0.f;
    ctl[kCheckpoint] = request_checkpoint ? 1.f : 0.f;
    if (s_.overlap) dec_req = s_.comm.iallreduce_sum(m.grads.data() + dec0, tail);
  };
  const ElboSums sums =
      s_.sgvb.run(x_.data(), index_.data(), n, {s_.seed, Purpose::kLatentNoise, static_cast<uint64_t>(step)}, true,
                  static_cast<float>(s_.n_total) / static_cast<float>(global_batch), nullptr, on_decoder_done);
  const double t_comm = MPI_Wtime();
  if (s_.overlap) {
    s_.comm.allreduce_sum(m.grads.data(), dec0);
    MpiComm::wait(dec_req);
  } else {
    s_.comm.allreduce_sum(m.grads.data(), P + Vae::kControlSlots);
  }
  comm_seconds_ += MPI_Wtime() - t_comm;
  // Every rank sees the same reduced flags and gradients, so every rank takes
  // the same decision: one message, a clean exit with 5, no MPI_Abort.
  if (m.control()[kDiverged] > 0.f)
    agreed_failure(s_.comm, "aevb-train", kExitDiverged,
                   "training diverged at step " + std::to_string(step) + ": the ELBO is NaN or infinite on " +
                       std::to_string(static_cast<int>(m.control()[kDiverged])) +
                       " rank(s); the last checkpoint is intact");

  // 5. Update; the weight prior's gradient is added here, once. A non-finite
  // gradient (the loss can be finite while e.g. exp(log sigma^2) overflows in
  // float) stops the run the same way; the parameters in memory are then
  // never written.
  if (!s_.opt.step(m.params.data(), m.grads.data(), lr))
    agreed_failure(s_.comm, "aevb-train", kExitDiverged,
                   "training diverged at step " + std::to_string(step) +
                       ": NaN or infinite gradients; the last checkpoint is intact");
  return sums;
}

}  // namespace aevb
