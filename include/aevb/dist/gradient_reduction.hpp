// How the flat gradient buffer is summed over ranks: a strategy the training
// step calls at two points, so that it can be swapped without touching the step.
//
//   tail_ready(buf, from, n)  buf[from, n) is final (the decoder's block, which
//                             is complete before the encoder's backward runs,
//                             and the control slots behind it): may start now
//   finish(buf, n)            all of buf[0, n) is final; on return every rank
//                             holds the sum over ranks
//
// Today: one MPI allreduce, optionally split in two so that the decoder block's
// reduction overlaps the encoder's backward pass. A reduce-scatter + allgather
// (sharded optimizer update: each rank updates 1/P of the parameters between
// the two) is the next candidate; it would add a third call between finishing
// the reduce-scatter and the allgather, for the optimizer's shard.
#pragma once
#include <cstdint>
#include <memory>

#include "aevb/dist/mpi_comm.hpp"

namespace aevb {

class GradientReduction {
 public:
  virtual ~GradientReduction() = default;
  virtual void tail_ready(float* buf, int64_t from, int64_t n) = 0;
  virtual void finish(float* buf, int64_t n) = 0;
  // Seconds spent blocked in finish(), summed over calls (the benchmark's
  // "communication fraction").
  double blocked_seconds() const { return blocked_s_; }

 protected:
  double blocked_s_ = 0;
};

// overlap = false: one allreduce of the whole buffer in finish().
// overlap = true: a non-blocking allreduce of the tail from tail_ready(), the
// head's allreduce and the wait in finish().
std::unique_ptr<GradientReduction> make_allreduce_reduction(const MpiComm& comm, bool overlap);

}  // namespace aevb
