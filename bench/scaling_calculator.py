#!/usr/bin/env python3
"""Predict aevb-train's samples/s for P ranks at a global batch M.

A data-parallel step on P ranks costs the step's compute at M/P rows per rank
(every rank also runs the whole optimizer update, which the compute table
includes) plus one allreduce of the step's buffer (4 bytes per parameter and
16 control floats):

    t(P, M) = compute(M / P) + allreduce_P(buffer_bytes),   samples/s = M / t

With --reduction gather (aevb-train's choice for global batches <= 64 on
several ranks) the ranks exchange every point's layer inputs and deltas
(floats_per_point floats a point) and every rank forms the weight gradients
of all M rows:

    t_gather(P, M) = gather(M / P) - wgrad(M / P) + wgrad(M)
                     + allgather_P(4 * (M / P * floats_per_point + 16) bytes per rank)

gather(r) and wgrad(r) are aevb_bench_scaling's gather_seconds (the step with
the exchange's phases on one rank) and wgrad_seconds (its weight-gradient
GEMMs alone); allgather_P is aevb_bench_scaling's "allgather" on P ranks (read
from the same --allreduce file) or OSU's osu_allgather (--allgather P=FILE;
its sizes are per rank). Each prediction says which reduction auto picks.

compute(r) comes from `aevb_bench_scaling` on one rank of the site's nodes
(log-log interpolation between the measured row counts); allreduce_P from
the site's own measurement at P ranks: the output of OSU's osu_allreduce
(`-m` up to at least the buffer size; "# Size  Avg Latency(us)" columns), or
`aevb_bench_scaling` started on P ranks. Between measured sizes the time is
interpolated linearly in bytes; beyond the largest it is extrapolated with
the last segment's bandwidth.

  bench/scaling_calculator.py --compute compute.json \\
      --allreduce 2=p2.json --allreduce 16=osu_allreduce_16.txt \\
      --allgather 16=osu_allgather_16.txt --batch 20,100,1000,10000

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

# aevb-train --reduction auto: gather on P > 1 ranks up to this global batch
# with one decoder sample per point, as aevb_bench_scaling measures (the rule is
# M (1 + K) / 2 <= kGatherMaxBatch, include/aevb/train/layout_advice.hpp).
GATHER_MAX_BATCH = 64


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


def read_collective(path, key="allreduce"):
    """(bytes, seconds) pairs: aevb_bench_scaling's JSON list `key`, or OSU text."""
    text = open(path).read()
    try:
        d = load_json(text)
        return sorted((a["bytes"], a["seconds"]) for a in d[key])
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
            sys.exit(f"scaling_calculator: {path}: expected aevb_bench_scaling JSON or osu_{key} output "
                     "(lines 'bytes latency_us'), found neither")
        return sorted(pts)


def read_allreduce(path):
    return read_collective(path, "allreduce")


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


def collective_at(pts, nbytes):
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
    p.add_argument("--allgather", action="append", default=[], metavar="P=FILE",
                   help="allgather times at P ranks (osu_allgather; aevb_bench_scaling's come with --allreduce)")
    p.add_argument("--batch", default="100,1000,10000", help="global batch sizes M, comma-separated")
    a = p.parse_args()
    d, comp = read_compute(a.compute)
    nbytes = d["buffer_bytes"]
    fpp = d.get("floats_per_point")
    has_gather = fpp is not None and all("gather_seconds" in c and "wgrad_seconds" in c for c in d["compute"])
    gat = sorted((c["rows"], c["gather_seconds"]) for c in d["compute"]) if has_gather else None
    wgr = sorted((c["rows"], c["wgrad_seconds"]) for c in d["compute"]) if has_gather else None
    nets, gnets = {1: None}, {}
    for opt, specs in (("--allreduce", a.allreduce), ("--allgather", a.allgather)):
        for spec in specs:
            if "=" not in spec:
                sys.exit(f"scaling_calculator: {opt} {spec}: expected P=FILE")
            k, f = spec.split("=", 1)
            if opt == "--allreduce":
                nets[int(k)] = read_allreduce(f)
                try:  # aevb_bench_scaling's file also holds the allgather
                    gnets.setdefault(int(k), sorted((g["bytes"], g["seconds"]) for g in load_json(open(f).read())["allgather"]))
                except (json.JSONDecodeError, KeyError, IndexError, TypeError):
                    pass
            else:
                gnets[int(k)] = read_collective(f, "allgather")
    out = {"tool": "scaling_calculator", "model": f"784-{d['hidden'].replace(',', '-')}-{d['latent']}",
           "buffer_bytes": nbytes, "gather_max_batch": GATHER_MAX_BATCH, "predictions": []}
    print(f"model {out['model']}, {d['params']} parameters, allreduce of {nbytes / 1e6:.2f} MB per step")
    print(f"{'P':>4s} {'M':>7s} {'rows/rank':>10s} {'compute ms':>11s} {'allreduce ms':>13s} {'samples/s':>10s} "
          f"{'gather ms':>10s} {'gather/s':>10s} {'auto':>9s} {'vs P=1':>7s}")
    for M in [int(x) for x in a.batch.split(",")]:
        base = M / compute_at(comp, M)
        for P in sorted(nets):
            rows = M / P
            tc = compute_at(comp, rows)
            ta = 0.0 if nets[P] is None else collective_at(nets[P], nbytes)
            rate = M / (tc + ta)
            pred = {"ranks": P, "M": M, "rows_per_rank": rows, "compute_s": tc,
                    "allreduce_s": ta, "samples_per_s": rate, "speedup": rate / base}
            auto, auto_rate, gtxt = "allreduce", rate, f"{'-':>10s} {'-':>10s}"
            if P > 1 and has_gather and P in gnets:
                tg = compute_at(gat, rows) - compute_at(wgr, rows) + compute_at(wgr, M)
                tx = collective_at(gnets[P], 4 * (rows * fpp + 16))
                grate = M / (tg + tx)
                pred.update({"gather_compute_s": tg, "allgather_s": tx, "gather_samples_per_s": grate})
                gtxt = f"{(tg + tx) * 1e3:10.3f} {grate:10.0f}"
                if M <= GATHER_MAX_BATCH:
                    auto, auto_rate = "gather", grate
            pred.update({"auto": auto, "auto_samples_per_s": auto_rate, "auto_speedup": auto_rate / base})
            print(f"{P:4d} {M:7d} {rows:10.1f} {tc * 1e3:11.3f} {ta * 1e3:13.3f} {rate:10.0f} {gtxt} {auto:>9s} "
                  f"{auto_rate / base:6.2f}x")
            out["predictions"].append(pred)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
