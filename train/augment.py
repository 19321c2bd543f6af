"""StyleGAN2-ADA's augmentation pipeline and the ADA controller that tunes its probability p.

Written from the paper (Karras et al. 2020, "Training Generative Adversarial Networks with Limited Data", §2-3 and
Appendix B). Every op runs per sample with probability p times its multiplier, in the paper's order:
blit (x-flip, 90° rotation, integer translation) -> general geometric (isotropic scale, pre-rotation, anisotropic
scale, post-rotation, fractional translation) -> colour (brightness, contrast, luma flip, hue, saturation) ->
image-space filtering -> additive noise -> cutout. Images are [N, C, H, W] in [-1, 1], C = 1 or 3, square.

Design notes:
- Randomness comes from torch's default generator for the images' device (no torch.Generator of our own), so the
  trainer's torch RNG-state save/restore also covers augmentation.
- All ops are vectorised over the batch and differentiable w.r.t. the images (G learns through augmented fakes).
  Ops whose mask is all-false cost nothing; p == 0 returns the input tensor itself.
- Blits are exact pixel gathers (lossless). The general geometric ops are folded into one inverse affine matrix per
  sample and applied in one resampling pass, only to the samples that drew one: 2x upsampling with a Lanczos-3
  half-band filter, one bilinear grid_sample at 2x, then Lanczos-3 low-pass and decimation. Plain bilinear at 1x
  blurs fractional shifts and aliases when minifying; the 2x detour makes bilinear's error small and low-passes
  before decimating, which keeps the resampling nearly invisible to D (the paper stresses high-quality filters so
  that augmentations do not leak). Padding is reflection about the edge pixel centres everywhere.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

_BLIT = {"xflip": 1.0, "rotate90": 1.0, "xint": 1.0}
_GEOM = {"scale": 1.0, "rotate": 1.0, "aniso": 1.0, "xfrac": 1.0}
_COLOR = {"brightness": 1.0, "contrast": 1.0, "lumaflip": 1.0, "hue": 1.0, "saturation": 1.0}
_FILTER = {"imgfilter": 1.0}
_NOISE = {"noise": 1.0}
_CUTOUT = {"cutout": 1.0}

# NVlabs' --augpipe names; the paper uses multiplier 1 for every enabled op.
PRESETS: dict[str, dict[str, float]] = {
    "blit": _BLIT,
    "geom": _GEOM,
    "color": _COLOR,
    "filter": _FILTER,
    "noise": _NOISE,
    "cutout": _CUTOUT,
    "bg": {**_BLIT, **_GEOM},
    "bgc": {**_BLIT, **_GEOM, **_COLOR},
    "bgcf": {**_BLIT, **_GEOM, **_COLOR, **_FILTER},
    "bgcfn": {**_BLIT, **_GEOM, **_COLOR, **_FILTER, **_NOISE},
    "bgcfnc": {**_BLIT, **_GEOM, **_COLOR, **_FILTER, **_NOISE, **_CUTOUT},
}

# Expected share of image energy in each filter band (paper, App. B), used to keep the expected variance.
_BAND_POWER = (10 / 13, 1 / 13, 1 / 13, 1 / 13)


def halfband_filter(a: int = 3) -> np.ndarray:
    """Symmetric low-pass with cut-off at half the Nyquist frequency, built from a Lanczos-a kernel.

    The even taps are a unit impulse and the odd taps a half-pixel Lanczos interpolator normalised to 1, so `2 * h`
    upsamples by two while keeping the original samples exactly, and `h` low-passes before decimating by two."""
    k = np.arange(-2 * a + 1, 2 * a)
    x = k / 2
    w = np.sinc(x) * np.sinc(x / a)
    odd = k % 2 == 1
    w = np.where(odd, w / w[odd].sum(), (k == 0).astype(np.float64))
    return w / 2


def octave_bands(h: np.ndarray) -> np.ndarray:
    """Four zero-phase filters for the bands [0, pi/8], [pi/8, pi/4], [pi/4, pi/2], [pi/2, pi]; they sum to an impulse.

    The low-passes at pi/2, pi/4, pi/8 come from iterating the half-band `h` with 1, 2 and 4 zeros between taps."""
    lows, low = [], np.ones(1)
    for step in (1, 2, 4):
        spread = np.zeros((len(h) - 1) * step + 1)
        spread[::step] = h
        low = np.convolve(low, spread)
        lows.append(low)
    size = len(lows[-1])

    def centred(f: np.ndarray) -> np.ndarray:
        pad = (size - len(f)) // 2
        return np.pad(f, (pad, pad))

    l2, l4, l8 = (centred(f) for f in lows)
    impulse = centred(np.ones(1))
    return np.stack([l8, l4 - l8, l2 - l4, impulse - l2])


def _reflect_index(i: torch.Tensor, n: int) -> torch.Tensor:
    """Mirror integer positions into [0, n) about the edge pixel centres, for offsets of any size."""
    period = 2 * (n - 1)
    i = i.remainder(period)
    return torch.where(i >= n, period - i, i)


def _filter_matrix(taps: torch.Tensor, size: int) -> torch.Tensor:
    """[size, size] matrix of "reflection-pad, then correlate with the centred odd-length `taps`" on a line."""
    r = len(taps) // 2
    src = _reflect_index(torch.arange(size)[:, None] + torch.arange(-r, r + 1)[None, :], size)
    return torch.einsum("k,ikj->ij", taps, F.one_hot(src, size).to(taps.dtype))


@functools.lru_cache(maxsize=16)
def _matrices(size: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The separable filters for one image size as small dense matrices, because on the CPU a matmul is far cheaper
    (forward and backward) than a 1-channel convolution: 2x upsampling [2s-1, s] (its output spans pixel centres
    0..s-1 in half-pixel steps), decimation [s, 2s-1+2r] (valid, from r extra half-pixel samples on each side), and
    the four image-filter bands [4, s, s]."""
    h = torch.tensor(halfband_filter(3))
    r = len(h) // 2
    up = _filter_matrix(2 * h, 2 * size - 1)[:, ::2]  # acting on the zero-stuffed line: keep the non-zero inputs
    down = torch.zeros(size, 2 * size - 1 + 2 * r, dtype=h.dtype)
    rows = torch.arange(size)[:, None]
    down[rows, 2 * rows + torch.arange(2 * r + 1)] = h
    bands = torch.stack([_filter_matrix(b, size) for b in torch.tensor(octave_bands(h.numpy()))])
    return tuple(m.to(device=device, dtype=torch.float32) for m in (up, down, bands))


