#!/usr/bin/env python3
"""Helpers of report_test.sh (aevb-report end to end).

  report_check.py png PATH W H            a small valid greyscale PNG (zlib + struct)
  report_check.py latents RUN_DIR J       RUN_DIR/latents-test/latents.h5 as aevb-infer encode writes it
  report_check.py status EXPECTED_CODE    the last stdin line is one JSON object whose status and
                                          exit_code match (ok for 0, error otherwise)
  report_check.py utf8 FILE...            every line of each file is valid UTF-8
  report_check.py dom DOM J K RUN_DIR...  the page as Chromium left it: no errors, ready, and each
                                          chart holds exactly what the files hold (J latent
                                          dimensions, K importance-sampling sizes; 0 = no chart)
  report_check.py spec PAGE RUN_DIR...    the same counts from the chart data the page carries
                                          (<script id="report-data">), without a browser
"""
import json
import math
import os
import struct
import sys
import zlib
from html.parser import HTMLParser


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def write_png(path, w, h):
    rows = b"".join(b"\x00" + bytes((x * 37 + y * 11) % 256 for x in range(w)) for y in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def write_latents(run_dir, j):
    import h5py  # python3-h5py (tools/install-deps.sh, with the tests)
    import numpy as np
    os.makedirs(os.path.join(run_dir, "latents-test"), exist_ok=True)
    kl = np.array([0.5 * (i % 3) + 0.001 for i in range(j)], dtype=np.float64)
    var = kl / 4
    with h5py.File(os.path.join(run_dir, "latents-test", "latents.h5"), "w") as f:
        f["kl_per_dim"] = kl
        f["mu_variance"] = var
        f.attrs["active_units"] = np.int64((var > 0.01).sum())
        f.attrs["active_threshold"] = 0.01
        f.attrs["split"] = "test"
        f.attrs["rows"] = np.int64(40)


def check_status(expected):
    lines = sys.stdin.read().splitlines()
    if not lines:
        fail("no stdout at all; expected a JSON line")
    try:
        j = json.loads(lines[-1])
    except ValueError:
        fail("the last stdout line is not JSON: " + lines[-1])
    want = "ok" if expected == 0 else "error"
    if j.get("status") != want or j.get("exit_code", 0) != expected:
        fail("expected status %s, exit_code %d; got %s" % (want, expected, lines[-1]))
    if expected != 0 and not j.get("error"):
        fail("an error line without an error message: " + lines[-1])
    print(lines[-1])


def check_utf8(paths):
    for p in paths:
        with open(p, "rb") as f:
            for n, line in enumerate(f, 1):
                try:
                    line.decode("utf-8")
                except UnicodeDecodeError:
                    fail("%s:%d is not valid UTF-8: %r" % (p, n, line))


class Dom(HTMLParser):
    def __init__(self):
        super().__init__()
        self.canvases, self.body, self.errors, self._in_errors = {}, {}, "", False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "canvas":
            self.canvases[a.get("id")] = a
        elif tag == "body":
            self.body = a
        elif tag == "pre" and a.get("id") == "errors":
            self._in_errors = True

    def handle_endtag(self, tag):
        if tag == "pre":
            self._in_errors = False

    def handle_data(self, data):
        if self._in_errors:
            self.errors += data


def metric_rows(run_dir, key):
    """Rows of metrics.jsonl with a finite `key` after training started (step > 0)."""
    n = 0
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        for line in f:
            if not line.strip():
                continue
            j = json.loads(line)
            v = j.get(key)
            if j.get("step", 0) > 0 and isinstance(v, (int, float)) and math.isfinite(v):
                n += 1
    return n


def check_dom(dom_path, latent, nk, runs):
    d = Dom()
    with open(dom_path, encoding="utf-8") as f:
        d.feed(f.read())
    if d.errors.strip():
        fail("the page reported errors:\n" + d.errors)
    if d.body.get("data-ready") != "1":
        fail("<body data-ready> is %r, expected '1' (every chart built)" % d.body.get("data-ready"))
    for family in ("elbo", "rec", "kl"):
        c = d.canvases.get("curve-" + family)
        if c is None:
            fail("no learning-curve chart curve-%s; canvases: %s" % (family, sorted(d.canvases)))
        total = sets = 0
        for split in ("train", "test", "valid"):
            key = split + "_" + family
            want = sum(metric_rows(r, key) for r in runs)
            sets += sum(1 for r in runs if metric_rows(r, key) > 0)
            got = c.get("data-points_" + key)
            if want == 0 and got is None:
                continue
            if got != str(want):
                fail("curve-%s holds %s points of %s; metrics.jsonl has %d such rows after step 0" %
                     (family, got, key, want))
            total += want
        if c.get("data-points") != str(total):
            fail("curve-%s: data-points %s, expected %d" % (family, c.get("data-points"), total))
        if c.get("data-runs") != str(len(runs)) or c.get("data-datasets") != str(sets):
            fail("curve-%s: %s runs / %s datasets, expected %d / %d" %
                 (family, c.get("data-runs"), c.get("data-datasets"), len(runs), sets))
    if latent:
        kl = [c for k, c in d.canvases.items() if k.startswith("kl-")]
        if len(kl) != 1 or kl[0].get("data-points") != str(latent):
            fail("expected one KL chart of %d bars, got %s" % (latent, kl))
    if nk:
        k = d.canvases.get("k-sweep")
        if k is None or k.get("data-points") != str(nk):
            fail("expected the K sweep with %d means, got %s" % (nk, k))
    print("dom ok: %d charts, %d runs" % (len(d.canvases), len(runs)))


def check_spec(page_path, runs):
    with open(page_path, encoding="utf-8") as f:
        page = f.read()
    start = page.find('<script type="application/json" id="report-data">')
    if start < 0:
        fail("no <script id=report-data> in " + page_path)
    start = page.find(">", start) + 1
    charts = {c["id"]: c for c in json.loads(page[start:page.find("</script>", start)])["charts"]}
    for family in ("elbo", "rec", "kl"):
        c = charts.get("curve-" + family)
        if c is None:
            fail("no chart curve-%s in the page's data" % family)
        for i, r in enumerate(runs):
            for split in ("train", "test", "valid"):
                key = split + "_" + family
                got = sum(len(s["data"]) for s in c["series"] if s.get("run") == i and s.get("key") == key)
                if got != metric_rows(r, key):
                    fail("curve-%s holds %d points of %s for %s; its metrics.jsonl has %d" %
                         (family, got, key, r, metric_rows(r, key)))
                if any(p["x"] <= 0 for s in c["series"] for p in s["data"]):
                    fail("curve-%s has a point at x <= 0 on its log axis" % family)
        if {s.get("run") for s in c["series"]} != set(range(len(runs))):
            fail("curve-%s: expected series of %d runs" % (family, len(runs)))
    print("spec ok: %d charts, %d runs" % (len(charts), len(runs)))


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "png":
        write_png(args[0], int(args[1]), int(args[2]))
    elif cmd == "latents":
        write_latents(args[0], int(args[1]))
    elif cmd == "status":
        check_status(int(args[0]))
    elif cmd == "utf8":
        check_utf8(args)
    elif cmd == "spec":
        check_spec(args[0], args[1:])
    elif cmd == "dom":
        check_dom(args[0], int(args[1]), int(args[2]), args[3:])
    else:
        fail("unknown command " + cmd)


if __name__ == "__main__":
    main()
