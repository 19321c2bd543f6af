"""Files of w latents, read without ever unpickling: `sgx project`'s proj.npz and NVlabs' projected_w.npz.

proj.npz holds plain arrays: 'w' float32 [num_ws, w_dim]; 'spec', the LatentSpec JSON whose base is that w (what
pins and PNG metadata hold); 'info', JSON about the run (model id, target, space, steps, seed, loss); and, when
the noise maps were optimised, 'noise.<buffer name>' float32 [H, W] per synthesis layer. NVlabs' projector
writes only 'w', [1, num_ws, w_dim]; any 'w' of [K, num_ws, w_dim] reads as K latents.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .errors import ModelError
from .io.atomic import atomic_write
from .spec import LatentSpec, W

NOISE_PREFIX = "noise."
MAX_UNPACKED = 256 << 20  # a 1024² net's w and noise maps take 12 MB


def first_line(error: Exception) -> str:
    return (str(error).splitlines() or [type(error).__name__])[0]


@dataclass(frozen=True)
class Latent:
    """One latent of a w file: the spec to render, the noise maps it was fitted with (often none), and the id of
    the network it was fitted to where the file says (proj.npz's info; NVlabs' files do not)."""

    spec: LatentSpec
    noise: dict[str, np.ndarray] = field(default_factory=dict)
    model_id: str | None = None


def save_projection(path: str | os.PathLike, spec: LatentSpec, noise: dict[str, np.ndarray], info: dict) -> None:
    """Write a proj.npz atomically; `spec` has an explicit w."""
    arrays = {"w": spec.w.array(), "spec": np.str_(json.dumps(spec.to_json())), "info": np.str_(json.dumps(info))}
    arrays |= {NOISE_PREFIX + name: np.asarray(v, dtype="<f4") for name, v in noise.items()}

    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)

    atomic_write(path, write)


def read_w_file(path: str | os.PathLike) -> list[Latent]:
    """The latents of a proj.npz (one) or of an .npz whose 'w' is [K, num_ws, w_dim]; one-line ModelErrors."""
    path = Path(path)

    def bad(why: str) -> ModelError:
        return ModelError(f"bad w file {path.name}: {why}")

    if not path.is_file():
        raise ModelError(f"no such file: {path}")
    with open(path, "rb") as f:
        if f.read(6) == b"\x93NUMPY":
            raise bad("it is an .npy array, not an .npz with key 'w'")
    try:
        with zipfile.ZipFile(path) as z:  # np.load would unpack a zip bomb before we could look at the shapes
            unpacked = sum(info.file_size for info in z.infolist())
        data = np.load(path, allow_pickle=False) if unpacked <= MAX_UNPACKED else None
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
        raise bad(f"not a readable .npz ({first_line(e)})") from None
    if data is None:
        raise bad(f"larger than {MAX_UNPACKED >> 20} MiB unpacked")
    arrays = {}
    with data:
        if "w" not in data.files:
            raise bad(f"it has no array 'w' (it has: {', '.join(data.files) or 'nothing'})")
        for key in data.files:
            if key in ("w", "spec", "info") or key.startswith(NOISE_PREFIX):
                try:
                    arrays[key] = data[key]
                except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:  # e.g. pickled objects: refused
                    raise bad(f"'{key}' is not a readable plain array ({first_line(e)})") from None
    w = arrays["w"]
    if w.ndim not in (2, 3) or w.dtype.kind != "f":
        raise bad(f"'w' must be a float array [num_ws, w_dim] or [K, num_ws, w_dim], got {w.dtype} {list(w.shape)}")
    if "spec" not in arrays:
        return [Latent(LatentSpec(w=W.of(row))) for row in (w if w.ndim == 3 else w[None])]
    try:
        spec = LatentSpec.from_json(json.loads(str(arrays["spec"])))
    except (ValueError, RecursionError) as e:
        raise bad(f"its spec is unreadable ({e})") from None
    noise = {}
    for key, value in arrays.items():
        if key.startswith(NOISE_PREFIX):
            if value.ndim != 2 or value.dtype.kind != "f" or not np.isfinite(value).all():
                raise bad(f"'{key}' is not a finite float map [H, W]")
            noise[key[len(NOISE_PREFIX):]] = value.astype(np.float32)
    return [Latent(spec, noise, _fitted_to(arrays.get("info")))]


def _fitted_to(info: np.ndarray | None) -> str | None:
    """The model id in proj.npz's info JSON; None where it is missing or unreadable (it only feeds a warning)."""
    try:
        found = json.loads(str(info)).get("model_id") if info is not None else None
    except (ValueError, RecursionError, AttributeError):
        return None
    return found if isinstance(found, str) else None


@contextmanager
def noise_maps(G, noise: dict[str, np.ndarray]) -> Iterator[None]:
    """Inside the block G's constant noise buffers hold a projection's noise maps (rendered with noise mode
    'const'); its own come back after."""
    buffers = dict(G.synthesis.named_buffers())
    for name, value in noise.items():
        buf = buffers.get(name)
        if buf is None or not name.endswith("noise_const") or tuple(buf.shape) != value.shape:
            raise ModelError(f"the projection's noise map '{name}' {list(value.shape)} does not fit this network")
    saved = {name: buffers[name].clone() for name in noise}
    try:
        with torch.no_grad():
            for name, value in noise.items():
                buffers[name].copy_(torch.from_numpy(value))
        yield
    finally:
        with torch.no_grad():
            for name, value in saved.items():
                buffers[name].copy_(value)
