// aevb-eval's driver: load and check the inputs on every rank (collectively, so
// bad input ends all ranks with one message), split the points across ranks,
// run the importance sampler, the ELBO and the optional prior estimator, gather
// per-point results to rank 0 in global order, write the results file, return
// the summary (rank 0; other ranks get an empty object).
#pragma once
#include <nlohmann/json.hpp>

#include "aevb/eval/eval_config.hpp"
#include "aevb/dist/mpi_comm.hpp"

namespace aevb {

nlohmann::json run_evaluation(const EvalConfig& cfg, const MpiComm& comm);

}  // namespace aevb
