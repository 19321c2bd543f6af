"""Peak memory (max RSS, MB) of `sgx video` by keyframe count: a long video should cost no more than a short one.

Each export runs in its own process (os.wait4 gives that process's peak), through seeds 0..K-1 at 2 frames per
transition on the bundled demo network, to a temp folder. The last column is the growth from the fewest to the
most keyframes, measured in this run.
Usage (from the repo root): python -m benchmarks.video_memory [--keys 10,100,1000] [--interp cubic,lerp,slerp]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from explorer.assets import DEMO_MODEL as NETWORK


def peak_mb(keys: int, interp: str, folder: str) -> tuple[float, float]:
    """(max RSS in MB, seconds) of one `sgx video` process."""
    cmd = [sys.executable, "-c", "from explorer.cli import main; main(prog_name='sgx')", "video", "--network",
           str(NETWORK), "--seeds", f"0-{keys - 1}", "--frames", "2", "--interp", interp, "--out",
           str(Path(folder) / f"{interp}-{keys}.mp4")]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.exit(f"sgx video failed: {proc.stderr.read().decode(errors='replace').strip().splitlines()[-1]}")
    return usage.ru_maxrss / 1024, time.perf_counter() - start  # ru_maxrss is in KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", default="10,100,1000", help="keyframe counts, ascending")
    parser.add_argument("--interp", default="cubic,lerp,slerp")
    args = parser.parse_args()
    counts = [int(k) for k in args.keys.split(",")]
    print(f"sgx video, {NETWORK.name}, 2 frames per transition: max RSS in MB (seconds)")
    print(f"{'interp':8} " + " ".join(f"{f'{k} keys':>15}" for k in counts) + f" {'growth':>8}")
    with tempfile.TemporaryDirectory() as folder:
        for interp in args.interp.split(","):
            runs = [peak_mb(k, interp, folder) for k in counts]
            cells = " ".join(f"{f'{mb:.0f} ({s:.0f} s)':>15}" for mb, s in runs)
            print(f"{interp:8} {cells} {runs[-1][0] / runs[0][0] - 1:+8.1%}", flush=True)


if __name__ == "__main__":
    main()
