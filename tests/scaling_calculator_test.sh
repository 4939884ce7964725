#!/usr/bin/env bash
# bench/scaling_calculator.py against numbers worked by hand: compute 2 ms at
# 100 rows and 11 ms at 1000 (log-log between), an allreduce table at P=2 in
# aevb_bench_scaling's JSON and one at P=4 in osu_allreduce's text format; the
# activation exchange (--reduction gather) from the same JSON's gather and
# weight-gradient times, with its allgather at P=2 (JSON) and P=4 (osu_allgather).
set -euo pipefail
SRC=$1
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cat > "$T/c.json" <<'J'
{"tool":"aevb_bench_scaling","ranks":1,"hidden":"500","latent":20,"params":1000000,"buffer_bytes":4000064,
 "floats_per_point":1000,
 "compute":[{"rows":10,"seconds":0.0005,"gather_seconds":0.0006,"wgrad_seconds":0.0001},
            {"rows":100,"seconds":0.002,"gather_seconds":0.0023,"wgrad_seconds":0.001},
            {"rows":1000,"seconds":0.011,"gather_seconds":0.012,"wgrad_seconds":0.004}]}
J
cat > "$T/p2.json" <<'J'
{"tool":"aevb_bench_scaling","ranks":2,"allreduce":[{"bytes":4,"seconds":0.000002},{"bytes":8000128,"seconds":0.002}],
 "allgather":[{"bytes":4,"seconds":0.000001},{"bytes":400000,"seconds":0.00005}]}
J
printf '# OSU MPI Allgather Latency Test\n# Size       Avg Latency(us)\n4                       2.00\n65536                 100.00\n' > "$T/osug4.txt"
printf '# OSU MPI Allreduce Latency Test\n# Size       Avg Latency(us)\n4                       5.00\n4194304               800.00\n8388608              1600.00\n' > "$T/osu4.txt"
out=$(python3 "$SRC/bench/scaling_calculator.py" --compute "$T/c.json" --allreduce 2="$T/p2.json" \
      --allreduce 4="$T/osu4.txt" --allgather 4="$T/osug4.txt" --batch 20,100,1000)
echo "$out"
python3 - "$out" <<'PY'
import json, math, sys
d = json.loads(sys.argv[1].strip().splitlines()[-1])
got = {(p["ranks"], p["M"]): p for p in d["predictions"]}
def near(a, b, what):
    if abs(a - b) > 1e-6 * max(1.0, abs(b)):
        sys.exit(f"FAIL {what}: got {a}, expected {b}")
# P=1: compute only.
near(got[(1, 100)]["samples_per_s"], 100 / 0.002, "P=1 M=100")
near(got[(1, 1000)]["samples_per_s"], 1000 / 0.011, "P=1 M=1000")
# P=2, M=1000: 500 rows -> log-log between (100, 2 ms) and (1000, 11 ms).
t500 = math.exp(math.log(0.002) + (math.log(0.011) - math.log(0.002)) / math.log(10) * math.log(5))
ar2 = 0.000002 + (0.002 - 0.000002) * (4000064 - 4) / (8000128 - 4)
near(got[(2, 1000)]["compute_s"], t500, "compute at 500 rows")
near(got[(2, 1000)]["allreduce_s"], ar2, "allreduce at P=2 (linear in bytes)")
near(got[(2, 1000)]["samples_per_s"], 1000 / (t500 + ar2), "P=2 M=1000")
# P=4 from osu text (microseconds): 4000064 bytes between 4 B and 4 MiB.
ar4 = 5e-6 + (800e-6 - 5e-6) * (4000064 - 4) / (4194304 - 4)
near(got[(4, 100)]["allreduce_s"], ar4, "allreduce at P=4 (osu)")
t25 = math.exp(math.log(0.0005) + (math.log(0.002) - math.log(0.0005)) / math.log(10) * math.log(2.5))
near(got[(4, 100)]["compute_s"], t25, "compute at 25 rows")
# Gather at P=2, M=20 (10 rows a rank): gather(10) - wgrad(10) + wgrad(20),
# wgrad log-log between (10, 0.1 ms) and (100, 1 ms): 0.2 ms at 20 rows; the
# allgather of 4 * (10 * 1000 + 16) bytes a rank, linear between (4, 1 us)
# and (400000, 50 us). auto picks it (M <= 64).
g = got[(2, 20)]
near(g["gather_compute_s"], 0.0006 - 0.0001 + 0.0002, "gather compute at P=2 M=20")
near(g["allgather_s"], 1e-6 + (50e-6 - 1e-6) * (40064 - 4) / (400000 - 4), "allgather at P=2")
near(g["gather_samples_per_s"], 20 / (g["gather_compute_s"] + g["allgather_s"]), "gather rate")
assert g["auto"] == "gather" and g["auto_samples_per_s"] == g["gather_samples_per_s"], g
# P=4 from osu_allgather (per-rank sizes in bytes, microseconds): 5 rows a rank.
near(got[(4, 20)]["allgather_s"], 2e-6 + (100e-6 - 2e-6) * (4 * 5016 - 4) / (65536 - 4), "allgather at P=4 (osu)")
# Above the auto limit: the allreduce, whatever is faster; P=1 never gathers.
assert got[(2, 100)]["auto"] == "allreduce" and "gather_samples_per_s" in got[(2, 100)]
assert got[(1, 20)]["auto"] == "allreduce" and "gather_samples_per_s" not in got[(1, 20)]
print("ok")
PY
# A file that is neither format is named.
echo "garbage" > "$T/bad.txt"
if python3 "$SRC/bench/scaling_calculator.py" --compute "$T/c.json" --allreduce 2="$T/bad.txt" 2> "$T/err"; then
  echo "FAIL: accepted a bad allreduce file"; exit 1
fi
grep -q "bad.txt: expected aevb_bench_scaling JSON or osu_allreduce output" "$T/err"
echo "all ok"
