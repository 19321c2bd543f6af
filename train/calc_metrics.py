"""Metrics of finished networks, as NVlabs' calc_metrics.py: which snapshot of a run is the best?

The trainer measures each snapshot once: one set of generated images and, for SWD, one set of random
descriptors. Late in a run, snapshots differ by less than that draw's own noise, so one draw per snapshot can
rank them wrongly. Here every network is measured `draws` times with fresh fakes (and descriptors) against the
same real images, and the mean comes with its standard error. Draw 0 is the trainer's own draw, so it repeats
the number in the run's metric-*.jsonl.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from model.io import LoadedModel, load

from .config import ConfigError
from .dataset import ImageZipDataset
from .fid import FIDMetric
from .metrics import SWDMetric

SNAPSHOT_GLOB = "network-snapshot-*.safetensors"
HEADLINES = ("swdavg", "fid")  # the keys that rank networks, shown first


@dataclass
class Score:
    """One network's values: metric key (`swdavg`, `swd64`, ..., `fid`) -> one value per draw."""

    path: Path
    kimg: float | None
    values: dict[str, list[float]]

    def keys(self) -> list[str]:
        """The metric keys, headline ones first (`swdavg`, then the levels `swd64`, ...)."""
        return [k for k in HEADLINES if k in self.values] + [k for k in self.values if k not in HEADLINES]

    def mean(self, key: str) -> float:
        return float(np.mean(self.values[key]))

    def sem(self, key: str) -> float:
        """Standard error of the mean; nan for a single draw."""
        v = self.values[key]
        return float(np.std(v, ddof=1) / math.sqrt(len(v))) if len(v) > 1 else math.nan


NAME_WIDTH = 40


def cell(score: Score, key: str) -> str:
    """`mean ± sem`, or the mean alone for one draw, in a fixed width."""
    sem = score.sem(key)
    return f"{score.mean(key):8.3f}         " if math.isnan(sem) else f"{score.mean(key):8.3f} ± {sem:6.3f}"


def table_header(score: Score) -> str:
    return f"{'network':<{NAME_WIDTH}} {'kimg':>8}  " + "  ".join(f"{k:>17}" for k in score.keys())


def table_row(score: Score) -> str:
    kimg = f"{score.kimg:8.1f}" if score.kimg is not None else f"{'-':>8}"
    return f"{score.path.name:<{NAME_WIDTH}} {kimg}  " + "  ".join(cell(score, k) for k in score.keys())


def training_order(path: Path) -> tuple[int, ...]:
    """The numbers in a snapshot's name: 000000 < 000000-0000000012 < 000001 (names alone sort the first last)."""
    return tuple(int(n) for n in re.findall(r"\d+", path.name))


def network_files(paths: list[str | os.PathLike]) -> list[Path]:
    """Files as given; a run directory stands for its snapshots, in training order."""
    files = []
    for p in map(Path, paths):
        if p.is_dir():
            snapshots = sorted(p.glob(SNAPSHOT_GLOB), key=training_order)
            if not snapshots:
                raise ConfigError(f"{p}: no {SNAPSHOT_GLOB} in this directory")
            files += snapshots
        elif p.exists():
            files.append(p)
        else:
            raise ConfigError(f"{p}: no such file or directory")
    return files


def training_data(metadata: dict) -> Path | None:
    """The dataset zip a network was trained on, when its file names one that is still there."""
    named = (metadata.get("dataset") or {}).get("path") or (metadata.get("training_set_kwargs") or {}).get("path")
    return Path(named) if named and Path(named).is_file() else None


class Scorer:
    """The chosen metrics against one dataset; the real images (and FID's real statistics) are read once."""

    def __init__(self, data: str | os.PathLike, metrics: list[str], num: int, fid_weights: str | None = None,
                 seed: int = 0):
        self.dataset = ImageZipDataset(data)
        self.metrics = []
        if "swd" in metrics:
            self.metrics.append(SWDMetric(self.dataset, num, seed))
        if "fid" in metrics:
            if fid_weights is None:
                raise ConfigError("FID needs --fid-weights (pytorch-fid's Inception weights, a local file)")
            self.metrics.append(FIDMetric(self.dataset, fid_weights, num, seed))

    def load(self, path: Path) -> LoadedModel:
        """The network, checked against the dataset (call it for every file before the long work starts)."""
        model = load(path)
        G, res, channels = model.G, self.dataset.resolution, self.dataset.channels
        if (G.img_resolution, G.img_channels) != (res, channels):
            raise ConfigError(f"{path.name} makes {G.img_resolution}x{G.img_resolution}x{G.img_channels} images, "
                              f"the dataset has {res}x{res}x{channels}")
        if G.c_dim and G.c_dim != self.dataset.label_dim:
            raise ConfigError(f"{path.name} takes {G.c_dim} classes, the dataset has {self.dataset.label_dim}")
        return model

    @torch.no_grad()
    def __call__(self, path: Path, draws: int, device: torch.device) -> Score:
        model = self.load(path)
        G = model.G.to(device)
        values: dict[str, list[float]] = {}
        for metric in self.metrics:
            for draw in range(draws):
                for key, value in metric(G, device, draw=draw).items():
                    values.setdefault(key, []).append(value)
        kimg = model.metadata.get("kimg")
        return Score(path, float(kimg) if kimg is not None else None, values)
