// What a training run reads before its first step, validated collectively (a
// bad file stops every rank with one message before any training). The
// training rows themselves come from TrainRows (train_rows.hpp).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "aevb/dist/mpi_comm.hpp"
#include "aevb/io/checkpoint.hpp"
#include "aevb/io/dataset.hpp"
#include "aevb/io/dir_lock.hpp"
#include "aevb/io/row_reader.hpp"
#include "aevb/train/train_config.hpp"

namespace aevb {

struct TrainInputs {
  Manifest manifest;
  SplitInfo train_info;
  int64_t n_train = 0;          // N: rows of the training split used
  ValidateOptions validate;
  int64_t n_test = 0;           // rows of the test split used (0: no test split)
  int64_t n_valid = 0;          // rows of the validation split (0: none)
  bool dynamic_binarization = false;
  std::string fingerprint;      // identifies the training data in checkpoints
};

// Rank 0 creates the run directory and locks it for the run's life (other
// ranks hold an empty DirLock). If the directory cannot be written or another
// run holds it, every rank throws CollectiveExit (exit 4) with the message.
DirLock claim_run_dir(const TrainConfig& cfg, const MpiComm& comm);

// Reads and checks the data (collectively).
TrainInputs load_train_inputs(const TrainConfig& cfg, const MpiComm& comm);

// This rank's part of the first `rows` rows of an evaluation split (test or
// validation; part_of over ranks), held as stored if it fits an eighth of
// --memory-budget, else read at each evaluation.
std::unique_ptr<RowRange> open_eval_part(const TrainConfig& cfg, const TrainInputs& in, const std::string& split,
                                         int64_t rows, const MpiComm& comm);

// What a checkpoint must match to be resumed from.
RunIdentity run_identity(const TrainConfig& cfg, const TrainInputs& in, const MpiComm& comm);

// The mean training input (for --output-bias-init mean): each rank sums its
// part of the rows (read in chunks), one reduction adds the sums.
std::vector<double> mean_training_input(const TrainConfig& cfg, const TrainInputs& in, const MpiComm& comm);

}  // namespace aevb
