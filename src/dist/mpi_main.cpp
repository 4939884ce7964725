#include "aevb/dist/mpi_main.hpp"

#include <malloc.h>

#include <iostream>

#include "aevb/base/error.hpp"
#include "aevb/base/utf8.hpp"

namespace aevb {

namespace {
// glibc's malloc serves blocks above its mmap threshold with a fresh mmap and
// returns them at free. That threshold starts at 128 KiB and only rises after
// a large block is freed, so in a process that never frees one, Open MPI's
// allreduce temp buffers (MBs: the gradient) are mapped and page-faulted anew
// at every step: 2 ranks on MNIST trained 4x slower that way (7.2k vs 31k
// samples/s, measured; perf showed page faults and clear_page). Fixed values:
// blocks up to 32 MiB (glibc's own ceiling for the dynamic value) come from
// the heap and stay mapped; larger ones (streamed data units) are still
// mapped and returned at free, so memory stays bounded (docs/memory.md).
void steady_malloc() {
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
}

// The last stdout line on failure, as on success: scripts read it with tail -1.
void print_failure_line(const char* tool, int code, const std::string& message) {
  std::cout << json_text({{"tool", tool}, {"status", "error"}, {"exit_code", code}, {"error", message}}) << std::endl;
}
}  // namespace

int mpi_main(const char* tool, int argc, char** argv, const std::function<bool(const MpiComm&)>& parse,
             const std::function<nlohmann::json(const MpiComm&)>& run) {
  // oneDNN runs OpenMP threads; only the main thread calls MPI.
  steady_malloc();
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
