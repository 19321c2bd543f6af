"""Projection quality and speed: PSNR in W and W+ on the demo model, loss variants, time per step.

- made: targets the demo model renders itself (seeds 0-7, ψ 0.7, noise const), so a perfect fit exists;
- emoji: 8 real Noto emoji (rendered as `sgx dataset emoji` does; none used for tuning, which used seeds 1000-1003
  and the TUNING emoji), with docs/projection.png showing target | W | W+ for each;
- variants: the loss terms compared on the same targets (with a network file that holds D, `--d-network`, for the
  discriminator term; the demo file holds G_ema only);
- speed: ms per step of the demo (64²) and of a random 256²-shaped network (NVlabs' paper256 widths), measured
  in one run so their ratio holds on a shared machine; the load average is printed beside them.

    python benchmarks/project.py                                  # ~20 min on 2 idle cores
    python benchmarks/project.py --only speed
    python benchmarks/project.py --only variants --steps 200 --d-network runs/.../network-snapshot-000245.safetensors
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from explorer.assets import DEMO_MODEL as DEMO  # noqa: E402
from model.image_prep import WHITE, flatten, to_square  # noqa: E402
from model.io import load  # noqa: E402
from model.losses import D_WEIGHT, LossWeights  # noqa: E402
from model.networks import Generator  # noqa: E402
from model.project import Projection, project, psnr  # noqa: E402
from model.render import render_seed  # noqa: E402

SEEDS = range(8)
EMOJI = ("grinning face with sweat", "face with tears of joy", "nerd face", "pleading face", "angry face with horns",
         "robot", "kissing cat", "woman astronaut")
TUNING = ("thinking face", "grinning cat", "ghost", "man cook")  # used while choosing the defaults, never reported
BARS = {"w": 24.0, "w+": 28.0}  # median PSNR (dB) on the made targets after 500 steps
VARIANTS = {
    "pixels": LossWeights(pixel=1.0, ssim=0.0),
    "pixels+ms-ssim": LossWeights(),
    "pixels+ms-ssim+D": LossWeights(d=D_WEIGHT),
}


def made_targets(G) -> dict[str, np.ndarray]:
    return {f"seed {s}": render_seed(G, s, psi=0.7, noise_mode="const", precision="exact") for s in SEEDS}


def emoji_targets(names, resolution: int) -> dict[str, np.ndarray]:
    from train.emoji import EmojiSource

    source = EmojiSource(resolution)
    return {name: np.asarray(to_square(flatten(source.open(name), WHITE), resolution, "center-crop", WHITE))
            for name in names}


def fit(G, targets: dict[str, np.ndarray], steps: int, **kwargs) -> dict[str, Projection]:
    """W+ projections (their .start is the W result) of every target, with a line per target as it finishes."""
    out = {}
    for name, target in targets.items():
        started = time.perf_counter()
        out[name] = result = project(G, target, "w+", steps, **kwargs)
        print(f"  {name:<26} W {psnr(result.start.image, target):6.2f} dB   W+ {psnr(result.image, target):6.2f} dB"
              f"   {time.perf_counter() - started:6.1f} s", flush=True)
    return out


def medians(results: dict[str, Projection], targets: dict[str, np.ndarray]) -> tuple[float, float]:
    return (statistics.median(psnr(r.start.image, targets[k]) for k, r in results.items()),
            statistics.median(psnr(r.image, targets[k]) for k, r in results.items()))


def quality(steps: int, precision: str) -> None:
    G = load(DEMO).G
    print(f"\nquality on the demo model, {steps} steps per phase (W, then W+ from the W result)")
    made = made_targets(G)
    w, wp = medians(fit(G, made, steps, precision=precision), made)
    emoji = emoji_targets(EMOJI, G.img_resolution)
    results = fit(G, emoji, steps, precision=precision)
    ew, ewp = medians(results, emoji)
    print(f"\n{'targets':<28}{'median PSNR W':>15}{'median PSNR W+':>16}")
    bars = f"bars: W >= {BARS['w']}, W+ >= {BARS['w+']}"
    print(f"{'made by the model (8 seeds)':<28}{w:>12.2f} dB{wp:>13.2f} dB   {bars}")
    print(f"{'Noto emoji (8)':<28}{ew:>12.2f} dB{ewp:>13.2f} dB")
    rows = [np.concatenate([emoji[k], r.start.image, r.image], axis=1) for k, r in results.items()]
    path = ROOT / "docs" / "projection.png"
    image = Image.fromarray(np.concatenate(rows, axis=0))  # 256 colours: a third of the bytes, no visible change
    image.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(path, optimize=True)
    print(f"wrote {path.relative_to(ROOT)} (target | W | W+ per row)")


def variants(steps: int, d_network: str | None, tuning: bool, precision: str) -> None:
    model = load(d_network, which=("G_ema", "D")) if d_network else load(DEMO)
    G, D = model.G, model.networks.get("D")
    if tuning:
        targets = {f"seed {s}": render_seed(G, s, psi=0.7, noise_mode="const", precision="exact")
                   for s in range(1000, 1004)} | emoji_targets(TUNING, G.img_resolution)
    else:
        targets = made_targets(G) | emoji_targets(EMOJI, G.img_resolution)
    print(f"\nloss variants on {model.path.name}, {steps} steps per phase")
    rows = []
    for name, weights in VARIANTS.items():
        if weights.d and D is None:
            print(f"{name}: skipped (the network file holds no D)")
            continue
        print(name)
        results = fit(G, targets, steps, weights=weights, D=D, precision=precision)
        made = {k: v for k, v in targets.items() if k.startswith("seed")}
        emoji = {k: v for k, v in targets.items() if not k.startswith("seed")}
        rows.append((name, *medians({k: results[k] for k in made}, made),
                     *medians({k: results[k] for k in emoji}, emoji)))
    print(f"\n{'loss':<20}{'made W':>9}{'made W+':>9}{'emoji W':>9}{'emoji W+':>10}   (median PSNR, dB)")
    for name, *values in rows:
        print(f"{name:<20}" + "".join(f"{v:>9.2f}" for v in values))


def ms_per_step(G, steps: int, **kwargs) -> float:
    target = np.full((G.img_resolution, G.img_resolution, G.img_channels), 128, dtype=np.uint8)
    project(G, target, "w", 2, **kwargs)  # warm-up: allocator, caches, thread pools
    started = time.perf_counter()
    project(G, target, "w", steps, **kwargs)
    return (time.perf_counter() - started) / steps * 1000


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def memory(G, steps: int) -> None:
    """Resident memory after the first 10 % of the steps and at the end: the same when nothing piles up."""
    seen = {}
    target = np.full((G.img_resolution, G.img_resolution, G.img_channels), 128, dtype=np.uint8)
    project(G, target, "w+", steps, optimize_noise=True, progress=lambda s: seen.setdefault(s.step, rss_mib()))
    early = seen[max(1, 2 * steps // 10)]
    print(f"memory (demo, w+ with noise, {2 * steps} steps): RSS {early:.0f} MiB at step {max(1, 2 * steps // 10)}, "
          f"{seen[2 * steps]:.0f} MiB at the end ({seen[2 * steps] - early:+.1f} MiB)")


def speed(steps: int) -> None:
    demo = load(DEMO).G
    big = Generator(512, 0, 512, 256, 3, mapping_kwargs=dict(num_layers=8),
                    synthesis_kwargs=dict(channel_base=16384, channel_max=512)).eval()
    print(f"\nspeed, {torch.get_num_threads()} threads, load average before {os.getloadavg()[0]:.2f}")
    print(f"{'network':<22}{'precision':<11}{'ms/step':>9}{'500 steps':>11}")
    times = {}
    for name, G, n in (("demo 64²", demo, 50), ("random 256²", big, 10)):
        for precision in ("exact", "fp32", "bf16"):
            times[name, precision] = ms = ms_per_step(G, n, precision=precision)
            print(f"{name:<22}{precision:<11}{ms:>9.1f}{ms * 500 / 1000:>9.1f} s", flush=True)
    for precision in ("exact", "fp32", "bf16"):
        print(f"256² / 64² at {precision}: {times['random 256²', precision] / times['demo 64²', precision]:.1f}x")
    print(f"load average after {os.getloadavg()[0]:.2f}")
    memory(demo, 200)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["quality", "variants", "speed"], default=None)
    parser.add_argument("--steps", type=int, default=500, help="per phase")
    parser.add_argument("--d-network", default=None, help="a network file with D, for the variants")
    parser.add_argument("--tuning", action="store_true", help="variants on the tuning targets instead")
    parser.add_argument("--precision", default="auto", help="of the quality and variant runs")
    args = parser.parse_args()
    if args.only in (None, "speed"):
        speed(args.steps)
    if args.only in (None, "quality"):
        quality(args.steps, args.precision)
    if args.only in (None, "variants"):
        variants(args.steps, args.d_network, args.tuning, args.precision)


if __name__ == "__main__":
    main()
