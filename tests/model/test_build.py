"""Building networks on the meta device (every loader does) stays cheap: no sympy, no torch._dynamo."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import sys
from model.io.build import build_on_meta
from model.networks import Discriminator, Generator
from model.networks_sg3 import Generator as SG3Generator
kw = dict(z_dim=16, c_dim=0, w_dim=16, img_resolution=32, img_channels=3)
nets = [build_on_meta("G", Generator, kw), build_on_meta("D", Discriminator, dict(c_dim=0, img_resolution=32,
        img_channels=3)), build_on_meta("G", SG3Generator, kw)]
assert all(p.is_meta for net in nets for p in net.parameters())
print(" ".join(m for m in ("sympy", "torch._dynamo") if m in sys.modules))
"""


def test_meta_build_imports_no_compiler_stack():
    """torch's Python meta kernels import sympy and torch._dynamo on first use: 1-2 s of a model load."""
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == ""
