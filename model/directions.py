"""Latent directions to edit along, found without labels: SeFa and GANSpace, and their `.npz` file.

SeFa (Shen & Zhou, "Closed-Form Factorization of Latent Semantics in GANs"): a conv layer's style is
``affine.weight @ w + bias``, so the unit w directions that change the styles most are the top eigenvectors of
AᵀA, A being the affine weights of the chosen layers stacked, each row scaled to unit length. No sampling.

GANSpace (Härkönen et al., "GANSpace: Discovering Interpretable GAN Controls"): the principal components of
w = G.mapping(z) over many random z (here untruncated, z from one ``RandomState(seed)``), streamed in batches
with Chan's pairwise update of mean and scatter matrix, so memory stays flat whatever the sample count. The
values are the sample variances (divided by n - 1) along each component.

Conventions, fixed here once:
- directions are rows, unit length, sorted by value (eigenvalue or variance) descending;
- sign: each direction's largest-magnitude coordinate is positive (the first such one on a tie);
- id of component k: ``"<method>-<digest>:<k>"``, the digest being 12 hex digits of a sha256 over the method,
  model id, directions and values, so a PNG's `Edit.direction` names exactly one vector of one file;
- `edit_vectors` gives what `model.render.spec_ws` adds per unit strength: the unit vector for SeFa, the unit
  vector times the component's standard deviation for GANSpace, so GANSpace strengths are in σ.
Same network and options give the same file, byte for byte (on one machine: BLAS may round differently elsewhere).
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from .errors import ModelError
from .io.atomic import atomic_write
from .io.identity import model_id as network_id
from .latents import one_hot
from .spec import check_seed

METHODS = ("sefa", "ganspace")
FORMAT_VERSION = 1
MAX_FILE_BYTES = 256 << 20  # uncompressed members; 4096 x 4096 float32 directions would be 64 MiB
UNIT_TOLERANCE = 1e-4


@dataclass(frozen=True, eq=False)
class Directions:
    """One directions file in memory. `samples`, `seed` and `class_idx` describe GANSpace's sampling (0, 0, None
    for SeFa); `layers` are the w indices whose conv affines SeFa used (empty for GANSpace: w feeds them all)."""

    method: str
    directions: np.ndarray  # float32 [K, w_dim], unit rows
    values: np.ndarray  # float64 [K], eigenvalues of AᵀA (SeFa) or variances along each direction (GANSpace)
    layers: tuple[int, ...]
    model_id: str
    samples: int = 0
    seed: int = 0
    class_idx: int | None = None

    @property
    def digest(self) -> str:
        """12 hex digits naming the set. SeFa is a function of the weights and its layers, so those name it: a
        recomputation that rounds differently (another BLAS, thread count) keeps its ids. GANSpace is sampled,
        so its content names it."""
        h = hashlib.sha256(f"{self.method}\n{self.model_id}\n".encode())
        if self.method == "sefa":
            h.update(repr(tuple(int(i) for i in self.layers)).encode())
        else:
            h.update(self.directions.astype("<f4").tobytes())
            h.update(self.values.astype("<f8").tobytes())
        return h.hexdigest()[:12]

    def id(self, k: int) -> str:
        """The `Edit.direction` of component k."""
        if not 0 <= k < len(self.directions):
            raise ModelError(f"bad component: {k} is not in 0..{len(self.directions) - 1}")
        return f"{self.method}-{self.digest}:{k}"

    def scale(self, k: int) -> float:
        """Length in w of strength 1: 1 for SeFa, the component's σ for GANSpace."""
        return float(np.sqrt(self.values[k])) if self.method == "ganspace" else 1.0


def edit_vectors(d: Directions) -> dict[str, np.ndarray]:
    """The `directions` mapping `spec_ws` takes: id -> float32 [w_dim], what one unit of strength adds to w."""
    return {d.id(k): (d.directions[k] * np.float32(d.scale(k))).astype(np.float32) for k in range(len(d.directions))}


