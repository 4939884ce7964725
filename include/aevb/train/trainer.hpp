// The training loop of aevb-train: epochs of steps. Each step's global
// minibatch is the next M entries of the epoch's permutation (derived from
// (seed, epoch) on every rank), and this rank takes its part of it; the step
// itself, data to update, is TrainStep::run (train_step.hpp). Everything else
// (metrics, evaluation, checkpoints, signals) happens between steps.
#pragma once
#include <nlohmann/json.hpp>

#include "aevb/dist/mpi_comm.hpp"
#include "aevb/train/train_config.hpp"

namespace aevb {

// Runs a whole training job; returns the JSON summary that the executable prints
// as its last line. Throws aevb::Error (or CollectiveExit) on failure.
nlohmann::json run_training(const TrainConfig& cfg, const MpiComm& comm);

}  // namespace aevb
