#!/usr/bin/env bash
# Does the block order (--shuffle blocks:B,W) train as well as the global one?
# Measured where a bad shuffle would show: MNIST stored sorted by label, the
# paper's configuration (the aevb-train defaults) for EPOCHS epochs (default
# 50), seeds 1..SEEDS (default 3), for --shuffle global, BLOCKS (default
# blocks:512,16: windows of 8192 rows, 14% of the split) and none (the control
# that must come out clearly worse). Two single-rank runs at a time. Runs
# already in BENCH_DIR (default BUILD_DIR/bench-data/shuffle) are kept:
# SEED_FROM=4 SEEDS=5 adds two seeds to three.
#
#   bench/shuffle_quality.sh [BUILD_DIR]
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd)
SRC=$(cd "$(dirname "$0")/.." && pwd)
DATA=${AEVB_DATA:-$SRC/../shared/data}
EPOCHS=${EPOCHS:-50}
SEEDS=${SEEDS:-3}
SEED_FROM=${SEED_FROM:-1}
BLOCKS=${BLOCKS:-blocks:512,16}
DIR=${BENCH_DIR:-$BUILD/bench-data/shuffle}  # under the (ignored) build directory by default
mkdir -p "$DIR"
[ -f "$DIR/mnist/manifest.json" ] || "$BUILD/aevb-data" convert mnist --mnist-dir "$DATA/mnist" --out "$DIR/mnist" --force >/dev/null
[ -f "$DIR/sorted/manifest.json" ] || "$BUILD/bench/aevb_bench_sort_by_label" "$DIR/mnist" "$DIR/sorted"

run() {  # order seed
  "$BUILD/aevb-train" --data "$DIR/sorted" --epochs "$EPOCHS" --seed "$2" --shuffle "$1" --resume none \
    --progress-every 0 --eval-every 10 --out "$DIR/run-${1//[:,]/_}-s$2" > "$DIR/run-${1//[:,]/_}-s$2.out" 2>&1
}
jobs_list=()
for seed in $(seq "$SEED_FROM" "$SEEDS"); do for order in global "$BLOCKS" none; do jobs_list+=("$order $seed"); done; done
for ((i = 0; i < ${#jobs_list[@]}; i += 2)); do
  run ${jobs_list[i]} &
  if ((i + 1 < ${#jobs_list[@]})); then run ${jobs_list[i + 1]} & fi
  wait
done

python3 - "$DIR" "$BLOCKS" "$SEEDS" <<'PY'
import json, statistics, sys
d, blocks, seeds = sys.argv[1], sys.argv[2], int(sys.argv[3])
res = {}
for order in ["global", blocks, "none"]:
    tag = order.replace(":", "_").replace(",", "_")
    res[order] = [json.loads(open(f"{d}/run-{tag}-s{s}.out").read().strip().splitlines()[-1])["test_elbo"] for s in range(1, seeds + 1)]
    v = res[order]
    print(f"{order:18s} test ELBO {statistics.mean(v):9.3f} +- {statistics.stdev(v) if len(v) > 1 else 0:.3f}  ({', '.join(f'{x:.3f}' for x in v)})")
g, b, n = (statistics.mean(res[o]) for o in ["global", blocks, "none"])
print(f"block order - global order: {b - g:+.3f} nats (within 0.3: {abs(b - g) <= 0.3})")
print(f"no shuffle  - global order: {n - g:+.3f} nats")
PY
