"""The latent side of an interpolation video: keyframes -> a path through latent space -> ws per frame.

Plain JSON-able keyframes (a seed or an explicit w, truncation, class, mix) so that explorer pins and projector
outputs convert to them; a path is evaluated by frame range, so a long video's latents never sit in memory.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
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


CUBIC_MARGIN = 32  # keys either side of a frame range that shape the C2 spline there (see LatentPath.at)


@dataclass
class LatentPath:
    """Each key's values per quantity, computed on demand by `key_values(i)`, and the method moving each quantity.

    Evaluated by frame range from a sliding window of keys (dropped once behind it), so neither a long video's frames
    nor a long keyframe list's latents sit in memory; `at(0, count)` is the whole path at once.
    """

    key_values: Callable[[int], dict[str, np.ndarray]]
    methods: dict[str, str]
    num_keys: int
    frames_per_transition: int
    easing: str
    loop: bool
    _window: dict[int, dict[str, np.ndarray]] = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def count(self) -> int:
        return latents.frame_count(self.num_keys, self.frames_per_transition, self.loop)

    def at(self, start: int, stop: int) -> dict[str, np.ndarray]:
        """Values for frames start..stop-1; frame i*n is key i exactly.

        lerp and slerp need only the keys around the frames, so the values equal the whole path's bit for bit.
        The C2 cubic depends on every key, but a key's pull falls by 2-sqrt(3) (3.7x) per key away, so
        CUBIC_MARGIN keys either side give the whole spline's values to float64 rounding (0.27^32 < 1e-18).
        A window that would hold every key evaluates the whole path.
        """
        t = np.arange(start, stop) / self.frames_per_transition
        margin = CUBIC_MARGIN if "cubic" in self.methods.values() else 0
        first, last = int(np.floor(t[0])) - margin, int(np.ceil(t[-1])) + margin
        if not self.loop:
            first, last = max(first, 0), min(last, self.num_keys - 1)
        whole = last - first + 1 >= self.num_keys
        if whole:
            first, last = 0, self.num_keys - 1
        keys = self._keys([i % self.num_keys for i in range(first, last + 1)])
        return {name: latents.path_at(keys[name], t - first, method, self.easing, self.loop and whole)
                for name, method in self.methods.items()}

    def _keys(self, indices: list[int]) -> dict[str, np.ndarray]:
        """Values [len(indices), ...] per quantity; keys computed for the last window are reused, older dropped."""
        self._window = {i: self._window[i] if i in self._window else self.key_values(i) for i in indices}
        return {name: np.stack([self._window[i][name] for i in indices]) for name in self.methods}


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
    """The keyframes' latents (computed as frames need them) and how to move between them.

    w-lerp / w-cubic move through each keyframe's final w (truncated, mixed). z-slerp moves z along great
    circles (and a mix source's z alike), the label, the per-index truncation psi and the mix mask linearly;
    frames are mapped afterwards by `path_ws`. Keyframe frames are exact either way. Every key is computed once
    here and dropped, so a bad keyframe fails before the first frame.
    """
    method = INTERPOLATIONS[interpolation]
    common = dict(num_keys=len(keys), frames_per_transition=frames_per_transition, easing=easing, loop=loop)
    if method != "slerp":
        def w_values(i: int) -> dict[str, np.ndarray]:
            return {"w": keyframe_ws(G, keys[i]).cpu().numpy()}

        path = LatentPath(w_values, {"w": method}, **common)
    else:
        for i, key in enumerate(keys, 1):
            if key.seed is None or (key.mixes and key.mix_seed is None):
                raise ModelError(f"bad export: z-slerp needs seeds, keyframe {i} has an explicit w "
                                 "(use w-lerp or w-cubic)")
        mixing = any(key.mixes for key in keys)

        def z_values(i: int) -> dict[str, np.ndarray]:
            key = keys[i]
            psi = np.ones(G.num_ws)
            psi[:key.cutoff] = key.psi
            values = {"z": latents.seed_to_z(key.seed, G.z_dim)[0], "c": latents.one_hot(key.class_idx, G.c_dim)[0],
                      "psi": psi}
            if mixing:
                rows = np.zeros([G.num_ws, 1])
                values["mix"] = latents.mix_styles(rows, rows + 1, key.mix_layers if key.mixes else [])[:, 0]
                values["z_mix"] = latents.seed_to_z(key.mix_seed if key.mixes else key.seed, G.z_dim)[0]
            return values

        methods = {"z": "slerp", "c": "lerp", "psi": "lerp"}
        if mixing:
            methods.update(mix="lerp", z_mix="slerp")
        path = LatentPath(z_values, methods, **common)
    for i in range(len(keys)):
        path.key_values(i)
    return path


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
