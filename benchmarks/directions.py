"""Latent directions: SeFa on a 1024²-shaped generator, GANSpace on the demo model.

SeFa reads only the conv layers' affine weights, so the 1024² net (config F shape: z=w=512, mapping 8, channel_base
32768, channel_max 512) keeps its random initial weights. It runs 3 times: the first call pays for BLAS warm-up,
and on a busy machine OpenBLAS' threads make the 512² eigh slow and noisy (about 0.1 s on one idle thread). Its
time includes the model-id hash, which is also timed alone. GANSpace runs in a fresh subprocess per sample count,
so its peak RSS (ru_maxrss) is its own; "before" is the peak after importing torch and loading the model, "growth"
what sampling added. Equal growth for 10k and 100k samples shows the streaming keeps memory flat.

    python benchmarks/directions.py                        # ~1 min on 2 idle cores
    python benchmarks/directions.py --samples 10000
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from explorer.assets import DEMO_MODEL as DEMO  # noqa: E402
from model.directions import conv_layers, ganspace, sefa  # noqa: E402
from model.io import load  # noqa: E402
from model.io.identity import model_id  # noqa: E402
from model.networks import Generator  # noqa: E402


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def ganspace_run(samples: int) -> None:
    """In the child: load the demo model, sample, print one JSON line."""
    G = load(DEMO).G
    before = peak_mib()
    start = time.perf_counter()
    ganspace(G, samples)
    seconds = time.perf_counter() - start
    print(json.dumps(dict(seconds=seconds, before=before, peak=peak_mib(),
                          w_dim=G.w_dim, layers=G.mapping.num_layers)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        ganspace_run(args.child)
        return

    G = Generator(512, 0, 512, 1024, 3, mapping_kwargs=dict(num_layers=8),
                  synthesis_kwargs=dict(channel_base=32768, channel_max=512)).eval()
    start = time.perf_counter()
    model_id(G)
    hashing = time.perf_counter() - start
    times = []
    for _ in range(3):
        start = time.perf_counter()
        found = sefa(G)
        times.append(time.perf_counter() - start)
    rows = sum(conv.affine.weight.shape[0] for _, conv in conv_layers(G))
    params = sum(p.numel() for p in G.parameters())

    def row(method: str, network: str, work: str, seconds: str, peak: str = "", growth: str = "") -> None:
        print(f"{method:<10}{network:<24}{work:<38}{seconds:>24}{peak:>10}{growth:>9}")

    row("method", "network", "work", "time", "peak RSS", "growth")
    row("sefa", "1024² config F, random", f"A {rows} x 512 ({len(found.layers)} conv layers)",
        f"{times[0]:.2f} s, median {statistics.median(times):.2f} s")
    row("(hash)", "1024² config F, random", f"model id of {params:,} params", f"{hashing:.2f} s")
    for n in args.samples:
        out = subprocess.run([sys.executable, __file__, "--child", str(n)], capture_output=True, text=True,
                             check=True).stdout
        r = json.loads(out.splitlines()[-1])
        work = f"{n:,} w's (w_dim {r['w_dim']}, mapping {r['layers']})"
        row("ganspace", "emoji64 demo", work, f"{r['seconds']:.1f} s", f"{r['peak']:.0f} MiB",
            f"{r['peak'] - r['before']:.0f} MiB")


if __name__ == "__main__":
    main()