def check_model(d: Directions, model_id: str, name: str = "the directions file") -> None:
    """Directions only mean something for the weights they were computed from."""
    if d.model_id != model_id:
        raise ModelError(f"{name} was made for model id {d.model_id[:12]}, not this network ({model_id[:12]})")


# ---------------------------------------------------------------------------------------------------------
# The two methods


def conv_layers(G) -> list[tuple[int, torch.nn.Module]]:
    """(w index, layer) of every synthesis conv in w order, as the network's family lays them out."""
    return G.synthesis.conv_layers()


def sefa(G, layers: Sequence[int] | None = None, num: int | None = None, model_id: str | None = None) -> Directions:
    """SeFa directions of the conv layers reading w indices `layers` (default: every conv layer). `model_id`: G's
    id where the caller has it (the explorer, from loading): hashing a paper256 net's weights again took 0.1 s, as
    long as SeFa itself, while the first page of thumbnails waited."""
    _check_num(num, G.w_dim)
    convs = conv_layers(G)
    if layers is not None:
        bad = [i for i in layers if not 0 <= i < G.num_ws]
        if bad:
            raise ModelError(f"bad layers: w index {bad[0]} is not in 0..{G.num_ws - 1}")
        wanted = set(layers)
        convs = [(i, conv) for i, conv in convs if i in wanted]
        if not convs:
            raise ModelError(f"bad layers: no conv layer reads w indices {sorted(wanted)} "
                             f"(index {G.num_ws - 1} feeds only the last toRGB)")
    a = np.concatenate([conv.affine.weight.detach().cpu().double().numpy() for _, conv in convs])
    norms = np.linalg.norm(a, axis=1, keepdims=True)
    a = a / np.where(norms > 0, norms, 1)  # an all-zero row adds nothing either way
    values, vectors = _eigh(a.T @ a)
    return _finish("sefa", values, vectors, num, model_id or network_id(G), layers=tuple(i for i, _ in convs))


@torch.inference_mode()
def ganspace(G, samples: int = 100_000, num: int | None = None, seed: int = 0, class_idx: int | None = None,
             batch: int = 1000, progress: Callable[[int], None] | None = None) -> Directions:
    """Principal components of untruncated w over `samples` z's; `progress(done)` is called after every batch."""
    _check_num(num, G.w_dim)
    check_seed(seed)
    if samples < 2:
        raise ModelError(f"bad sample count: {samples} (need at least 2)")
    if batch < 1:
        raise ModelError(f"bad batch size: {batch}")
    device = next(G.parameters()).device
    c = torch.from_numpy(one_hot(class_idx, G.c_dim)).to(device)
    rng = np.random.RandomState(seed)  # legacy stream: the same z's whatever the batch size
    count, mean, scatter = 0, np.zeros(G.w_dim), np.zeros([G.w_dim, G.w_dim])
    while count < samples:
        b = min(batch, samples - count)
        z = torch.from_numpy(rng.randn(b, G.z_dim)).float().to(device)
        w = G.mapping(z, c.repeat(b, 1))[:, 0].cpu().double().numpy()
        w_mean = w.mean(axis=0)
        delta, total = w_mean - mean, count + b
        mean = mean + delta * (b / total)
        scatter = scatter + (w - w_mean).T @ (w - w_mean) + np.outer(delta, delta) * (count * b / total)
        count = total
        if progress is not None:
            progress(count)
    values, vectors = _eigh(scatter / (samples - 1))
    return _finish("ganspace", values, vectors, num, network_id(G), samples=samples, seed=seed, class_idx=class_idx)


