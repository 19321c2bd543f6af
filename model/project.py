"""Projection: find the latent whose image looks like a given picture, on the CPU or a GPU, fully offline.

The recipe is the one of NVlabs' projector.py (its numbers, our code): start from the mean of 10 000 mapped ws,
optimise with Adam (betas 0.9, 0.999) at a learning rate that ramps up over the first 5 % of the steps and
down over the last 25 % along a cosine from 0.1; add Gaussian noise to w, 0.05 x the ws' standard deviation
scaled by (1 - t/0.75)², which escapes poor starts early and vanishes for the last quarter. Optionally the
synthesis layers' constant noise maps are optimised too, held back by a regulariser (weight 1e5) on their
autocorrelation at several scales and renormalised to zero mean and unit variance after every step, so they
cannot carry the picture themselves.

W: one w repeated over all w indices (stays where the network's images live, so edits behave). W+: one w per
index, starting from the W result; it fits more, including pictures the network was never trained on, and is
kept only if it beats its start. The loss is model/losses.py's (pixels, MS-SSIM, optionally D / VGG features).
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from . import fast
from .errors import ModelError
from .latents import one_hot
from .losses import LossWeights, ProjectionLoss, VGG16Features
from .render import to_uint8

SPACES = ("w", "w+")
NOISE_SUFFIX = "noise_const"


@dataclass(frozen=True)
class Schedule:
    """NVlabs projector.py's defaults (it runs 1000 steps)."""

    lr: float = 0.1
    lr_rampup: float = 0.05  # fraction of the steps
    lr_rampdown: float = 0.25
    w_noise: float = 0.05  # x the ws' standard deviation
    w_noise_ramp: float = 0.75  # fraction of the steps until the w noise is gone
    noise_reg: float = 1e5
    betas: tuple[float, float] = (0.9, 0.999)
    w_samples: int = 10_000

    def at(self, t: float) -> tuple[float, float]:
        """(learning rate, w-noise factor) at t = step / steps in [0, 1)."""
        ramp = min(1.0, (1 - t) / self.lr_rampdown)
        ramp = (0.5 - 0.5 * math.cos(ramp * math.pi)) * min(1.0, t / self.lr_rampup)
        return self.lr * ramp, self.w_noise * max(0.0, 1 - t / self.w_noise_ramp) ** 2


NVLABS = Schedule()
DEFAULT_WEIGHTS = LossWeights()


@dataclass
class Step:
    """A progress report: after `step` of `total`, the loss; every few steps the current image (uint8 HWC)."""

    step: int
    total: int
    loss: float
    image: np.ndarray | None


@dataclass
class Projection:
    w: np.ndarray  # float32 [num_ws, w_dim], untruncated
    noise: dict[str, np.ndarray]  # noise buffer name -> float32 [H, W]; empty when the noise was not optimised
    loss: float  # of the returned latent, without w noise or regulariser
    image: np.ndarray  # uint8 [H, W, C]: the exact (fp32) render of w with that noise
    start: Projection | None = None  # W+: the W result it started from


class Cancelled(Exception):
    """The caller's cancel check said stop."""


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio of two uint8 images, in dB (inf when equal)."""
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return math.inf if mse == 0 else 10 * math.log10(255 ** 2 / mse)


def noise_buffers(G) -> dict[str, torch.Tensor]:
    """The synthesis layers' constant noise maps by buffer name, e.g. 'b8.conv0.noise_const'."""
    return {name: buf for name, buf in G.synthesis.named_buffers() if name.endswith(NOISE_SUFFIX)}


def w_stats(G, samples: int, seed: int, class_idx: int | None = None) -> tuple[torch.Tensor, float]:
    """Mean w [w_dim] and the ws' standard deviation (root mean squared distance to the mean) of mapped z's."""
    device = next(G.parameters()).device
    z = np.random.RandomState(seed).randn(samples, G.z_dim)
    c = torch.from_numpy(one_hot(class_idx, G.c_dim)).to(device)
    with torch.no_grad():
        ws = torch.cat([G.mapping(torch.from_numpy(chunk).float().to(device), c.expand(len(chunk), -1))[:, 0]
                        for chunk in np.array_split(z, math.ceil(samples / 1000))])
    mean = ws.mean(dim=0)
    return mean, float((ws - mean).square().sum() / samples) ** 0.5


def noise_regulariser(noise: list[torch.Tensor]) -> torch.Tensor:
    """Squared autocorrelation at a shift of one pixel (both axes), at every 2x down-scaling to 8 px: zero for
    white noise, large when a map starts to hold image structure."""
    reg = 0.0
    for v in noise:
        v = v[None, None]
        while True:
            reg = reg + (v * v.roll(1, dims=3)).mean() ** 2 + (v * v.roll(1, dims=2)).mean() ** 2
            if v.shape[-1] <= 8:
                break
            v = F.avg_pool2d(v, 2)
    return reg


