// The gradient of a small global batch by exchanging activations instead of
// gradients (--reduction gather).
//
// A dense layer's weight gradient over a batch is  dW = sum_rows in^T delta:
// it needs only each row's layer input and the loss's gradient at the layer's
// output. Below some rows per rank those are far fewer bytes than the
// gradient itself (784-500-20 at 10 rows per rank: 3,628 floats a row, 36 k a
// rank, against 0.8 M parameters), so instead of summing gradients over
// ranks, every rank runs the forward and data-backward passes of its own rows,
// one MPI_Allgatherv gives every rank every row's inputs and deltas, and each
// rank forms the whole batch's weight gradients itself (the same GEMMs as one
// rank running the whole batch). What it costs: the weight-gradient GEMMs (a
// third of a step's arithmetic) and the optimizer run on every rank for all M
// rows; what it saves: the allreduce of the whole gradient (0.4-0.7 ms a step
// on the 2-core machines, more than a step of 20 rows computes). The trainer
// chooses it by size (--reduction auto: train/layout_advice.hpp).
//
// The step's control flags (divergence, stop, checkpoint) travel behind each
// rank's rows in the same call and are summed over ranks. Every rank computes
// the same gradient from the same bytes with the same primitives, so the ranks'
// parameters stay identical, as after an allreduce. That assumes ranks whose
// CPUs pick the same kernels (as the replicated optimizer update already does);
// --check-every's parameter hash stops a run whose ranks drift apart.
#pragma once
#include <cstdint>
#include <vector>

#include "aevb/base/buffer.hpp"
#include "aevb/core/sgvb.hpp"
#include "aevb/core/vae.hpp"
#include "aevb/dist/mpi_comm.hpp"

namespace aevb {

class ActivationExchange {
 public:
  // model and sgvb must outlive this object; model must not be Bayesian.
  ActivationExchange(Vae& model, const Sgvb& sgvb, const MpiComm& comm);

  // After sgvb.backward_decoder(false) and sgvb.backward_encoder(false) on this
  // rank's part (base/partition.hpp) of a global batch of global_batch points:
  // every rank's layer inputs and deltas to every rank, and the `slots` floats
  // at ctl summed over ranks (in place). Collective.
  void exchange(int64_t global_batch, float* ctl, int slots);
  // Then, on every rank alone: the whole batch's gradient into model.grads.
  void weight_gradients();

  // Seconds blocked in the collective, summed over exchange() calls.
  double blocked_seconds() const { return blocked_s_; }

  // Floats a point sends (its layer inputs and deltas, encoder and decoder;
  // `samples` decoder rows per point).
  static int64_t floats_per_point(const Vae& model, int samples);

 private:
  void gather_rows(Mlp& net, int64_t rows_per_point, int64_t& offset, size_t first_layer);

  Vae& m_;
  const Sgvb& sgvb_;
  const MpiComm& comm_;
  FloatBuffer buf_;                      // every rank's block, in rank order
  std::vector<int> counts_, displs_;     // floats per rank's block, and where it starts
  std::vector<int64_t> first_point_;     // rank q's first point of the batch (q = P: M)
  std::vector<FloatBuffer> in_, delta_;  // per layer (encoder's, then decoder's): all rows
  std::vector<Mlp::LayerIo> io_;
  double blocked_s_ = 0;
};

}  // namespace aevb
