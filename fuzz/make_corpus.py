#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (fuzz/corpus/<target>/): small
valid inputs of each format, shaped like the test fixtures of tests/. Run once
(the seeds are kept in git); `python3 fuzz/make_corpus.py` rewrites them."""
import gzip, json, os, struct, zlib

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")

def put(target, name, data):
    d = os.path.join(root, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)

def idx(magic, dims, payload):
    return struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in dims) + bytes(payload)

# IDX: first byte 0 = images, 1 = labels
put("idx", "images", b"\x00" + idx(0x803, [2, 2, 3], range(12)))
put("idx", "labels", b"\x01" + idx(0x801, [5], [0, 3, 9, 1, 2]))
put("idx", "one-image", b"\x00" + idx(0x803, [1, 4, 7], [i * 9 % 256 for i in range(28)]))

def npy(descr, shape, data, ver=1):
    h = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, shape)
    pre = 10 if ver == 1 else 12
    while (pre + len(h) + 1) % 64: h += " "
    h += "\n"
    n = struct.pack("<H", len(h)) if ver == 1 else struct.pack("<I", len(h))
    return b"\x93NUMPY" + bytes([ver, 0]) + n + h.encode() + data
put("npy", "u1", npy("|u1", "(2, 3)", bytes(range(6))))
put("npy", "f4", npy("<f4", "(3,)", struct.pack("<3f", 0.5, -1, 2)))
put("npy", "f8-v2", npy("<f8", "(1, 2)", struct.pack("<2d", 1.5, 0.25), ver=2))

row = " ".join("1" if i % 3 == 0 else "0" for i in range(784))
put("amat", "two-rows", row + "\n" + row + "\n")
put("amat", "gz", gzip.compress((row + "\n").encode(), mtime=0))

# CSV: first byte = options (bit 0 --header, bit 1 ';', bits 2-3 label, bits 4-5 columns, bit 6 range)
put("csv", "plain", b"\x00" + b"1,2,3\n4,5.5,-6\n")
put("csv", "header-label", b"\x09" + b"a,b,label\n0.1,0.2,3\n0.5,1,4\n")
put("csv", "semicolon-columns", b"\x27" + b"a;b;c\n1;2;3\n")
put("csv", "gz", b"\x01" + gzip.compress(b"x,y\n1,2\n3,4\n", mtime=0))

man = {"format": "aevb-manifest", "format_version": 1, "name": "fz", "splits": {"train": {
    "rows": 5, "row_shape": [2, 3], "dtype": "uint8", "scale": 1 / 255, "binarization": "none",
    "binarization_seed": -1, "has_labels": True, "shards": [
        {"file": "train-00000-of-00002.h5", "rows": 3, "row_offset": 0, "data_sha256": "ab"},
        {"file": "train-00001-of-00002.h5", "rows": 2, "row_offset": 3, "data_sha256": "cd"}]}}}
put("manifest", "two-shards", json.dumps(man, indent=2))

def mat_header():
    text = b"MATLAB 5.0 MAT-file, Platform: fuzz seed"
    return text.ljust(116, b" ") + bytes(8) + struct.pack("<H", 0x0100) + b"IM"
def tag(t, n): return struct.pack("<II", t, n)
def pad(b): return b + bytes(-len(b) % 8)
def matrix(name, rows, cols, data):
    body = tag(6, 8) + struct.pack("<II", 9, 0)            # array flags: uint8 class
    body += tag(5, 8) + struct.pack("<ii", rows, cols)       # dimensions
    body += struct.pack("<HH", 1, len(name)) + name.ljust(4, b"\0") if len(name) <= 4 else pad(tag(1, len(name)) + name)
    body += pad(tag(2, len(data)) + data)                    # real part, uint8
    return tag(14, len(body)) + body
px = bytes(i % 256 for i in range(560 * 2))
put("mat_header", "ff-plain", mat_header() + matrix(b"ff", 560, 2, px))
z = zlib.compress(matrix(b"ff", 560, 2, px))
put("mat_header", "ff-compressed", mat_header() + tag(15, len(z)) + z)
put("mat_header", "two-vars", mat_header() + matrix(b"faces", 2, 2, b"\1\2\3\4") + matrix(b"ff", 560, 1, px[:560]))

put("train_config", "basic", "data = /data/mnist\nepochs = 3\nhidden = 200,200\nlatent = 10\n")
put("train_config", "full", "# comment\n[ignored]\nbatch = 100\noptimizer = adam\nlr = 0.001\n"
    "lr-schedule = step\nlr-step-gamma = 0.5\nlr-step-epochs = 10\ndecoder = gaussian\n"
    "gaussian-mean = sigmoid\nsamples = 1\nseed = 7\nthreads = 1\ncheckpoint-every-steps = 5\n")

# shard / model: edits to a valid file; empty = the valid file itself
for t in ("shard", "model"):
    put(t, "pristine", b"")
put("shard", "rows-attr", bytes([0x41, 5, 0x00, 3]))
put("shard", "data-shape", bytes([0xc1, 0, 0, 1, 5, 6]))
put("model", "ckpt", b"\x01")
put("model", "params-shape", bytes([0, 0xc1, 0, 1, 0, 9]))
put("model", "ckpt-xdim", bytes([1, 0x41, 17, 0x00, 9]))
