"""The latent side of an interpolation video: keyframes -> a path through latent space -> ws per frame.

Plain JSON-able keyframes (a seed or an explicit w, truncation, class, mix) so that explorer pins and projector
outputs convert to them; a path is evaluated by frame range, so a long video's latents never sit in memory.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from . import latents
from .errors import ModelError
from .render import seed_ws

INTERPOLATIONS = {"w-lerp": "lerp", "w-cubic": "cubic", "z-slerp": "slerp"}


@dataclass
class Keyframe:
    """One keyframe in plain JSON-able values, so the explorer's pins convert to it directly.

    Exactly one of `seed` and `w` ([num_ws][w_dim], untruncated, e.g. a projector's output). `psi`/`cutoff`
    truncate it as `G.mapping` does; `class_idx` labels a seed of a conditional net. When a mix source (`mix_seed`
    or `mix_w`, truncated alike) and `mix_layers` are both given, those w rows come from the source.
    """

    seed: int | None = None
    w: list[list[float]] | None = None
    psi: float = 1.0
    cutoff: int | None = None
    class_idx: int | None = None
    mix_seed: int | None = None
    mix_w: list[list[float]] | None = None
    mix_layers: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        for name in ("w", "mix_w"):
            if isinstance(getattr(self, name), np.ndarray | torch.Tensor):
                setattr(self, name, np.asarray(getattr(self, name), dtype=np.float32).tolist())
        self.mix_layers = list(self.mix_layers)

    @property
    def mixes(self) -> bool:
        return (self.mix_seed is not None or self.mix_w is not None) and len(self.mix_layers) > 0

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Keyframe:
        unknown = sorted(set(data) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise ModelError(f"bad keyframe: unknown field '{unknown[0]}'")
        return cls(**data)


@dataclass
class LatentPath:
    """Keyframe values [K, ...] per quantity and the method moving each, evaluated for any range of frames.

    Evaluating by range keeps a long video's path out of memory; `at(0, count)` is the whole path at once.
    """

    keys: dict[str, np.ndarray]
    methods: dict[str, str]
    frames_per_transition: int
    easing: str
    loop: bool

    @property
    def count(self) -> int:
        return latents.frame_count(len(next(iter(self.keys.values()))), self.frames_per_transition, self.loop)

    def at(self, start: int, stop: int) -> dict[str, np.ndarray]:
        """Values for frames start..stop-1; frame i*n is key i exactly."""
        t = np.arange(start, stop) / self.frames_per_transition
        return {name: latents.path_at(keys, t, self.methods[name], self.easing, self.loop)
                for name, keys in self.keys.items()}


def _w_array(G, w: list, what: str) -> np.ndarray:
    array = np.asarray(w, dtype=np.float32)
    if array.shape != (G.num_ws, G.w_dim):
        raise ModelError(f"bad keyframe: {what} has shape {list(array.shape)}, this network needs "
                         f"[{G.num_ws}, {G.w_dim}]")
    if not np.all(np.isfinite(array)):
        raise ModelError(f"bad keyframe: {what} has non-finite values")
    return array


@torch.inference_mode()
def keyframe_ws(G, key: Keyframe, device: torch.device | None = None) -> torch.Tensor:
    """[num_ws, w_dim]: the w the explorer renders for this keyframe (seeds mapped with batch 1, as generate.py)."""
    device = device or next(G.parameters()).device

    def truncated(seed: int | None, w: list | None, what: str) -> torch.Tensor:
        if seed is not None:
            return seed_ws(G, seed, key.psi, key.cutoff, key.class_idx, device)
        ws = torch.from_numpy(_w_array(G, w, what)).to(device)[None]
        return latents.truncate(ws, G.mapping.w_avg, key.psi, key.cutoff)

    ws = truncated(key.seed, key.w, "w")
    if key.mixes:
        ws = latents.mix_styles(ws, truncated(key.mix_seed, key.mix_w, "mix w"), key.mix_layers)
    return ws[0]


def latent_path(G, keys: list[Keyframe], interpolation: str, frames_per_transition: int, easing: str = "linear",
                loop: bool = False) -> LatentPath:
    """The keyframe latents and how to move between them.

    w-lerp / w-cubic move through each keyframe's final w (truncated, mixed). z-slerp moves z along great
    circles (and a mix source's z alike), the label, the per-index truncation psi and the mix mask linearly;
    frames are mapped afterwards by `path_ws`. Keyframe frames are exact either way.
    """
    method = INTERPOLATIONS[interpolation]
    common = dict(frames_per_transition=frames_per_transition, easing=easing, loop=loop)
    if method != "slerp":
        w = torch.stack([keyframe_ws(G, key) for key in keys]).cpu().numpy()
        return LatentPath({"w": w}, {"w": method}, **common)
    for i, key in enumerate(keys, 1):
        if key.seed is None or (key.mixes and key.mix_seed is None):
            raise ModelError(f"bad export: z-slerp needs seeds, keyframe {i} has an explicit w "
                             "(use w-lerp or w-cubic)")
    z = latents.seeds_to_z([key.seed for key in keys], G.z_dim)
    c = np.concatenate([latents.one_hot(key.class_idx, G.c_dim) for key in keys])
    psi = np.ones([len(keys), G.num_ws])
    for row, key in zip(psi, keys, strict=True):
        row[:key.cutoff] = key.psi
    values = {"z": z, "c": c, "psi": psi}
    methods = {"z": "slerp", "c": "lerp", "psi": "lerp"}
    if any(key.mixes for key in keys):
        rows = np.zeros([G.num_ws, 1])
        values["mix"] = np.stack([latents.mix_styles(rows, rows + 1, key.mix_layers if key.mixes else [])[:, 0]
                                  for key in keys])
        values["z_mix"] = latents.seeds_to_z([key.mix_seed if key.mixes else key.seed for key in keys], G.z_dim)
        methods.update(mix="lerp", z_mix="slerp")
    return LatentPath(values, methods, **common)


@torch.inference_mode()
def path_ws(G, path: LatentPath, start: int, stop: int) -> torch.Tensor:
    """ws [stop-start, num_ws, w_dim] on G's device for frames start..stop-1 of the path."""
    device = next(G.parameters()).device
    at = {name: torch.from_numpy(value).to(device) for name, value in path.at(start, stop).items()}
    if "w" in at:
        return at["w"]
    c = at["c"].float()
    ws = G.mapping(at["z"].float(), c)
    if "mix" in at:
        ws = ws.lerp(G.mapping(at["z_mix"].float(), c), at["mix"].float()[:, :, None])
    return G.mapping.w_avg.lerp(ws, at["psi"].float()[:, :, None])  # psi 1 past the cutoff leaves w as it is


def upscale(frames: np.ndarray, scale: int) -> np.ndarray:
    """uint8 [N, H, W, C] -> [N, sH, sW, C], bicubic; scale 1 returns the frames themselves."""
    if scale == 1:
        return frames
    x = torch.from_numpy(frames).permute(0, 3, 1, 2).float()
    x = F.interpolate(x, scale_factor=scale, mode="bicubic", align_corners=False)
    return x.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()
