"""Load aevb models, checkpoints, datasets and latents in Python (NumPy + h5py only).

    from aevb_model import AevbModel, load_split, load_latents

    m = AevbModel.load("runs/demo/model.h5")      # or a checkpoint: runs/demo/checkpoints/ckpt-*.h5
    x, labels = load_split("data/mnist", "test")   # float32 [n, D] = stored value x scale
    mu, logvar = m.encode(x)                       # q(z|x) = N(mu, diag(exp(logvar)))
    means = m.decode(mu)                           # Bernoulli: sigmoid(logits); Gaussian: the mean
    samples = m.sample(16, rng=0)                  # decoder means of z ~ N(0, I)
    lat = load_latents("runs/demo/latents")        # what `aevb-infer encode` wrote

The network is the one aevb-train trains (include/aevb/core/vae.hpp, mlp.hpp,
param_layout.hpp): every layer computes h @ W + b with W stored row-major as
[fan-in x fan-out]; hidden layers apply the activation (tanh, relu, or
softplus = log(1 + e^h)); the last layer is linear. The encoder's output row is
[mu (J) | log sigma^2 (J)]; the decoder mirrors the hidden layers and outputs
the Bernoulli logits (D) or [mean pre-activation (D) | log variance (D)]
(the mean is sigmoid(pre-activation) when gaussian_mean is "sigmoid"). A
Bayesian model (bayes = "full") is decoded with its posterior mean mu_theta;
its rho_theta blocks ("decoder_rho.*", sigma_theta = softplus(rho)) are in
``blocks``. Arithmetic is float64 by default (``dtype=np.float32`` to match the
C++ float32 kernels more closely and halve the memory).
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import NamedTuple, Optional

import h5py
import numpy as np

__all__ = ["AevbModel", "AevbFormatError", "Latents", "load_split", "load_latents", "params_sha256"]

MODEL_FORMATS = {"aevb-model": 1, "aevb-checkpoint": 1}
LATENTS_FORMAT, LATENTS_SHARD_FORMAT, LATENTS_VERSION = "aevb-latents", "aevb-latents-shard", 1
MANIFEST_FORMAT, MANIFEST_VERSION = "aevb-manifest", 1
_ACTIVATIONS = ("tanh", "relu", "softplus")


class AevbFormatError(ValueError):
    """A file that is not what it should be: wrong format, version, shape or checksum."""


def _str(v) -> str:
    if isinstance(v, (bytes, np.bytes_)):
        return v.decode("utf-8")
    if isinstance(v, np.ndarray) and v.shape == ():
        return _str(v[()])
    return str(v)


def _ints(v) -> list:
    if isinstance(v, h5py.Empty) or v is None:
        return []
    return [int(i) for i in np.atleast_1d(np.asarray(v))]


def _attr(path, attrs, name, kind=None, default=KeyError):
    if name not in attrs:
        if default is KeyError:
            raise AevbFormatError(f"{path}: missing attribute '{name}'")
        return default
    v = attrs[name]
    try:
        if kind is str:
            return _str(v)
        if kind is int:
            return int(np.asarray(v).reshape(()))
        if kind is float:
            return float(np.asarray(v).reshape(()))
        if kind is list:
            return _ints(v)
        if kind == "strings":
            return [_str(s) for s in np.atleast_1d(np.asarray(v, dtype=object))]
    except (TypeError, ValueError) as e:
        raise AevbFormatError(f"{path}: attribute '{name}' has an unexpected type: {e}") from None
    return v


def params_sha256(params) -> str:
    """The checksum aevb writes as params_sha256: SHA-256 of the float32 little-endian bytes."""
    return hashlib.sha256(np.ascontiguousarray(params, dtype="<f4").tobytes()).hexdigest()


def _sigmoid(a):
    # Stable for large |a|: exp of a non-positive number only.
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _softplus(a):
    return np.logaddexp(0.0, a)


def _activate(name, a):
    if name == "tanh":
        return np.tanh(a)
    if name == "relu":
        return np.maximum(a, 0.0)
    return _softplus(a)


def expected_layout(x_dim, hidden, latent, decoder, bayes=False):
    """[(name, offset, rows, cols)] as aevb's ParamLayout registers the blocks:
    encoder then decoder (then decoder_rho for a Bayesian model), W [in x out] then
    b [1 x out] per layer, each block padded to a multiple of 16 floats."""
    enc = [x_dim, *hidden, 2 * latent]
    dec = [latent, *reversed(hidden), x_dim if decoder == "bernoulli" else 2 * x_dim]
    nets = [("encoder", enc), ("decoder", dec)] + ([("decoder_rho", dec)] if bayes else [])
    out, off = [], 0
    for name, sizes in nets:
        for i in range(len(sizes) - 1):
            for suffix, r, c in (("W", sizes[i], sizes[i + 1]), ("b", 1, sizes[i + 1])):
                out.append((f"{name}.{i}.{suffix}", off, r, c))
                off += (r * c + 15) // 16 * 16
    return out, off


class AevbModel:
    """An aevb model file ("aevb-model") or training checkpoint ("aevb-checkpoint").

    Attributes: format, format_version, x_dim, hidden (tuple), latent, activation,
    decoder ("bernoulli" | "gaussian"), gaussian_mean ("sigmoid" | "identity"),
    bayes ("map" | "full"), weight_prior_precision (bayes only, else None),
    row_shape (tuple; None for a checkpoint that lacks it), data_scale, dataset,
    binarization, step, epoch, train_rows, params_sha256, params (float32 [P], the
    flat buffer as stored), blocks (name -> float32 [rows, cols] view into params),
    layout ([(name, offset, rows, cols)] of the blocks in /params), attrs (every root attribute, as h5py read it), path.
    """

    def __init__(self, path, attrs, params, dtype=np.float64):
        self.path = path
        self.attrs = attrs
        a = lambda name, kind=None, default=KeyError: _attr(path, attrs, name, kind, default)  # noqa: E731
        self.format = a("format", str)
        self.format_version = a("format_version", int)
        self.x_dim = a("x_dim", int)
        self.hidden = tuple(a("hidden", list))
        self.latent = a("latent", int)
        self.activation = a("activation", str)
        self.decoder = a("decoder", str)
        self.gaussian_mean = a("gaussian_mean", str)
        self.bayes = a("bayes", str, "map")  # absent in files of earlier releases
        self.weight_prior_precision = a("weight_prior_precision", float) if self.bayes == "full" else None
        for name, value, allowed in (("activation", self.activation, _ACTIVATIONS),
                                     ("decoder", self.decoder, ("bernoulli", "gaussian")),
                                     ("gaussian_mean", self.gaussian_mean, ("sigmoid", "identity")),
                                     ("bayes", self.bayes, ("map", "full"))):
            if value not in allowed:
                raise AevbFormatError(f"{path}: unknown {name} '{value}' (expected {' or '.join(allowed)})")
        if self.x_dim <= 0 or self.latent <= 0 or any(h <= 0 for h in self.hidden):
            raise AevbFormatError(f"{path}: bad model architecture: non-positive dimensions")
        rs = a("row_shape", list, None)
        self.row_shape = tuple(rs) if rs is not None else None
        self.data_scale = a("data_scale", float, None)
        self.dataset = a("dataset", str, None)
        self.binarization = a("binarization", str, None)
        self.step = a("step", int, 0)
        self.epoch = a("epoch", int, 0)
        self.train_rows = a("train_rows", int, 0)
        self.params_sha256 = a("params_sha256", str)
        self.params = params
        self.dtype = np.dtype(dtype)

        layout, total = expected_layout(self.x_dim, self.hidden, self.latent, self.decoder, self.bayes == "full")
        if params.shape != (total,):
            raise AevbFormatError(f"{path}: /params has shape {list(params.shape)} but the architecture "
                                  f"{self.spec_string()} needs {total} values")
        self.blocks = {n: params[o:o + r * c].reshape(r, c) for n, o, r, c in layout}
        self.layout = layout
        f = self.dtype.type
        mk = lambda net, sizes: [(self.blocks[f"{net}.{i}.W"].astype(f),  # noqa: E731
                                  self.blocks[f"{net}.{i}.b"][0].astype(f)) for i in range(len(sizes) - 1)]
        enc = [self.x_dim, *self.hidden, 2 * self.latent]
        dec = [self.latent, *reversed(self.hidden), self.x_dim * (1 if self.decoder == "bernoulli" else 2)]
        self._enc, self._dec = mk("encoder", enc), mk("decoder", dec)

    # ---------------------------------------------------------------- loading
    @classmethod
    def load(cls, path, verify_checksum=True, dtype=np.float64) -> "AevbModel":
        """Reads a model file or checkpoint; AevbFormatError naming the file for
        a wrong format or version, a /params size that does not fit the
        architecture, a block table that differs from aevb's layout, or (with
        verify_checksum) /params not matching params_sha256."""
        path = os.fspath(path)
        try:
            f = h5py.File(path, "r")
        except OSError as e:
            raise AevbFormatError(f"{path}: cannot open as HDF5: {e}") from None
        with f:
            attrs = {k: f.attrs[k] for k in f.attrs.keys()}
            if "format" not in attrs:
                raise AevbFormatError(f"{path}: not an aevb model file or checkpoint (no format attribute)")
            fmt = _str(attrs["format"])
            if fmt not in MODEL_FORMATS:
                raise AevbFormatError(f"{path}: format '{fmt}' is neither 'aevb-model' nor 'aevb-checkpoint'")
            version = _attr(path, attrs, "format_version", int)
            if version != MODEL_FORMATS[fmt]:
                raise AevbFormatError(f"{path}: {fmt} format_version {version} is not supported "
                                      f"(expected {MODEL_FORMATS[fmt]})")
            if "params" not in f or not isinstance(f["params"], h5py.Dataset):
                raise AevbFormatError(f"{path}: missing dataset /params")
            d = f["params"]
            if d.dtype.kind != "f" or d.ndim != 1:
                raise AevbFormatError(f"{path}: /params is {d.dtype} {list(d.shape)}, expected a 1-D float32 array")
            block_attrs = {k: d.attrs[k] for k in ("block_names", "block_offsets", "block_rows", "block_cols")
                           if k in d.attrs}
            params = d[()].astype(np.float32, copy=False)
        params.setflags(write=False)
        m = cls(path, attrs, params, dtype)
        if len(block_attrs) == 4:
            stored = list(zip(_attr(path, block_attrs, "block_names", "strings"),
                              _attr(path, block_attrs, "block_offsets", list),
                              _attr(path, block_attrs, "block_rows", list),
                              _attr(path, block_attrs, "block_cols", list)))
            if stored != [tuple(b) for b in m.layout]:
                raise AevbFormatError(f"{path}: the /params block table does not match the layout of "
                                      f"{m.spec_string()} (a file of another aevb layout?)")
        if verify_checksum and params_sha256(params) != m.params_sha256:
            raise AevbFormatError(f"{path}: /params does not match its params_sha256 checksum (corrupted file)")
        return m

    # ----------------------------------------------------------- description
    @property
    def spec(self) -> dict:
        """The architecture, as the root attributes name it."""
        s = dict(x_dim=self.x_dim, hidden=list(self.hidden), latent=self.latent, activation=self.activation,
                 decoder=self.decoder, gaussian_mean=self.gaussian_mean, bayes=self.bayes)
        if self.bayes == "full":
            s["weight_prior_precision"] = self.weight_prior_precision
        return s

    def spec_string(self) -> str:
        h = ",".join(map(str, self.hidden)) or "linear"
        return f"{self.x_dim}-{h}-{self.latent} {self.activation} {self.decoder}"

    def __repr__(self):
        return f"AevbModel({self.path!r}: {self.format}, {self.spec_string()}, step {self.step})"

    # --------------------------------------------------------------- network
    def _rows(self, a, width, what):
        a = np.asarray(a)
        single = a.ndim == 1 or (self.row_shape and what == "x" and a.shape == tuple(self.row_shape))
        a = a.reshape(1, -1) if single else a.reshape(a.shape[0], -1)
        if a.shape[1] != width:
            raise ValueError(f"{what}: expected rows of {width} values, got {a.shape[1]}")
        return a.astype(self.dtype, copy=False), single

    def _mlp(self, layers, h):
        for i, (W, b) in enumerate(layers):
            h = h @ W + b
            if i + 1 < len(layers):
                h = _activate(self.activation, h)
        return h

    def encoder_output(self, x):
        """The encoder's raw output [n, 2J] = [mu | logvar] for x [n, D] (or [n, *row_shape])."""
        x, single = self._rows(x, self.x_dim, "x")
        out = self._mlp(self._enc, x)
        return out[0] if single else out

    def encode(self, x):
        """(mu, logvar), each [n, J]: q(z|x) = N(mu, diag(exp(logvar))). x is the model
        input, i.e. the stored value x the dataset's scale (load_split does that)."""
        out = self.encoder_output(x)
        return out[..., :self.latent], out[..., self.latent:]

    def decoder_output(self, z):
        """The decoder's raw output: logits [n, D] (Bernoulli) or [mean pre-activation | logvar] [n, 2D]."""
        z, single = self._rows(z, self.latent, "z")
        out = self._mlp(self._dec, z)
        return out[0] if single else out

    def decode_logits(self, z):
        """Bernoulli logits [n, D]."""
        if self.decoder != "bernoulli":
            raise ValueError("decode_logits: the model has a Gaussian decoder (use decode / decode_logvar)")
        return self.decoder_output(z)

    def decode(self, z, return_logvar=False):
        """Decoder means [n, D]: sigmoid(logits) (Bernoulli) or the Gaussian mean (squashed
        by sigmoid when gaussian_mean is "sigmoid"). With return_logvar (Gaussian only):
        (mean, logvar)."""
        out = self.decoder_output(z)
        D = self.x_dim
        if self.decoder == "bernoulli":
            if return_logvar:
                raise ValueError("decode: return_logvar needs a Gaussian decoder")
            return _sigmoid(out)
        mean = out[..., :D]
        if self.gaussian_mean == "sigmoid":
            mean = _sigmoid(mean)
        return (mean, out[..., D:]) if return_logvar else mean

    def decode_logvar(self, z):
        """Gaussian decoder: log variance [n, D]."""
        if self.decoder != "gaussian":
            raise ValueError("decode_logvar: the model has a Bernoulli decoder")
        return self.decoder_output(z)[..., self.x_dim:]

    def log_likelihood(self, x, z):
        """log p(x|z) per row, as aevb computes it: Bernoulli sum_d x_d l_d - softplus(l_d);
        Gaussian -0.5 sum_d (log 2pi + logvar_d + (x_d - mean_d)^2 / exp(logvar_d))."""
        x, _ = self._rows(x, self.x_dim, "x")
        z, _ = self._rows(z, self.latent, "z")
        if x.shape[0] != z.shape[0]:
            raise ValueError(f"log_likelihood: {x.shape[0]} rows of x but {z.shape[0]} of z")
        if self.decoder == "bernoulli":
            lg = self.decoder_output(z).reshape(z.shape[0], -1)
            return np.sum(x * lg - _softplus(lg), axis=1)
        mean, lv = self.decode(z, return_logvar=True)
        mean, lv = mean.reshape(z.shape[0], -1), lv.reshape(z.shape[0], -1)
        return -0.5 * np.sum(np.log(2 * np.pi) + lv + (x - mean) ** 2 * np.exp(-lv), axis=1)

    @staticmethod
    def kl(mu, logvar):
        """KL(q(z|x) || N(0, I)) per row: 0.5 sum_j (mu^2 + exp(logvar) - 1 - logvar)."""
        return 0.5 * np.sum(np.square(mu) + np.exp(logvar) - 1.0 - logvar, axis=-1)

    def sample(self, n, rng=None, return_z=False):
        """Decoder means of n draws z ~ N(0, I); rng: a numpy Generator or a seed.
        With return_z: (z, means)."""
        rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        z = rng.standard_normal((int(n), self.latent)).astype(self.dtype, copy=False)
        means = self.decode(z)
        return (z, means) if return_z else means


