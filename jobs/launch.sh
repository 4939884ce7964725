# Shared by the aevb SLURM job scripts (sourced, not run).
#
# aevb_launch CMD ARGS...   runs an MPI program across the job's tasks and
# survives preemption:
#   - the launcher is `srun --mpi=pmix` (LAUNCHER=srun, the default) or
#     `mpirun` (LAUNCHER=mpirun); threads per rank = --cpus-per-task;
#   - it runs in the BACKGROUND: bash runs a trap only after the foreground
#     child exits, so with a foreground launcher the ranks would never see the
#     signal. The USR1/TERM trap forwards the signal to the launcher, which
#     forwards it to every rank (#SBATCH --signal=B:USR1@<seconds> delivers it
#     to this batch shell before the time limit);
#   - exit 75 from the trainer means "checkpointed, please requeue": the job
#     requeues itself (scontrol requeue) and the restarted job resumes from the
#     newest checkpoint (aevb-train --resume auto is the default).
# The job's output file should use --open-mode=append so restarts append.

: "${LAUNCHER:=srun}"
: "${AEVB_BIN:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/build}"
export OMP_NUM_THREADS="${SLURM_CPUS_PER_TASK:-1}"
# mpirun as root (containers, CI) needs both variables; harmless otherwise.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

aevb_log() { echo "[$(date '+%F %T')] job ${SLURM_JOB_ID:-?}${SLURM_ARRAY_TASK_ID:+[$SLURM_ARRAY_TASK_ID]} restart ${SLURM_RESTART_COUNT:-0}: $*" >&2; }

aevb_launch() {
  local ntasks="${SLURM_NTASKS:-1}" pid rc
  case "$LAUNCHER" in
    srun) srun --mpi=pmix --ntasks="$ntasks" --cpus-per-task="${SLURM_CPUS_PER_TASK:-1}" "$@" & ;;
    mpirun) mpirun -np "$ntasks" --bind-to none "$@" & ;;
    *) aevb_log "LAUNCHER must be srun or mpirun, got '$LAUNCHER'"; return 2 ;;
  esac
  pid=$!
  trap 'aevb_log "signal received: forwarding USR1 to the launcher"; kill -USR1 '"$pid"' 2>/dev/null' USR1 TERM
  # `wait` returns early (>128) when a trapped signal arrives: wait again while
  # the launcher is still alive.
  while true; do
    wait "$pid"
    rc=$?
    kill -0 "$pid" 2>/dev/null || break
  done
  trap - USR1 TERM
  return "$rc"
}

# Runs aevb_launch and applies the exit-code policy: 75 -> requeue this job.
aevb_run_requeueable() {
  local rc=0
  aevb_launch "$@" || rc=$?
  if [[ $rc -eq 75 && -n "${SLURM_JOB_ID:-}" ]]; then
    aevb_log "checkpointed (exit 75): requeueing job $SLURM_JOB_ID"
    scontrol requeue "$SLURM_JOB_ID"
    exit 0
  fi
  aevb_log "finished with exit code $rc"
  return "$rc"
}
