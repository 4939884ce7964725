#!/usr/bin/env bash
# The scaling calculator against the whole trainer, on this machine: runs
# aevb_bench_scaling on 1 rank and on P ranks, the calculator, then aevb-train
# (real MNIST, 120,000 samples a run, no evaluation) on 1 and P ranks with each
# --reduction for every global batch M, and prints predicted against measured
# samples/s. The README's "Predicting scale" table comes from one run of it.
#
#   bench/validate_calculator.sh [BUILD_DIR]      (P=2, BATCHES="20 50 100 1000",
#                                                   HIDDEN=500 LATENT=20 to change)
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd)
SRC=$(cd "$(dirname "$0")/.." && pwd)
DATA=${AEVB_DATA:-$SRC/../shared/data}
DIR=${BENCH_DIR:-$BUILD/bench-data/calculator}
P=${P:-2}
BATCHES=${BATCHES:-"20 50 100 1000"}
HIDDEN=${HIDDEN:-500} LATENT=${LATENT:-20}
mkdir -p "$DIR"
[ -f "$DIR/mnist/manifest.json" ] || "$BUILD/aevb-data" convert mnist --mnist-dir "$DATA/mnist" --out "$DIR/mnist" --force >/dev/null

"$BUILD/bench/aevb_bench_scaling" --hidden "$HIDDEN" --latent "$LATENT" > "$DIR/compute.json"
mpirun -np "$P" --oversubscribe "$BUILD/bench/aevb_bench_scaling" --hidden "$HIDDEN" --latent "$LATENT" > "$DIR/p$P.json"
python3 "$SRC/bench/scaling_calculator.py" --compute "$DIR/compute.json" --allreduce "$P=$DIR/p$P.json" \
  --batch "$(echo $BATCHES | tr ' ' ,)" > "$DIR/predicted.txt"

rate() {  # ranks M reduction
  mpirun -np "$1" --oversubscribe "$BUILD/aevb-train" --data "$DIR/mnist" --hidden "$HIDDEN" --latent "$LATENT" \
    --batch "$2" --reduction "$3" --max-steps $((120000 / $2)) --epochs 1000000 --eval-every 0 --resume none \
    --progress-every 0 --out "$DIR/run" 2>/dev/null | tail -1 |
    python3 -c 'import json,sys; print(round(json.loads(sys.stdin.read())["samples_per_s"]))'
}
echo "| P | M | reduction | predicted samples/s | measured (aevb-train) | predicted / measured speed-up over P = 1 |"
echo "| --- | --- | --- | ---: | ---: | --- |"
for M in $BATCHES; do
  one=$(rate 1 "$M" allreduce)
  for red in allreduce gather; do
    got=$(rate "$P" "$M" "$red")
    python3 - "$DIR/predicted.txt" "$M" "$P" "$red" "$one" "$got" <<'PY'
import json, sys
path, M, P, red, one, got = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], float(sys.argv[5]), float(sys.argv[6])
pred = {(p["ranks"], p["M"]): p for p in json.loads(open(path).read().strip().splitlines()[-1])["predictions"]}
p1, pp = pred[(1, M)], pred[(P, M)]
rate = pp["gather_samples_per_s"] if red == "gather" else pp["samples_per_s"]
auto = " (auto)" if pp["auto"] == red else ""
if red == "allreduce":
    print(f"| 1 | {M} | – | {p1['samples_per_s'] / 1e3:.1f}k | {one / 1e3:.1f}k | – |")
print(f"| {P} | {M} | {red}{auto} | {rate / 1e3:.1f}k | {got / 1e3:.1f}k | "
      f"{rate / p1['samples_per_s']:.2f}× / {got / one:.2f}× |")
PY
  done
done
