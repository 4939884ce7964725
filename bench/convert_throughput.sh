#!/usr/bin/env bash
# Converter throughput and peak memory (not a unit test).
#
#   bench/convert_throughput.sh [BUILD_DIR]      (default BUILD_DIR: build)
#
# 1. Generates a ~2 GB numeric CSV (784 columns of small ints, one label column),
#    streamed by a tiny C generator (never held in memory), converts it with
#    `aevb-data convert csv`, and reports rows/s, MB/s and peak RSS from the
#    JSON summary line and from /usr/bin/time -v; then `verify` on the result.
# 2. Converts real MNIST ($AEVB_DATA/mnist, default ../shared/data/mnist).
# Everything lives in a temp directory (BENCH_TMP, default under /tmp) that is
# removed at the end. CSV_MB sets the CSV size (default 2048).
set -euo pipefail
BUILD=${1:-build}
BIN=$(cd "$BUILD" && pwd)/aevb-data
[ -x "$BIN" ] || { echo "no $BIN (build the aevb-data target first)" >&2; exit 2; }
SRC=$(cd "$(dirname "$0")/.." && pwd)
DATA=${AEVB_DATA:-$SRC/../shared/data}
CSV_MB=${CSV_MB:-2048}
WORK=$(mktemp -d "${BENCH_TMP:-/tmp}/aevb-convert-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
df -h "$WORK"

cat > "$WORK/gen.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char** argv) {
  long long target = atoll(argv[1]) * 1048576LL, written = 0;
  static char line[8192];
  for (long long r = 0; written < target; ++r) {
    int n = sprintf(line, "%lld", r % 10);
    for (int c = 0; c < 784; ++c) n += sprintf(line + n, ",%d", (int)((r * 31 + c * 17 + (r >> 3)) % 256));
    line[n++] = '\n';
    fwrite(line, 1, (size_t)n, stdout);
    written += n;
  }
  return 0;
}
C
cc -O2 -o "$WORK/gen" "$WORK/gen.c"
echo "generating a ${CSV_MB} MiB CSV ..."
"$WORK/gen" "$CSV_MB" > "$WORK/big.csv"
ls -l "$WORK/big.csv"

summary() {  # last JSON line -> one readable line
  python3 -c 'import json,sys; j=json.loads(sys.stdin.read().strip().splitlines()[-1]);
print("  rows=%d shards=%d seconds=%.1f rows_per_s=%.0f mb_per_s=%.1f peak_rss_mb=%.1f" % (j["rows"], j["shards"], j["seconds"], j["rows_per_s"], j["mb_per_s"], j["peak_rss_mb"]))'
}
timed() {  # command... ; prints the summary and /usr/bin/time's max RSS
  local log=$WORK/time.log
  if [ -x /usr/bin/time ]; then
    /usr/bin/time -v "$@" > "$WORK/out.txt" 2> "$log"
    summary < "$WORK/out.txt"
    grep -E "Maximum resident set size" "$log" | sed 's/^\s*/  \/usr\/bin\/time: /'
  else
    "$@" > "$WORK/out.txt"
    summary < "$WORK/out.txt"
  fi
}

echo "== convert csv (${CSV_MB} MiB, 785 columns, label column 0, 100000 rows per shard)"
echo "   $BIN convert csv --input big.csv --label-column 0 --out csv_ds --rows-per-shard 100000"
timed "$BIN" convert csv --input "$WORK/big.csv" --label-column 0 --out "$WORK/csv_ds" --rows-per-shard 100000
echo "== verify csv_ds"
timed "$BIN" verify "$WORK/csv_ds"
echo "== reshard csv_ds -> 3 shards"
timed "$BIN" reshard "$WORK/csv_ds" "$WORK/csv_ds3" --shards 3
rm -rf "$WORK/big.csv" "$WORK/csv_ds" "$WORK/csv_ds3"

if [ -f "$DATA/mnist/train-images-idx3-ubyte.gz" ]; then
  echo "== convert mnist ($DATA/mnist)"
  timed "$BIN" convert mnist --mnist-dir "$DATA/mnist" --out "$WORK/mnist" --shards 4
else
  echo "== MNIST not found under $DATA (set AEVB_DATA); skipped"
fi
