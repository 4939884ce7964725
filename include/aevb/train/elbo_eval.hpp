// The ELBO of a whole split, summed over ranks: the trainer's test ELBO.
// (The importance-sampled log p(x) lives in the evaluator.)
#pragma once
#include <cstdint>

#include "aevb/core/sgvb.hpp"
#include "aevb/dist/mpi_comm.hpp"
#include "aevb/io/row_reader.hpp"

namespace aevb {

// Sums of per-point terms over all ranks (every rank gets the result).
ElboSums allreduce_sum(const ElboSums& local, const MpiComm& comm);

// The bound a run reports for a split: the ELBO with estimator B and L samples,
// or the importance-weighted bound of K samples (estimator A's terms).
struct BoundSpec {
  Objective objective = Objective::kElbo;
  int samples = 1;  // L or K
  BayesDecoder* bayes = nullptr;  // full VB: the decoder with weight noise (data term under q(theta))
};

// The bound on this rank's rows in chunks (binarized with the evaluation
// binarization keyed by eval_seed when `binarize`), with the noise of step 0
// so that successive evaluations of a run are comparable; summed over ranks.
ElboSums evaluate_elbo(Vae& m, RowRange& mine, bool binarize, uint64_t eval_seed, BoundSpec bound,
                       const MpiComm& comm, int64_t chunk = 1000);

}  // namespace aevb
