"""Milliseconds per AugmentPipe call on the CPU (2 threads): forward alone and forward + backward to the images.

Wall time is the best of the repeats; CPU time (all threads, median) is the figure to trust on a busy machine, where
waiting for a core inflates wall time but not CPU time.
Usage (from the repo root): python -m benchmarks.augment [--res 64] [--batch 16] [--repeats 30] [--threads 2]
"""

from __future__ import annotations

import argparse
import time

import torch

from train.augment import AugmentPipe


def time_call(pipe: AugmentPipe, images: torch.Tensor, backward: bool, repeats: int) -> tuple[float, float]:
    """(best wall, median CPU) ms per call after two warm-up calls."""
    wall, cpu = [], []
    for i in range(repeats + 2):
        x = images.detach().requires_grad_(backward)
        w0, c0 = time.perf_counter(), time.process_time()
        y = pipe(x)
        if backward:
            y.sum().backward()
        if i >= 2:
            wall.append((time.perf_counter() - w0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
    return min(wall), sorted(cpu)[len(cpu) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--res", type=int, default=64)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    images = torch.rand(args.batch, 3, args.res, args.res) * 2 - 1
    print(f"AugmentPipe, {args.res}x{args.res}, batch {args.batch}, {torch.get_num_threads()} threads, ms/call")
    print(f"{'preset':8} {'p':>5} {'fwd wall':>9} {'fwd cpu':>9} {'f+b wall':>9} {'f+b cpu':>9}")
    for preset, p in [("bgc", 0.0), ("bgc", 0.2), ("bgc", 0.8), ("bgcfnc", 0.2), ("bgcfnc", 0.8)]:
        pipe = AugmentPipe.from_preset(preset)
        pipe.p.fill_(p)
        fwd = time_call(pipe, images, False, args.repeats)
        both = time_call(pipe, images, True, args.repeats)
        print(f"{preset:8} {p:5.1f} {fwd[0]:9.2f} {fwd[1]:9.2f} {both[0]:9.2f} {both[1]:9.2f}")


if __name__ == "__main__":
    main()
