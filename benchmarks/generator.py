"""Generator rendering: exact vs fast path (model/fast.py), and each speed candidate measured on its own.

Nets (random weights; timing does not depend on them): small64 (64², channel_base 4096, channel_max 256, map 2),
paper256 (256², channel_base 16384, channel_max 512, map 8) and configf (1024², channel_base 32768), z=w=512.
The machine is shared and noisy, so every comparison runs in one process with its variants interleaved, and
the table gives medians. Peak memory is VmHWM of a fresh subprocess that builds the net and renders once.
GFLOP/s counts the modulated convolutions only (2 x MACs; a 2x-up conv at its input resolution), so it can be
compared with a plain 3x3 conv on this machine, measured in the same run.

PSNR (fast vs exact, uint8, per image, median over seeds) needs images that look like images: the spec §8 recipe
(mapping x100 so w varies with the seed, noise strength 0.1, affine bias 1 + 0.1 r) with ToRGB weights x0.04
and zero ToRGB biases, which gives a full-range picture (uint8 std printed, clipped pixels printed) instead of
§8's saturated colour fields at 256².

StyleGAN3 (model/fast_sg3.py): T and R nets at the paper configs' shapes with reduced channels (T channel_base
16384, channel_max 256; R 32768 and 512, 1x1 convs, radial filters), z=w=512, default-initialised weights; exact vs
fast ms per image at batch 1, interleaved, and PSNR over seeds. At 1024² (the paper configs' full channels) only the
fast path's time and peak memory: the exact path takes minutes there.

    python benchmarks/generator.py                    # everything, ~15 min on 2 idle cores
    python benchmarks/generator.py --configs paper256 --no-candidates
    python benchmarks/generator.py --configs sg3t64 sg3t256 sg3r64 sg3r256 sg3t1024 sg3r1024 --no-candidates
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from model import fast  # noqa: E402
from model.networks import Generator  # noqa: E402
from model.networks_sg3 import Generator as SG3Generator  # noqa: E402
from tests.model.conformance import fill_weights  # noqa: E402

CONFIGS = {
    "small64": dict(res=64, cbase=4096, cmax=256, map=2, reps=(7, 5), psnr_seeds=64),
    "paper256": dict(res=256, cbase=16384, cmax=512, map=8, reps=(5, 3), psnr_seeds=64),
    "configf": dict(res=1024, cbase=32768, cmax=512, map=8, reps=(2, 1), psnr_seeds=8),
}
BATCHES = (1, 8)
SG3_T, SG3_R = dict(channel_base=16384, channel_max=256), dict(channel_base=32768, channel_max=512, conv_kernel=1,
                                                               use_radial_filters=True)
SG3_CONFIGS = {  # reps of the interleaved exact / fast timing (0: fast only), seeds for the PSNR
    "sg3t64": dict(res=64, kwargs=SG3_T, reps=5, psnr_seeds=16),
    "sg3t256": dict(res=256, kwargs=SG3_T, reps=3, psnr_seeds=4),
    "sg3r64": dict(res=64, kwargs=SG3_R, reps=5, psnr_seeds=16),
    "sg3r256": dict(res=256, kwargs=SG3_R, reps=3, psnr_seeds=4),
    "sg3t1024": dict(res=1024, kwargs=dict(channel_base=32768, channel_max=512), reps=0, psnr_seeds=0),
    "sg3r1024": dict(res=1024, kwargs=dict(SG3_R, channel_base=65536, channel_max=1024), reps=0, psnr_seeds=0),
}


def make_g(name: str, realistic: bool = False) -> Generator:
    if name in SG3_CONFIGS:
        torch.manual_seed(0)
        return SG3Generator(512, 0, 512, SG3_CONFIGS[name]["res"], 3, **SG3_CONFIGS[name]["kwargs"]).eval()
    c = CONFIGS[name]
    g = Generator(512, 0, 512, c["res"], 3, mapping_kwargs=dict(num_layers=c["map"]),
                  synthesis_kwargs=dict(channel_base=c["cbase"], channel_max=c["cmax"], num_fp16_res=4,
                                        conv_clamp=256)).eval()
    if realistic:
        fill_weights(g, 2024)
        with torch.no_grad():
            for block in g.synthesis.blocks():
                block.torgb.weight.mul_(0.4)
                block.torgb.bias.zero_()
    return g


def latents(g: Generator, n: int, seed0: int = 0) -> torch.Tensor:
    z = np.stack([np.random.RandomState(seed0 + i).randn(g.z_dim) for i in range(n)])
    with torch.no_grad():  # not inference_mode: the autograd-mode candidate feeds these to a graph
        return g.mapping(torch.from_numpy(z).float(), None)


def conv_gflop(g: Generator) -> float:
    """Modulated-conv GFLOP per image (2 x MACs)."""
    macs = 0
    for block in g.synthesis.blocks():
        r = block.resolution
        for layer in (getattr(block, "conv0", None), block.conv1, block.torgb):
            if layer is not None:
                o, i, k, _ = layer.weight.shape
                side = r // 2 if getattr(layer, "up", 1) == 2 else r
                macs += o * i * k * k * side * side
    return 2 * macs / 1e9


def interleaved(variants: dict[str, Callable[[], object]], reps: int) -> dict[str, float]:
    """Median seconds per call of each variant, after one warm-up call each, variants taking turns."""
    for fn in variants.values():
        fn()
    times = {name: [] for name in variants}
    for _ in range(reps):
        for name, fn in variants.items():
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    return {name: statistics.median(ts) for name, ts in times.items()}


def conv_rates() -> dict[str, float]:
    """GFLOP/s of a plain 3x3 conv (batch 8, 128 -> 128 channels, 64², channels_last) in fp32 and bf16.

    On a 2-vCPU cloud VM the two-thread bf16 (AMX) rate flipped from call to call between ~800 and ~2200 GFLOP/s
    (2026-12-06: 1 call in 5 fast, in runs of a few; one thread 450-1270), as if the host ran the two vCPUs
    together only part of the time; fp32 moved much less (170-290). So every exact/fast ratio there moves with
    it, and each row prints the bf16 rate measured beside it."""
    x = torch.randn([8, 128, 64, 64]).to(memory_format=torch.channels_last)
    w = torch.randn([128, 128, 3, 3]).to(memory_format=torch.channels_last)
    flop = 2 * 8 * 128 * 128 * 9 * 64 * 64
    variants = {}
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        xd, wd = x.to(dtype), w.to(dtype)
        variants[name] = lambda xd=xd, wd=wd: F.conv2d(xd, wd, padding=1)
    with torch.inference_mode():
        return {name: flop / t / 1e9 for name, t in interleaved(variants, 7).items()}


def peak_rss_mb(name: str, batch: int, precision: str) -> float:
    """VmHWM of a fresh process that builds the net and renders one batch (allocator tuned, as the CLI does)."""
    out = subprocess.run([sys.executable, __file__, "--peak", name, str(batch), precision],
                         capture_output=True, text=True, check=True)
    return float(out.stdout.split()[-1])


def _peak_child(name: str, batch: int, precision: str) -> None:
    fast.tune_allocator()
    g = make_g(name)
    fast.render(g, latents(g, batch), "const", precision)
    status = Path("/proc/self/status").read_text()
    print(int(next(line for line in status.splitlines() if line.startswith("VmHWM")).split()[1]) / 1024)


def to_u8(img: torch.Tensor) -> np.ndarray:
    return (img.permute(0, 2, 3, 1) * 127.5 + 128).clamp(0, 255).to(torch.uint8).numpy()


def psnr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    mse = ((a.astype(np.float64) - b.astype(np.float64)) ** 2).mean(axis=(1, 2, 3))
    return 10 * np.log10(255.0 ** 2 / np.maximum(mse, 1e-10))


def fidelity(name: str, precision: str, png: str | None) -> str:
    g = make_g(name, realistic=True)
    seeds = CONFIGS[name]["psnr_seeds"]
    exact, fast_u8 = [], []
    for start in range(0, seeds, 8):
        ws = latents(g, min(8, seeds - start), start)
        exact.append(to_u8(fast.render(g, ws, "const", "exact")))
        fast_u8.append(to_u8(fast.render(g, ws, "const", precision)))
    exact, fast_u8 = np.concatenate(exact), np.concatenate(fast_u8)
    p = psnr(fast_u8, exact)
    diff = np.abs(fast_u8.astype(int) - exact.astype(int))
    if png:
        from PIL import Image
        rows = [np.concatenate(list(x[:4]), axis=1) for x in (exact, fast_u8, np.clip(diff[:4] * 16, 0, 255))]
        Image.fromarray(np.concatenate(rows, axis=0).astype(np.uint8)).save(png)
    clipped = np.mean((exact == 0) | (exact == 255))
    return (f"{name}: {precision} vs exact, {seeds} seeds: PSNR median {np.median(p):.1f} dB, min {p.min():.1f} dB; "
            f"max |diff| {diff.max()} LSB, {np.mean(diff > 1) * 100:.3f} % of values off by > 1; "
            f"exact images: uint8 std {exact.std():.0f}, {clipped * 100:.1f} % clipped")


def main_table(names: list[str], precision: str, rates: dict[str, float]) -> None:
    print(f"\n{'config':9} {'batch':>5} | {'exact img/s':>11} {f'{precision} img/s':>11} {'speedup':>7} | "
          f"{'peak MB exact':>13} {'fast':>6} | {'GFLOP/img':>9} {'fast GFLOP/s':>12} {'% bf16 rate':>11} "
          f"{'% fp32 rate':>11} | {'bf16 rate now':>13}")
    for name in names:
        g = make_g(name)
        gflop = conv_gflop(g)
        for batch, reps in zip(BATCHES, CONFIGS[name]["reps"], strict=True):
            ws = latents(g, batch)
            t = interleaved({p: lambda p=p, g=g, ws=ws: fast.render(g, ws, "const", p) for p in ("exact", precision)},
                            reps)
            now = conv_rates()['bf16']  # right after the timing: the vCPUs' placement changes within minutes
            ex, fa = batch / t["exact"], batch / t[precision]
            mem = {p: peak_rss_mb(name, batch, p) for p in ("exact", precision)}
            achieved = gflop * fa
            print(f"{name:9} {batch:5} | {ex:11.2f} {fa:11.2f} {fa / ex:6.2f}x | {mem['exact']:13.0f} "
                  f"{mem[precision]:6.0f} | {gflop:9.1f} {achieved:12.0f} {achieved / now * 100:10.0f}% "
                  f"{achieved / rates['fp32'] * 100:10.0f}% | {now:13.0f}", flush=True)


def conv_floor(name: str, precision: str) -> None:
    """The batch-1 ceiling: exact vs fast vs the kernels no rewrite can drop, at the fast path's shapes, dtype and
    layout, timed in the same run: its convolutions (the up-sampling layers' four phase convs, shared weights
    packed as the fast path packs them); plus each up-sampling layer's 4x4 FIR filter; plus one in-place pass over
    each conv layer's output, which is what noise + bias + lrelu + clamp would cost as a single fused kernel
    (eager torch has none: oneDNN's conv post-ops take lrelu only without the noise add before it). What is left
    (separate noise, lrelu and clamp-check passes, phase interleaving, style and weight preparation, Python and
    dispatch) is the difference."""
    g, dtype = make_g(name), fast.DTYPES[precision]
    ws = latents(g, 1)
    convs, firs, outputs = [], [], []
    for block in g.synthesis.blocks():
        for layer in (getattr(block, "conv0", None), block.conv1, block.torgb):
            if layer is None:
                continue
            o, i, k, _ = layer.weight.shape
            side = block.resolution // getattr(layer, "up", 1)
            x = torch.randn([1, i, side, side]).to(dtype, memory_format=torch.channels_last)
            w = layer.weight.to(dtype).contiguous(memory_format=torch.channels_last)
            if getattr(layer, "up", 1) == 2:
                kernels = fast._phase_kernels(w, torch.channels_last)
                convs += [(x, kern, (1 - a, 1 - b), layer.weight) for (a, b), kern in kernels.items()]
                frame = torch.randn([1, o, 2 * side + 3, 2 * side + 3]).to(dtype, memory_format=torch.channels_last)
                firs.append((frame, layer.resample_filter))
            else:
                convs.append((x, w, (k // 2, k // 2), layer.weight))
            if o != g.img_channels:
                outputs.append(torch.randn([1, o, block.resolution, block.resolution]).to(
                    dtype, memory_format=torch.channels_last))

    def convs_only():
        for x, w, padding, owner in convs:
            fast.conv2d(x, w, None, padding, owner, f"floor {tuple(w.shape)}")

    def with_firs():
        convs_only()
        for frame, f in firs:
            fast.upfirdn2d(frame, f, gain=4)

    def with_one_pass():
        with_firs()
        for y in outputs:
            F.leaky_relu(y, 0.2, inplace=True)

    with torch.inference_mode():
        t = interleaved({"exact": lambda: fast.render(g, ws, "const", "exact"),
                         precision: lambda: fast.render(g, ws, "const", precision), "convs": convs_only,
                         "firs": with_firs, "pass": with_one_pass}, 5)
    print(f"{name} batch 1: exact {t['exact'] * 1e3:.0f} ms, {precision} {t[precision] * 1e3:.0f} ms "
          f"({t['exact'] / t[precision]:.2f}x). Floors: convolutions {t['convs'] * 1e3:.0f} ms "
          f"({t['exact'] / t['convs']:.1f}x), + FIR filters {t['firs'] * 1e3:.0f} ms ({t['exact'] / t['firs']:.1f}x), "
          f"+ one fused pass per layer {t['pass'] * 1e3:.0f} ms ({t['exact'] / t['pass']:.1f}x); plain bf16 conv "
          f"now {conv_rates()['bf16']:.0f} GFLOP/s", flush=True)


def sg3_table(names: list[str], precision: str) -> None:
    """Exact vs fast at batch 1, interleaved, with the load seen before and after each row (the machine is shared)."""
    print(f"\nStyleGAN3, batch 1 (fast = {precision}; ms per image, medians of interleaved runs)")
    print(f"{'config':9} | {'exact ms':>8} {'fast ms':>8} {'speedup':>7} | {'PSNR median':>11} {'min':>5} "
          f"{'u8 std':>6} | {'peak MB fast':>12} | load")
    for name in names:
        c, g = SG3_CONFIGS[name], make_g(name)
        load = os.getloadavg()[0]
        ws = latents(g, 1)
        paths = ("exact", precision) if c["reps"] else (precision,)
        t = interleaved({p: lambda p=p, g=g, ws=ws: fast.render(g, ws, "const", p) for p in paths}, max(c["reps"], 1))
        exact = t.get("exact", 0.0)
        quality = "-", "-", "-"
        if c["psnr_seeds"]:
            ws = latents(g, c["psnr_seeds"])
            ex, fa = (to_u8(torch.cat([fast.render(g, w[None], "const", p) for w in ws])) for p in ("exact", precision))
            p = psnr(fa, ex)
            quality = f"{np.median(p):.1f}", f"{p.min():.1f}", f"{ex.std():.0f}"
        ratio = f"{exact / t[precision]:6.1f}x" if c["reps"] else "      -"
        print(f"{name:9} | {exact * 1e3:8.0f} {t[precision] * 1e3:8.0f} {ratio} | "
              f"{quality[0]:>11} {quality[1]:>5} {quality[2]:>6} | {peak_rss_mb(name, 1, precision):12.0f} | "
              f"{load:.1f} -> {os.getloadavg()[0]:.1f}", flush=True)


def timing_child(batch: int, precision: str, tuned: bool) -> None:
    """Prints exact and fast seconds per image at paper256 for the environment this process was started with."""
    if tuned:
        fast.tune_allocator()
    g = make_g("paper256")
    ws = latents(g, batch)
    t = interleaved({p: lambda p=p: fast.render(g, ws, "const", p) for p in ("exact", precision)}, 3)
    print(t["exact"] / batch, t[precision] / batch)


def process_settings(title: str, batch: int, precision: str, settings: dict[str, tuple[bool, dict[str, str]]]) -> None:
    """Settings that only take effect at process start (allocator, OpenMP): fresh processes, taking turns."""
    results = {name: [] for name in settings}
    base = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "OMP_WAIT"))}
    for _ in range(2):
        for name, (tuned, env) in settings.items():
            out = subprocess.run([sys.executable, __file__, "--child", str(batch), precision, str(int(tuned))],
                                 capture_output=True, text=True, check=True, env=base | env)
            results[name].append([float(v) for v in out.stdout.split()])
    for name, runs in results.items():
        ex, fa = np.median(np.array(runs), axis=0) * 1e3
        print(f"  {title + ', ' + name:40} exact {ex:6.0f}  {precision} {fa:6.0f}", flush=True)


def candidates(precision: str) -> None:
    """Each speed idea on its own, paper256, ms per image (median, interleaved)."""
    print(f"\ncandidates (paper256, fast = {precision}; ms per image, medians of interleaved runs)")
    g = make_g("paper256")
    ws8, ws1 = latents(g, 8), latents(g, 1)

    def row(title: str, variants: dict[str, Callable[[], object]], per: int, reps: int = 3) -> None:
        t = interleaved(variants, reps)
        print(f"  {title:40} " + "  ".join(f"{k} {v / per * 1e3:6.0f}" for k, v in t.items()), flush=True)

    def render(p: str, ws: torch.Tensor) -> Callable[[], object]:
        return lambda: fast.render(g, ws, "const", p)

    def one_by_one(p: str) -> Callable[[], object]:
        return lambda: [fast.render(g, w[None], "const", p) for w in ws8]

    row("8 images: one batch vs 8 single", {"fast b8": render(precision, ws8), "fast 8x b1": one_by_one(precision),
                                              "exact b8": render("exact", ws8), "exact 8x b1": one_by_one("exact")}, 8)
    for n, ws in ((1, ws1), (8, ws8)):
        with torch.inference_mode():
            row(f"exact ops, b{n}: grouped vs non-fused", {
                f"{name}": lambda ws=ws, fused=fused: g.synthesis(ws, "const", force_fp32=True, fused_modconv=fused)
                for name, fused in (("grouped", True), ("non-fused", False))}, n, 5 if n == 1 else 3)
        row(f"fast dtype, b{n}", {p: render(p, ws) for p in ("fp32", "bf16")}, n, 5 if n == 1 else 3)

    def fast_b1(mode: Callable[[], object]) -> Callable[[], object]:
        def run():
            with mode():
                g.synthesis(ws1, noise_mode="const", fast_dtype=fast.DTYPES[precision])
        return run

    row("autograd mode, fast b1", {"inference_mode": fast_b1(torch.inference_mode),
                                   "no_grad": fast_b1(torch.no_grad), "grad on": fast_b1(torch.enable_grad)}, 1, 5)

    def cold_b1():
        fast._DERIVED.clear()
        fast.render(g, ws1, "const", precision)

    row("per-weight cache, fast b1", {"warm": render(precision, ws1), "cleared": cold_b1}, 1, 5)
    z = torch.randn([1, 512])
    affines = [m.affine for m in g.synthesis.modules() if hasattr(m, "affine")]
    with torch.inference_mode():
        row("mapping and styles vs render, b1", {
            "mapping": lambda: g.mapping(z, None), "all affines": lambda: [a(ws1[:, 0]) for a in affines],
            "fast render": render(precision, ws1)}, 1, 5)
    threads = torch.get_num_threads()

    def with_threads(n: int, fn: Callable[[], object]) -> Callable[[], object]:
        def run():
            torch.set_num_threads(n)
            fn()
        return run

    for n, ws in ((1, ws1), (8, ws8)):
        row(f"threads, fast b{n}", {f"{t} thread{'s' * (t > 1)}": with_threads(t, render(precision, ws))
                                    for t in (1, 2)}, n)
    torch.set_num_threads(threads)
    process_settings("allocator b8", 8, precision, {"glibc default": (False, {}), "tuned": (True, {})})
    for n in (1, 8):
        process_settings(f"OpenMP wait b{n}", n, precision, {"spin (default)": (True, {}),
                                                            "passive": (True, {"OMP_WAIT_POLICY": "PASSIVE"})})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", default=[*CONFIGS, *SG3_CONFIGS], choices=[*CONFIGS, *SG3_CONFIGS])
    parser.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16", "fp16"))
    parser.add_argument("--no-candidates", action="store_true")
    parser.add_argument("--png", default="/tmp/generator_fast_vs_exact.png", help="side-by-side of 256² images")
    parser.add_argument("--peak", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peak:
        return _peak_child(args.peak[0], int(args.peak[1]), args.peak[2])
    if args.child:
        return timing_child(int(args.child[0]), args.child[1], args.child[2] == "1")
    if args.threads:
        torch.set_num_threads(args.threads)
    fast.tune_allocator()
    precision = fast.choose_precision("cpu", args.precision)
    rates = conv_rates()
    print(f"load {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}; torch {torch.__version__}, "
          f"{torch.backends.cpu.get_cpu_capability()}, {torch.get_num_threads()} threads, OMP_WAIT_POLICY "
          f"{os.environ.get('OMP_WAIT_POLICY', 'unset')}; fast precision "
          f"{precision}; plain 3x3 conv (b8, 128 ch, 64², channels_last): fp32 {rates['fp32']:.0f} GFLOP/s, "
          f"bf16 {rates['bf16']:.0f} GFLOP/s")
    sg2 = [name for name in args.configs if name in CONFIGS]
    if sg2:
        main_table(sg2, precision, rates)
        print()
    for name in sg2:
        print(fidelity(name, precision, args.png if name == "paper256" else None), flush=True)
    for name in sg2:
        conv_floor(name, precision)
    sg3_table([name for name in args.configs if name in SG3_CONFIGS], precision)
    if not args.no_candidates:
        candidates(precision)
    print(f"load at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
