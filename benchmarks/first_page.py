"""Explorer start-up at 256²: model load, and the first page of the seed grid after it.

A paper256-shaped network (z = w = 512, 8 mapping layers, channel_base 16384, channel_max 512, 4 fp16
resolutions, conv clamp 256; G, D and G_ema, random weights: speed does not depend on them) is written as an
NVlabs pickle, then every measurement runs in a fresh subprocess, as a user starting `sgx explore` would:

- load: `model.io.load(path)` with torch already imported; the import (torch + model.io) is timed apart.
- worker: a `Renderer` opens the pickle; from its 'model' result (the worker has the model) until every thumbnail
  of the first page has arrived as a 'thumbs' result. The page is asked for as render_sync.py does: the specs of
  `Explorer.page_seeds()` for the grid that `GridView` lays out in a WINDOW-sized window, at the tile size.
- floor: the same 28 thumbnails synthesised alone in that process (`render_specs`, the worker's batches and
  threads): what the worker cannot beat without faster synthesis.
- app: the explorer itself, headless (SDL dummy driver), frames paced as `App.run` does: from the frame that
  received the model until the frame that has drawn all of the page's thumbnails. UI p95 is the frame interval
  (target 16.7 ms at 60 fps) over that time: what the render worker leaves to the UI.

Variants are render-worker policies (Renderer keyword arguments, and OMP_WAIT_POLICY, which the two-thread
thumbnails need), run interleaved so load from other processes hits all alike; the table gives median and min over
the runs, and the load average around them.

Usage (from the repo root): python -m benchmarks.first_page [--runs 5] [--variants old new]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# torch is imported inside the functions: the load child times the import itself.

ROOT = Path(__file__).resolve().parents[1]
WINDOW = (1600, 900)  # GridView lays this out as 7 x 4 tiles of 131 px: 28 thumbnails, rendered at 256²
PAGE = 28
PASSIVE = {"OMP_WAIT_POLICY": "PASSIVE"}  # OpenMP threads sleep at a barrier instead of spinning (model/fast.py)
VARIANTS = {  # name: (Renderer keyword arguments, environment of the child process)
    "old": (dict(thumb_threads=1, thumb_batch=2), {}),  # the worker before: one torch thread, thumbnails in twos
    "new": ({}, PASSIVE),  # the worker's defaults where OpenMP threads sleep: two threads, batches of 4
    "spinning": (dict(thumb_threads=2), {}),  # two threads without PASSIVE: why the default needs it
}
HEADLESS = dict(SDL_VIDEODRIVER="dummy", SDL_AUDIODRIVER="dummy", PYGAME_HIDE_SUPPORT_PROMPT="1")


def write_pickle(path: Path) -> None:
    import torch

    from model.networks import Discriminator, Generator
    from tests.model.nvlabs_fixture import dump, sg2a_pickle

    torch.manual_seed(0)
    shared = dict(channel_base=16384, channel_max=512, num_fp16_res=4, conv_clamp=256)
    G, G_ema = (Generator(512, 0, 512, 256, 3, mapping_kwargs=dict(num_layers=8), synthesis_kwargs=shared).eval()
                for _ in range(2))
    dump(sg2a_pickle(G, Discriminator(0, 256, 3, **shared), G_ema), path)


# -- children (one fresh process each) -------------------------------------------------------------------------


def child_load(path: str) -> dict:
    start = time.perf_counter()
    from model import fast
    from model.io import load

    imported = time.perf_counter() - start
    fast.tune_allocator()  # as `sgx` does before anything else
    start = time.perf_counter()
    load(path)
    return dict(imported=imported, load=time.perf_counter() - start)


def grid_page(info) -> tuple[list, int]:
    """The first page's specs and the thumbnail size, as the App asks for them in a WINDOW-sized window."""
    from explorer.state import Explorer
    from explorer.views.grid import GridView
    from explorer.views.layout import layout
    from explorer.views.pins_strip import THUMB

    grid, state = GridView(), Explorer(info)
    state.set_grid(*grid.set_rect(layout(WINDOW).main))
    return [state.spec(seed) for seed in state.page_seeds()], max(grid.tile, THUMB)


def child_worker(path: str, policy: dict) -> dict:
    import pygame

    from explorer.renderer import RENDER_EVENT, Renderer
    from model import fast

    fast.tune_allocator()
    pygame.display.init()
    renderer = Renderer(**policy)

    def next_result():
        while (event := pygame.event.wait()).type != RENDER_EVENT:
            pass
        if event.result.kind == "error":
            raise SystemExit(event.result.message)
        return event.result

    start = time.perf_counter()
    renderer.open(path)
    while (result := next_result()).kind != "model":
        pass
    loaded = time.perf_counter()
    page, size = grid_page(result.info)
    renderer.thumbs("grid", page, size)
    missing, first = set(page), None
    while missing:
        result = next_result()
        if result.kind == "thumbs":
            missing -= set(result.specs)
            first = first or time.perf_counter()
    done = time.perf_counter()
    G, precision, threads, batch = renderer.G, renderer.precision, renderer.thumb_threads, renderer.thumb_batch
    renderer.close()
    return dict(open=loaded - start, first=first - loaded, page=done - loaded, n=len(page),
                floor=renders_alone(G, page, precision, threads, batch))


