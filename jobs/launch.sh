# Shared by the aevb SLURM job scripts (sourced, not run).
#
# aevb_launch CMD ARGS...   runs an MPI program across the job's tasks and
# survives preemption:
#   - the launcher is `srun` (LAUNCHER=srun, the default) or
#     `mpirun` (LAUNCHER=mpirun); threads per rank = --cpus-per-task;
#   - each rank is bound to its own cores (AEVB_CPU_BIND=cores, the default):
#     `srun --cpu-bind=cores`; Open MPI's mpirun `--bind-to core` (with
#     `--map-by slot:PE=<cpus-per-task>` for threaded ranks); MPICH's mpirun
#     (hydra) `-bind-to core[:<cpus-per-task>]`; Intel MPI pins by itself
#     (I_MPI_PIN_DOMAIN). AEVB_CPU_BIND=none turns binding off; any other
#     value is passed to srun's --cpu-bind;
#   - srun's PMI plugin (--mpi) is AEVB_SRUN_MPI if set, else chosen from the
#     MPI library the program links: pmix for Open MPI, pmi2 for the MPICH
#     family (libmpich, libmpi.so.12: MPICH, Intel MPI; under pmix Debian's
#     MPICH would start P separate 1-rank jobs), cray_shasta for Cray MPICH;
#   - it runs in the BACKGROUND: bash runs a trap only after the foreground
#     child exits, so with a foreground launcher the ranks would never see the
#     signal. The trap forwards the signal to the launcher, which forwards it
#     to every rank (#SBATCH --signal=B:USR1@<seconds> delivers it to this
#     batch shell before the time limit);
#   - exit 75 from the trainer after a USR1 means "checkpointed, please
#     requeue": the job requeues itself (scontrol requeue) and the restarted
#     job resumes from the newest checkpoint (--resume auto is the default).
# The job's output file should use --open-mode=append so restarts append.

: "${LAUNCHER:=srun}"
: "${AEVB_CPU_BIND:=cores}"
# The programs: AEVB_BIN if set; beside an installed copy of these scripts
# (<prefix>/share/aevb/jobs -> <prefix>/bin, see `cmake --install`); else the
# build directory of the source tree they are in (<repo>/build).
if [[ -z ${AEVB_BIN:-} ]]; then
  AEVB_BIN=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  if [[ $AEVB_BIN == */share/aevb/jobs && -x ${AEVB_BIN%/share/aevb/jobs}/bin/aevb-train ]]; then
    AEVB_BIN=${AEVB_BIN%/share/aevb/jobs}/bin
  else
    AEVB_BIN=$(dirname "$AEVB_BIN")/build
  fi
fi
export OMP_NUM_THREADS="${SLURM_CPUS_PER_TASK:-1}"
# mpirun as root (containers, CI) needs both variables; harmless otherwise.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

aevb_log() { echo "[$(date '+%F %T')] job ${SLURM_JOB_ID:-?}${SLURM_ARRAY_TASK_ID:+[$SLURM_ARRAY_TASK_ID]} restart ${SLURM_RESTART_COUNT:-0}: $*" >&2; }

# Signals reaching the batch shell: recorded, and forwarded (as USR1, which
# every launcher passes on and the trainer treats like TERM) to the launcher
# of a trainer while one runs. The trap is set before anything is launched, so
# no signal can kill this shell.
AEVB_SIGNAL=""
AEVB_FORWARD_TO=""
aevb_on_signal() {
  AEVB_SIGNAL=$1
  aevb_log "received SIG$1${AEVB_FORWARD_TO:+: forwarding USR1 to the launcher}"
  [[ -n $AEVB_FORWARD_TO ]] && kill -USR1 "$AEVB_FORWARD_TO" 2>/dev/null
  return 0
}
trap 'aevb_on_signal USR1' USR1
trap 'aevb_on_signal TERM' TERM

