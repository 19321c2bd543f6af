"""The latent side of an interpolation video: keyframes -> a path through latent space -> ws per frame.

Keyframes are `LatentSpec`s (model/spec.py), the same thing the explorer's pins and PNGs hold; a path is
evaluated by frame range, so a long video's latents never sit in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from . import latents
from .errors import ModelError
from .render import input_transform, spec_transforms, spec_ws
from .spec import LatentSpec

INTERPOLATIONS = {"w-lerp": "lerp", "w-cubic": "cubic", "z-slerp": "slerp"}


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
    lap: dict[str, np.ndarray] = field(default_factory=dict)  # what one lap of a loop adds to a quantity (see at)
    _window: dict[int, dict[str, np.ndarray]] = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def count(self) -> int:
        return latents.frame_count(self.num_keys, self.frames_per_transition, self.loop)

    def at(self, start: int, stop: int) -> dict[str, np.ndarray]:
        """Values for frames start..stop-1; frame i*n is key i exactly.

        lerp and slerp need only the keys around the frames, so the values equal the whole path's bit for bit.
        The C2 cubic depends on every key, but a key's pull falls by 2-sqrt(3) (3.7x) per key away, so
        CUBIC_MARGIN keys either side give the whole spline's values to float64 rounding (0.27^32 < 1e-18).
        A window that would hold every key evaluates the whole path, periodic when looping; unless a quantity
        gains something per lap (an angle whose short turns add up to whole turns round the loop): then the keys
        are unrolled, each lap's copies shifted by `lap`, which is the periodic path of the quantity minus that
        steady drift, plus the drift.
        """
        t = np.arange(start, stop) / self.frames_per_transition
        margin = CUBIC_MARGIN if "cubic" in self.methods.values() else 0
        first, last = int(np.floor(t[0])) - margin, int(np.ceil(t[-1])) + margin
        if not self.loop:
            first, last = max(first, 0), min(last, self.num_keys - 1)
        whole = last - first + 1 >= self.num_keys and not (self.loop and self.lap)
        if whole:
            first, last = 0, self.num_keys - 1
        keys = self._keys(range(first, last + 1))
        return {name: _path_at(keys[name], t - first, method, self.easing, self.loop and whole)
                for name, method in self.methods.items()}

    def _keys(self, indices: range) -> dict[str, np.ndarray]:
        """Values [len(indices), ...] per quantity for keys counted round the loop (index i is key i % num_keys
        on lap i // num_keys); keys computed for the last window are reused, older dropped."""
        n, window = self.num_keys, {}
        for key in sorted({i % n for i in indices}):
            window[key] = self._window[key] if key in self._window else self.key_values(key)
        self._window = window

        def value(i: int, name: str) -> np.ndarray:
            return window[i % n][name] + (i // n) * self.lap[name] if name in self.lap else window[i % n][name]

        return {name: np.stack([value(i, name) for i in indices]) for name in self.methods}


def _path_at(keys: np.ndarray, t: np.ndarray, method: str, easing: str, loop: bool) -> np.ndarray:
    """latents.path_at one w row at a time, so that memory stays flat.

    The heap keeps what is freed (model/fast.py tune_allocator), so it grows with the biggest temporaries and the
    holes between them: the cubic window's float64 copies of all w rows at once, and keys left in torch's buffers
    (latent_path copies them out), made `sgx video` grow 14 % from 10 to 1000 keys, 1 % without
    (benchmarks/video_memory.py).
    """
    if keys.ndim < 3:
        return latents.path_at(keys, t, method, easing, loop)
    return np.stack([latents.path_at(keys[:, row], t, method, easing, loop) for row in range(keys.shape[1])], axis=1)


def latent_path(G, keys: list[LatentSpec], interpolation: str, frames_per_transition: int, easing: str = "linear",
                loop: bool = False, directions: Mapping[str, np.ndarray] | None = None) -> LatentPath:
    """The keyframes' latents (computed as frames need them) and how to move between them.

    w-lerp / w-cubic move through each keyframe's final w (`spec_ws`: mixed, truncated, edited). z-slerp moves
    z along great circles (and a mix source's z alike), the label, the per-index truncation psi and the mix mask
    linearly; frames are mapped afterwards by `path_frames`. Keyframe frames are exact either way. Every key is
    computed once here and dropped, so a bad keyframe fails before the first frame.

    Where a keyframe translates or rotates StyleGAN3's input, the translation and the angle move too (cubic with
    w-cubic, else linearly), each turn the short way round (170° to -170° passes 180°, not 0°); keyframes that do
    not move it stand at the identity, the stored transform of every trained net.
    """
    method = INTERPOLATIONS[interpolation]
    if method != "slerp":
        def key_values(i: int) -> dict[str, np.ndarray]:
            return {"w": spec_ws(G, keys[i], directions=directions)[0].cpu().numpy().copy()}  # see _path_at

        methods = {"w": method}
    else:
        for i, key in enumerate(keys, 1):
            if key.seed is None or (key.mix is not None and key.mix.seed is None) or key.edits:
                raise ModelError(f"bad export: z-slerp needs seeds, keyframe {i} has an explicit w or edits "
                                 "(use w-lerp or w-cubic)")
        mixing = any(key.mix is not None for key in keys)

        def key_values(i: int) -> dict[str, np.ndarray]:
            key = keys[i]
            psi = np.ones(G.num_ws)
            psi[:key.cutoff] = key.psi
            values = {"z": latents.seed_to_z(key.seed, G.z_dim)[0], "c": latents.one_hot(key.class_idx, G.c_dim)[0],
                      "psi": psi}
            if mixing:
                rows = np.zeros([G.num_ws, 1])
                values["mix"] = latents.mix_styles(rows, rows + 1, key.mix.indices if key.mix else [])[:, 0]
                values["z_mix"] = latents.seed_to_z(key.mix.seed if key.mix else key.seed, G.z_dim)[0]
            return values

        methods = {"z": "slerp", "c": "lerp", "psi": "lerp"}
        if mixing:
            methods.update(mix="lerp", z_mix="slerp")
    lap = {}
    if spec_transforms(G, keys) is not None:  # a StyleGAN2 net refuses a moved input here, before any frame
        key_values, turns = _with_input(key_values, keys)
        moves = "cubic" if method == "cubic" else "lerp"
        methods.update(translate=moves, rotate=moves)
        if turns:
            lap["rotate"] = np.array([turns])
    path = LatentPath(key_values, methods, len(keys), frames_per_transition, easing, loop, lap)
    for i in range(len(keys)):
        path.key_values(i)
    return path


def _with_input(key_values: Callable[[int], dict[str, np.ndarray]],
                keys: list[LatentSpec]) -> tuple[Callable[[int], dict[str, np.ndarray]], float]:
    """key_values plus each key's input translation and angle, unwrapped so each step turns the short way round;
    and the degrees a lap of a loop adds (a multiple of 360) when the step from the last key back to the first
    turns the short way too."""
    angles = np.degrees(np.unwrap(np.radians([key.rotate for key in keys])))
    turns = 360.0 * round((angles[-1] - angles[0]) / 360.0)
    return lambda i: {**key_values(i), "translate": np.array(keys[i].translate), "rotate": angles[i:i + 1]}, turns


@torch.inference_mode()
def path_frames(G, path: LatentPath, start: int, stop: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Frames start..stop-1 of the path: ws [count, num_ws, w_dim] on G's device, and StyleGAN3's input transforms
    [count, 3, 3] where the keyframes move the input (else None)."""
    device = next(G.parameters()).device
    at = path.at(start, stop)
    transform = None
    if "rotate" in at:
        transform = torch.stack([input_transform(tuple(t), float(r[0])) for t, r in zip(at.pop("translate"),
                                                                                       at.pop("rotate"), strict=True)])
    return _frame_ws(G, {name: torch.from_numpy(value).to(device) for name, value in at.items()}), transform


def _frame_ws(G, at: dict[str, torch.Tensor]) -> torch.Tensor:
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
