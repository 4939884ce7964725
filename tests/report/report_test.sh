#!/usr/bin/env bash
# aevb-report end to end, on real runs: a tiny dataset (aevb-data), two runs
# trained by aevb-train (train, valid and test ELBO), one evaluated by aevb-eval
# (IS K sweep and AIS), a latents file as aevb-infer encode writes it, pictures.
#
#   report_test.sh cli BUILD_DIR       the command line, exit codes, JSON lines, the page's
#                                      content (self-contained, escaped, pictures, chart data)
#   report_test.sh browser BUILD_DIR   the pages in headless Chromium: no script error, every
#                                      chart built and holding what the files hold; exit 77
#                                      (skipped) when there is no chromium
set -euo pipefail
MODE=${1:?usage: report_test.sh cli|browser BUILD_DIR} BIN=${2:?usage: report_test.sh cli|browser BUILD_DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3  # Debian's python3-h5py and numpy live there
CHECK=("$PY" "$HERE/report_check.py")
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
fail() { echo "FAIL: $*" >&2; exit 1; }

if [[ $MODE == browser ]]; then
  CHROME=$(command -v chromium || command -v chromium-browser || true)
  [[ -n $CHROME ]] || { echo "SKIP: no chromium (apt-get install chromium)"; exit 77; }
elif [[ $MODE != cli ]]; then
  fail "unknown mode '$MODE' (cli or browser)"
fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T"

# ---- the runs ----
"$PY" - <<'PY'
with open("rows.csv", "w") as f:
    for i in range(200):  # 4 horizontal bars of an 8x8 image, a random subset lit
        f.write(",".join("1" if (i * 2654435761 >> (j // 16)) & 1 else "0" for j in range(64)) + "\n")
PY
"$BIN/aevb-data" convert csv --input rows.csv --split train=120,valid=40,test=rest --out data >/dev/null
train() { "$BIN/aevb-train" --progress-every 0 --data data --valid-split valid --hidden 16 "$@" >/dev/null; }
train --epochs 4 --batch 20 --latent 3 --out runs/a
train --epochs 3 --batch 40 --latent 2 --out runs/b
"$BIN/aevb-eval" --model runs/a/model.h5 --data data --split test --k 1,5,20 --estimator is,ais --ais-steps 10 \
  --ais-chains 2 --progress-every 0 --out runs/a/eval.h5 >/dev/null 2>&1 || fail "aevb-eval failed"
mkdir -p runs/a/pictures runs/a/samples
"${CHECK[@]}" png runs/a/pictures/sample.png 24 16
for e in 000001 000002 000004; do "${CHECK[@]}" png "runs/a/samples/epoch-$e.png" 8 8; done
latent=0
if "$PY" -c 'import h5py' 2>/dev/null; then
  "${CHECK[@]}" latents runs/a 3
  latent=3
else
  echo "note: no h5py for $PY: the KL-per-dimension chart is not checked"
fi

# report ARGS...: runs aevb-report, stdout in out.txt, stderr in err.txt; prints the exit code.
report() { local rc=0; "$BIN/aevb-report" "$@" >out.txt 2>err.txt || rc=$?; echo "$rc"; }
expect() {  # expect CODE ARGS...: the exit code and the JSON line that goes with it
  local want=$1; shift
  local rc; rc=$(report "$@")
  [[ $rc == "$want" ]] || { cat out.txt err.txt; fail "aevb-report $*: exit $rc, expected $want"; }
  "${CHECK[@]}" status "$want" <out.txt >/dev/null || fail "aevb-report $*: wrong JSON line"
  "${CHECK[@]}" utf8 out.txt err.txt
}

if [[ $MODE == cli ]]; then
  # --help and --version
  "$BIN/aevb-report" --help | grep -q "Usage: aevb-report RUN_DIR" || fail "--help"
  "$BIN/aevb-report" --version | grep -qE "^aevb-report [0-9]+\.[0-9]+" || fail "--version"

  # One run, the default output folder; the page is self-contained.
  expect 0 runs/a
  page=runs/a/report/index.html
  [[ -f $page ]] || fail "no $page"
  [[ $(ls runs/a/report) == index.html ]] || fail "runs/a/report holds more than index.html: $(ls runs/a/report)"
  grep -q "\"report\":\"runs/a/report/index.html\"" out.txt || fail "the JSON line does not name the page"
  if grep -qiE '(src|href)="(https?:)?//' "$page" || grep -qi '<link' "$page"; then
    fail "the page references an external resource: $(grep -oiE '(src|href)="(https?:)?//[^"]*' "$page" | head -3)"
  fi
  grep -q 'Chart.js v[0-9]' "$page" || fail "Chart.js is not inlined"
  grep -q 'Charts: Chart.js [0-9]' "$page" || fail "the footer does not give the Chart.js version"
  for p in runs/a/pictures/sample.png runs/a/samples/epoch-00000{1,2,4}.png; do
    grep -qF "data:image/png;base64,$(base64 -w0 "$p")" "$page" || fail "$p is not embedded"
  done
  grep -q 'image-rendering: pixelated' "$page" || fail "pictures are not pixelated"
  "${CHECK[@]}" spec "$page" runs/a
  # --max-sample-grids 2: the first and the last grid only.
  expect 0 runs/a --max-sample-grids 2 --out one
  grep -qF "$(base64 -w0 runs/a/samples/epoch-000004.png)" one/index.html || fail "the last grid is missing"
  [[ $(grep -o 'epoch [0-9]*</figcaption>' one/index.html | wc -l) == 2 ]] || fail "--max-sample-grids 2"

  # Two runs overlaid, then the same runs as a sweep directory (default: SWEEP/report).
  expect 0 runs/a runs/b --out two
  "${CHECK[@]}" spec two/index.html runs/a runs/b
  expect 0 runs
  grep -q '"runs":2' out.txt || fail "the sweep directory did not give 2 runs: $(cat out.txt)"
  [[ -f runs/report/index.html ]] || fail "no runs/report/index.html"

  # Strings from the run are escaped: a config comment and a directory name.
  mkdir odd
  cp -r runs/b 'odd/x<b>&y'
  echo '# <script>alert("config")</script>' >> 'odd/x<b>&y/config.ini'
  expect 0 'odd/x<b>&y' --out esc
  grep -qF '&lt;script&gt;alert(&quot;config&quot;)&lt;/script&gt;' esc/index.html || fail "config.ini not escaped"
  grep -qF '<script>alert(' esc/index.html && fail "a config value reached the page unescaped"
  grep -qF 'x&lt;b&gt;&amp;y' esc/index.html || fail "the run directory's name is not escaped"
  grep -qF 'x<b>&y' esc/index.html && fail "the run directory's name reached the page unescaped"
  # A directory name that is not UTF-8: every output line still is.
  cp -r runs/b $'odd/\xff-run'
  expect 0 $'odd/\xff-run' --out latin

  # Errors: loud, early, exit 2 (usage), 3 (bad input), 4 (output), one JSON line each.
  mkdir empty
  expect 2 empty
  grep -q "empty: not an aevb-train run directory" err.txt || fail "the message does not name the path: $(cat err.txt)"
  [[ $(wc -l <err.txt) == 1 ]] || fail "expected one line on stderr: $(cat err.txt)"
  expect 2 no-such-dir
  expect 2 rows.csv
  expect 2
  expect 2 runs/a --max-sample-grids 0
  expect 2 runs/a --max-sample-grids x
  expect 2 runs/a --bogus
  expect 2 runs/a --out ''
  cp -r runs/b torn
  printf '{"epoch":9,"step":9' >> torn/metrics.jsonl   # a run killed mid-write: a warning
  expect 0 torn --out torn-report
  grep -q "warning: .*metrics.jsonl:.*last line" err.txt || fail "no warning for the torn last line"
  cp -r runs/b broken
  sed -i '2s/.*/not json/' broken/metrics.jsonl       # a damaged file: exit 3
  expect 3 broken
  grep -q "broken/metrics.jsonl:2" err.txt || fail "the message does not name the line: $(cat err.txt)"
  expect 4 runs/a --out /proc/aevb-report-test
  echo "report.cli: ok"
  exit 0
fi

# ---- browser ----
# dump PAGE DOM: the DOM after the scripts ran; fails on a console error.
dump() {
  mkdir -p "$T/home"
  HOME="$T/home" timeout 120 "$CHROME" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync --user-data-dir="$(mktemp -d -p "$T")" \
    --virtual-time-budget=5000 --enable-logging=stderr --v=0 --dump-dom "file://$T/$1" >"$2" 2>"$2.log" ||
    { tail -5 "$2.log"; fail "chromium failed on $1"; }
  if grep 'CONSOLE' "$2.log" | grep -qiE 'uncaught|error'; then
    grep 'CONSOLE' "$2.log" >&2
    return 1
  fi
}
expect 0 runs/a --out one
dump one/index.html one.dom || fail "console errors in one/index.html"
"${CHECK[@]}" dom one.dom "$latent" 3 runs/a
expect 0 runs/a runs/b --out two
dump two/index.html two.dom || fail "console errors in two/index.html"
"${CHECK[@]}" dom two.dom "$latent" 3 runs/a runs/b
# The checks catch a broken page: an error planted in a copy must show in #errors.
sed 's|</body>|<script>throw new Error("planted by report_test")</script></body>|' one/index.html >planted.html
if dump planted.html planted.dom 2>/dev/null; then fail "a planted script error did not reach the console log"; fi
grep -q "planted by report_test" planted.dom || fail "a planted script error did not reach #errors"
if "${CHECK[@]}" dom planted.dom "$latent" 3 runs/a 2>/dev/null; then fail "the DOM check missed a planted error"; fi
echo "report.browser: ok"
