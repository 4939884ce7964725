#!/usr/bin/env python3
"""Predict aevb-train's samples/s for P ranks at a global batch M.

A data-parallel step on P ranks costs the step's compute at M/P rows per rank
(every rank also runs the whole optimizer update, which the compute table
includes) plus one allreduce of the step's buffer (4 bytes per parameter and
16 control floats):

    t(P, M) = compute(M / P) + allreduce_P(buffer_bytes),   samples/s = M / t

compute(r) comes from `aevb_bench_scaling` on one rank of the site's nodes
(log-log interpolation between the measured row counts); allreduce_P from
the site's own measurement at P ranks: the output of OSU's osu_allreduce
(`-m` up to at least the buffer size; "# Size  Avg Latency(us)" columns), or
`aevb_bench_scaling` started on P ranks. Between measured sizes the time is
interpolated linearly in bytes; beyond the largest it is extrapolated with
the last segment's bandwidth.

  bench/scaling_calculator.py --compute compute.json \\
      --allreduce 2=p2.json --allreduce 16=osu_allreduce_16.txt \\
      --batch 100,1000,10000

What it leaves out (so a measurement can disagree): the ranks' contention for
one node's memory bandwidth (compute() is timed with the other cores idle),
overlap of the reduction with the encoder's backward (--overlap), data-loading
waits (the summary's data_wait_fraction), and evaluation.
"""
import argparse
import bisect
import json
import math
import sys


def load_json(text):
    """The whole text as JSON, else its last line (a tool's summary line)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return json.loads(text.strip().splitlines()[-1])


def read_compute(path):
    try:
        d = load_json(open(path).read())
        d["compute"], d["buffer_bytes"]
    except (OSError, json.JSONDecodeError, KeyError, IndexError) as e:
        sys.exit(f"scaling_calculator: {path}: expected the JSON of aevb_bench_scaling on one rank ({e})")
    pts = sorted((c["rows"], c["seconds"]) for c in d["compute"])
    return d, pts


def read_allreduce(path):
    text = open(path).read()
    try:
        d = load_json(text)
        return sorted((a["bytes"], a["seconds"]) for a in d["allreduce"])
    except (json.JSONDecodeError, KeyError, IndexError, TypeError):
        pts = []
        for line in text.splitlines():
            f = line.split()
            if len(f) >= 2 and not line.lstrip().startswith("#"):
                try:
                    pts.append((int(f[0]), float(f[1]) * 1e-6))  # osu: bytes, microseconds
                except ValueError:
                    pass
        if not pts:
            sys.exit(f"scaling_calculator: {path}: expected aevb_bench_scaling JSON or osu_allreduce output "
                     "(lines 'bytes latency_us'), found neither")
        return sorted(pts)


def compute_at(pts, rows):
    """Seconds per step at `rows` rows per rank (log-log between measurements)."""
    xs = [r for r, _ in pts]
    if rows <= xs[0]:
        return pts[0][1]
    if rows >= xs[-1]:
        (r0, t0), (r1, t1) = pts[-2], pts[-1]
    else:
        i = bisect.bisect_left(xs, rows)
        if xs[i] == rows:
            return pts[i][1]
        (r0, t0), (r1, t1) = pts[i - 1], pts[i]
    a = (math.log(t1) - math.log(t0)) / (math.log(r1) - math.log(r0))
    return math.exp(math.log(t0) + a * (math.log(rows) - math.log(r0)))


def allreduce_at(pts, nbytes):
    xs = [b for b, _ in pts]
    if nbytes <= xs[0]:
        return pts[0][1]
    i = min(max(1, bisect.bisect_left(xs, nbytes)), len(pts) - 1)
    (b0, t0), (b1, t1) = pts[i - 1], pts[i]
    return t0 + (t1 - t0) * (nbytes - b0) / (b1 - b0)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--compute", required=True, help="aevb_bench_scaling output on one rank")
    p.add_argument("--allreduce", action="append", default=[], metavar="P=FILE",
                   help="allreduce times measured at P ranks (aevb_bench_scaling on P ranks, or osu_allreduce)")
    p.add_argument("--batch", default="100,1000,10000", help="global batch sizes M, comma-separated")
    a = p.parse_args()
    d, comp = read_compute(a.compute)
    nbytes = d["buffer_bytes"]
    nets = {1: None}
    for spec in a.allreduce:
        if "=" not in spec:
            sys.exit(f"scaling_calculator: --allreduce {spec}: expected P=FILE")
        k, f = spec.split("=", 1)
        nets[int(k)] = read_allreduce(f)
    out = {"tool": "scaling_calculator", "model": f"784-{d['hidden'].replace(',', '-')}-{d['latent']}",
           "buffer_bytes": nbytes, "predictions": []}
    print(f"model {out['model']}, {d['params']} parameters, allreduce of {nbytes / 1e6:.2f} MB per step")
    print(f"{'P':>4s} {'M':>7s} {'rows/rank':>10s} {'compute ms':>11s} {'allreduce ms':>13s} {'samples/s':>10s} {'vs P=1':>7s}")
    for M in [int(x) for x in a.batch.split(",")]:
        base = M / compute_at(comp, M)
        for P in sorted(nets):
            rows = M / P
            tc = compute_at(comp, rows)
            ta = 0.0 if nets[P] is None else allreduce_at(nets[P], nbytes)
            rate = M / (tc + ta)
            print(f"{P:4d} {M:7d} {rows:10.1f} {tc * 1e3:11.3f} {ta * 1e3:13.3f} {rate:10.0f} {rate / base:6.2f}x")
            out["predictions"].append({"ranks": P, "M": M, "rows_per_rank": rows, "compute_s": tc,
                                       "allreduce_s": ta, "samples_per_s": rate, "speedup": rate / base})
    print(json.dumps(out))


if __name__ == "__main__":
    main()