# ------------------------------------------------------------------- datasets
def _read_manifest(dataset_dir):
    path = os.path.join(os.fspath(dataset_dir), "manifest.json")
    try:
        with open(path, encoding="utf-8") as fh:
            man = json.load(fh)
    except OSError as e:
        raise AevbFormatError(f"{path}: cannot read the dataset manifest: {e}") from None
    except ValueError as e:
        raise AevbFormatError(f"{path}: not JSON: {e}") from None
    if man.get("format") != MANIFEST_FORMAT or man.get("format_version") != MANIFEST_VERSION:
        raise AevbFormatError(f"{path}: not an aevb dataset manifest (format {man.get('format')!r} "
                              f"version {man.get('format_version')!r}, expected {MANIFEST_FORMAT!r} "
                              f"{MANIFEST_VERSION})")
    return path, man


def load_split(dataset_dir, split, max_rows=None, verify_checksum=True):
    """The rows of an aevb dataset split (docs/data-format.md), in global order:
    (x, labels) with x float32 [n, D] = stored value x scale (computed in double and
    rounded once, as aevb does) and labels int64 [n] or None. max_rows: the first
    rows only. A shard read whole is checked against its data_sha256."""
    mpath, man = _read_manifest(dataset_dir)
    splits = man.get("splits", {})
    if split not in splits:
        raise AevbFormatError(f"{mpath}: no split '{split}' (splits: {', '.join(sorted(splits)) or 'none'})")
    sp = splits[split]
    total = int(sp["rows"])
    want = total if max_rows is None else max(0, min(int(max_rows), total))
    cols = int(np.prod(sp["row_shape"])) if sp["row_shape"] else 1
    scale = float(sp["scale"])
    has_labels = bool(sp.get("has_labels", False))
    xs, ls, got = [], [], 0
    for sh in sp["shards"]:
        if got >= want:
            break
        fpath = os.path.join(os.fspath(dataset_dir), sh["file"])
        with h5py.File(fpath, "r") as f:
            if _str(f.attrs.get("format", "")) != "aevb-shard":
                raise AevbFormatError(f"{fpath}: not an aevb shard (format attribute is not 'aevb-shard')")
            if int(f.attrs.get("row_offset", -1)) != got:
                raise AevbFormatError(f"{fpath}: row_offset {int(f.attrs.get('row_offset', -1))}, expected {got}")
            d = f["data"]
            rows = int(sh["rows"])
            if d.shape != (rows, cols):
                raise AevbFormatError(f"{fpath}: /data has shape {list(d.shape)}, expected [{rows}, {cols}]")
            take = min(rows, want - got)
            data = d[:take]
            if verify_checksum and take == rows and "data_sha256" in sh:
                h = hashlib.sha256(np.ascontiguousarray(data, dtype=data.dtype.newbyteorder("<")).tobytes())
                if h.hexdigest() != sh["data_sha256"]:
                    raise AevbFormatError(f"{fpath}: /data does not match data_sha256 in the manifest")
            xs.append((data.astype(np.float64) * scale).astype(np.float32))
            if has_labels:
                ls.append(f["labels"][:take].astype(np.int64))
            got += take
    x = np.concatenate(xs) if xs else np.zeros((0, cols), np.float32)
    labels = (np.concatenate(ls) if ls else np.zeros(0, np.int64)) if has_labels else None
    return x, labels


