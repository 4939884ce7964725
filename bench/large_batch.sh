#!/usr/bin/env bash
# Large global batches: what data parallelism at scale does to learning.
# When P grows, users grow the global batch M with it. This trains the paper's
# model (784-500-20, the aevb-train defaults) on MNIST with M = 100, 1,000 and
# 10,000 under stated learning-rate rules, for Adagrad and Adam, measuring the
# test ELBO every epoch, and reports how many training samples each run needed
# to reach the test ELBO that the M = 100 run of the same optimizer reaches at
# the end of its EPOCHS_100 epochs (default 50).
#
#   rules (base rates: Adagrad 0.02, the paper's; Adam 0.001):
#     sqrt     lr = base * sqrt(M / 100)
#     linear   lr = base * (M / 100), warmed up linearly over the first
#              WARMUP_EPOCHS (default 5) epochs (--lr-warmup-epochs)
#     none     lr = base whatever M
#
# Runs are single-rank, one thread (the ELBO does not depend on the rank count:
# the MpiTrain rank-invariance tests), one at a time; runs already in
# BENCH_DIR (default BUILD_DIR/bench-data/large-batch) are kept. A run that
# diverges (exit 5) is reported as such.
#
#   bench/large_batch.sh [BUILD_DIR]
set -uo pipefail
BUILD=$(cd "${1:-build}" && pwd)
SRC=$(cd "$(dirname "$0")/.." && pwd)
DATA=${AEVB_DATA:-$SRC/../shared/data}
EPOCHS_100=${EPOCHS_100:-50}
EPOCHS_LARGE=${EPOCHS_LARGE:-100}
WARMUP_EPOCHS=${WARMUP_EPOCHS:-5}
OPTIMIZERS=${OPTIMIZERS:-adagrad adam}
RULES=${RULES:-sqrt linear none}
SIZES=${SIZES:-1000 10000}
DIR=${BENCH_DIR:-$BUILD/bench-data/large-batch}
mkdir -p "$DIR"
[ -f "$DIR/mnist/manifest.json" ] || "$BUILD/aevb-data" convert mnist --mnist-dir "$DATA/mnist" --out "$DIR/mnist" --force >/dev/null

run() {  # optimizer M rule epochs
  local opt=$1 M=$2 rule=$3 epochs=$4 base lr warm=0
  base=$([ "$opt" = adam ] && echo 0.001 || echo 0.02)
  case $rule in
    sqrt) lr=$(python3 -c "print($base * ($M / 100) ** 0.5)") ;;
    linear) lr=$(python3 -c "print($base * $M / 100)"); warm=$WARMUP_EPOCHS ;;
    *) lr=$base ;;
  esac
  local tag="$opt-M$M-$rule"
  [ -f "$DIR/$tag.out" ] && tail -1 "$DIR/$tag.out" | grep -q '"status"' && return 0  # kept
  "$BUILD/aevb-train" --data "$DIR/mnist" --optimizer "$opt" --batch "$M" --lr "$lr" --lr-warmup-epochs "$warm" \
    --epochs "$epochs" --eval-every 1 --threads 1 --resume none --progress-every 0 --out "$DIR/$tag" \
    > "$DIR/$tag.out" 2>&1
}
for opt in $OPTIMIZERS; do
  run "$opt" 100 none "$EPOCHS_100"
  for M in $SIZES; do for rule in $RULES; do run "$opt" "$M" "$rule" "$EPOCHS_LARGE"; done; done
done

python3 - "$DIR" "$OPTIMIZERS" "$RULES" "$SIZES" <<'PY'
import json, sys
d, opts, rules, sizes = sys.argv[1], sys.argv[2].split(), sys.argv[3].split(), [int(s) for s in sys.argv[4].split()]
def curve(tag):
    pts = []
    try:
        for line in open(f"{d}/{tag}/metrics.jsonl"):
            m = json.loads(line)
            if "test_elbo" in m and m.get("epoch", 0) > 0: pts.append((m["epoch"] * 60000, m["test_elbo"]))
    except FileNotFoundError:
        pass
    try:
        last = json.loads(open(f"{d}/{tag}.out").read().strip().splitlines()[-1])
    except (FileNotFoundError, IndexError, json.JSONDecodeError):
        last = {"status": "missing"}
    return pts, last
out = {"tool": "large_batch", "results": []}
print(f"{'optimizer':9s} {'M':>6s} {'rule':7s} {'lr':>8s} {'final test ELBO':>16s} {'samples to target':>18s}  target")
for opt in opts:
    ref, _ = curve(f"{opt}-M100-none")
    if not ref: continue
    target = ref[-1][1]
    def reach(pts):
        for s, e in pts:
            if e >= target: return s
        return None
    rows = [(100, "none")] + [(M, r) for M in sizes for r in rules]
    for M, rule in rows:
        tag = f"{opt}-M{M}-{rule}"
        pts, last = curve(tag)
        cfg = {}
        try: cfg = dict(l.split(" = ", 1) for l in open(f"{d}/{tag}/config.ini").read().splitlines() if " = " in l)
        except FileNotFoundError: pass
        status = last.get("status", "?")
        final = pts[-1][1] if pts else float("nan")
        s = reach(pts)
        outcome = ("%.2fM" % (s / 1e6)) if s else {"done": "not reached", "error": "diverged"}.get(status, status)
        print(f"{opt:9s} {M:6d} {rule:7s} {cfg.get('lr', '?'):>8s} {final:16.4g} {outcome:>18s}  {target:.3f}")
        out["results"].append({"optimizer": opt, "M": M, "rule": rule, "lr": cfg.get("lr"), "status": status,
                               "final_test_elbo": final, "target": target, "samples_to_target": s,
                               "samples_run": pts[-1][0] if pts else 0})
print(json.dumps(out))
PY
