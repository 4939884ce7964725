// What every aevb-infer command reads before any compute (private to the infer
// layer): the model, the split's description, how its rows become model
// inputs, and how pictures are laid out.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "aevb/dist/mpi_comm.hpp"
#include "aevb/infer/infer_config.hpp"
#include "aevb/io/dataset.hpp"
#include "aevb/io/dir_lock.hpp"
#include "aevb/io/model_file.hpp"
#include "aevb/io/png_image.hpp"

namespace aevb {

struct InferInputs {
  LoadedModel model;
  Manifest manifest;           // empty for sample / manifold
  ValidateOptions validate;
  int64_t points = 0;          // rows of the split used: the first `points`
  bool binarized = false;      // rows go through the fixed evaluation binarization
  int64_t tile_h = 0, tile_w = 0;
  bool unit_range = true;      // pictures map [0, 1] to black..white (else each picture's own range)
  DirLock lock;                // rank 0: the first output's lock (<dir>/.<name>.lock), held to the end
};

// Collectively: loads the model (and the split when the command reads data),
// checks the dimensions, and (rank 0) that the outputs may be written: it
// creates their folder, takes the lock of the first output (one writer at a
// time: encode's shards, a picture's PNG and HDF5), and refuses existing
// outputs without --force.
// `default_points` is used when --points is -1 (0: all rows).
InferInputs load_infer_inputs(const InferConfig& cfg, const MpiComm& comm, int64_t default_points,
                              const std::vector<std::string>& outputs);

// Rows [lo, hi) of the split as model inputs (binarized when the model needs it).
DataMatrix read_points(const InferInputs& in, const InferConfig& cfg, int64_t lo, int64_t hi,
                       const std::string& split = "");

// The grid layout of these inputs' pictures with `cols` tiles per row; range
// [0, 1] or the min/max of `values` (n floats).
GridLayout layout_for(const InferInputs& in, int64_t cols, const float* values, int64_t n);

// The summary line's common fields.
nlohmann::json summary_head(const InferConfig& cfg, const InferInputs& in);

}  // namespace aevb
