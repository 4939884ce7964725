#include "aevb/dist/stop_signal.hpp"

#include <csignal>

namespace aevb {
namespace {
volatile std::sig_atomic_t g_signal = 0;
extern "C" void on_stop_signal(int sig) { g_signal = sig; }
}  // namespace

void install_stop_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;  // do not break MPI's or HDF5's system calls
  sigaction(SIGUSR1, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  // Ctrl-C: the first one stops at the next boundary like SIGTERM; the handler
  // then reverts to the default, so a second Ctrl-C kills at once.
  sa.sa_flags = SA_RESTART | SA_RESETHAND;
  sigaction(SIGINT, &sa, nullptr);
}

bool stop_signal_received() { return g_signal != 0; }
int stop_signal_number() { return g_signal; }

}  // namespace aevb
