#!/usr/bin/env bash
# Training on a dataset far larger than memory (not a unit test; docs/memory.md).
#
#   bench/streaming.sh [BUILD_DIR]        (default BUILD_DIR: build)
#
# 1. Writes a seeded synthetic MNIST-shaped dataset of ROWS rows (default
#    20,000,000 = 15.7 GB of uint8 rows) with aevb_bench_make_data, unless
#    BENCH_DIR (default BUILD_DIR/bench-data/streaming) already holds one of that size.
# 2. Evicts its shards from the page cache (posix_fadvise DONTNEED through
#    `dd iflag=nocache count=0`), so the run reads from the disk.
# 3. Trains the paper's model (784-500-20, M = 100, Adagrad) for EPOCHS epochs
#    (default 1) with RANKS ranks (default 2) and --shuffle SHUFFLE (default
#    blocks:2048,32) under the default --memory-budget (1GiB per rank).
# 4. Trains the same model with the same ranks on real MNIST held in memory
#    ($AEVB_DATA, default ../shared/data) for MNIST_EPOCHS (default 10).
# Then prints, from the two JSON summaries and /proc: peak RSS per rank, time
# to the first step, samples/s of each and their ratio, the data-wait
# fraction, and the bytes read (by the ranks' reads and from storage) per epoch
# against the split's size.
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd)
SRC=$(cd "$(dirname "$0")/.." && pwd)
DATA=${AEVB_DATA:-$SRC/../shared/data}
ROWS=${ROWS:-20000000}
RANKS=${RANKS:-2}
EPOCHS=${EPOCHS:-1}
MNIST_EPOCHS=${MNIST_EPOCHS:-10}
SHUFFLE=${SHUFFLE:-blocks:2048,32}
DIR=${BENCH_DIR:-$BUILD/bench-data/streaming}  # under the (ignored) build directory by default
MPIRUN=${MPIRUN:-mpirun --oversubscribe}
for b in aevb-train aevb-data bench/aevb_bench_make_data; do
  [ -x "$BUILD/$b" ] || { echo "no $BUILD/$b (build first: cmake --build $BUILD)" >&2; exit 2; }
done
mkdir -p "$DIR"
df -h "$DIR" | tail -1

have=$(jq -r '.splits.train.rows // 0' "$DIR/large/manifest.json" 2>/dev/null || echo 0)
if [ "$have" != "$ROWS" ]; then
  echo "writing $ROWS rows to $DIR/large ..."
  time "$BUILD/bench/aevb_bench_make_data" "$DIR/large" "$ROWS"
fi
if [ ! -f "$DIR/mnist/manifest.json" ]; then
  "$BUILD/aevb-data" convert mnist --mnist-dir "$DATA/mnist" --out "$DIR/mnist" --force >/dev/null
fi
split_bytes=$(jq '[.splits.train.shards[].rows] | add * 784' "$DIR/large/manifest.json")

echo "evicting the shards from the page cache ..."
for f in "$DIR"/large/*.h5; do dd if="$f" iflag=nocache count=0 status=none; done

model=(--hidden 500 --latent 20 --batch 100 --optimizer adagrad --lr 0.02 --test-split '' --progress-every 60)
echo "training on $ROWS rows, $RANKS ranks, --shuffle $SHUFFLE, $EPOCHS epoch(s) ..."
$MPIRUN -np "$RANKS" "$BUILD/aevb-train" --data "$DIR/large" "${model[@]}" --epochs "$EPOCHS" \
  --shuffle "$SHUFFLE" --resume none --out "$DIR/run-large" > "$DIR/large.out" 2> "$DIR/large.err" ||
  { tail -5 "$DIR/large.err"; exit 1; }
echo "training on MNIST in memory, $RANKS ranks, $MNIST_EPOCHS epochs ..."
$MPIRUN -np "$RANKS" "$BUILD/aevb-train" --data "$DIR/mnist" "${model[@]}" --epochs "$MNIST_EPOCHS" \
  --resume none --out "$DIR/run-mnist" > "$DIR/mnist.out" 2> "$DIR/mnist.err" ||
  { tail -5 "$DIR/mnist.err"; exit 1; }

python3 - "$DIR/large.out" "$DIR/mnist.out" "$split_bytes" "$EPOCHS" <<'PY'
import json, sys
big = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
mem = json.loads(open(sys.argv[2]).read().strip().splitlines()[-1])
split, epochs = float(sys.argv[3]), float(sys.argv[4])
print(f"large ({big['data_mode']}, {big['shuffle']}, {big['ranks']} ranks): {big['train_rows']} rows")
print(f"  peak RSS (largest rank)       {big['peak_rss_bytes'] / 2**30:.2f} GiB")
print(f"  time to the first step        {big['first_step_seconds']:.1f} s")
print(f"  samples/s                     {big['samples_per_s']:.0f}")
print(f"  in-memory MNIST samples/s     {mem['samples_per_s']:.0f} ({mem['data_mode']})")
print(f"  ratio                         {big['samples_per_s'] / mem['samples_per_s']:.3f}")
print(f"  data-wait fraction            {big['data_wait_fraction']:.4f}")
print(f"  rows read per epoch / split   {big['rows_bytes_read'] / epochs / split:.3f}")
print(f"  storage read per epoch / split {big['storage_bytes_read'] / epochs / split:.3f}")
PY
