"""Retake the README screenshot: the real app in an X window, captured with ImageMagick's `import`.

    apt-get install -y xvfb imagemagick
    xvfb-run -a -s "-screen 0 1280x800x24" python docs/screenshot.py [NETWORK] [--view grid|large|directions|projection]
        [--out PATH]

Without NETWORK it uses the bundled demo model when present, else a random-weight 64x64 generator (abstract
colour fields: the picture is about the interface). Pins and settings go to a temporary data folder, so a real
user's pins are never touched. The projection view projects the Noto "robot" emoji (fonts-noto-color-emoji and
unicode-data, as `sgx dataset emoji`) and is taken three quarters of the way.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ["SGX_DATA_DIR"] = tempfile.mkdtemp(prefix="sgx-shot-")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")


def random_network(path: Path) -> None:
    import torch

    from model.io import save_networks
    from model.networks import Generator

    torch.manual_seed(7)
    G = Generator(z_dim=512, c_dim=0, w_dim=512, img_resolution=64, img_channels=3,
                  mapping_kwargs=dict(num_layers=8),
                  synthesis_kwargs=dict(channel_base=16384, channel_max=256, num_fp16_res=0, conv_clamp=256)).eval()
    with torch.no_grad():
        for name, p in G.named_parameters():
            if "torgb" in name and name.endswith("weight"):
                p.mul_(0.5)  # softer colours than the default init
    save_networks(path, {"G_ema": G})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("network", nargs="?")
    parser.add_argument("--view", choices=("grid", "large", "directions", "projection"), default="grid")
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshot.png"))
    args = parser.parse_args()
    from explorer.assets import DEMO_MODEL

    network = args.network
    if network is None and DEMO_MODEL.is_file():
        network = str(DEMO_MODEL)
    if network is None:
        network = str(Path(os.environ["SGX_DATA_DIR"]) / "abstract64.safetensors")
        random_network(Path(network))

    from explorer.app import FPS, App

    app = App(network, size=(1280, 800), save_dir=Path.home() / "Pictures" / "stylegan-explorer")
    if not app.pump_until(lambda: app.state is not None, 300):
        raise SystemExit("the model did not load")
    s = app.state
    for seed, name in ((0, "dawn"), (8, None), (46, "lagoon"), (23, None), (45, "ember"), (40, None)):
        s.go_to(seed)
        s.pin()
        if name:
            s.rename_pin(len(s.pins) - 1, name)
    s.set_controls(None, psi=0.8)
    if args.view == "directions":  # seed 36 along SeFa component 1 (on the demo model: from a smiley towards a bust)
        if not app.pump_until(lambda: s.shown_directions() is not None, 300):
            raise SystemExit("no directions were computed")
        s.go_to(36)
        s.edit_band("all")
        s.set_edit_strength(1, -3.0)
        s.mode = "large"
    elif args.view == "projection":
        from explorer.actions import ProjectImage
        from explorer.handlers import dispatch
        from train.emoji import EmojiSource

        target = Path(os.environ["SGX_DATA_DIR"]) / "robot.png"
        EmojiSource(128).open("robot").save(target)
        dispatch(app, ProjectImage(str(target)))
    elif args.view == "large":
        band = s.model.bands[-1]
        s.go_to(12)
        s.set_controls(None, mix_seed=21, mix_first=band.first, mix_last=band.last)
        s.mode = "large"
    else:
        s.go_to(0)
        s.move(9)
    page = [s.spec(seed) for seed in s.page_seeds()] if s.mode == "grid" else []
    half_way = lambda: (p := app.sync.projection) is not None and p.total and 4 * p.step >= 3 * p.total  # noqa: E731
    ready = lambda: (all(r in app.thumbs for r in page) and all(p.spec in app.thumbs for p in s.pins)  # noqa: E731
                     and (s.mode == "grid" or app.large.spec == s.spec())
                     and (args.view != "projection" or half_way()))
    if not app.pump_until(ready, 600):
        raise SystemExit("rendering did not finish")
    app.mouse = (-1, -1)
    end = time.perf_counter() + 2  # a couple of seconds of normal frames: fps settles, widgets finish drawing
    while time.perf_counter() < end:
        start = time.perf_counter()
        app.step()
        app._idle(start + 1 / FPS)
    subprocess.run(["import", "-window", "root", args.out], check=True)
    app.close()
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
