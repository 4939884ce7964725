// Where a run starts: from scratch, or from a checkpoint of its run directory
// (--resume auto: the newest readable one; a path: that one; none: scratch).
#pragma once
#include <cstdint>

#include "aevb/core/optimizer.hpp"
#include "aevb/core/vae.hpp"
#include "aevb/dist/mpi_comm.hpp"
#include "aevb/io/checkpoint.hpp"
#include "aevb/train/train_config.hpp"

namespace aevb {

// Finds the checkpoint to resume from (rank 0), loads it into m and opt on every
// rank, and returns where training stands (step 0 for a fresh start). A
// corrupted newest checkpoint is reported and the previous one is used; a
// mismatched one is refused. Going back (an older checkpoint, or --resume none)
// sets the newer checkpoints aside.
TrainProgress resume_training(const TrainConfig& cfg, const RunIdentity& id, Vae& m, Optimizer& opt,
                              const MpiComm& comm);

// A cheap hash of the parameter bits, compared across ranks: identical
// replicas are an invariant of data-parallel SGD that a bug or a bad node breaks.
int64_t params_hash(const Vae& m);

}  // namespace aevb
