"""Video export throughput against the generator alone, on the same frames (issue target: export >= 0.9 x G-only).

G-only = `synthesize` over the path's precomputed ws in the same batches; export = every `Exporter.step()` end to
end (path, mapping, rendering, encoding, finishing, rename). Overhead = the share of export time spent outside
its render calls (contention on a shared host moves it less than the fps). Random weights: speed does not
depend on them.

Usage (from the repo root): python -m benchmarks.explorer_export [--res 64 128] [--frames 20] [--batch 4] [--threads 2]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import tempfile
import time
from pathlib import Path

import torch

from explorer import export
from explorer.export import Exporter, ExportSettings, Keyframe, latent_path, path_ws
from model.networks import Generator
from model.render import synthesize


def make_generator(res: int) -> Generator:
    """A paper-like config scaled down for the CPU: 512-d latents, 8 mapping layers, channels capped at 256."""
    torch.manual_seed(0)
    return Generator(z_dim=512, c_dim=0, w_dim=512, img_resolution=res, img_channels=3,
                     mapping_kwargs=dict(num_layers=8),
                     synthesis_kwargs=dict(channel_base=8192, channel_max=256, num_fp16_res=0, conv_clamp=256)).eval()


def paired(G, settings: ExportSettings, batch: int) -> tuple[float, float, float]:
    """(G-only s, export s, export's own render s), timed chunk by chunk in alternation so that load from other
    processes hits both alike. G-only synthesizes the ws the exporter renders next; export times every `step()`,
    and the time inside its render calls is counted apart: the rest is the exporter's overhead."""
    ws = path_ws(G, latent_path(G, settings), 0, settings.frame_count)
    render_time = [0.0]

    def timed_render(g, batch_ws, noise_mode):
        start = time.perf_counter()
        frames = synthesize(g, batch_ws, noise_mode)
        render_time[0] += time.perf_counter() - start
        return frames

    export.RENDERERS["timed"] = timed_render
    exporter = Exporter(G, dataclasses.replace(settings, precision="timed"), batch=batch)
    g_time = e_time = 0.0
    while not exporter.finished:
        if exporter.rendered < exporter.total:
            start = time.perf_counter()
            synthesize(G, ws[exporter.rendered:exporter.rendered + batch], settings.noise_mode)
            g_time += time.perf_counter() - start
        start = time.perf_counter()
        exporter.step()
        e_time += time.perf_counter() - start
    del export.RENDERERS["timed"]
    return g_time, e_time, render_time[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--res", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--frames", type=int, default=20, help="frames per transition (3 keyframes, looped)")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2, help="torch threads (the GUI's render worker uses 1)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"export vs G-only, 3 keyframes looped, {args.frames} frames/transition, batch {args.batch}, "
          f"{torch.get_num_threads()} threads, load average {os.getloadavg()[0]:.1f}")
    print(f"{'res':>5} {'interp':>8} {'fmt':>4} {'frames':>6} {'G-only fps':>11} {'export fps':>11} {'ratio':>6} "
          f"{'overhead':>10}")
    with tempfile.TemporaryDirectory() as folder:
        for res in args.res:
            G = make_generator(res)
            synthesize(G, path_ws(G, latent_path(G, settings_for(folder, "mp4", "w-cubic", args.frames)), 0, 2))
            for interp, fmt in [("w-cubic", "mp4"), ("z-slerp", "mp4"), ("w-cubic", "gif")]:
                settings = settings_for(folder, fmt, interp, args.frames)
                g_time, e_time, r_time = paired(G, settings, args.batch)
                n = settings.frame_count
                g_fps, e_fps = n / g_time, n / e_time
                print(f"{res:>5} {interp:>8} {fmt:>4} {n:>6} {g_fps:>11.2f} {e_fps:>11.2f} {e_fps / g_fps:>6.2f} "
                      f"{100 * (e_time - r_time) / e_time:>9.1f}%")


def settings_for(folder: str, fmt: str, interp: str, frames: int) -> ExportSettings:
    keys = [Keyframe(seed=s, psi=0.7) for s in (1, 2, 3)]
    return ExportSettings(keys, str(Path(folder) / f"bench.{fmt}"), frames_per_transition=frames, fps=30,
                          interpolation=interp, loop=True)


if __name__ == "__main__":
    main()