def project(G, target: np.ndarray, space: str = "w", steps: int = 500, seed: int = 0, optimize_noise: bool = False,
            weights: LossWeights = DEFAULT_WEIGHTS, D=None, vgg: VGG16Features | None = None,
            precision: str = "auto", class_idx: int | None = None, schedule: Schedule = NVLABS,
            progress: Callable[[Step], None] | None = None, cancel: Callable[[], bool] | None = None,
            preview_every: int = 10) -> Projection:
    """Project `target` (uint8 [H, W, C] at G's resolution and channels) into W or W+ of G.

    `steps` per phase (W+ runs a W phase first). Deterministic for a seed on one machine. `progress` gets a
    Step after every step, with the current image every `preview_every` steps and at the end; `cancel` (e.g. a
    threading.Event's is_set) is asked before every step and raises Cancelled. G and D are not modified.
    """
    if space not in SPACES:
        raise ModelError(f"unknown latent space '{space}' (choose w or w+)")
    if steps < 1:
        raise ModelError(f"bad number of steps: {steps}")
    shape = (G.img_resolution, G.img_resolution, G.img_channels)
    if target.shape != shape or target.dtype != np.uint8:
        raise ModelError(f"bad target: {target.dtype} {list(target.shape)}, this network makes uint8 {list(shape)}")
    device = next(G.parameters()).device
    G = copy.deepcopy(G).eval().requires_grad_(False)  # its noise buffers become ours to optimise
    D = None if D is None or not weights.d else copy.deepcopy(D).to(device).eval().requires_grad_(False)
    vgg = None if vgg is None or not weights.vgg else vgg.to(device)
    target_t = torch.tensor(target, device=device).permute(2, 0, 1)[None].float() / 127.5 - 1
    precision = fast.choose_precision(device, precision)
    loss_fn = ProjectionLoss(target_t, weights, D, vgg, None if precision == "exact" else fast.DTYPES[precision])
    w_mean, w_std = w_stats(G, schedule.w_samples, seed, class_idx)
    noise = noise_buffers(G) if optimize_noise else {}
    run = _Run(G, loss_fn, precision, schedule, w_std, noise, seed, progress, cancel, preview_every,
               total=steps * (2 if space == "w+" else 1))
    result = run.result(run.optimise(w_mean.reshape(1, 1, -1), steps))
    if space == "w":
        return result
    w_plus = run.optimise(torch.from_numpy(result.w).to(device)[None], steps)
    if run.loss_of(w_plus) > result.loss:  # never worse than the W start: take it back, with its noise
        with torch.no_grad():
            for buf, saved in zip(noise.values(), result.noise.values(), strict=True):
                buf.copy_(torch.from_numpy(saved))
        w_plus = torch.from_numpy(result.w).to(device)[None]
    return dataclasses.replace(run.result(w_plus), start=result)


class _Run:
    """The optimisation loop shared by the W and W+ phases; counts steps across both for the reports."""

    def __init__(self, G, loss_fn: ProjectionLoss, precision: str, schedule: Schedule, w_std: float,
                 noise: dict[str, torch.Tensor], seed: int, progress, cancel, preview_every: int, total: int):
        self.G, self.loss_fn, self.precision, self.schedule = G, loss_fn, precision, schedule
        self.w_std, self.noise, self.progress, self.cancel = w_std, noise, progress, cancel
        self.preview_every, self.total, self.done = preview_every, total, 0
        self.generator = torch.Generator(next(G.parameters()).device).manual_seed(seed)

    def synthesize(self, ws: torch.Tensor) -> torch.Tensor:
        exact = self.precision == "exact"
        return self.G.synthesis(ws.expand(1, self.G.num_ws, -1), noise_mode="const", force_fp32=exact,
                                fast_dtype=None if exact else fast.DTYPES[self.precision]).float()

    def result(self, w: torch.Tensor) -> Projection:
        """w [1, 1 or num_ws, w_dim] with the current noise maps, its loss and its exact render."""
        ws = w.detach().expand(1, self.G.num_ws, -1)
        with torch.no_grad():
            image = to_uint8(self.G.synthesis(ws, noise_mode="const", force_fp32=True))[0]
        noise = {name: buf.detach().cpu().numpy().astype(np.float32) for name, buf in self.noise.items()}
        return Projection(ws[0].cpu().numpy().astype(np.float32), noise, self.loss_of(w), image)

    def loss_of(self, w: torch.Tensor) -> float:
        with torch.no_grad():
            return float(self.loss_fn(self.synthesize(w)))

    def optimise(self, w: torch.Tensor, steps: int) -> torch.Tensor:
        w = w.detach().clone().requires_grad_(True)
        for buf in self.noise.values():
            buf.requires_grad_(True)
        optimizer = torch.optim.Adam([w, *self.noise.values()], betas=self.schedule.betas)
        for step in range(steps):
            if self.cancel is not None and self.cancel():
                raise Cancelled()
            lr, w_noise = self.schedule.at(step / steps)
            noise = torch.randn(w.shape, generator=self.generator, device=w.device) * (w_noise * self.w_std)
            img = self.synthesize(w + noise)
            loss = self.loss_fn(img)
            reg = noise_regulariser(list(self.noise.values())) if self.noise else 0.0
            (loss + self.schedule.noise_reg * reg).backward()
            optimizer.param_groups[0]["lr"] = lr
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            with torch.no_grad():
                for buf in self.noise.values():
                    buf.sub_(buf.mean()).mul_(buf.square().mean().rsqrt())
            self.done += 1
            if self.progress is not None:
                show = self.done % self.preview_every == 0 or self.done == self.total
                image = to_uint8(img.detach())[0] if show else None
                self.progress(Step(self.done, self.total, float(loss.detach()), image))
        for buf in self.noise.values():
            buf.requires_grad_(False)
        return w.detach()
