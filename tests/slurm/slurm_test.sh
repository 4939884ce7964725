#!/usr/bin/env bash
# The job scripts of jobs/ against a real SLURM started by this script:
# munge + slurmctld + slurmd from Debian's packages, private config and state in
# $AEVB_SLURM_DIR, torn down by PID. ctest runs it as a fixture:
#   slurm_test.sh up | train | eval | requeue | norequeue | array | failing | down
# Exit 77 = skipped (not root, or the SLURM packages are missing:
# AEVB_WITH_SLURM=1 tools/install-deps.sh installs them; `make test` does).
set -uo pipefail
L=${AEVB_SLURM_DIR:?set AEVB_SLURM_DIR (a scratch directory)}
BIN=${AEVB_BIN:?set AEVB_BIN (the build directory)}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
export SLURM_CONF=$L/slurm.conf AEVB_BIN=$BIN
W=$L/work
COMMON=(--data "$L/data" --hidden 32 --latent 4 --batch 50 --epochs 100000 --eval-every 0 --progress-every 0)

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; for f in "$W"/*.out; do [[ -f $f ]] && { echo "--- $f"; tail -20 "$f"; }; done; exit 1; }
pass() { echo "PASS: $*"; }
need_cluster() { [[ -f $L/ready ]] || skip "no cluster (slurm.up was skipped)"; }

field() { scontrol show job "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1; }
# Waits for a job (or all tasks of an array) to leave the queue; prints the
# elapsed seconds, or a message and returns 1 (after cancelling it) on timeout.
wait_job() {
  local id=$1 limit=${2:-180} t0=$SECONDS
  while squeue -h -j "$id" 2>/dev/null | grep -q .; do
    if (( SECONDS - t0 > limit )); then
      echo "job $id still queued after ${limit}s: $(squeue -h -j "$id")"
      scancel "$id" 2>/dev/null
      return 1
    fi
    sleep 0.2
  done
  echo $((SECONDS - t0))
}
submit() { sbatch --parsable -D "$W" "$@"; }

stop_pid_file() {  # kill the daemon in pid file $1 and wait for it
  local f=$1 pid
  [[ -f $f ]] || return 0
  pid=$(cat "$f")
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null
}

down() {
  stop_pid_file "$L/state/slurmd.pid"
  stop_pid_file "$L/state/slurmctld.pid"
  stop_pid_file "$L/munge/munged.pid"
  pkill -9 -f "slurmstepd.*$L" 2>/dev/null
  rm -f "$L/ready"
  echo "cluster down"
}

up() {
  [[ $(id -u) -eq 0 ]] || skip "the SLURM tests start daemons and need root"
  for c in munged mungekey slurmctld slurmd sbatch scontrol; do
    command -v "$c" >/dev/null || skip "$c is not installed (AEVB_WITH_SLURM=1 tools/install-deps.sh)"
  done
  [[ -d /sys/fs/cgroup ]] || skip "slurmd needs a mounted /sys/fs/cgroup"
  down >/dev/null
  rm -rf "$L"
  mkdir -p "$L/munge" "$L/state/ctld" "$L/state/d" "$L/log" "$W"
  chmod 755 "$L/munge"
  mungekey -c -k "$L/munge/munge.key" || fail "mungekey"
  munged --key-file="$L/munge/munge.key" --socket="$L/munge/munge.sock" --pid-file="$L/munge/munged.pid" \
         --log-file="$L/munge/munged.log" --seed-file="$L/munge/munged.seed" || fail "munged did not start"
  cat > "$SLURM_CONF" <<CONF
ClusterName=aevbtest
SlurmctldHost=localhost
SlurmUser=root
AuthType=auth/munge
AuthInfo=socket=$L/munge/munge.sock,cred_expire=10
StateSaveLocation=$L/state/ctld
SlurmdSpoolDir=$L/state/d
SlurmctldPidFile=$L/state/slurmctld.pid
SlurmdPidFile=$L/state/slurmd.pid
SlurmctldLogFile=$L/log/slurmctld.log
SlurmdLogFile=$L/log/slurmd.log
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=pmix
ReturnToService=2
KillWait=5
NodeName=localhost CPUs=$(nproc) RealMemory=1000 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
  slurmctld -c || fail "slurmctld did not start: $(tail -5 "$L/log/slurmctld.log")"
  slurmd || fail "slurmd did not start: $(tail -5 "$L/log/slurmd.log")"
  local t0=$SECONDS
  until [[ $(sinfo -h -o %T 2>/dev/null) == idle ]]; do
    (( SECONDS - t0 > 30 )) && fail "node not idle after 30 s: $(sinfo 2>&1) $(tail -5 "$L/log/slurmd.log")"
    sleep 0.1
  done
  # Tiny data through the conversion job: 600 + 100 random 28x28 images.
  source "$SRC/tests/tiny_mnist.sh"
  write_tiny_mnist "$L/raw" 600 100
  local id
  id=$(submit --wait --output="$W/convert.out" "$SRC/jobs/convert.sbatch" convert mnist --mnist-dir "$L/raw" --out "$L/data") \
    || fail "convert job failed"
  [[ -f $L/data/manifest.json ]] || fail "the convert job wrote no manifest"
  touch "$L/ready"
  pass "cluster up and data converted in $((SECONDS - t0)) s"
}

case_train() {  # a training job (mpirun launcher) completes and writes its model
  need_cluster
  local id secs
  id=$(LAUNCHER=mpirun submit --output="$W/train.out" "$SRC/jobs/train.sbatch" "${COMMON[@]}" --max-steps 60 --out "$W/train")
  secs=$(wait_job "$id") || fail "$secs"
  [[ $(field "$id" JobState) == COMPLETED ]] || fail "train job state $(field "$id" JobState) exit $(field "$id" ExitCode)"
  [[ -f $W/train/model.h5 ]] || fail "no model.h5"
  grep -q '"status":"done"' "$W/train.out" || fail "no JSON summary in the job output"
  pass "train job completed in ${secs} s"
}

case_eval() {  # an evaluation job (srun launcher) writes its results
  need_cluster
  [[ -f $W/train/model.h5 ]] || fail "needs the model of slurm.train"
  local id secs
  id=$(submit --output="$W/eval.out" "$SRC/jobs/eval.sbatch" --model "$W/train/model.h5" --data "$L/data" --k 1,10 --out "$W/train/eval.h5")
  secs=$(wait_job "$id") || fail "$secs"
  [[ $(field "$id" JobState) == COMPLETED ]] || fail "eval job state $(field "$id" JobState)"
  # (Not `h5dump | grep -q` under pipefail: grep leaving early can kill h5dump
  # with SIGPIPE once the header outgrows one pipe write.)
  local header
  header=$(h5dump -H "$W/train/eval.h5") || fail "h5dump cannot read eval.h5"
  [[ $header == *'"log_px"'* ]] || fail "no /log_px in eval.h5"
  grep -q '"tool":"aevb-eval"' "$W/eval.out" || fail "no JSON summary in the job output"
  pass "eval job completed in ${secs} s"
}

case_encode() {  # an encode job (srun launcher) writes the latents of the training split
  need_cluster
  [[ -f $W/train/model.h5 ]] || fail "needs the model of slurm.train"
  local id secs
  id=$(submit --output="$W/encode.out" "$SRC/jobs/encode.sbatch" --model "$W/train/model.h5" --data "$L/data" \
       --split train --out "$W/latents")
  secs=$(wait_job "$id") || fail "$secs"
  [[ $(field "$id" JobState) == COMPLETED ]] || fail "encode job state $(field "$id" JobState)"
  local header
  header=$(h5dump -A "$W/latents/latents.h5") || fail "h5dump cannot read latents.h5"
  [[ $header == *'"aevb-latents"'* ]] || fail "latents.h5 is not an aevb-latents file"
  [[ -f $W/latents/latents-00000.h5 ]] || fail "no shard latents-00000.h5"
  grep -q '"command":"encode"' "$W/encode.out" || fail "no JSON summary in the job output"
  pass "encode job completed in ${secs} s"
}

case_report() {  # the report job: pictures, the test split's latents, report/index.html
  need_cluster
  [[ -f $W/train/model.h5 ]] || fail "needs the model of slurm.train"
  local id secs f
  id=$(submit --output="$W/report.out" "$SRC/jobs/report.sbatch" "$W/train" "$L/data")
  secs=$(wait_job "$id") || fail "$secs"
  [[ $(field "$id" JobState) == COMPLETED ]] || fail "report job state $(field "$id" JobState): $(tail -5 "$W/report.out")"
  for f in pictures/sample.png pictures/reconstruct.png pictures/manifold.png pictures/interpolate.png \
           latents-test/latents.h5 report/index.html; do
    [[ -s $W/train/$f ]] || fail "the report job wrote no $f"
  done
  grep -q '"tool":"aevb-report"' "$W/report.out" || fail "no aevb-report JSON summary in the job output"
  grep -q 'data:image/png;base64' "$W/train/report/index.html" || fail "the report embeds no picture"
  pass "report job completed in ${secs} s"
}

case_requeue() {  # USR1 -> checkpoint -> requeue -> resume -> bitwise identical to an uninterrupted job
  need_cluster
  local steps=4000 ref id secs t=$SECONDS
  ref=$(submit --output="$W/ref.out" "$SRC/jobs/train.sbatch" "${COMMON[@]}" --max-steps $steps --out "$W/ref")
  wait_job "$ref" >/dev/null || fail "reference job timed out"
  # The signal below comes 1 s after the job starts, so the job must run for
  # several seconds: on a fast CPU 4000 steps do not (they end first), under the
  # sanitizers 4000 steps take minutes. Scale the steps to ~10 s on this machine
  # and run the reference again with them.
  if (( SECONDS - t < 8 )); then
    steps=$(( steps * 10 / (SECONDS - t > 1 ? SECONDS - t : 1) ))
    rm -rf "$W/ref"
    ref=$(submit --output="$W/ref.out" "$SRC/jobs/train.sbatch" "${COMMON[@]}" --max-steps $steps --out "$W/ref")
    wait_job "$ref" >/dev/null || fail "reference job timed out ($steps steps)"
  fi
  [[ $(field "$ref" JobState) == COMPLETED ]] || fail "reference job state $(field "$ref" JobState)"
  id=$(submit --output="$W/requeue.out" "$SRC/jobs/train.sbatch" "${COMMON[@]}" --max-steps $steps --out "$W/requeue")
  local t0=$SECONDS
  until [[ -f $W/requeue/config.ini ]]; do (( SECONDS - t0 > 60 )) && fail "job never started"; sleep 0.1; done
  sleep 1
  scancel --signal=USR1 --batch "$id" || fail "scancel --signal"
  secs=$(wait_job "$id" 240) || fail "$secs"
  [[ $(field "$id" JobState) == COMPLETED ]] || fail "requeued job state $(field "$id" JobState)"
  [[ $(field "$id" Restarts) -ge 1 ]] || fail "the job finished before the signal (no restart)"
  grep -q "requeueing job $id" "$W/requeue.out" || fail "no requeue in the job output"
  grep -q '"resumed_from_step":[1-9]' "$W/requeue.out" || fail "the restarted job did not resume from a checkpoint"
  grep -q '"status":"checkpointed"' "$W/requeue.out" || fail "first run's JSON line lost (output not appended)"
  "$BIN/tests/aevb_params_diff" "$W/ref/model.h5" "$W/requeue/model.h5" || fail "parameters differ from the uninterrupted job"
  pass "USR1 -> checkpoint -> requeue -> resume: bitwise identical ($(field "$id" Restarts) restart, ${secs} s)"
}

case_array() {  # a sweep as a job array writes one result per task
  need_cluster
  printf '%s\n' "# three latent sizes" "--latent 2" "" "--latent 3" "--latent 5" > "$W/sweep.txt"
  local id secs
  id=$(EVAL_ARGS="--k 1,10" submit --array=0-2 --output="$W/sweep-%A_%a.out" "$SRC/jobs/sweep.sbatch" "$W/sweep.txt" "$W/sweep" \
       "${COMMON[@]}" --max-steps 30)
  secs=$(wait_job "$id") || fail "$secs"
  for t in 0 1 2; do
    [[ -f $W/sweep/$t/eval.h5 ]] || fail "task $t wrote no eval.h5"
    grep -q "task $t done" "$W/sweep-${id}_$t.out" || fail "task $t did not finish"
  done
  grep -q "^latent = 5$" "$W/sweep/2/config.ini" || fail "task 2 did not get line 2 of the sweep"
  pass "array of 3 tasks in ${secs} s"
}

case_failing() {  # bad input: non-zero exit code and a clear message in the output
  need_cluster
  local id
  id=$(submit --output="$W/fail.out" "$SRC/jobs/train.sbatch" --data "$L/nope" --out "$W/fail")
  wait_job "$id" >/dev/null || fail "failing job timed out"
  [[ $(field "$id" JobState) == FAILED ]] || fail "state $(field "$id" JobState), expected FAILED"
  [[ $(field "$id" ExitCode) == 3:0 ]] || fail "exit code $(field "$id" ExitCode), expected 3:0"
  grep -qF "aevb-train: error: $L/nope/manifest.json: cannot open" "$W/fail.out" || fail "no clear message"
  pass "failing job: FAILED, exit 3, message in the output"
}

case_norequeue() {  # USR1 to a job that may not be requeued: exit 75 with the reason, not "completed"
  need_cluster
  local id t0=$SECONDS
  id=$(submit --no-requeue --output="$W/norequeue.out" "$SRC/jobs/train.sbatch" "${COMMON[@]}" --max-steps 1000000 --out "$W/norequeue")
  until [[ -f $W/norequeue/config.ini ]]; do (( SECONDS - t0 > 60 )) && fail "job never started"; sleep 0.1; done
  sleep 0.5
  scancel --signal=USR1 --batch "$id" || fail "scancel --signal"
  wait_job "$id" >/dev/null || fail "job did not stop"
  [[ $(field "$id" JobState) == FAILED && $(field "$id" ExitCode) == 75:0 ]] \
    || fail "state $(field "$id" JobState) exit $(field "$id" ExitCode), expected FAILED 75:0"
  grep -q "requeue refused" "$W/norequeue.out" || fail "no explanation in the output"
  ls "$W/norequeue/checkpoints/"ckpt-*.h5 >/dev/null 2>&1 || fail "no checkpoint"
  pass "no-requeue job: checkpointed, exit 75, reason in the output"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  train|eval|encode|report|requeue|norequeue|array|failing) "case_$1" ;;
  *) echo "usage: $0 up|down|train|eval|encode|report|requeue|norequeue|array|failing" >&2; exit 2 ;;
esac
