#!/usr/bin/env bash
# Which layout of two cores trains fastest, for a given model and global batch?
# The whole trainer (aevb-train on MNIST: data, step, metrics; no evaluation),
# 60,000 samples per run, for 1 rank x 1 thread, 1 rank x 2 threads and
# 2 ranks x 1 thread (with each --reduction: the gradient's allreduce, and the
# activation exchange, gather), one after the other for each (model, M). Threaded runs
# use mpirun --bind-to none: mpirun binds each rank to one core by default,
# and "2x2 bound" shows what that does to 2 threads.
#
#   bench/layouts.sh [BUILD_DIR]        (MODELS, SIZES to change the grid)
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd)
SRC=$(cd "$(dirname "$0")/.." && pwd)
DATA=${AEVB_DATA:-$SRC/../shared/data}
DIR=${BENCH_DIR:-$BUILD/bench-data/layouts}
MODELS=${MODELS:-"500:20 200,200:50"}
SIZES=${SIZES:-"20 50 100 200"}
mkdir -p "$DIR"
[ -f "$DIR/mnist/manifest.json" ] || "$BUILD/aevb-data" convert mnist --mnist-dir "$DATA/mnist" --out "$DIR/mnist" --force >/dev/null

rate() {  # ranks threads extra-mpirun-args hidden latent M [reduction]
  mpirun -np "$1" --oversubscribe $3 "$BUILD/aevb-train" --data "$DIR/mnist" --hidden "$4" --latent "$5" --batch "$6" \
    --reduction "${7:-auto}" \
    --max-steps $((60000 / $6)) --epochs 1000000 --threads "$2" --eval-every 0 --resume none --progress-every 0 \
    --out "$DIR/run" 2>/dev/null | tail -1 | python3 -c 'import json,sys; print(round(json.loads(sys.stdin.read())["samples_per_s"]))'
}
echo "| model | M | 1 rank x 1 thread | 1 rank x 2 threads | 2 ranks x 1 thread, allreduce | 2 ranks x 1 thread, gather | 1 x 2, bound to one core |"
echo "| --- | --- | ---: | ---: | ---: | ---: | ---: |"
json='{"tool":"layouts","results":['
sep=''
for m in $MODELS; do
  hidden=${m%%:*} latent=${m##*:}
  for M in $SIZES; do
    a=$(rate 1 1 "" "$hidden" "$latent" "$M")
    b=$(rate 1 2 "--bind-to none" "$hidden" "$latent" "$M")
    c=$(rate 2 1 "" "$hidden" "$latent" "$M" allreduce)
    e=$(rate 2 1 "" "$hidden" "$latent" "$M" gather)
    d=$(rate 1 2 "" "$hidden" "$latent" "$M")
    arch="784-${hidden//,/-}-$latent"
    python3 -c "a,b,c,d,e=$a,$b,$c,$d,$e; print(f'| $arch | $M | {a/1e3:.1f}k | {b/1e3:.1f}k ({b/a:.2f}x) | {c/1e3:.1f}k ({c/a:.2f}x) | {e/1e3:.1f}k ({e/a:.2f}x) | {d/1e3:.1f}k ({d/a:.2f}x) |')"
    json+="$sep{\"model\":\"$arch\",\"M\":$M,\"r1t1\":$a,\"r1t2\":$b,\"r2t1_allreduce\":$c,\"r2t1_gather\":$e,\"r1t2_bound\":$d}"
    sep=','
  done
done
echo "$json]}"
