#include "aevb/base/interrupt.hpp"

#include <signal.h>

#include <csignal>
#include <string>

namespace aevb {
namespace {

volatile std::sig_atomic_t g_signal = 0;
extern "C" void on_interrupt(int sig) { g_signal = sig; }

}  // namespace

Interrupted::Interrupted(int s) : std::runtime_error("interrupted by signal " + std::to_string(s)), sig(s) {}

void install_interrupt_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_interrupt;
  sigemptyset(&sa.sa_mask);
  // One-shot: a second signal while cleaning up takes the default action.
  sa.sa_flags = SA_RESETHAND | SA_RESTART;
  for (int s : {SIGINT, SIGTERM, SIGHUP}) sigaction(s, &sa, nullptr);
}

int interrupt_signal() { return g_signal; }

void throw_if_interrupted() {
  if (g_signal != 0) throw Interrupted(g_signal);
}

void die_of_signal(int sig) {
  struct sigaction sa {};
  sa.sa_handler = SIG_DFL;
  sigemptyset(&sa.sa_mask);
  sigaction(sig, &sa, nullptr);
  sigset_t unblock;
  sigemptyset(&unblock);
  sigaddset(&unblock, sig);
  sigprocmask(SIG_UNBLOCK, &unblock, nullptr);
  raise(sig);
}

}  // namespace aevb
