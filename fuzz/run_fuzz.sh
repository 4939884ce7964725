#!/usr/bin/env bash
# run_fuzz.sh TARGET SEED_DIR WORK_DIR SECONDS [libFuzzer options...]
# Runs one libFuzzer target for SECONDS on a copy of its seeds (new inputs go to
# WORK_DIR; the seeds in the source tree are never written), one process.
# Exit 0 when nothing crashed; otherwise libFuzzer's exit code, the crashing
# input saved as WORK_DIR/../crash-<target>-*.
set -euo pipefail
target=$1 seeds=$2 work=$3 secs=$4
shift 4
mkdir -p "$work"
artifacts=$(dirname "$work")/artifacts/
mkdir -p "$artifacts"
exec "$target" -max_total_time="$secs" -timeout=20 -rss_limit_mb=4096 -max_len=8192 \
  -print_final_stats=1 -artifact_prefix="$artifacts$(basename "$target")-" "$@" "$work" "$seeds"
