"""python/aevb_model.py against the C++ tools, on tiny synthetic data.

Usage: test_aevb_model.py BUILD_DIR SOURCE_DIR   (run by aevb_model_test.sh)

Trains four tiny models (Bernoulli relu 32,16 with checkpoints; Gaussian
softplus 24,12 identity mean on labelled float CSV data; Gaussian tanh 16
sigmoid mean on grey levels; Bayesian Bernoulli tanh 8) and checks, per model:
  * load_split reproduces the stored rows x scale and the labels exactly;
  * aevb-eval --binarize none --k 1: /posterior_mean = python mu and /kl =
    python's analytic KL (rtol 1e-4, atol 1e-5);
  * the decoder exactly: a copy of the model whose encoder variance is forced
    to e^-40 (written by python with a recomputed params_sha256, which aevb-eval
    verifies) makes aevb-eval's /rec = log p(x | z = mu), compared with
    python's log_likelihood(x, mu) (rtol 1e-4, atol 1e-4);
  * aevb-infer encode / sample --points 64 (when the binary exists): mu, logvar, index,
    labels, decoder means (rtol 1e-4, atol 1e-5).
Plus: the last checkpoint of the Bernoulli run loads and equals the model, and
wrong format / version / size / checksum are refused with AevbFormatError.
Exit 77 after every other check when aevb-infer is not built yet.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np

BUILD, SRC = sys.argv[1], sys.argv[2]
sys.path.insert(0, os.path.join(SRC, "python"))
from aevb_model import AevbFormatError, AevbModel, load_latents, load_split, params_sha256  # noqa: E402

RTOL, ATOL = 1e-4, 1e-5
ENV = dict(os.environ, OMP_NUM_THREADS="1", OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
T0 = time.time()
failures = []


def run(*args):
    r = subprocess.run([str(a) for a in args], env=ENV, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"FAIL: {' '.join(map(str, args))} exited {r.returncode}\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
    return r


def close(what, got, want, rtol=RTOL, atol=ATOL):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    if got.shape != want.shape:
        failures.append(f"{what}: shape {got.shape} vs {want.shape}")
        print(f"FAIL {what}: shape {got.shape} vs {want.shape}")
        return
    err = np.abs(got - want)
    ok = np.all(err <= atol + rtol * np.abs(want))
    print(f"{'ok  ' if ok else 'FAIL'} {what}: max abs err {err.max(initial=0):.3g} "
          f"(max |value| {np.abs(want).max(initial=0):.3g}, {got.size} values)")
    if not ok:
        failures.append(what)


def check(what, cond):
    print(f"{'ok  ' if cond else 'FAIL'} {what}")
    if not cond:
        failures.append(what)


def refuses(what, path, needle):
    try:
        AevbModel.load(path)
    except AevbFormatError as e:
        check(f"refuses {what}: {e}", needle in str(e))
        return
    check(f"refuses {what} (it loaded)", False)


def text(v):
    return v.decode() if isinstance(v, (bytes, np.bytes_)) else str(v)


def bin_(name):
    return os.path.join(BUILD, name)


def train(out, data, *opts, epochs=20):
    run(bin_("aevb-train"), "--data", data, "--out", out, "--epochs", epochs, "--batch", 20, "--optimizer", "adam",
        "--lr", 0.01, "--init", "glorot", "--progress-every", 0, "--eval-every", 0, *opts)
    return os.path.join(out, "model.h5")


def evaluate(model, data, out):
    run(bin_("aevb-eval"), "--model", model, "--data", data, "--split", "test", "--k", 1, "--binarize", "none",
        "--out", out, "--progress-every", 0)
    with h5py.File(out, "r") as f:
        return {k: f[k][()] for k in ("posterior_mean", "kl", "rec", "elbo", "index")}


def with_params(src, dst, params):
    """A copy of model file src with /params replaced (and params_sha256 recomputed)."""
    shutil.copyfile(src, dst)
    with h5py.File(dst, "r+") as f:
        f["params"][...] = params
        f.attrs["params_sha256"] = params_sha256(params)
    return dst


def deterministic_encoder(m, path):
    """m's parameters with the encoder's log-variance head fixed at -40 (sigma = 2e-9): z = mu."""
    p = m.params.copy()
    at = {n: (o, r, c) for n, o, r, c in m.layout}
    o, r, c = at[f"encoder.{len(m.hidden)}.W"]
    p[o:o + r * c].reshape(r, c)[:, m.latent:] = 0
    o, r, c = at[f"encoder.{len(m.hidden)}.b"]
    p[o + m.latent:o + c] = -40
    return with_params(m.path, path, p)


tmp = tempfile.mkdtemp(prefix="aevb-python-")
try:
    rng = np.random.default_rng(7)
    # Grey-level 6x6 images with a 2-D latent structure (uint8, scale 1/255, binarization none).
    z = rng.standard_normal((300, 2))
    grey = np.rint(255 / (1 + np.exp(-(z @ rng.normal(0, 2, (2, 36)) + rng.normal(0, 1, 36))))).astype(np.uint8)
    np.save(os.path.join(tmp, "grey.npy"), grey.reshape(300, 6, 6))
    dsB = os.path.join(tmp, "grey")
    run(bin_("aevb-data"), "convert", "npy", "--input", os.path.join(tmp, "grey.npy"), "--out", dsB,
        "--scale", 1 / 255, "--split", "train=200,test=rest", "--shards", 2)
    # Real-valued rows, 10 columns and a label (float32 CSV, 3 test shards).
    z = rng.standard_normal((300, 2))
    real = (z @ rng.normal(0, 1, (2, 10)) + 0.1 * rng.standard_normal((300, 10))).astype(np.float32)
    labels = (z[:, 0] > 0).astype(np.int64) + 2 * (z[:, 1] > 0)
    with open(os.path.join(tmp, "real.csv"), "w") as fh:
        fh.write(",".join([f"f{i}" for i in range(10)] + ["label"]) + "\n")
        for row, lab in zip(real, labels):
            fh.write(",".join(repr(float(v)) for v in row) + f",{lab}\n")
    dsG = os.path.join(tmp, "real")
    run(bin_("aevb-data"), "convert", "csv", "--input", os.path.join(tmp, "real.csv"), "--header",
        "--label-column", "label", "--out", dsG, "--split", "train=200,test=rest", "--rows-per-shard", 40)

    xB, lB = load_split(dsB, "test")
    check("load_split grey: no labels", lB is None)
    check("load_split grey: stored uint8 x 1/255 exactly",
          xB.dtype == np.float32 and np.array_equal(xB, (grey[200:].astype(np.float64) / 255).astype(np.float32)))
    xG, lG = load_split(dsG, "test")
    check("load_split real: rows and labels exactly", np.array_equal(xG, real[200:]) and np.array_equal(lG, labels[200:]))
    x3, l3 = load_split(dsG, "test", max_rows=45)
    check("load_split max_rows across shards", np.array_equal(x3, real[200:245]) and np.array_equal(l3, labels[200:245]))

    models = {
        "bernoulli_relu_32_16": (dsB, xB, ["--hidden", "32,16", "--latent", 3, "--activation", "relu",
                                           "--checkpoint-every-steps", 50]),
        "gaussian_softplus_24_12_identity": (dsG, xG, ["--hidden", "24,12", "--latent", 2, "--activation", "softplus",
                                                       "--decoder", "gaussian", "--gaussian-mean", "identity"]),
        "gaussian_tanh_16_sigmoid": (dsB, xB, ["--hidden", 16, "--latent", 2, "--activation", "tanh",
                                               "--decoder", "gaussian", "--gaussian-mean", "sigmoid"]),
        "bayes_bernoulli_tanh_8": (dsB, xB, ["--hidden", 8, "--latent", 2, "--activation", "tanh", "--bayes", "full"]),
    }
    infer = bin_("aevb-infer")
    have_infer = os.access(infer, os.X_OK)
    for name, (ds, x, opts) in models.items():
        print(f"--- {name}")
        d = os.path.join(tmp, name)
        path = train(d, ds, *opts)
        m = AevbModel.load(path)
        o = dict(zip(opts[::2], opts[1::2]))
        check(f"spec {m.spec}", m.format == "aevb-model" and m.hidden == tuple(int(h) for h in str(o["--hidden"]).split(","))
              and m.latent == o["--latent"] and m.activation == o["--activation"]
              and m.decoder == o.get("--decoder", "bernoulli") and m.gaussian_mean == o.get("--gaussian-mean", "sigmoid")
              and m.bayes == o.get("--bayes", "map") and m.step == 200 and m.x_dim == x.shape[1])
        mu, lv = m.encode(x)
        check("the encoder is not collapsed (mu varies over points)", float(mu.std(axis=0).max()) > 1e-2)
        e = evaluate(path, ds, os.path.join(d, "eval.h5"))
        check("eval /index", np.array_equal(e["index"], np.arange(len(x))))
        close("mu vs aevb-eval /posterior_mean", mu, e["posterior_mean"])
        close("analytic KL vs aevb-eval /kl", AevbModel.kl(mu, lv), e["kl"])
        m32 = AevbModel.load(path, dtype=np.float32)
        close("float32 arithmetic: mu", m32.encode(x)[0], e["posterior_mean"])

        # The decoder: z = mu exactly (encoder variance e^-40), so /rec = log p(x | mu).
        m0 = AevbModel.load(deterministic_encoder(m, os.path.join(d, "z_is_mu.h5")))
        mu0, lv0 = m0.encode(x)
        check("the z = mu copy: logvar = -40, same mu", np.all(lv0 == -40) and np.array_equal(mu0, mu))
        e0 = evaluate(m0.path, ds, os.path.join(d, "eval_z_is_mu.h5"))
        close("log p(x | mu) vs aevb-eval /rec at sigma = e^-20", m0.log_likelihood(x, mu0), e0["rec"], atol=1e-4)
        close("KL at logvar -40 vs aevb-eval /kl", AevbModel.kl(mu0, lv0), e0["kl"])

        means = m.decode(mu)
        check("decode shape and range", means.shape == x.shape and
              (m.gaussian_mean == "identity" or bool(np.all((means > 0) & (means < 1)))))
        if m.decoder == "bernoulli":
            close("decode = sigmoid(decode_logits)", means, 1 / (1 + np.exp(-m.decode_logits(mu))), atol=1e-12)
        else:
            mean2, lvx = m.decode(mu, return_logvar=True)
            check("decode(return_logvar) = (decode, decode_logvar)",
                  np.array_equal(mean2, means) and np.array_equal(lvx, m.decode_logvar(mu)))
        zs, s = m.sample(5, rng=np.random.default_rng(0), return_z=True)
        check("sample", zs.shape == (5, m.latent) and np.array_equal(s, m.decode(zs)))

        if name.startswith("bernoulli"):
            ck = os.path.join(d, "checkpoints", "ckpt-0000000200.h5")
            c = AevbModel.load(ck)
            check("checkpoint at the last step: format, step, params, checksum",
                  c.format == "aevb-checkpoint" and c.step == m.step and c.params_sha256 == m.params_sha256
                  and np.array_equal(c.params, m.params) and c.spec == m.spec)
            check("checkpoint: same encoding", np.array_equal(c.encode(x)[0], mu))
            ec = evaluate(ck, ds, os.path.join(d, "eval_ckpt.h5"))
            close("checkpoint mu vs aevb-eval of the checkpoint", c.encode(x)[0], ec["posterior_mean"])
            older = AevbModel.load(os.path.join(d, "checkpoints", "ckpt-0000000150.h5"))
            check("an earlier checkpoint differs", older.step == 150 and not np.array_equal(older.params, m.params))
            # Refusals.
            refuses("an eval results file", os.path.join(d, "eval.h5"), "neither 'aevb-model' nor 'aevb-checkpoint'")
            refuses("a dataset shard", os.path.join(ds, "test-00000-of-00002.h5"), "format 'aevb-shard' is neither")
            with h5py.File(os.path.join(d, "plain.h5"), "w") as f:
                f["params"] = m.params
            refuses("an HDF5 file without format", os.path.join(d, "plain.h5"), "no format attribute")
            bad = os.path.join(d, "bad.h5")
            shutil.copyfile(path, bad)
            with h5py.File(bad, "r+") as f:
                f.attrs["format_version"] = np.int64(2)
            refuses("format_version 2", bad, "format_version 2 is not supported")
            shutil.copyfile(path, bad)
            with h5py.File(bad, "r+") as f:
                f["params"][7] += 1
            refuses("a changed parameter", bad, "params_sha256")
            shutil.copyfile(path, bad)
            with h5py.File(bad, "r+") as f:
                f.attrs["latent"] = np.int64(4)
            refuses("an architecture /params does not fit", bad, "needs")
            refuses("a missing file", os.path.join(d, "nope.h5"), "cannot open")

        if have_infer:
            lat_dir = os.path.join(d, "latents")
            run(infer, "encode", "--model", path, "--data", ds, "--split", "test", "--out", lat_dir, "--binarize", "none")
            lat = load_latents(lat_dir)
            close("aevb-infer encode: mu", lat.mu, mu)
            close("aevb-infer encode: logvar", lat.logvar, lv)
            check("aevb-infer encode: index", np.array_equal(lat.index, np.arange(len(x))))
            want_labels = lG if ds == dsG else None
            check("aevb-infer encode: labels", (lat.labels is None and want_labels is None)
                  or (lat.labels is not None and want_labels is not None and np.array_equal(lat.labels, want_labels)))
            with h5py.File(os.path.join(lat_dir, "latents.h5"), "r") as f:
                check("latents.h5: rows, latent, split, model_params_sha256",
                      int(f.attrs["rows"]) == len(x) and int(f.attrs["latent"]) == m.latent
                      and text(f.attrs["split"]) == "test" and text(f.attrs["model_params_sha256"]) == m.params_sha256)
                close("latents.h5 /kl_per_dim = mean over points of the analytic KL per dimension",
                      f["kl_per_dim"][()], np.mean(0.5 * (mu ** 2 + np.exp(lv) - 1 - lv), axis=0), rtol=1e-3)
                mv = f["mu_variance"][()]
                check("latents.h5 /mu_variance = the variance of mu over points (ddof 0 or 1)",
                      mv.shape == (m.latent,) and any(np.allclose(mv, mu.var(axis=0, ddof=k), rtol=1e-3, atol=1e-6)
                                                      for k in (0, 1)))
            prefix = os.path.join(d, "samples")
            run(infer, "sample", "--model", path, "--points", 64, "--seed", 1, "--out", prefix)
            with h5py.File(prefix + ".h5", "r") as f:
                zz, mean = f["z"][()], f["mean"][()]
            check("aevb-infer sample: shapes", zz.shape == (64, m.latent) and mean.shape == (64, m.x_dim))
            close("aevb-infer sample: decoder means of /z", mean, m.decode(zz))
            with open(prefix + ".png", "rb") as fh:
                check("aevb-infer sample: a PNG", fh.read(8) == b"\x89PNG\r\n\x1a\n")
finally:
    if os.environ.get("AEVB_KEEP_TMP"):
        print(f"kept {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)

print(f"{time.time() - T0:.1f} s")
if failures:
    sys.exit("FAILED: " + "; ".join(failures))
if not have_infer:
    print(f"SKIP: every other check passed, but {infer} is not built: the aevb-infer comparisons did not run")
    sys.exit(77)
print("PASS")
