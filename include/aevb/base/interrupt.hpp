// SIGINT / SIGTERM / SIGHUP for aevb-data's converters: "stop, clean up, then
// die of the signal".
//
// Why not just die: a converter killed mid-way leaves its shards under temp
// names (tens of MB for MNIST). The handler only records the signal; the
// converters poll it between row chunks and throw Interrupted, so the usual
// unwinding (DatasetWriter's destructor) removes the temp files, and the main
// then re-raises the signal with its default action: the exit status still
// says "killed by SIGTERM" (shell: 143) to whoever sent it. A second signal
// during the cleanup kills at once (the handlers are one-shot); the next
// conversion into the directory removes what that leaves.
//
// aevb-train does not use this: it checkpoints on SIGTERM (dist/stop_signal.hpp).
#pragma once
#include <stdexcept>

namespace aevb {

// Thrown by throw_if_interrupted(); not an aevb::Error (it has no exit code:
// the process ends by the signal).
struct Interrupted : std::runtime_error {
  explicit Interrupted(int s);
  int sig;
};

void install_interrupt_handlers();
int interrupt_signal();        // the signal received, 0 if none
void throw_if_interrupted();   // throws Interrupted once a signal has arrived
// Restores the default action of `sig` and raises it (returns only if the
// signal does not end the process).
void die_of_signal(int sig);

}  // namespace aevb