def _eigh(m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric eigen-decomposition in float64 through torch, which keeps to torch's thread count: numpy's BLAS
    starts threads of its own and, beside the explorer's render loop on two cores, ran 30x slower."""
    values, vectors = torch.linalg.eigh(torch.from_numpy(np.ascontiguousarray(m)))
    return values.numpy(), vectors.numpy()


def _check_num(num: int | None, w_dim: int) -> None:
    if num is not None and not 1 <= num <= w_dim:
        raise ModelError(f"bad direction count: {num} is not in 1..{w_dim}")


def _finish(method: str, values: np.ndarray, vectors: np.ndarray, num: int | None, model_id: str,
            layers: tuple[int, ...] = (), **sampling) -> Directions:
    """eigh's ascending columns -> the top `num` unit rows, descending, with the sign convention applied."""
    order = np.argsort(-values, kind="stable")[:num]
    rows = vectors[:, order].T
    rows = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    peak = np.abs(rows).argmax(axis=1)
    rows = rows * np.sign(rows[np.arange(len(rows)), peak])[:, None]
    return Directions(method, rows.astype(np.float32), np.maximum(values[order], 0), layers, model_id, **sampling)


# ---------------------------------------------------------------------------------------------------------
# The file: plain arrays in an .npz, never pickled


def save_directions(path: str | os.PathLike, d: Directions) -> None:
    arrays = dict(version=np.int64(FORMAT_VERSION), method=np.str_(d.method), model_id=np.str_(d.model_id),
                  directions=d.directions.astype("<f4"), values=d.values.astype("<f8"),
                  layers=np.array(d.layers, dtype="<i8"), samples=np.int64(d.samples), seed=np.int64(d.seed),
                  class_idx=np.int64(-1 if d.class_idx is None else d.class_idx))

    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)

    atomic_write(path, write)


def load_directions(path: str | os.PathLike) -> Directions:
    """Read and validate a directions file; anything wrong is a one-line ModelError naming the file."""
    name = os.path.basename(path)
    try:
        with zipfile.ZipFile(path) as z:  # np.load would unpack a zip bomb before we could look at the shapes
            unpacked = sum(info.file_size for info in z.infolist())
        if unpacked <= MAX_FILE_BYTES:
            with np.load(path, allow_pickle=False) as data:
                arrays = {key: data[key] for key in data.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
        raise ModelError(f"bad directions file {name}: not a readable .npz ({str(e).splitlines()[0]})") from None
    if unpacked > MAX_FILE_BYTES:
        raise ModelError(f"bad directions file {name}: larger than {MAX_FILE_BYTES >> 20} MiB unpacked")

    def get(key: str, kind: str, ndim: int) -> np.ndarray:
        value = arrays.get(key)
        if value is None:
            raise ModelError(f"bad directions file {name}: no '{key}'")
        if value.dtype.kind not in kind or value.ndim != ndim:
            raise ModelError(f"bad directions file {name}: '{key}' is {value.dtype} {list(value.shape)}")
        return value

    version = int(get("version", "i", 0))
    method, model_id = str(get("method", "U", 0)), str(get("model_id", "U", 0))
    directions, values = get("directions", "f", 2).astype(np.float32), get("values", "f", 1).astype(np.float64)
    layers, class_idx = get("layers", "i", 1), int(get("class_idx", "i", 0))
    samples, seed = int(get("samples", "i", 0)), int(get("seed", "i", 0))
    checks = [
        (version == FORMAT_VERSION, f"format version {version}, this program reads {FORMAT_VERSION}"),
        (method in METHODS, f"unknown method '{method:.20}'"),
        (len(model_id) == 64 and set(model_id) <= set("0123456789abcdef"), "model_id is not 64 hex digits"),
        (1 <= directions.shape[0] <= directions.shape[1], f"directions {list(directions.shape)} is not [K, w_dim]"),
        (values.shape == directions.shape[:1], f"values {list(values.shape)} do not match the directions"),
        (bool(np.isfinite(values).all() and (values >= 0).all()), "values are negative or not finite"),
        (bool(np.isfinite(directions).all()), "directions are not finite"),
        (bool(np.all(np.abs(np.linalg.norm(directions, axis=1) - 1) <= UNIT_TOLERANCE)), "directions are not unit"),
        (min(layers.min(initial=0), samples, seed, class_idx + 1) >= 0, "negative layers, samples, seed or class"),
    ]
    problem = next((message for ok, message in checks if not ok), None)
    if problem:
        raise ModelError(f"bad directions file {name}: {problem}")
    return Directions(method, directions, values, tuple(int(i) for i in layers), model_id, samples, seed,
                      None if class_idx < 0 else class_idx)
