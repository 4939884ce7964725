// What aevb-eval reads before any compute (private to the eval layer): the
// model, the results file's lock, and the data's description. The points'
// rows themselves are read by each rank later (RowRange), in bounded memory.
#pragma once
#include <cstdint>
#include <string>

#include "aevb/dist/mpi_comm.hpp"
#include "aevb/eval/eval_config.hpp"
#include "aevb/io/dataset.hpp"
#include "aevb/io/dir_lock.hpp"
#include "aevb/io/model_file.hpp"

namespace aevb {

struct Inputs {
  LoadedModel model;
  std::string dataset_name, data_sha256;
  Manifest manifest;
  ValidateOptions validate;
  int64_t points = 0;  // N: the first N rows of the split
  bool binarized = false;
  DirLock lock;  // rank 0: the results file's lock, held to the end
};

// Everything that can fail on bad input, before any compute (collectively).
Inputs load_inputs(const EvalConfig& cfg, const MpiComm& comm);

}  // namespace aevb
