// The training loop of aevb-train. One step, from data to update:
//
//   1. the global minibatch = the next M entries of this epoch's permutation
//      (derived from (seed, epoch) on every rank); this rank takes its slice
//   2. gather its rows, binarize them dynamically (noise keyed by global index)
//   3. SGVB forward + backward: grads = d[-(N/M) sum_batch ELBO]
//   4. one allreduce of the flat gradient buffer (sum over ranks)
//   5. the optimizer step, which adds the weight prior's gradient once
//
// Everything else (metrics, evaluation, checkpoints, signals) happens between
// steps.
#pragma once
#include <nlohmann/json.hpp>

#include "aevb/dist/mpi_comm.hpp"
#include "aevb/train/train_config.hpp"

namespace aevb {

// Runs a whole training job; returns the JSON summary that the executable prints
// as its last line. Throws aevb::Error (or CollectiveExit) on failure.
nlohmann::json run_training(const TrainConfig& cfg, const MpiComm& comm);

}  // namespace aevb
