"""Explorer responsiveness, headless: UI frame times while the worker renders nonstop, and slider-to-image latency.

Frames run as in `App.run` (60 fps pacing that wakes early for results). "Busy": every frame nudges psi, so
the worker always has a newer image to render; we time the frame interval (target p95 <= 33 ms) and the UI's
own work per frame. "Latency": with the worker idle, one slider event is posted and frames run until the large
view shows the new image; compared with one render of the same image timed alone just before, with one torch
thread as in the worker (target <= 1.3 x). Random weights: speed does not depend on them.

Usage (from the repo root): python -m benchmarks.explorer [--res 64 256] [--frames 300] [--moves 10]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.update(SDL_VIDEODRIVER="dummy", SDL_AUDIODRIVER="dummy", PYGAME_HIDE_SUPPORT_PROMPT="1")

import pygame  # noqa: E402
import pygame_gui  # noqa: E402
import torch  # noqa: E402

from explorer.app import FPS, App  # noqa: E402
from explorer.renderer import recipe_ws  # noqa: E402
from explorer.state import Recipe  # noqa: E402
from model.io import save_networks  # noqa: E402
from model.networks import Generator  # noqa: E402
from model.render import synthesize  # noqa: E402


def make_generator(res: int) -> Generator:
    """A paper-like config scaled down for the CPU: 512-d latents, 8 mapping layers, channels capped at 256."""
    torch.manual_seed(0)
    return Generator(z_dim=512, c_dim=0, w_dim=512, img_resolution=res, img_channels=3,
                     mapping_kwargs=dict(num_layers=8),
                     synthesis_kwargs=dict(channel_base=8192, channel_max=256, num_fp16_res=0, conv_clamp=256)).eval()


def frame(app: App) -> float:
    """One paced frame, as App.run does; returns the UI's own work time in seconds."""
    start = time.perf_counter()
    app.step()
    work = time.perf_counter() - start
    app._idle(start + 1 / FPS)
    return work


def pct(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, round(q * (len(values) - 1)))]


def move(app: App, psi: float) -> None:
    """What pygame_gui posts when the psi slider is dragged to `psi`."""
    app.panel.psi.set_current_value(psi, warn=False)
    pygame.event.post(pygame.event.Event(pygame_gui.UI_HORIZONTAL_SLIDER_MOVED, ui_element=app.panel.psi, value=psi))


def busy(app: App, frames: int) -> dict:
    """Frame intervals and UI work while the worker always has a newer image to render."""
    app.state.mode = "large"
    rendered = app.renderer.images_rendered
    intervals, work = [], []
    last = time.perf_counter()
    for i in range(frames):
        move(app, 0.5 + 0.01 * (i % 50))
        work.append(frame(app))
        now = time.perf_counter()
        intervals.append(now - last)
        last = now
    return dict(p50=pct(intervals, 0.5), p95=pct(intervals, 0.95), max=max(intervals), work95=pct(work, 0.95),
                renders=app.renderer.images_rendered - rendered, seconds=sum(intervals))


def settle(app: App) -> None:
    """Until the large view is current and the worker has nothing waiting."""
    if not app.pump_until(lambda: app.large.recipe == app.state.recipe() and not app.renderer._pending, 120):
        raise SystemExit("the worker did not settle")


def latency(app: App, G, moves: int) -> list[tuple[float, float]]:
    """(seconds from a posted slider event to the frame showing its image, seconds of the same render alone).

    Paired move by move, so load from other processes on a shared host hits both sides alike.
    """
    out = []
    for i in range(moves):
        settle(app)
        value = round(-0.5 + 0.1 * i, 2)
        alone = one_render(G, app.state.recipe(), value)
        start = time.perf_counter()
        move(app, value)
        while True:  # frame() split in two: the image is on screen once the step that drew it returns
            frame_start = time.perf_counter()
            app.step()
            if app.large.recipe is not None and app.large.recipe.psi == value:
                break
            app._idle(frame_start + 1 / FPS)
        out.append((time.perf_counter() - start, alone))
    return out


def one_render(G, recipe: Recipe, psi: float) -> float:
    """The same image rendered alone on this thread (one torch thread, as in the worker)."""
    start = time.perf_counter()
    synthesize(G, recipe_ws(G, dataclasses.replace(recipe, psi=psi), torch.device("cpu")), recipe.noise_mode)
    return time.perf_counter() - start


def measure(res: int, frames: int, moves: int, folder: str) -> tuple:
    G = make_generator(res)
    path = Path(folder) / f"bench{res}.safetensors"
    save_networks(path, {"G_ema": G})
    app = App(path, device="cpu", save_dir=folder)
    try:
        if not app.pump_until(lambda: app.state is not None, 120):
            raise SystemExit("the model did not load")
        page = [app.state.recipe(s) for s in app.state.page_seeds()]
        if not app.pump_until(lambda: all(r in app.thumbs for r in page), 900):
            raise SystemExit("the grid did not render")
        b = busy(app, frames)
        app.state.set_controls(None, psi=1.0)
        pairs = latency(app, G, moves)
    finally:
        app.close()
    lat, alone = [p[0] for p in pairs], [p[1] for p in pairs]
    return res, b, statistics.median(lat), statistics.median(alone), statistics.median(a / b for a, b in pairs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--res", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--moves", type=int, default=10)
    args = parser.parse_args()
    torch.set_num_threads(1)  # for one_render; the UI thread itself never calls torch
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["SGX_DATA_DIR"] = tmp
        rows = [measure(res, args.frames, args.moves, tmp) for res in args.res]
    print(f"\nExplorer responsiveness (torch {torch.__version__}, {os.cpu_count()} CPUs, worker 1 torch thread, "
          f"{args.frames} busy frames, {args.moves} slider moves)\n")
    print(f"{'res':>5} | {'frame p50':>9} {'frame p95':>9} {'frame max':>9} {'UI work p95':>11} {'renders/s':>9} | "
          f"{'one render':>10} {'latency':>9} {'ratio':>6}")
    for res, b, lat, alone, ratio in rows:
        print(f"{res:>5} | {b['p50'] * 1e3:>7.1f}ms {b['p95'] * 1e3:>7.1f}ms {b['max'] * 1e3:>7.1f}ms "
              f"{b['work95'] * 1e3:>9.1f}ms {b['renders'] / b['seconds']:>9.1f} | {alone * 1e3:>8.1f}ms "
              f"{lat * 1e3:>7.1f}ms {ratio:>5.2f}x")
    print("\nmedians over the moves; ratio = median of latency / one render, paired move by move")
    print("targets: frame p95 <= 33 ms; latency <= 1.3 x one render")


if __name__ == "__main__":
    main()