def _separable(x: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """Apply one matrix down the columns and one along the rows of every channel: rows @ x @ cols^T."""
    return rows.to(x.dtype) @ x @ cols.to(x.dtype).transpose(-1, -2)


def affine_resample(x: torch.Tensor, g_inv: torch.Tensor) -> torch.Tensor:
    """Warp square images by per-sample inverse affine matrices g_inv [N, 3, 3] (output -> input, pixel units,
    origin at the image centre), with reflection padding and 2x supersampling (Lanczos-3 half-band filters)."""
    n, c, size, _ = x.shape
    up, down, _ = _matrices(size, x.device)
    r = (down.shape[1] - (2 * size - 1)) // 2
    # Output samples every half pixel, plus r on each side for the decimation filter.
    pos = torch.arange(-r, 2 * (size - 1) + r + 1, device=x.device, dtype=torch.float32) / 2 - (size - 1) / 2
    yy, xx = torch.meshgrid(pos, pos, indexing="ij")
    pts = torch.stack([xx, yy, torch.ones_like(xx)], dim=-1).reshape(-1, 3)
    src = pts @ g_inv[:, :2, :].transpose(1, 2)
    grid = (src * (2 / (size - 1))).reshape(n, len(pos), len(pos), 2).to(x.dtype)
    y = F.grid_sample(_separable(x, up, up), grid, mode="bilinear", padding_mode="reflection", align_corners=True)
    return _separable(y, down, down)


def _merge(x: torch.Tensor, idx: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Put the processed samples y back at rows idx of x (out of place, so autograd sees both)."""
    return y if idx.numel() == x.shape[0] else x.index_copy(0, idx, y)


def _mat3(*entries: torch.Tensor) -> torch.Tensor:
    """Stack nine per-sample scalars (row-major) into [N, 3, 3]."""
    return torch.stack(entries, dim=-1).reshape(-1, 3, 3)


def _scale2(sx: torch.Tensor, sy: torch.Tensor) -> torch.Tensor:
    z, o = torch.zeros_like(sx), torch.ones_like(sx)
    return _mat3(sx, z, z, z, sy, z, z, z, o)


def _rotate2(theta: torch.Tensor) -> torch.Tensor:
    c, s = torch.cos(theta), torch.sin(theta)
    z, o = torch.zeros_like(theta), torch.ones_like(theta)
    return _mat3(c, -s, z, s, c, z, z, z, o)


def _translate2(tx: torch.Tensor, ty: torch.Tensor) -> torch.Tensor:
    z, o = torch.zeros_like(tx), torch.ones_like(tx)
    return _mat3(o, z, tx, z, o, ty, z, z, o)


class AugmentPipe(nn.Module):
    """The ADA pipeline. Op multipliers (0 = off) and strengths use NVlabs' keyword names; strengths default to the
    paper's: scales are 2**N(0, std^2) (std 0.2 = lognormal 0.2 ln 2), rotations and hue uniform in +-pi*max,
    translations in units of the image size. The trainer sets the probability buffer `p`."""

    def __init__(self, xflip: float = 0, rotate90: float = 0, xint: float = 0, xint_max: float = 0.125,
                 scale: float = 0, rotate: float = 0, aniso: float = 0, xfrac: float = 0,
                 scale_std: float = 0.2, rotate_max: float = 1, aniso_std: float = 0.2, xfrac_std: float = 0.125,
                 brightness: float = 0, contrast: float = 0, lumaflip: float = 0, hue: float = 0,
                 saturation: float = 0, brightness_std: float = 0.2, contrast_std: float = 0.5, hue_max: float = 1,
                 saturation_std: float = 1, imgfilter: float = 0, imgfilter_bands: tuple[float, ...] = (1, 1, 1, 1),
                 imgfilter_std: float = 1, noise: float = 0, cutout: float = 0, noise_std: float = 0.1,
                 cutout_size: float = 0.5) -> None:
        super().__init__()
        self.init_kwargs = {k: v for k, v in locals().items() if k not in ("self", "__class__")}
        self.init_kwargs["imgfilter_bands"] = [float(b) for b in imgfilter_bands]
        if len(self.init_kwargs["imgfilter_bands"]) != 4:
            raise ValueError(f"imgfilter_bands needs 4 multipliers, got {len(imgfilter_bands)}")
        for name, value in self.init_kwargs.items():
            if name != "imgfilter_bands":
                setattr(self, name, float(value))
        self.imgfilter_bands = self.init_kwargs["imgfilter_bands"]
        self.register_buffer("p", torch.zeros([]))

    @classmethod
    def from_preset(cls, name: str, **overrides: float) -> AugmentPipe:
        """Build the pipeline for an NVlabs --augpipe name ('bgc' is ADA's default)."""
        if name not in PRESETS:
            raise ValueError(f"unknown augpipe {name!r}: choose from {', '.join(PRESETS)}")
        return cls(**{**PRESETS[name], **overrides})

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        p = float(self.p)
        if p <= 0:
            return images
        if images.ndim != 4 or images.shape[1] not in (1, 3) or images.shape[2] != images.shape[3] \
                or images.shape[2] < 2:
            raise ValueError(f"AugmentPipe wants square [N, 1 or 3, H, W] images (H >= 2), got {list(images.shape)}")
        x = self._blit(images, p)
        x = self._geometric(x, p)
        x = self._color(x, p)
        x = self._filter(x, p)
        x = self._noise(x, p)
        return self._cutout(x, p)

    @staticmethod
    def _mask(n: int, prob: float, device: torch.device) -> torch.Tensor:
        """Per-sample Bernoulli(prob) draw."""
        return torch.rand(n, device=device) < min(prob, 1.0)

    def _blit(self, x: torch.Tensor, p: float) -> torch.Tensor:
        """x-flip, then k quarter turns, then an integer shift, as one exact gather per selected sample."""
        n, c, size, _ = x.shape
        dev = x.device
        flip = torch.zeros(n, dtype=torch.bool, device=dev)
        quarter = torch.zeros(n, dtype=torch.long, device=dev)
        shift = torch.zeros(n, 2, dtype=torch.long, device=dev)
        if self.xflip > 0:
            flip = self._mask(n, p * self.xflip, dev) & (torch.randint(2, (n,), device=dev) == 1)
        if self.rotate90 > 0:
            quarter = torch.where(self._mask(n, p * self.rotate90, dev), torch.randint(4, (n,), device=dev), 0)
        if self.xint > 0:
            t = torch.round((torch.rand(n, 2, device=dev) * 2 - 1) * self.xint_max * size).long()
            shift = torch.where(self._mask(n, p * self.xint, dev)[:, None], t, 0)
        idx = (flip | (quarter != 0) | (shift != 0).any(1)).nonzero()[:, 0]
        if idx.numel() == 0:
            return x
        flip, quarter, shift = flip[idx], quarter[idx], shift[idx]
        # Undo the shift (reflecting off the edges) along each axis, then the quarter turns and the flip.
        last, ar = size - 1, torch.arange(size, device=dev)
        a = _reflect_index(ar[None, :] - shift[:, 1, None], size)[:, :, None].expand(-1, size, size)
        b = _reflect_index(ar[None, :] - shift[:, 0, None], size)[:, None, :].expand(-1, size, size)
        q = quarter[:, None, None]
        row = torch.where(q == 0, a, torch.where(q == 1, b, torch.where(q == 2, last - a, last - b)))
        col = torch.where(q == 0, b, torch.where(q == 1, last - a, torch.where(q == 2, last - b, a)))
        col = torch.where(flip[:, None, None], last - col, col)
        src = (row * size + col).reshape(len(idx), 1, size * size).expand(-1, c, -1)
        y = x[idx].reshape(len(idx), c, size * size).gather(2, src).reshape(len(idx), c, size, size)
        return _merge(x, idx, y)

    def geometric_matrices(self, n: int, p: float, size: int,
                           device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw the general geometric ops; returns inverse matrices [n, 3, 3] (output -> input pixel coordinates,
        origin at the centre) and the mask of samples that drew at least one op."""
        g = torch.eye(3, device=device).repeat(n, 1, 1)
        selected = torch.zeros(n, dtype=torch.bool, device=device)
        # Each rotation runs with 1 - sqrt(1 - p) so that P(any rotation) = p.
        p_rot = 1 - math.sqrt(1 - min(p * self.rotate, 1.0))
        steps = [("iso", p * self.scale), ("rot", p_rot), ("aniso", p * self.aniso), ("rot", p_rot),
                 ("shift", p * self.xfrac)]
        for kind, prob in steps:
            if prob <= 0:
                continue
            m = self._mask(n, prob, device)
            selected |= m
            # The forward chain is A5 ... A2 A1 (A1 runs first); its inverse A1^-1 A2^-1 ... grows to the right.
            if kind == "iso":
                s = torch.where(m, torch.exp2(torch.randn(n, device=device) * self.scale_std), 1.0)
                g = g @ _scale2(1 / s, 1 / s)
            elif kind == "rot":
                theta = torch.where(m, (torch.rand(n, device=device) * 2 - 1) * math.pi * self.rotate_max, 0.0)
                g = g @ _rotate2(-theta)
            elif kind == "aniso":
                s = torch.where(m, torch.exp2(torch.randn(n, device=device) * self.aniso_std), 1.0)
                g = g @ _scale2(1 / s, s)
            else:
                t = torch.where(m[:, None], torch.randn(n, 2, device=device) * self.xfrac_std * size, 0.0)
                g = g @ _translate2(-t[:, 0], -t[:, 1])
        return g, selected

    def _geometric(self, x: torch.Tensor, p: float) -> torch.Tensor:
        g, selected = self.geometric_matrices(x.shape[0], p, x.shape[-1], x.device)
        idx = selected.nonzero()[:, 0]
        if idx.numel() == 0:
            return x
        return _merge(x, idx, affine_resample(x[idx], g[idx]))

    def color_matrices(self, n: int, p: float, channels: int, device: torch.device) -> tuple[torch.Tensor, bool]:
        """Draw the colour ops as 4x4 matrices acting on (R, G, B, 1); hue and saturation (which leave grey
        untouched) are skipped for 1-channel images. Returns the matrices and whether any op was drawn."""
        eye = torch.eye(4, device=device)
        rgb = torch.diag(torch.tensor([1.0, 1.0, 1.0, 0.0], device=device))  # the colour block of a 4x4 matrix
        offset = torch.zeros(4, 4, device=device)
        offset[:3, 3] = 1  # where an added constant goes
        v = torch.tensor([1.0, 1.0, 1.0, 0.0], device=device) / math.sqrt(3)  # luma axis
        vv = torch.outer(v, v)
        # Cross-product matrix of v: with it, cos*(I - vv) + sin*cross + vv rotates about the luma axis.
        cross = torch.tensor([[0.0, -1, 1, 0], [1, 0, -1, 0], [-1, 1, 0, 0], [0, 0, 0, 0]], device=device)
        cross = cross / math.sqrt(3)
        m = eye.repeat(n, 1, 1)
        drawn = False

        def mask(mult: float) -> torch.Tensor:
            nonlocal drawn
            sel = self._mask(n, p * mult, device)
            drawn = drawn or bool(sel.any())
            return sel[:, None, None]

        if self.brightness > 0:
            b = torch.where(mask(self.brightness), torch.randn(n, 1, 1, device=device) * self.brightness_std, 0.0)
            m = (eye + b * offset) @ m
        if self.contrast > 0:
            c = torch.where(mask(self.contrast), torch.exp2(torch.randn(n, 1, 1, device=device) * self.contrast_std),
                            1.0)
            m = (eye - rgb + c * rgb) @ m
        if self.lumaflip > 0:
            i = mask(self.lumaflip) & (torch.randint(2, (n, 1, 1), device=device) == 1)
            m = (eye - 2 * vv * i) @ m
        if channels == 3 and self.hue > 0:
            theta = torch.where(mask(self.hue), (torch.rand(n, 1, 1, device=device) * 2 - 1) * math.pi * self.hue_max,
                                0.0)
            m = (eye - rgb + vv + torch.cos(theta) * (rgb - vv) + torch.sin(theta) * cross) @ m
        if channels == 3 and self.saturation > 0:
            s = torch.where(mask(self.saturation),
                            torch.exp2(torch.randn(n, 1, 1, device=device) * self.saturation_std), 1.0)
            m = (eye - rgb + vv + s * (rgb - vv)) @ m
        return m, drawn

    def _color(self, x: torch.Tensor, p: float) -> torch.Tensor:
        m, drawn = self.color_matrices(x.shape[0], p, x.shape[1], x.device)
        if not drawn:
            return x
        m = m.to(x.dtype)
        if x.shape[1] == 3:
            return torch.einsum("nij,njhw->nihw", m[:, :3, :3], x) + m[:, :3, 3, None, None]
        # Grey (g, g, g) maps to grey: its value is any output row, here their mean.
        gain = m[:, :3, :3].sum(2).mean(1)
        bias = m[:, :3, 3].mean(1)
        return x * gain[:, None, None, None] + bias[:, None, None, None]

    def filter_gains(self, n: int, p: float, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-band gains [n, 4]: each band is amplified by 2**N(0, std^2) with probability p*multiplier, then the
        gains are renormalised so the expected image variance stays put. Returns gains and the selection mask."""
        power = torch.tensor(_BAND_POWER, device=device)
        gains = torch.ones(n, 4, device=device)
        selected = torch.zeros(n, dtype=torch.bool, device=device)
        for band, mult in enumerate(self.imgfilter_bands):
            prob = p * self.imgfilter * mult
            if prob <= 0:
                continue
            m = self._mask(n, prob, device)
            selected |= m
            t = torch.ones(n, 4, device=device)
            t[:, band] = torch.where(m, torch.exp2(torch.randn(n, device=device) * self.imgfilter_std), 1.0)
            gains = gains * t / (power * t.square()).sum(1, keepdim=True).sqrt()
        return gains, selected

    def _filter(self, x: torch.Tensor, p: float) -> torch.Tensor:
        if self.imgfilter <= 0:
            return x
        gains, selected = self.filter_gains(x.shape[0], p, x.device)
        idx = selected.nonzero()[:, 0]
        if idx.numel() == 0:
            return x
        bands = _matrices(x.shape[-1], x.device)[2]
        m = torch.einsum("nb,bij->nij", gains[idx], bands)[:, None]
        return _merge(x, idx, _separable(x[idx], m, m))

    def _noise(self, x: torch.Tensor, p: float) -> torch.Tensor:
        if self.noise <= 0:
            return x
        n = x.shape[0]
        m = self._mask(n, p * self.noise, x.device)
        if not bool(m.any()):
            return x
        sigma = torch.where(m, torch.randn(n, device=x.device).abs() * self.noise_std, 0.0).to(x.dtype)
        return x + torch.randn_like(x) * sigma[:, None, None, None]

    def _cutout(self, x: torch.Tensor, p: float) -> torch.Tensor:
        if self.cutout <= 0:
            return x
        n, _, size, _ = x.shape
        m = self._mask(n, p * self.cutout, x.device)
        if not bool(m.any()):
            return x
        centre = torch.rand(n, 2, device=x.device)
        coord = (torch.arange(size, device=x.device) + 0.5) / size
        inside_x = (coord[None, :] - centre[:, 0, None]).abs() < self.cutout_size / 2
        inside_y = (coord[None, :] - centre[:, 1, None]).abs() < self.cutout_size / 2
        hole = inside_y[:, :, None] & inside_x[:, None, :] & m[:, None, None]
        return x * (~hole)[:, None].to(x.dtype)


def ada_adjust(p: float, rt: float, target: float, nimg: int, ada_kimg: float) -> float:
    """One ADA step: move p by nimg / (ada_kimg * 1000) towards r_t == target, kept in [0, 1]."""
    step = math.copysign(nimg / (ada_kimg * 1000), rt - target) if rt != target else 0.0
    return min(max(p + step, 0.0), 1.0)


class AdaController:
    """Tracks the overfitting heuristic r_t = E[sign(D(real))] and adjusts p every `interval` minibatches, fast
    enough that p could go from 0 to 1 in `ada_kimg` thousand images (paper §3: target 0.6, interval 4, 500 kimg).

    Feed `accumulate(real_logits)` with D's logits on (augmented) reals, then call `update(p)` once per minibatch;
    it returns the new p. `batch_size` is the global minibatch; with several processes pass `reduce` (a sum over
    ranks) to `update` so every rank sees the same r_t."""

    def __init__(self, batch_size: int, target: float = 0.6, interval: int = 4, ada_kimg: float = 500) -> None:
        if batch_size < 1 or interval < 1 or ada_kimg <= 0 or not -1 <= target <= 1:
            raise ValueError("AdaController needs batch_size >= 1, interval >= 1, ada_kimg > 0, -1 <= target <= 1")
        self.batch_size, self.target, self.interval, self.ada_kimg = batch_size, target, interval, ada_kimg
        self.rt: float | None = None
        self._sum = 0.0
        self._count = 0
        self._batches = 0

    def accumulate(self, real_logits: torch.Tensor) -> None:
        signs = torch.sign(real_logits.detach())
        self._sum += float(signs.sum())
        self._count += signs.numel()

    def update(self, p: float, reduce: Callable[[torch.Tensor], torch.Tensor] | None = None) -> float:
        self._batches += 1
        if self._batches < self.interval:
            return p
        pair = torch.tensor([self._sum, self._count], dtype=torch.float64)
        if reduce is not None:
            pair = reduce(pair)
        self._sum, self._count, self._batches = 0.0, 0, 0
        total, count = pair.tolist()
        if count == 0:
            return p
        self.rt = total / count
        return ada_adjust(p, self.rt, self.target, self.batch_size * self.interval, self.ada_kimg)
