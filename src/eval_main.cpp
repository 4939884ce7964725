// aevb-eval: importance-sampled log-likelihood of a trained VAE, data-parallel
// over MPI. Usage and exit codes: aevb-eval --help.
#include <mpi.h>

#include <iostream>

#include "aevb/error.hpp"
#include "aevb/eval_config.hpp"
#include "aevb/evaluator.hpp"
#include "aevb/mpi_comm.hpp"

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int code = aevb::kExitOk;
  {
    aevb::MpiComm comm;
    try {
      aevb::EvalConfig cfg;
      bool run = true;
      // Option errors are identical on every rank: agree, print once, exit together.
      aevb::collectively(comm, "aevb-eval", [&] { run = aevb::parse_eval_config(argc, argv, cfg, comm.rank() == 0); });
      if (run) {
        const auto summary = aevb::run_evaluation(cfg, comm);
        if (comm.rank() == 0) std::cout << summary.dump() << std::endl;
      }
    } catch (const aevb::CollectiveExit& e) {
      code = e.code;
    } catch (const aevb::Error& e) {
      // Failure after the inputs were checked (e.g. writing the results): one
      // message, then end every rank (never a hang).
      std::cerr << "aevb-eval: error: " << e.what() << std::endl;
      if (comm.size() > 1) MPI_Abort(MPI_COMM_WORLD, e.code());
      code = e.code();
    } catch (const std::exception& e) {
      std::cerr << "aevb-eval: internal error: " << e.what() << std::endl;
      if (comm.size() > 1) MPI_Abort(MPI_COMM_WORLD, aevb::kExitInternal);
      code = aevb::kExitInternal;
    }
  }
  MPI_Finalize();
  return code;
}
