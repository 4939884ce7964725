// One data-parallel SGVB training step, from data to update:
//
//   1. gather this rank's rows of the global minibatch
//   2. binarize them dynamically (noise keyed by (seed, step, global index))
//   3. SGVB forward + backward: grads = d[-(N/M) sum_batch ELBO]
//   4. one allreduce of the flat gradient buffer (sum over ranks); with overlap,
//      the decoder's block starts reducing while the encoder's backward runs
//   5. the optimizer step, which adds the weight prior's gradient exactly once
//
// The trainer calls it once per step; the benchmark times it directly.
#pragma once
#include <cstdint>
#include <vector>

#include "aevb/buffer.hpp"
#include "aevb/dataset.hpp"
#include "aevb/mpi_comm.hpp"
#include "aevb/optimizer.hpp"
#include "aevb/sgvb.hpp"
#include "aevb/vae.hpp"

namespace aevb {

struct StepSetup {
  Vae& model;
  Sgvb& sgvb;
  Optimizer& opt;
  const MpiComm& comm;
  const DataMatrix& data;   // this rank's rows in memory
  int64_t n_total;          // N, rows in the training split (the N of N/M)
  uint64_t seed;
  bool dynamic_binarization;
  bool overlap;             // overlap the decoder-gradient allreduce with the encoder backward
};

class TrainStep {
 public:
  explicit TrainStep(const StepSetup& s);
  // rows = indices into s.data of this rank's slice; global_batch = M of this
  // step over all ranks. Throws Error(kExitDiverged) if any rank's ELBO is not finite.
  // request_checkpoint: this rank asks all ranks to checkpoint after this step.
  ElboSums run(const int64_t* rows, int64_t n_rows, int64_t global_batch, int64_t step, float lr,
               bool request_checkpoint = false);

  // Agreed by all ranks after run(): a stop signal reached some rank, or some
  // rank asked for a checkpoint.
  bool stop_requested() const { return s_.model.control()[kStop] > 0.f; }
  bool checkpoint_requested() const { return s_.model.control()[kCheckpoint] > 0.f; }

  // Seconds spent blocked in the gradient reduction (allreduce, or waiting for
  // the overlapped one), summed over run() calls: the benchmark's
  // "communication fraction".
  double comm_seconds() const { return comm_seconds_; }

  // The control slots (see Vae::control()).
  enum Slot { kDiverged = 0, kStop = 1, kCheckpoint = 2 };

 private:
  StepSetup s_;
  FloatBuffer x_;
  std::vector<int64_t> index_;
  double comm_seconds_ = 0;
};

}  // namespace aevb
