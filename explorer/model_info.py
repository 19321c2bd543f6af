"""What the UI knows about the open model and its latent directions, filled in by the renderer (which owns the
network): plain frozen dataclasses, no torch."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Band:
    """A named mixing preset: coarse / middle / fine with its w indices and resolution label."""

    name: str
    first: int
    last: int
    label: str


@dataclass(frozen=True)
class ModelInfo:
    """What the UI needs to know about the open model (filled in by the renderer, which owns the network)."""

    name: str
    model_id: str
    resolution: int
    channels: int
    num_ws: int
    c_dim: int
    device: str
    bands: tuple[Band, ...]
    index_labels: tuple[str, ...]  # resolution owning each w index, e.g. '8²'
    path: str = ""
    family: str = "stylegan2"  # or 'stylegan3', whose input can be translated and rotated


@dataclass(frozen=True)
class DirectionSet:
    """Directions the renderer holds vectors for, as the UI sees them: component k is `Edit.direction` `id(k)`."""

    prefix: str  # '<method>-<digest>', model/directions.py's id without ':k'
    name: str  # 'SeFa', 'GANSpace' or the loaded file's name
    count: int
    unit: str  # what strength 1 moves: 'w' (SeFa, a unit vector) or 'σ' (GANSpace)

    def id(self, k: int) -> str:
        return f"{self.prefix}:{k}"
