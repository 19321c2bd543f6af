"""Plot a training run for a model card: SWD (ProGAN's sliced Wasserstein distance, x1e3) and ADA p over kimg.

    python docs/training_plot.py RUN_DIR [--out assets/models/emoji64-training.png]

Reads the run's metric-swd.jsonl and stats.jsonl (NVlabs' stat names) and draws with Pillow, so no plotting
library is needed.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

W, H, PAD = 900, 300, 56
COLOURS = {"swd16": (96, 160, 230), "swd32": (120, 200, 140), "swd64": (230, 170, 80), "swdavg": (40, 40, 40),
           "p": (200, 70, 90)}


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def ticks(hi: float, count: int) -> list[float]:
    """About `count` round steps (1, 2 or 5 times a power of ten) from 0 to at least `hi`: readable axis labels."""
    raw = hi / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    return [i * step for i in range(math.ceil(hi / step - 1e-9) + 1)]


def panel(draw: ImageDraw.ImageDraw, top: int, title: str, series: dict[str, list[tuple[float, float]]],
          font: ImageFont.ImageFont, x_max: float) -> None:
    """One chart in the band [top, top + H): axes, a light grid, a legend and a polyline per series."""
    left, right, y0, y1 = PAD, W - 16, top + 28, top + H - 32
    values = [v for points in series.values() for _, v in points] or [1.0]
    y_ticks = ticks(max(values) or 1.0, 4)
    lo, hi = 0.0, y_ticks[-1]
    draw.text((left, top + 6), title, fill=(20, 20, 20), font=font)

    def xy(k: float, v: float) -> tuple[float, float]:
        return left + (right - left) * k / (x_max or 1), y1 - (y1 - y0) * (v - lo) / (hi - lo)

    for v in y_ticks:
        y = xy(0, v)[1]
        draw.line([(left, y), (right, y)], fill=(225, 225, 225))
        draw.text((4, y - 6), f"{v:g}", fill=(90, 90, 90), font=font)
    for k in ticks(x_max, 6):
        if k <= x_max:
            draw.text((xy(k, lo)[0] - 10, y1 + 6), f"{k:g}", fill=(90, 90, 90), font=font)
    draw.rectangle([left, y0, right, y1], outline=(120, 120, 120))
    for n, (name, points) in enumerate(series.items()):
        if len(points) > 1:
            draw.line([xy(k, v) for k, v in points], fill=COLOURS[name], width=2)
        draw.text((right - 90, y0 + 6 + 14 * n), name, fill=COLOURS[name], font=font)


def plot(run_dir: Path, out: Path) -> None:
    swd = read_jsonl(run_dir / "metric-swd.jsonl")
    stats = read_jsonl(run_dir / "stats.jsonl")
    curves = {name: [(m["kimg"], m["results"][name]) for m in swd] for name in ("swd16", "swd32", "swd64", "swdavg")}
    p = [(s["Progress/kimg"]["mean"], s["Progress/augment"]["mean"]) for s in stats if "Progress/augment" in s]
    x_max = max([k for k, _ in p] + [m["kimg"] for m in swd] + [1.0])
    image = Image.new("RGB", (W, 2 * H + 24), "white")
    draw, font = ImageDraw.Draw(image), ImageFont.load_default(size=12)  # sized: the bitmap default drops spaces
    panel(draw, 0, "SWD x1e3 (lower is better) over kimg", curves, font, x_max)
    panel(draw, H, "ADA augmentation probability p over kimg", {"p": p}, font, x_max)
    draw.text((W // 2 - 20, 2 * H), "kimg", fill=(20, 20, 20), font=font)
    image.save(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--out", type=Path, default=Path("training.png"))
    args = parser.parse_args()
    plot(args.run_dir, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
