"""Explorer speed, headless: UI frame times while the worker renders nonstop, slider-to-image latency, and video
export throughput against the generator alone.

Frames run as in `App.run` (60 fps pacing that wakes early for results). "Busy": every frame nudges psi, so
the worker always has a newer image to render; we time the frame interval (target p95 <= 33 ms) and the UI's
own work per frame. "Latency": with the worker idle, one slider event is posted and frames run until the large
view shows the new image; compared with one render of the same image timed alone, with one torch thread and the
precision the worker chose (target <= 1.3 x); for the psi slider and for a direction's strength slider
(the directions panel, SeFa component 0). "Export": G-only = `synthesize` over the path's precomputed ws in the
same batches; export = every `Exporter.step()` end to end (path, mapping, rendering, encoding, finishing,
rename), timed chunk by chunk in alternation with G-only (target >= 0.9 x). Random weights: speed
does not depend on them.

Usage (from the repo root): python -m benchmarks.explorer [--res 64 256] [--frames 300] [--moves 10]
    [--export-res 64 128] [--export-frames 20]
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

from explorer import export  # noqa: E402
from explorer.app import FPS, App  # noqa: E402
from explorer.export import Exporter, ExportSettings  # noqa: E402
from model.directions import edit_vectors, sefa  # noqa: E402
from model.fast import choose_precision  # noqa: E402
from model.io import save_networks  # noqa: E402
from model.networks import Generator  # noqa: E402
from model.render import spec_ws, synthesize  # noqa: E402
from model.spec import LatentSpec  # noqa: E402
from model.video import latent_path, path_frames  # noqa: E402


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


def move(slider, value: float) -> None:
    """What pygame_gui posts when `slider` is dragged to `value`."""
    slider.set_current_value(value, warn=False)
    pygame.event.post(pygame.event.Event(pygame_gui.UI_HORIZONTAL_SLIDER_MOVED, ui_element=slider, value=value))


def busy(app: App, frames: int) -> dict:
    """Frame intervals and UI work while the worker always has a newer image to render."""
    app.state.mode = "large"
    rendered = app.renderer.images_rendered
    intervals, work = [], []
    last = time.perf_counter()
    for i in range(frames):
        move(app.panel.psi, 0.5 + 0.01 * (i % 50))
        work.append(frame(app))
        now = time.perf_counter()
        intervals.append(now - last)
        last = now
    return dict(p50=pct(intervals, 0.5), p95=pct(intervals, 0.95), max=max(intervals), work95=pct(work, 0.95),
                renders=app.renderer.images_rendered - rendered, seconds=sum(intervals))


def settle(app: App) -> None:
    """Until the large view is current and the worker has nothing waiting."""
    if not app.pump_until(lambda: app.large.spec == app.state.spec() and not app.renderer._pending, 120):
        raise SystemExit("the worker did not settle")


def latency(app: App, G, slider, values: list[float], vectors: dict | None = None) -> list[tuple[float, float]]:
    """(seconds from a posted slider event to the frame showing its image, seconds of the same render alone).

    Paired move by move, so load from other processes on a shared host hits both sides alike.
    """
    out = []
    for value in values:
        settle(app)
        before = app.state.spec()
        start = time.perf_counter()
        move(slider, value)
        while True:  # frame() split in two: the image is on screen once the step that drew it returns
            frame_start = time.perf_counter()
            app.step()
            if app.large.spec not in (None, before) and app.large.spec == app.state.spec():
                break
            app._idle(frame_start + 1 / FPS)
        out.append((time.perf_counter() - start, one_render(G, app.state.spec(), app.renderer.precision, vectors)))
    return out


def one_render(G, spec: LatentSpec, precision: str, vectors: dict | None) -> float:
    """The same image rendered alone on this thread (one torch thread, as in the worker)."""
    start = time.perf_counter()
    ws = spec_ws(G, spec, torch.device("cpu"), vectors)
    synthesize(G, ws, spec.noise_mode, precision)
    return time.perf_counter() - start


def measure(res: int, frames: int, moves: int, folder: str, threads: int) -> tuple:
    G = make_generator(res)
    path = Path(folder) / f"bench{res}.safetensors"
    save_networks(path, {"G_ema": G})
    app = App(path, device="cpu", save_dir=folder, threads=threads)
    try:
        if not app.pump_until(lambda: app.state is not None, 120):
            raise SystemExit("the model did not load")
        page = [app.state.spec(s) for s in app.state.page_seeds()]
        if not app.pump_until(lambda: all(r in app.thumbs for r in page), 900):
            raise SystemExit("the grid did not render")
        b = busy(app, frames)
        app.state.set_controls(None, psi=1.0)
        pairs = latency(app, G, app.panel.psi, sweep(-0.5, 1.9, 0.1, moves))
        if not app.pump_until(lambda: app.state.direction_sets, 120):
            raise SystemExit("no directions")
        edits = latency(app, G, app.directions.sliders[0], sweep(-2.1, 2.1, 0.3, moves), edit_vectors(sefa(G)))
    finally:
        app.close()
    return res, app.renderer.precision, b, medians(pairs), medians(edits)


def sweep(lo: float, hi: float, step: float, moves: int) -> list[float]:
    """`moves` slider values from lo in steps, turning back at hi, so each differs from the one before: a value past
    the slider's range is clamped to the previous one, renders nothing new, and `latency` would wait forever."""
    span = round((hi - lo) / step)
    return [round(lo + step * (span - abs(span - i % (2 * span))), 2) for i in range(moves)]