# -------------------------------------------------------------------- latents
class Latents(NamedTuple):
    """What `aevb-infer encode` wrote, concatenated over its shards in order."""
    mu: np.ndarray      # float32 [n, J]
    logvar: np.ndarray  # float32 [n, J]
    index: np.ndarray   # int64 [n], global row index in the split
    labels: Optional[np.ndarray]  # int64 [n], or None when the split has no labels


def load_latents(path) -> Latents:
    """Reads DIR/latents.h5 (format "aevb-latents") and the shards it lists."""
    path = os.fspath(path)
    summary = os.path.join(path, "latents.h5") if os.path.isdir(path) else path
    base = os.path.dirname(summary)
    with h5py.File(summary, "r") as f:
        fmt = _str(f.attrs.get("format", ""))
        if fmt != LATENTS_FORMAT:
            raise AevbFormatError(f"{summary}: format '{fmt}' is not '{LATENTS_FORMAT}'")
        if _attr(summary, f.attrs, "format_version", int) != LATENTS_VERSION:
            raise AevbFormatError(f"{summary}: format_version {int(f.attrs['format_version'])} is not supported "
                                  f"(expected {LATENTS_VERSION})")
        rows = _attr(summary, f.attrs, "rows", int)
        latent = _attr(summary, f.attrs, "latent", int)
        try:
            files = json.loads(_attr(summary, f.attrs, "shard_files", str))
        except ValueError as e:
            raise AevbFormatError(f"{summary}: shard_files is not JSON: {e}") from None
    mus, lvs, idx, labs = [], [], [], []
    offset = 0
    for name in files:
        sp = os.path.join(base, name)
        with h5py.File(sp, "r") as f:
            if _str(f.attrs.get("format", "")) != LATENTS_SHARD_FORMAT:
                raise AevbFormatError(f"{sp}: format is not '{LATENTS_SHARD_FORMAT}'")
            if _attr(sp, f.attrs, "format_version", int) != LATENTS_VERSION:
                raise AevbFormatError(f"{sp}: format_version is not {LATENTS_VERSION}")
            n = _attr(sp, f.attrs, "rows", int)
            if _attr(sp, f.attrs, "row_offset", int) != offset:
                raise AevbFormatError(f"{sp}: row_offset {int(f.attrs['row_offset'])}, expected {offset}")
            mu, lv, ix = f["mu"][()], f["logvar"][()], f["index"][()]
            if mu.shape != (n, latent) or lv.shape != (n, latent) or ix.shape != (n,):
                raise AevbFormatError(f"{sp}: /mu {list(mu.shape)}, /logvar {list(lv.shape)}, /index "
                                      f"{list(ix.shape)} do not fit rows {n} x latent {latent}")
            mus.append(mu), lvs.append(lv), idx.append(ix.astype(np.int64))
            if "labels" in f:
                labs.append(f["labels"][()].astype(np.int64))
            offset += n
    if offset != rows:
        raise AevbFormatError(f"{summary}: the shards hold {offset} rows but rows says {rows}")
    if labs and len(labs) != len(files):
        raise AevbFormatError(f"{summary}: /labels in some shards only")
    cat = lambda a, shape, dt: np.concatenate(a) if a else np.zeros(shape, dt)  # noqa: E731
    return Latents(cat(mus, (0, latent), np.float32), cat(lvs, (0, latent), np.float32),
                   cat(idx, (0,), np.int64), cat(labs, (0,), np.int64) if labs else None)
