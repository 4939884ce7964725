#!/usr/bin/env bash
# Two builds of aevb (e.g. the previous commit's and this one's) on the same
# machine, in turn: the whole trainer in the layouts of the README's
# "Speed of this release" table, then each build's aevb_bench_train.
#
#   git worktree add /tmp/before <commit> && cmake -S /tmp/before -B /tmp/before/build \
#     -DCMAKE_BUILD_TYPE=Release && cmake --build /tmp/before/build --target aevb-train aevb_bench_train
#   bench/compare_builds.sh /tmp/before/build build
set -euo pipefail
BEFORE=$(cd "$1" && pwd)
AFTER=$(cd "${2:-build}" && pwd)
SRC=$(cd "$(dirname "$0")/.." && pwd)
DATA=${AEVB_DATA:-$SRC/../shared/data}
DIR=${BENCH_DIR:-$AFTER/bench-data/compare}
mkdir -p "$DIR"
[ -f "$DIR/mnist/manifest.json" ] || "$AFTER/aevb-data" convert mnist --mnist-dir "$DATA/mnist" --out "$DIR/mnist" --force >/dev/null

tr() {  # label build ranks threads mpirun-args hidden latent M
  local r
  r=$(mpirun -np "$3" --oversubscribe $5 "$2/aevb-train" --data "$DIR/mnist" --hidden "$6" --latent "$7" --batch "$8" \
      --max-steps $((120000 / $8)) --epochs 1000000 --threads "$4" --eval-every 0 --resume none --progress-every 0 \
      --out "$DIR/run" 2>/dev/null | tail -1 | python3 -c 'import json,sys; print(round(json.loads(sys.stdin.read())["samples_per_s"]))')
  echo "$1 ranks=$3 threads=$4 ${5:-bound} 784-$6-$7 M=$8: $r samples/s"
}
# Each layout runs before, after, before, after ... (REPEATS times each, 2 by
# default), so that a drift in the machine's speed (a shared host) lands on
# both builds alike; compare the pairs, not runs minutes apart.
layout() {  # ranks threads mpirun-args hidden latent M
  for ((i = 0; i < ${REPEATS:-2}; i++)); do
    tr before "$BEFORE" "$@"
    tr after "$AFTER" "$@"
  done
}
layout 1 1 "" 500 20 100
layout 2 1 "" 500 20 100
layout 1 2 "--bind-to none" 500 20 100
layout 1 2 "" 500 20 100
layout 1 1 "" 200,200 50 20
layout 2 1 "" 200,200 50 20
for who in before after; do
  B=$([ "$who" = before ] && echo "$BEFORE" || echo "$AFTER")
  echo "== aevb_bench_train ($who)"
  "$B/bench/aevb_bench_train" 2>&1 | grep -A5 "^model" | grep -v '^{'
done