def medians(pairs: list[tuple[float, float]]) -> tuple[float, float, float]:
    """(latency, one render, ratio), each the median over the moves."""
    return (statistics.median(p[0] for p in pairs), statistics.median(p[1] for p in pairs),
            statistics.median(a / b for a, b in pairs))


def paired_export(G, settings: ExportSettings, batch: int) -> tuple[float, float, float]:
    """(G-only s, export s, export's own render s): the rest of the export time is the exporter's overhead."""
    s = settings
    ws, _ = path_frames(G, latent_path(G, s.keyframes, s.interpolation, s.frames_per_transition, s.easing, s.loop),
                        0, s.frame_count)
    render_time = [0.0]
    plain = export.synthesize

    def timed_render(g, batch_ws, noise_mode, precision, transform=None):
        start = time.perf_counter()
        frames = plain(g, batch_ws, noise_mode, precision, transform)
        render_time[0] += time.perf_counter() - start
        return frames

    export.synthesize = timed_render
    try:
        exporter = Exporter(G, settings, batch=batch)
        g_time = e_time = 0.0
        while not exporter.finished:
            if exporter.rendered < exporter.total:
                start = time.perf_counter()
                plain(G, ws[exporter.rendered:exporter.rendered + batch], settings.noise_mode, settings.precision)
                g_time += time.perf_counter() - start
            start = time.perf_counter()
            exporter.step()
            e_time += time.perf_counter() - start
    finally:
        export.synthesize = plain
    return g_time, e_time, render_time[0]


def export_rows(resolutions: list[int], frames: int, batch: int, folder: str) -> list[tuple]:
    precision = choose_precision("cpu", "auto")
    rows = []
    for res in resolutions:
        G = make_generator(res)
        for interp, fmt in [("w-cubic", "mp4"), ("z-slerp", "mp4"), ("w-cubic", "gif")]:
            keys = [LatentSpec(s, psi=0.7) for s in (1, 2, 3)]
            settings = ExportSettings(keys, str(Path(folder) / f"bench.{fmt}"), frames_per_transition=frames, fps=30,
                                      interpolation=interp, loop=True, precision=precision)
            paired_export(G, dataclasses.replace(settings, frames_per_transition=1), batch)  # warm-up
            g_time, e_time, r_time = paired_export(G, settings, batch)
            n = settings.frame_count
            rows.append((res, precision, interp, fmt, n, n / g_time, n / e_time, (e_time - r_time) / e_time))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--res", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--moves", type=int, default=10)
    parser.add_argument("--worker-threads", type=int, default=1, help="torch threads of the render worker")
    parser.add_argument("--export-res", type=int, nargs="*", default=[64, 128])
    parser.add_argument("--export-frames", type=int, default=20, help="frames per transition (3 keyframes, looped)")
    parser.add_argument("--export-batch", type=int, default=4, help="frames per render call, as the GUI's worker")
    args = parser.parse_args()
    torch.set_num_threads(args.worker_threads)  # as the worker; the UI thread itself never calls torch
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["SGX_DATA_DIR"] = tmp
        rows = [measure(res, args.frames, args.moves, tmp, args.worker_threads) for res in args.res]
        exports = export_rows(args.export_res, args.export_frames, args.export_batch, tmp)
    print(f"\nExplorer responsiveness (torch {torch.__version__}, {os.cpu_count()} CPUs, worker "
          f"{args.worker_threads} torch thread(s), {args.frames} busy frames, {args.moves} slider moves, "
          f"load {os.getloadavg()[0]:.1f})\n")
    print(f"{'res':>5} {'prec':>5} | {'frame p50':>9} {'frame p95':>9} {'frame max':>9} {'UI work p95':>11} "
          f"{'renders/s':>9} | {'slider':>6} {'one render':>10} {'latency':>9} {'ratio':>6}")
    for res, precision, b, psi, edit in rows:
        busy_cols = (f"{b['p50'] * 1e3:>7.1f}ms {b['p95'] * 1e3:>7.1f}ms {b['max'] * 1e3:>7.1f}ms "
                     f"{b['work95'] * 1e3:>9.1f}ms {b['renders'] / b['seconds']:>9.1f}")
        for name, (lat, alone, ratio), left in (("psi", psi, f"{res:>5} {precision:>5} | {busy_cols}"),
                                                ("edit", edit, " " * 66)):
            print(f"{left} | {name:>6} {alone * 1e3:>8.1f}ms {lat * 1e3:>7.1f}ms {ratio:>5.2f}x")
    print("\nmedians over the moves; ratio = median of latency / one render, paired move by move")
    if exports:
        print(f"\nExport vs G-only (3 keyframes looped, {args.export_frames} frames/transition, batch "
              f"{args.export_batch}, 1 torch thread)\n")
        print(f"{'res':>5} {'prec':>5} {'interp':>8} {'fmt':>4} {'frames':>6} {'G-only fps':>11} {'export fps':>11} "
              f"{'ratio':>6} {'overhead':>9}")
        for res, precision, interp, fmt, n, g_fps, e_fps, overhead in exports:
            print(f"{res:>5} {precision:>5} {interp:>8} {fmt:>4} {n:>6} {g_fps:>11.2f} {e_fps:>11.2f} "
                  f"{e_fps / g_fps:>6.2f} {100 * overhead:>8.1f}%")
    print("\ntargets: frame p95 <= 33 ms; latency <= 1.3 x one render; export >= 0.9 x G-only")


if __name__ == "__main__":
    main()
