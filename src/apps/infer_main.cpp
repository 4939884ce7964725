// aevb-infer: use a trained VAE — encode a split, sample, reconstruct, the
// latent manifold, interpolate, inpaint, denoise. Usage and exit codes:
// aevb-infer --help, README.md ("Look at your model").
#include "aevb/dist/mpi_main.hpp"
#include "aevb/infer/infer.hpp"
#include "aevb/infer/infer_config.hpp"

int main(int argc, char** argv) {
  aevb::InferConfig cfg;
  return aevb::mpi_main(
      "aevb-infer", argc, argv,
      [&](const aevb::MpiComm& comm) { return aevb::parse_infer_config(argc, argv, cfg, comm.rank() == 0); },
      [&](const aevb::MpiComm& comm) { return aevb::run_infer(cfg, comm); });
}
