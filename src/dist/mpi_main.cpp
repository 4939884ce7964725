#include "aevb/dist/mpi_main.hpp"

#include <iostream>

#include "aevb/base/error.hpp"
#include "aevb/base/utf8.hpp"

namespace aevb {

namespace {
// The last stdout line on failure, as on success: scripts read it with tail -1.
void print_failure_line(const char* tool, int code, const std::string& message) {
  std::cout << json_text({{"tool", tool}, {"status", "error"}, {"exit_code", code}, {"error", message}}) << std::endl;
}
}  // namespace

int mpi_main(const char* tool, int argc, char** argv, const std::function<bool(const MpiComm&)>& parse,
             const std::function<nlohmann::json(const MpiComm&)>& run) {
  // oneDNN runs OpenMP threads; only the main thread calls MPI.
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  int code = kExitOk;
  {
    MpiComm comm;
    try {
      bool go = true;
      // Option errors are identical on every rank: agree, print once, exit together.
      collectively(comm, tool, [&] {
        if (provided < MPI_THREAD_FUNNELED)
          throw Error(kExitInternal, "the MPI library provides thread level " + std::to_string(provided) +
                                         ", below MPI_THREAD_FUNNELED (" + std::to_string(MPI_THREAD_FUNNELED) +
                                         ") that oneDNN's OpenMP threads need; use an MPI built with thread support");
        go = parse(comm);
      });
      if (go) {
        const nlohmann::json summary = run(comm);
        if (comm.rank() == 0) std::cout << json_text(summary) << std::endl;
        code = summary.value("exit_code", 0);
      }
    } catch (const CollectiveExit& e) {
      code = e.code;  // already on stderr, from one rank
      if (comm.rank() == 0) print_failure_line(tool, code, e.message);
    } catch (const Error& e) {
      // A failure after the collective checks: one message, then end every rank.
      std::cerr << tool << ": error: " << utf8_safe(e.what()) << std::endl;
      print_failure_line(tool, e.code(), e.what());
      if (comm.size() > 1) comm.abort(e.code());
      code = e.code();
    } catch (const std::exception& e) {
      std::cerr << tool << ": internal error: " << utf8_safe(e.what()) << std::endl;
      print_failure_line(tool, kExitInternal, std::string("internal error: ") + e.what());
      if (comm.size() > 1) comm.abort(kExitInternal);
      code = kExitInternal;
    }
  }
  MPI_Finalize();
  return code;
}

}  // namespace aevb
