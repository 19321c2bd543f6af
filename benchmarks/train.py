"""Training-step benchmark: kimg/h, seconds per phase, achieved conv GFLOP/s and peak memory, by precision.

Configs: the 64x64 demo network (channel_base 4096, channel_max 256, batch 16) and a larger 128x128 one
(channel_base 8192, channel_max 256, batch 16), with lazy R1 (every 16 minibatches) and path length (every 4)
on, and the ADA pipe 'bgc' at p = 0.2 (augmentation costs time, so it runs at a typical value).

Protocol: each (config, precision) runs in its own process, so peak memory (ru_maxrss) and the allocator are
its own. After one warm-up minibatch, every timed minibatch is forced to run all four phases, and a real
minibatch costs Gmain + Dmain + Greg/4 + Dreg/16 of those per-execution times. The runs are repeated in
interleaved rounds and the best round is kept, because a shared machine's load changes from minute to minute.
Convolution FLOPs (forward, backward and the regularisers' double backward, FIR filters included) are counted
once per config on the fp32 fast path with torch's own FLOP formulas and used for every precision, so GFLOP/s
compares like with like. The machine's conv rate (3x3, 128 channels, 32x32, batch 16, channels_last) is printed
for reference.

    python benchmarks/train.py                              # both configs, exact/fp32/bf16, 2 rounds
    python benchmarks/train.py --configs demo64 --precisions exact,bf16 --steps 2 --rounds 1
    git worktree add /tmp/base HEAD~1 && python benchmarks/train.py --precisions bf16 --baseline /tmp/base
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch.utils._python_dispatch import TorchDispatchMode  # noqa: E402
from torch.utils.flop_counter import flop_registry  # noqa: E402

from model import fast  # noqa: E402

CONFIGS = {
    "demo64": dict(resolution=64, cbase=4096, cmax=256, batch=16),
    "large128": dict(resolution=128, cbase=8192, cmax=256, batch=16),
}
PRECISIONS = ("exact", "fp32", "bf16")
CONV_OPS = (torch.ops.aten.convolution, torch.ops.aten.convolution_backward)


class ConvFlops(TorchDispatchMode):
    """Sums torch's FLOP formulas over conv forwards and backwards (FlopCounterMode's module tracker does not
    support autograd.grad, which R1 and path length use)."""

    def __init__(self) -> None:
        super().__init__()
        self.flops = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if func.overloadpacket in CONV_OPS:
            self.flops += flop_registry[func.overloadpacket](*args, **(kwargs or {}), out_val=out)
        return out


def make_trainer(name: str, precision: str):
    from train.config import TrainOptions, resolve
    from train.trainer import Trainer

    spec = CONFIGS[name]
    opts = TrainOptions(data="bench", outdir="bench", batch=spec["batch"], cbase=spec["cbase"], cmax=spec["cmax"],
                        aug="fixed", p=0.2, precision=precision, metrics="none")
    cfg = resolve(opts, spec["resolution"], 3, 0, "bench", 1000)
    return Trainer(cfg, np.zeros([1000, 0], np.float32), torch.device("cpu"))


def fake_reals(trainer) -> tuple[torch.Tensor, torch.Tensor]:
    res = trainer.cfg.G_kwargs["img_resolution"]
    gen = torch.Generator().manual_seed(0)
    n = trainer.cfg.batch_size
    return torch.randint(0, 256, [n, 3, res, res], dtype=torch.uint8, generator=gen), torch.zeros([n, 0])


def count_flops(name: str) -> dict[str, float]:
    """Conv FLOPs of one execution of each phase (the step is run once, untimed)."""
    trainer = make_trainer(name, "fp32")
    reals, labels = fake_reals(trainer)
    real_img = reals.float() / 127.5 - 1
    per_phase = {}
    for phase in trainer.phases:
        phase.module.requires_grad_(True)
        with ConvFlops() as counter:
            trainer.loss.accumulate_gradients(phase.name, real_img, labels,
                                              torch.randn([trainer.cfg.batch_size, trainer.G.z_dim]), labels)
        phase.module.requires_grad_(False)
        per_phase[phase.name] = float(counter.flops)
    return per_phase


def run_one(name: str, precision: str, steps: int) -> dict:
    fast.tune_allocator()
    torch.manual_seed(0)
    trainer = make_trainer(name, precision)
    reals, labels = fake_reals(trainer)
    trainer.step(reals, labels)  # warm-up (oneDNN primitive creation, first-touch allocations)
    for phase in trainer.phases:
        phase.seconds.clear()
    for i in range(steps):
        trainer.batch_idx = 16 * (i + 1)  # a multiple of both intervals: all four phases run
        trainer.step(reals, labels)
    sec = {p.name: float(np.mean(p.seconds)) for p in trainer.phases}
    return dict(config=name, precision=precision, sec=sec,
                peak_gb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20)


def per_batch(sec: dict[str, float]) -> float:
    return sec["Gmain"] + sec["Dmain"] + sec["Greg"] / 4 + sec["Dreg"] / 16


def machine_rate() -> dict[str, float]:
    """GFLOP/s of a plain 3x3 conv forward, fp32 and bf16, channels_last (best of 10)."""
    out = {}
    w = torch.randn([128, 128, 3, 3]).to(memory_format=torch.channels_last)
    for dtype in (torch.float32, torch.bfloat16):
        x = torch.randn([16, 128, 32, 32]).to(dtype, memory_format=torch.channels_last)
        wd = w.to(dtype)
        times = []
        with torch.inference_mode():
            for _ in range(13):
                t = time.perf_counter()
                torch.nn.functional.conv2d(x, wd, padding=1)
                times.append(time.perf_counter() - t)
        out[str(dtype).split(".")[-1]] = 2 * 16 * 128 * 128 * 9 * 32 * 32 / min(times[3:]) / 1e9
    return out


def subprocess_json(args: list[str], tree: str | None = None) -> dict | None:
    """Runs this benchmark's child mode, from another checkout's copy of it when `tree` is given."""
    script = Path(tree, "benchmarks", "train.py") if tree else __file__
    out = subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True)
    if out.returncode != 0:
        print(f"{' '.join(args)}: failed\n{out.stderr[-2000:]}")
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=3, help="timed minibatches (all four phases) per run")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved repeats; the best is kept")
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument("--precisions", default=",".join(PRECISIONS))
    parser.add_argument("--baseline", metavar="TREE", help="also time another checkout (e.g. a git worktree of an "
                        "older commit) in the same rounds; its rows are marked 'base'")
    parser.add_argument("--one", nargs=2, metavar=("CONFIG", "PRECISION"), help=argparse.SUPPRESS)
    parser.add_argument("--flops", metavar="CONFIG", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one[0], args.one[1], args.steps)))
        return
    if args.flops:
        print(json.dumps(count_flops(args.flops)))
        return
    configs, precisions = args.configs.split(","), args.precisions.split(",")
    print(f"torch {torch.__version__}, {os.cpu_count()} cpu(s), {torch.get_num_threads()} thread(s), "
          f"auto precision {fast.choose_precision('cpu')}; "
          f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    rate = machine_rate()
    print("machine conv rate (3x3, 128 ch, 32x32, batch 16, channels_last): "
          + ", ".join(f"{k} {v:.0f} GFLOP/s" for k, v in rate.items()), flush=True)
    flops = {name: subprocess_json(["--flops", name]) for name in configs}
    best: dict[tuple[str, str], dict] = {}
    trees = {"": None} | ({" base": args.baseline} if args.baseline else {})
    for round_idx in range(args.rounds):
        for name in configs:
            for precision in precisions:
                for mark, tree in trees.items():
                    r = subprocess_json(["--steps", str(args.steps), "--one", name, precision], tree)
                    if r is None:
                        continue
                    key = (name, precision + mark)
                    if key not in best or per_batch(r["sec"]) < per_batch(best[key]["sec"]):
                        best[key] = r
                    print(f"  round {round_idx + 1}: {name} {precision + mark}: {per_batch(r['sec']):.2f} "
                          f"s/minibatch, load {os.getloadavg()[0]:.2f}", flush=True)
    head = (f"{'config':<10}{'prec':<11}{'kimg/h':>8}{'s/batch':>9}{'Gmain':>8}{'Greg':>8}{'Dmain':>8}{'Dreg':>8}"
            f"{'GFLOP/s':>9}{'peak GB':>9}")
    print("\n" + head + "\n" + "-" * len(head))
    for (name, precision), r in best.items():
        s, f = r["sec"], flops[name]
        t = per_batch(s)
        work = f["Gmain"] + f["Dmain"] + f["Greg"] / 4 + f["Dreg"] / 16
        kimg_h = CONFIGS[name]["batch"] * 3600 / 1000 / t
        print(f"{name:<10}{precision:<11}{kimg_h:>8.1f}{t:>9.2f}{s['Gmain']:>8.2f}{s['Greg']:>8.2f}{s['Dmain']:>8.2f}"
              f"{s['Dreg']:>8.2f}{work / t / 1e9:>9.0f}{r['peak_gb']:>9.2f}")
    for (name, precision), r in best.items():
        if (name, precision + " base") in best:
            old = per_batch(best[name, precision + " base"]["sec"])
            print(f"{name} {precision}: {old / per_batch(r['sec']):.2f}x the baseline's kimg/h")
    print("\nphase columns: seconds per execution; s/batch = Gmain + Dmain + Greg/4 + Dreg/16.")
    print("conv GFLOP per execution: " + "; ".join(
        f"{name}: " + " ".join(f"{k} {v / 1e9:.0f}" for k, v in flops[name].items()) for name in configs))
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
