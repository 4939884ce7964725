// Resuming an interrupted aevb-eval (private to the eval layer): OUT.partial
// holds the finished points of a run stopped by a signal; the same command
// copies them instead of recomputing them, and refuses a file written with
// other settings.
#pragma once
#include <cstdint>
#include <string>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "aevb/dist/mpi_comm.hpp"
#include "aevb/eval/eval_config.hpp"
#include "aevb/io/eval_results.hpp"
#include "eval_inputs.hpp"

namespace aevb {

// Finished points of an interrupted evaluation (OUT.partial) with the same
// settings: they are copied, not recomputed.
struct Finished {
  EvalResults r;
  std::unordered_map<int64_t, size_t> row;  // global index -> row of r
  bool has(int64_t g) const { return row.count(g) != 0; }
};

std::string partial_path(const EvalConfig& cfg);

// What identifies an evaluation: the same model, data and estimator settings
// give the same per-point numbers (they do not depend on the rank count).
// Sets these attributes of r; its per-point arrays are left as they are.
void describe_run(const EvalConfig& cfg, const Inputs& in, EvalResults& r);

// Every rank reads OUT.partial (rank 0 writes, everyone reads); --force ignores it.
Finished load_finished(const EvalConfig& cfg, const Inputs& in, const MpiComm& comm);

// Point i of `from` into row j of `to` (sized), every per-point array.
void copy_point(const EvalResults& from, size_t i, EvalResults& to, size_t j, int64_t nK, bool prior);

// Rank 0, after a stop signal: this run's finished points plus the earlier
// ones it did not reach, written atomically to OUT.partial; the JSON summary.
nlohmann::json write_partial(const EvalConfig& cfg, const Inputs& in, EvalResults done, const Finished& fin,
                             double t_start);

}  // namespace aevb
