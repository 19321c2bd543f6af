"""Tiny datasets and options for the trainer tests: NVlabs-layout zips written directly (not with `sgx dataset`)."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from train.config import TrainOptions


def make_zip(path: Path, count: int = 16, res: int = 16, num_classes: int | None = None, seed: int = 0) -> Path:
    """Coloured discs on coloured backgrounds: enough structure for D to learn, small enough to memorise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:res, :res]
    labels = []
    with zipfile.ZipFile(path, "w") as zf:
        for i in range(count):
            img = np.empty((res, res, 3), np.uint8)
            img[:] = rng.integers(0, 256, 3)
            r = rng.integers(2, res // 2)
            cy, cx = rng.integers(r, res - r + 1, 2)
            img[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = rng.integers(0, 256, 3)
            buf = io.BytesIO()
            Image.fromarray(img).save(buf, format="PNG")
            name = f"00000/img{i:08d}.png"
            zf.writestr(name, buf.getvalue())
            labels.append([name, i % num_classes] if num_classes else None)
        zf.writestr("dataset.json", json.dumps({"labels": labels if num_classes else None}))
    return path


def tiny_options(data: Path, outdir: Path, **overrides) -> TrainOptions:
    """A 16x16 run with a few thousand parameters per layer: batch 4, snapshots every tick."""
    opts = dict(data=str(data), outdir=str(outdir), kimg=0.016, batch=4, cbase=128, cmax=32, map=1, tick=0.008,
                snap=1, metrics="none", workers=1, swd_images=16, precision="fp32")
    opts.update(overrides)
    return TrainOptions(**opts)
