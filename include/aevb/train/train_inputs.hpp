// What a training run reads before its first step, validated collectively (a
// bad file stops every rank with one message before any training), and the
// rows each rank holds during an epoch.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "aevb/dist/mpi_comm.hpp"
#include "aevb/io/checkpoint.hpp"
#include "aevb/io/dataset.hpp"
#include "aevb/io/dir_lock.hpp"
#include "aevb/train/train_config.hpp"

namespace aevb {

struct TrainInputs {
  Manifest manifest;
  SplitInfo train_info;
  int64_t n_train = 0;          // N: rows of the training split used
  ValidateOptions validate;
  DataMatrix train;             // one rank: all rows, loaded once; several: see EpochRows
  DataMatrix test;              // this rank's part of the test split (binarized if the model is)
  bool dynamic_binarization = false;
  std::string fingerprint;      // identifies the training data in checkpoints
};

// Rank 0 creates the run directory and locks it for the run's life (other
// ranks hold an empty DirLock). If the directory cannot be written or another
// run holds it, every rank throws CollectiveExit (exit 4) with the message.
DirLock claim_run_dir(const TrainConfig& cfg, const MpiComm& comm);

// Reads and checks the data (collectively).
TrainInputs load_train_inputs(const TrainConfig& cfg, const MpiComm& comm);

// What a checkpoint must match to be resumed from.
RunIdentity run_identity(const TrainConfig& cfg, const TrainInputs& in, const MpiComm& comm);

// The mean training input (for --output-bias-init mean): each rank sums its
// part of the rows, one reduction adds the sums.
std::vector<double> mean_training_input(const TrainConfig& cfg, const TrainInputs& in, const MpiComm& comm);

// The global minibatch of step s of an epoch is entries [s*M, s*M + M) of the
// epoch's permutation; each rank takes its part (part_of). With one rank all
// rows stay in memory; with several, each rank holds only the rows it uses in
// the current epoch.
class EpochRows {
 public:
  EpochRows(const TrainInputs& in, const TrainConfig& cfg, const MpiComm& comm) : in_(in), cfg_(cfg), comm_(comm) {}

  // Loads this rank's rows of steps [first_step, steps) of the epoch.
  const DataMatrix& load(const std::vector<int64_t>& perm, int64_t first_step, int64_t steps);
  // This rank's rows of one step, as positions in the loaded data.
  void rows_of_step(const std::vector<int64_t>& perm, int64_t step_in_epoch, std::vector<int64_t>& out) const;

 private:
  int64_t local(int64_t g) const;  // position in the loaded data of global row g
  const TrainInputs& in_;
  const TrainConfig& cfg_;
  const MpiComm& comm_;
  DataMatrix data_;
};

}  // namespace aevb
