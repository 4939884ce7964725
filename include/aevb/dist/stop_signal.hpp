// SIGUSR1 / SIGTERM / SIGINT -> "stop at the next boundary, keep the work, exit 75".
// (A second SIGINT kills: Ctrl-C twice is the way out of anything.)
//
// The handler only sets a flag. The trainer puts the flag into the control slots
// that ride along with the gradient allreduce, so all ranks see a signal that
// reached ANY rank at the same step, write one checkpoint (rank 0) and exit
// together with kExitRequeue. SLURM's --signal=B:USR1@T, mpirun and srun all
// deliver these signals to the ranks.
#pragma once

namespace aevb {

void install_stop_signal_handlers();
bool stop_signal_received();
int stop_signal_number();  // the last one received (0 if none)

}  // namespace aevb