def renders_alone(G, page: list, precision: str, threads: int, batch: int) -> float:
    """The page's synthesis alone, in the worker's batches and threads: the floor under 'model -> all thumbnails'
    (median of 3, after one warm-up batch)."""
    import torch

    from model.render import render_specs

    torch.set_num_threads(threads)
    render_specs(G, page[:batch], precision)
    times = []
    for _ in range(3):
        start = time.perf_counter()
        for i in range(0, len(page), batch):
            render_specs(G, page[i:i + batch], precision)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def child_app(path: str, policy: dict) -> dict:
    from explorer import app as app_module
    from explorer.renderer import Renderer

    def worker(device: str, precision: str, threads: int) -> Renderer:  # the variant's policy over App's choice
        return Renderer(device, precision, **{"threads": threads, **policy})

    app_module.Renderer = worker
    start = time.perf_counter()
    app = app_module.App(path, size=WINDOW, save_dir=os.environ["SGX_DATA_DIR"])
    frames, loaded, page = [], None, None
    while True:  # App.run's pacing, with the check between a frame's drawing and its sleep
        frame = time.perf_counter()
        app.step()
        if loaded is not None:
            frames.append(frame)
        elif app.state is not None:
            loaded = frame
            page = [app.state.spec(seed) for seed in app.state.page_seeds()]
        if page and all(spec in app.thumbs for spec in page):
            break
        app._idle(frame + 1 / app_module.FPS)
    done = time.perf_counter()
    app.close()
    intervals = sorted(b - a for a, b in zip(frames, frames[1:], strict=False))
    p95 = intervals[min(len(intervals) - 1, round(0.95 * (len(intervals) - 1)))] if intervals else 0.0
    return dict(open=loaded - start, page=done - loaded, n=len(page), ui_p95=p95)


# -- parent --------------------------------------------------------------------------------------------------


def run_child(kind: str, path: Path, variant: tuple[dict, dict], data: str) -> dict:
    policy, extra = variant
    env = dict(os.environ, **HEADLESS, **extra, SGX_DATA_DIR=data)  # no cached directions or pins of the user's
    out = subprocess.run([sys.executable, "-m", "benchmarks.first_page", "--child", kind, str(path),
                          json.dumps(policy)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    if out.returncode:
        raise SystemExit(f"{kind} child failed:\n{out.stderr}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if result.get("n", PAGE) != PAGE:
        raise SystemExit(f"the first page has {result['n']} thumbnails, not {PAGE}: check WINDOW")
    return result


def commit() -> str:
    out = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True)
    return out.stdout.strip() or "unknown"


def row(name: str, values: list[float]) -> str:
    return f"{name:<44} {statistics.median(values):>7.2f} s {min(values):>7.2f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--child", nargs=3, metavar=("KIND", "PATH", "POLICY"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, path, policy = args.child
        children = dict(load=lambda: child_load(path), worker=lambda: child_worker(path, json.loads(policy)),
                        app=lambda: child_app(path, json.loads(policy)))
        print(json.dumps(children[kind]()))
        return
    got: dict[tuple[str, str], list[dict]] = {}
    loads = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "paper256.pkl"
        write_pickle(path)
        size = path.stat().st_size
        for _ in range(args.runs):
            loads.append(os.getloadavg()[0])
            got.setdefault(("load", ""), []).append(run_child("load", path, ({}, {}), tmp))
            for kind in ("worker", "app"):
                for name in args.variants:
                    got.setdefault((kind, name), []).append(run_child(kind, path, VARIANTS[name], tmp))
        loads.append(os.getloadavg()[0])
    print(f"\nExplorer start-up, paper256 NVlabs pickle ({size / 1e6:.0f} MB), {args.runs} runs, "
          f"commit {commit()}, {os.cpu_count()} CPUs, load average {min(loads):.1f}-{max(loads):.1f}\n")
    print(f"{'':<44} {'median':>9} {'min':>9}")
    loaded = got[("load", "")]
    print(row("import torch + model.io", [r["imported"] for r in loaded]))
    print(row("model.io.load", [r["load"] for r in loaded]))
    for name in args.variants:
        policy, env = VARIANTS[name]
        print(f"\nvariant {name}: Renderer({', '.join(f'{k}={v}' for k, v in policy.items()) or 'defaults'})"
              + "".join(f" {k}={v}" for k, v in env.items()))
        worker, app = got[("worker", name)], got[("app", name)]
        print(row("  worker: open -> model result", [r["open"] for r in worker]))
        print(row("  worker: model -> first thumbnails", [r["first"] for r in worker]))
        print(row(f"  worker: model -> all {PAGE} thumbnails", [r["page"] for r in worker]))
        print(row(f"  floor: the {PAGE} renders alone, same batches", [r["floor"] for r in worker]))
        print(row("  app: start -> model on screen", [r["open"] for r in app]))
        print(row(f"  app: model -> grid shows all {PAGE}", [r["page"] for r in app]))
        print(f"{'  app: UI frame interval p95 meanwhile':<44} "
              f"{1e3 * statistics.median(r['ui_p95'] for r in app):>6.1f} ms")
    print(f"\ntargets: model.io.load <= 1 s; model -> all {PAGE} thumbnails <= 1.5 s")


if __name__ == "__main__":
    main()
