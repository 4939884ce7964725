// aevb-train: train a VAE with SGVB, data-parallel over MPI.
// Usage and exit codes: aevb-train --help, README.md.
#include "aevb/dist/mpi_main.hpp"
#include "aevb/train/trainer.hpp"

int main(int argc, char** argv) {
  aevb::TrainConfig cfg;
  return aevb::mpi_main(
      "aevb-train", argc, argv,
      [&](const aevb::MpiComm& comm) { return aevb::parse_train_config(argc, argv, cfg, comm.rank() == 0); },
      [&](const aevb::MpiComm& comm) { return aevb::run_training(cfg, comm); });  // exit 75 after a stop signal
}
