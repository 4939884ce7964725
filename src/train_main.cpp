// aevb-train: train a VAE with SGVB, data-parallel over MPI.
// Usage and exit codes: aevb-train --help, README.md.
#include <mpi.h>

#include <iostream>

#include "aevb/error.hpp"
#include "aevb/mpi_comm.hpp"
#include "aevb/trainer.hpp"

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int code = aevb::kExitOk;
  {
    aevb::MpiComm comm;
    try {
      aevb::TrainConfig cfg;
      bool run = true;
      // Option errors are identical on every rank: agree, print once, exit together.
      aevb::collectively(comm, "aevb-train", [&] { run = aevb::parse_train_config(argc, argv, cfg, comm.rank() == 0); });
      if (run) {
        const auto summary = aevb::run_training(cfg, comm);
        if (comm.rank() == 0) std::cout << summary.dump() << std::endl;
        code = summary.value("exit_code", 0);  // 75 after a stop signal: checkpointed, please requeue
      }
    } catch (const aevb::CollectiveExit& e) {
      code = e.code;
    } catch (const aevb::Error& e) {
      // Mid-run failure: one message, then end every rank (never a hang).
      std::cerr << "aevb-train: error: " << e.what() << std::endl;
      if (comm.size() > 1) MPI_Abort(MPI_COMM_WORLD, e.code());
      code = e.code();
    } catch (const std::exception& e) {
      std::cerr << "aevb-train: internal error: " << e.what() << std::endl;
      if (comm.size() > 1) MPI_Abort(MPI_COMM_WORLD, aevb::kExitInternal);
      code = aevb::kExitInternal;
    }
  }
  MPI_Finalize();
  return code;
}
