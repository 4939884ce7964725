// The ELBO of a whole split, evaluated in chunks and summed over ranks. Used for
// the trainer's test ELBO (and its smoke tests); the importance-sampled log p(x)
// lives in the evaluator.
#pragma once
#include <cstdint>
#include <vector>

#include "aevb/mpi_comm.hpp"
#include "aevb/sgvb.hpp"

namespace aevb {

struct EvalData {
  std::vector<float> x;          // rows x cols model inputs (binarized if the model expects it)
  std::vector<int64_t> index;    // global sample index of each row (keys the noise)
  int64_t rows = 0, cols = 0;
};

// Mean ELBO etc. per data point over all ranks' rows (each rank passes its own
// rows; pass all rows and rank_slice = true to let this function slice them).
ElboSums evaluate_elbo(Vae& m, const EvalData& data, uint64_t seed, int samples, const MpiComm& comm,
                       bool rank_slice = true, int64_t chunk = 1000);

}  // namespace aevb
