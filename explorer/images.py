"""PNG files with reproduction metadata, written atomically, and image grids.

Every PNG we write carries one iTXt chunk, `stylegan-explorer`, holding JSON (seed or w, psi, cutoff, class,
noise mode, model id, version), so any saved image can be rendered again.
"""

from __future__ import annotations

import json
import os

import numpy as np
from PIL import Image, PngImagePlugin

from model.io.atomic import atomic_write
from model.spec import LatentSpec

META_KEY = "stylegan-explorer"


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("stylegan-explorer")
    except PackageNotFoundError:
        return "unknown"


def spec_metadata(spec: LatentSpec, **context) -> dict:
    """The PNG metadata of an image of `spec`: the spec's JSON (an explicit w as base64 float32, exact) plus where
    it was rendered (precision, model id, model file). `LatentSpec.from_json` reads it back, ignoring the rest."""
    return {**spec.to_json(), **context}


def spec_stem(spec: LatentSpec) -> str:
    """A file name for an image of `spec`: seed0042 as `sgx generate` names it, or w-<content hash>."""
    return f"seed{spec.seed:04d}" if spec.seed is not None else f"w-{spec.w.digest}"


def save_png(path: str | os.PathLike, pixels: np.ndarray, metadata: dict | None = None) -> None:
    """uint8 [H, W, C] (C = 1 or 3) -> PNG, with `metadata` as JSON in the stylegan-explorer chunk."""
    image = Image.fromarray(pixels[:, :, 0] if pixels.shape[2] == 1 else pixels)
    info = PngImagePlugin.PngInfo()
    if metadata is not None:
        info.add_itxt(META_KEY, json.dumps({**metadata, "version": version()}, sort_keys=True))
    atomic_write(path, lambda tmp: image.save(tmp, format="PNG", pnginfo=info))


def read_png_metadata(path: str | os.PathLike) -> dict | None:
    """The stylegan-explorer metadata of a PNG, or None if it has none."""
    with Image.open(path) as image:
        raw = image.text.get(META_KEY) if hasattr(image, "text") else None
    return json.loads(raw) if raw else None


def grid(cells: list[list[np.ndarray | None]]) -> np.ndarray:
    """Rows of equal-size uint8 images -> one image; None cells stay black."""
    h, w, c = next(x for row in cells for x in row if x is not None).shape
    out = np.zeros((h * len(cells), w * max(len(row) for row in cells), c), dtype=np.uint8)
    for i, row in enumerate(cells):
        for j, cell in enumerate(row):
            if cell is not None:
                out[i * h:(i + 1) * h, j * w:(j + 1) * w] = cell
    return out
