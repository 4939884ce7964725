// aevb-eval: importance-sampled log-likelihood of a trained VAE, data-parallel
// over MPI. Usage and exit codes: aevb-eval --help, README.md.
#include "aevb/eval/eval_config.hpp"
#include "aevb/eval/evaluator.hpp"
#include "aevb/dist/mpi_main.hpp"

int main(int argc, char** argv) {
  aevb::EvalConfig cfg;
  return aevb::mpi_main(
      "aevb-eval", argc, argv,
      [&](const aevb::MpiComm& comm) { return aevb::parse_eval_config(argc, argv, cfg, comm.rank() == 0); },
      [&](const aevb::MpiComm& comm) { return aevb::run_evaluation(cfg, comm); });
}
