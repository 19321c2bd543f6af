"""Sliced Wasserstein distance (SWD) between real and generated images, as in the Progressive GAN paper.

Each image is split into a Laplacian pyramid (5x5 binomial filter) from full resolution down to 16x16. From every
level, 7x7 neighbourhoods at random positions become descriptors; each set is normalised per colour channel;
the distance between the real and the generated descriptor sets is the sliced Wasserstein distance over random
unit directions (4 repeats of 128). Values are x1e3 like the paper's tables; lower is better. Per level it
measures how well the distribution of local structure at that scale matches, and it needs no downloaded
network. Real descriptors are drawn with a fixed seed so the numbers of successive snapshots are comparable.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

NHOOD = 7
NHOODS_PER_IMAGE = 128
DIR_REPEATS = 4
DIRS_PER_REPEAT = 128
MIN_LEVEL_RES = 16
DRAW_SEED_STRIDE = 1000  # draw d of a metric seeds its fakes (and descriptors) with seed + d * this: fresh streams


def _binomial5(channels: int, device: torch.device) -> torch.Tensor:
    k = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0], device=device)
    k = torch.outer(k, k) / 256
    return k.expand(channels, 1, 5, 5)


def _blur(x: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
    x = F.pad(x, [2, 2, 2, 2], mode="reflect")
    return F.conv2d(x, _binomial5(x.shape[1], x.device) * gain, groups=x.shape[1])


def pyr_down(x: torch.Tensor) -> torch.Tensor:
    return _blur(x)[:, :, ::2, ::2]


def pyr_up(x: torch.Tensor) -> torch.Tensor:
    n, c, h, w = x.shape
    up = torch.zeros([n, c, h * 2, w * 2], dtype=x.dtype, device=x.device)
    up[:, :, ::2, ::2] = x
    return _blur(up, gain=4.0)


def level_resolutions(resolution: int) -> list[int]:
    """Pyramid levels from full resolution down to 16 (a single level for smaller images)."""
    levels = [resolution]
    while levels[-1] // 2 >= MIN_LEVEL_RES:
        levels.append(levels[-1] // 2)
    return levels


def laplacian_pyramid(x: torch.Tensor, num_levels: int) -> list[torch.Tensor]:
    """Band-pass levels (x - up(down(x))) for all but the last level, which is the low-pass remainder."""
    levels = []
    for _ in range(num_levels - 1):
        low = pyr_down(x)
        levels.append(x - pyr_up(low))
        x = low
    levels.append(x)
    return levels


def descriptors(level: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """NHOODS_PER_IMAGE random 7x7 neighbourhoods per image -> [N * NHOODS_PER_IMAGE, C, 7, 7]."""
    n, c, h, w = level.shape
    k = min(NHOOD, h, w)
    ys = torch.randint(0, h - k + 1, [n, NHOODS_PER_IMAGE], generator=gen)
    xs = torch.randint(0, w - k + 1, [n, NHOODS_PER_IMAGE], generator=gen)
    rows = (ys[:, :, None] + torch.arange(k))[:, :, :, None]  # [n, P, k, 1]
    cols = (xs[:, :, None] + torch.arange(k))[:, :, None, :]  # [n, P, 1, k]
    batch = torch.arange(n)[:, None, None, None]
    patches = level.permute(0, 2, 3, 1)[batch, rows, cols]  # [n, P, k, k, C]
    return patches.permute(0, 1, 4, 2, 3).reshape(n * NHOODS_PER_IMAGE, c, k, k)


def normalize(desc: torch.Tensor) -> torch.Tensor:
    """Zero mean, unit std per colour channel over the whole set, then flatten."""
    mean = desc.mean(dim=(0, 2, 3), keepdim=True)
    std = desc.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-8)
    return ((desc - mean) / std).flatten(1)


def sliced_wasserstein(a: torch.Tensor, b: torch.Tensor, gen: torch.Generator) -> float:
    """Mean |sorted(a·d) - sorted(b·d)| over random unit directions d; a and b have the same number of rows."""
    results = []
    for _ in range(DIR_REPEATS):
        dirs = torch.randn([a.shape[1], DIRS_PER_REPEAT], generator=gen)
        dirs /= dirs.square().sum(dim=0, keepdim=True).sqrt()
        pa = (a @ dirs).sort(dim=0).values
        pb = (b @ dirs).sort(dim=0).values
        results.append((pa - pb).abs().mean().item())
    return float(np.mean(results))


def level_descriptors(images: torch.Tensor, seed: int, batch: int = 256) -> list[torch.Tensor]:
    """uint8 [N, C, H, W] -> normalised descriptor sets, one per pyramid level (random positions from `seed`)."""
    gen = torch.Generator().manual_seed(seed)
    num_levels = len(level_resolutions(images.shape[2]))
    per_level: list[list[torch.Tensor]] = [[] for _ in range(num_levels)]
    for start in range(0, images.shape[0], batch):
        x = images[start:start + batch].to(torch.float32)
        for i, level in enumerate(laplacian_pyramid(x, num_levels)):
            per_level[i].append(descriptors(level, gen))
    return [normalize(torch.cat(d)) for d in per_level]


def swd(reals: torch.Tensor, fakes: torch.Tensor, seed: int = 0) -> dict[str, float]:
    """SWD x1e3 per level (`swd64`, `swd32`, ...) and their mean (`swdavg`) between two uint8 image sets."""
    if reals.shape[1:] != fakes.shape[1:] or reals.shape[0] != fakes.shape[0]:
        raise ValueError(f"SWD needs two equal-size image sets, got {list(reals.shape)} and {list(fakes.shape)}")
    res = level_resolutions(reals.shape[2])
    real_desc = level_descriptors(reals, seed)
    fake_desc = level_descriptors(fakes, seed + 1)
    gen = torch.Generator().manual_seed(seed + 2)
    results = {f"swd{r}": sliced_wasserstein(a, b, gen) * 1e3 for r, a, b in zip(res, real_desc, fake_desc,
                                                                                strict=True)}
    results["swdavg"] = float(np.mean(list(results.values())))
    return results


@torch.no_grad()
def generate_uint8(G, num: int, labels: np.ndarray, device: torch.device, seed: int = 0,
                   batch: int = 32) -> torch.Tensor:
    """`num` images from G (fp32 fast ops, random noise) with labels drawn from the dataset's labels, as uint8
    [N, C, H, W]. z, labels and the noise inputs all follow `seed`, so the same G gives the same images again (a
    snapshot measured later repeats the trainer's number), and the training's own random state is left alone."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)  # the noise inputs draw from the global generator
        for start in range(0, num, batch):
            n = min(batch, num - start)
            z = torch.randn([n, G.z_dim], generator=gen).to(device)
            idx = torch.randint(len(labels), [n], generator=gen).numpy()
            c = torch.from_numpy(labels[idx]).to(device) if G.c_dim else torch.zeros([n, 0], device=device)
            img = G.synthesis(G.mapping(z, c), noise_mode="random", fast_dtype=torch.float32)
            out.append((img * 127.5 + 128).clamp(0, 255).to(torch.uint8).cpu())
    return torch.cat(out)


class SWDMetric:
    """SWD of a generator against a fixed random subset of the training images (`num` of them, or all).

    Draw 0 is the trainer's number at every snapshot; later draws take fresh fakes and descriptors, for a mean
    and its spread (train/calc_metrics.py)."""

    name = "swd"

    def __init__(self, dataset, num: int, seed: int = 0):
        self.num = min(num, len(dataset))
        self.seed = seed
        pick = np.random.default_rng(seed).choice(len(dataset), size=self.num, replace=False)
        self.labels = dataset.labels
        self.reals = torch.from_numpy(np.stack([dataset[int(i)][0] for i in sorted(pick)]))

    def __call__(self, G, device: torch.device, draw: int = 0) -> dict[str, float]:
        seed = self.seed + draw * DRAW_SEED_STRIDE
        fakes = generate_uint8(G, self.num, self.labels, device, seed=seed)
        return swd(self.reals, fakes, seed=seed)