# The binding options of the mpirun on PATH, for AEVB_CPU_BIND and the job's
# --cpus-per-task (printed, one line).
aevb_mpirun_binding() {
  local cpus="${SLURM_CPUS_PER_TASK:-1}" version
  version=$(mpirun --version 2>&1)
  if [[ $version == *"Open MPI"* || $version == *OpenRTE* ]]; then
    if [[ $AEVB_CPU_BIND == none ]]; then echo "--bind-to none"
    elif ((cpus > 1)); then echo "--map-by slot:PE=$cpus --bind-to core"
    else echo "--bind-to core"; fi
  elif [[ $version == *"Intel(R) MPI"* ]]; then
    if [[ $AEVB_CPU_BIND == none ]]; then echo "-genv I_MPI_PIN 0"; fi
  elif [[ $version == *HYDRA* ]]; then
    if [[ $AEVB_CPU_BIND == none ]]; then echo "-bind-to none"
    elif ((cpus > 1)); then echo "-bind-to core:$cpus"
    else echo "-bind-to core"; fi
  fi  # another mpirun: its own defaults
}

# srun's --mpi plugin for PROGRAM (printed).
aevb_srun_mpi() {
  local libs
  if [[ -n ${AEVB_SRUN_MPI:-} ]]; then echo "$AEVB_SRUN_MPI"; return; fi
  libs=$(ldd "$1" 2>/dev/null)
  if [[ $libs == *libmpi_cray* ]]; then echo cray_shasta
  elif [[ $libs == *libmpich* || $libs == *libmpi.so.12* ]]; then echo pmi2
  else echo pmix; fi
}

# aevb_launch [--forward-signals] PROGRAM ARGS...: runs PROGRAM on the job's
# tasks; returns its exit code. Without --forward-signals (evaluation, which is
# short) a signal is only recorded and the program runs on.
aevb_launch() {
  local forward=0 ntasks="${SLURM_NTASKS:-1}" pid rc
  if [[ ${1:-} == --forward-signals ]]; then forward=1; shift; fi
  case "$LAUNCHER" in
    srun) srun --mpi="$(aevb_srun_mpi "$1")" --cpu-bind="$AEVB_CPU_BIND" --ntasks="$ntasks" \
            --cpus-per-task="${SLURM_CPUS_PER_TASK:-1}" "$@" & ;;
    mpirun) local bind
            read -r -a bind <<< "$(aevb_mpirun_binding)"
            mpirun -np "$ntasks" "${bind[@]}" "$@" & ;;
    *) aevb_log "LAUNCHER must be srun or mpirun, got '$LAUNCHER'"; return 2 ;;
  esac
  pid=$!
  if ((forward)); then
    AEVB_FORWARD_TO=$pid
    # A signal that came while the launcher was starting is passed on now.
    [[ -n $AEVB_SIGNAL ]] && kill -USR1 "$pid" 2>/dev/null
  fi
  # `wait` returns early (status > 128) when a trapped signal arrives: keep
  # waiting while the launcher lives, then collect its own exit status.
  while kill -0 "$pid" 2>/dev/null; do wait "$pid"; done
  wait "$pid"
  rc=$?
  AEVB_FORWARD_TO=""
  return "$rc"
}

# Runs a trainer with aevb_launch and applies the exit-code policy: 75 after a
# USR1 (time limit, or `scancel --signal=USR1 --batch`) -> requeue this job;
# 75 after a TERM (scancel, or preemption, which SLURM requeues by itself) ->
# exit 75 without requeueing, so a cancelled job stays cancelled.
aevb_run_requeueable() {
  local rc=0
  aevb_launch --forward-signals "$@" || rc=$?
  if [[ $rc -eq 75 ]]; then
    if [[ $AEVB_SIGNAL == USR1 && -n ${SLURM_JOB_ID:-} ]]; then
      aevb_log "checkpointed (exit 75): requeueing job $SLURM_JOB_ID"
      if scontrol requeue "$SLURM_JOB_ID"; then exit 0; fi
      aevb_log "requeue refused (--no-requeue?): resubmit to continue from the checkpoint"
    else
      aevb_log "checkpointed (exit 75) after SIG${AEVB_SIGNAL:-?}: not requeueing"
    fi
    exit 75
  fi
  aevb_log "finished with exit code $rc"
  return "$rc"
}
