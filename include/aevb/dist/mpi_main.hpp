// The shape of every aevb MPI executable's main(): MPI_Init, parse options
// collectively, run, print the JSON summary (rank 0, last line on stdout),
// map errors to exit codes without ever leaving a rank hanging, MPI_Finalize.
#pragma once
#include <functional>
#include <nlohmann/json.hpp>

#include "aevb/dist/mpi_comm.hpp"

namespace aevb {

// parse: reads argv into the tool's config; returns false after --help.
// run: does the work; its JSON may carry "exit_code" (e.g. 75, requeue).
int mpi_main(const char* tool, int argc, char** argv, const std::function<bool(const MpiComm&)>& parse,
             const std::function<nlohmann::json(const MpiComm&)>& run);

}  // namespace aevb
