// Errors and exit codes shared by every aevb executable.
//
// Principle: bad input is reported once, clearly, naming the file or option and
// what was expected, and the process exits non-zero. Code throws aevb::Error with
// the exit code that the executable should return; the mains catch it.
#pragma once
#include <stdexcept>
#include <string>

namespace aevb {

// Documented in README.md ("Exit codes"). Scripts rely on these numbers.
enum ExitCode : int {
  kExitOk = 0,
  kExitInternal = 1,   // a bug or an unexpected library failure
  kExitUsage = 2,      // bad command line / config option
  kExitBadInput = 3,   // input file missing, malformed or inconsistent
  kExitOutput = 4,     // cannot write outputs (missing/unwritable directory, disk full)
  kExitDiverged = 5,   // NaN/Inf in loss or gradients
  kExitStalled = 6,    // a rank made no progress for --watchdog-seconds (stuck I/O, a lost rank)
  kExitRequeue = 75,   // checkpointed on a signal; please requeue (EX_TEMPFAIL)
};

class Error : public std::runtime_error {
 public:
  Error(int code, const std::string& msg) : std::runtime_error(msg), code_(code) {}
  int code() const { return code_; }

 private:
  int code_;
};

inline Error usage_error(const std::string& msg) { return Error(kExitUsage, msg); }
inline Error input_error(const std::string& msg) { return Error(kExitBadInput, msg); }
inline Error output_error(const std::string& msg) { return Error(kExitOutput, msg); }

}  // namespace aevb
