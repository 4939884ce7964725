// aevb-infer's commands (the infer layer composes the model's math, the files
// and MPI). Each returns the JSON summary line (rank 0; other ranks' is ignored).
#pragma once
#include <nlohmann/json.hpp>

#include "aevb/dist/mpi_comm.hpp"
#include "aevb/infer/infer_config.hpp"

namespace aevb {

nlohmann::json run_infer(const InferConfig& cfg, const MpiComm& comm);  // dispatches on cfg.command

nlohmann::json run_encode(const InferConfig& cfg, const MpiComm& comm);
nlohmann::json run_sample(const InferConfig& cfg, const MpiComm& comm);
nlohmann::json run_manifold(const InferConfig& cfg, const MpiComm& comm);
nlohmann::json run_reconstruct(const InferConfig& cfg, const MpiComm& comm);
nlohmann::json run_interpolate(const InferConfig& cfg, const MpiComm& comm);
nlohmann::json run_inpaint(const InferConfig& cfg, const MpiComm& comm);
nlohmann::json run_denoise(const InferConfig& cfg, const MpiComm& comm);

}  // namespace aevb
