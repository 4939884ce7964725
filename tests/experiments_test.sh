#!/usr/bin/env bash
# Every configuration of jobs/experiments/ is one aevb-train accepts and runs:
# the submit scripts run with a fake `sbatch` that records its arguments, then
# each line of each sweep file, with the script's common options, trains for
# one epoch (4 steps) on a tiny dataset (with the validation split the IWAE protocol
# needs), and each submission's evaluation options run aevb-eval once.
# Every line of every sweep file there must be submitted by some script.
#   experiments_test.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
SRC=$1 BIN=$2
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/bin"
cat > "$T/bin/sbatch" <<'S'
#!/usr/bin/env bash
# Records one submission per line (arguments NUL-separated) and the EVAL_ARGS it saw.
printf '%s\0' "$@" >> "$FAKE_SBATCH_LOG.$(date +%s%N)"
echo "${EVAL_ARGS:-}" >> "$FAKE_SBATCH_LOG.eval"
echo "Submitted batch job 1"
S
chmod +x "$T/bin/sbatch"
export FAKE_SBATCH_LOG="$T/sub"

# A tiny binary dataset with train, valid and test splits (64 values per row).
python3 - "$T/tiny" <<'PY'
import sys, subprocess, os
d = sys.argv[1]; os.makedirs(d)
with open(d + "/rows.csv", "w") as f:
    for i in range(120):
        f.write(",".join("1" if (i * 2654435761 >> (j // 16)) & 1 else "0" for j in range(64)) + "\n")
PY
"$BIN/aevb-data" convert csv --input "$T/tiny/rows.csv" --split train=80,valid=20,test=rest --out "$T/data" >/dev/null

PATH="$T/bin:$PATH" "$SRC/jobs/experiments/iwae-table1.sh" "$T/data" "$T/out-iwae"
PATH="$T/bin:$PATH" "$SRC/jobs/experiments/aevb-fig2.sh" "$T/data" "$T/data" "$T/out-fig2"
PATH="$T/bin:$PATH" "$SRC/jobs/experiments/appendix-f.sh" "$T/data" "$T/out-appf"
subs=("$T"/sub.[0-9]*)
[[ ${#subs[@]} -eq 5 ]] || { echo "FAIL: expected 5 submissions, got ${#subs[@]}"; exit 1; }
mapfile -t evals < "$T/sub.eval"

runs=0
declare -A covered
for n in "${!subs[@]}"; do
  mapfile -d '' args < "${subs[$n]}"
  # sbatch [options...] .../sweep.sbatch SWEEP_FILE OUT common...
  i=0; while [[ ${args[$i]} != */sweep.sbatch ]]; do i=$((i + 1)); done
  array=$(printf '%s\n' "${args[@]:0:$i}" | sed -n 's/^--array=//p')
  sweep=${args[$((i + 1))]}
  common=("${args[@]:$((i + 3))}")
  mapfile -t lines < <(grep -v -e '^[[:space:]]*#' -e '^[[:space:]]*$' "$sweep")
  if [[ $array == *-* ]]; then tasks=($(seq "${array%-*}" "${array#*-}")); else IFS=, read -r -a tasks <<< "$array"; fi
  for t in "${tasks[@]}"; do
    [[ $t -lt ${#lines[@]} ]] || { echo "FAIL: $sweep has ${#lines[@]} lines, --array=$array"; exit 1; }
    covered["$sweep:$t"]=1
    read -r -a config <<< "${lines[$t]}"
    out="$T/run$runs"
    if ! "$BIN/aevb-train" --progress-every 0 "${common[@]}" "${config[@]}" --batch 20 --max-steps 4 --out "$out" \
         > "$out.log" 2>&1; then
      echo "FAIL: $sweep: '${lines[$t]}' with ${common[*]}"; tail -n 3 "$out.log"; exit 1
    fi
    runs=$((runs + 1))
  done
  # This submission's evaluation options, on its last model.
  read -r -a eval_args <<< "${evals[$n]}"
  if [[ ${#eval_args[@]} -gt 0 ]]; then
    "$BIN/aevb-eval" --progress-every 0 --model "$out/model.h5" --data "$T/data" --split test "${eval_args[@]}" \
      --out "$T/eval$n.h5" > "$T/eval$n.log" 2>&1 || { echo "FAIL: aevb-eval ${eval_args[*]}"; tail -n 3 "$T/eval$n.log"; exit 1; }
  fi
done
# Every line of every sweep file is submitted by some script.
for f in "$SRC"/jobs/experiments/*.txt; do
  n=$(grep -c -v -e '^[[:space:]]*#' -e '^[[:space:]]*$' "$f")
  for ((t = 0; t < n; ++t)); do [[ -n ${covered["$f:$t"]:-} ]] || { echo "FAIL: $f line $t is never submitted"; exit 1; }; done
done
[[ " ${evals[0]} " == *" --k 1,5,50,5000 "* ]] || { echo "FAIL: iwae-table1.sh: EVAL_ARGS '${evals[0]}'"; exit 1; }
[[ -f "$T/run0/model_best.h5" ]] || { echo "FAIL: --keep-best left no model_best.h5"; exit 1; }
echo "ok: $runs configurations in ${#subs[@]} submissions train; their evaluations run"
