"""Two CPU processes with gloo train like one process with the same global batch, and stay identical."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import torch

from train.loop import train
from train.state import read_state, state_files

from .trainer_data import make_zip, tiny_options

REPO = Path(__file__).resolve().parents[2]


def assert_same_training(one: Path, two: Path) -> None:
    """Same counters and ADA p; weights and Adam moments equal up to float summation order."""
    a, sa = read_state(state_files(one)[0])
    b, sb = read_state(state_files(two)[0])
    assert (sa["cur_nimg"], sa["batch_idx"]) == (sb["cur_nimg"], sb["batch_idx"]) == (32, 4)
    assert torch.equal(a["augment_p"], b["augment_p"]) and float(a["augment_p"]) > 0
    for key in a:
        if key.startswith(("net.", "G_opt", "D_opt", "pl_mean")):
            scale = float(a[key].float().abs().max()) + 1e-6
            assert torch.allclose(a[key].float(), b[key].float(), rtol=1e-4, atol=1e-5 * scale), key


def test_two_gloo_processes_match_one_process_with_two_rounds(tmp_path):
    data = make_zip(tmp_path / "discs.zip")
    # batch 8 = 2 ranks x 4, or 1 process x 2 rounds of 4: the same chunks, latents, noise and augmentations.
    # A fixed preset: auto derives gamma and the EMA from the process count, as NVlabs' train.py does.
    opts = tiny_options(data, tmp_path / "one", kimg=0.032, batch=8, batch_gpu=4, tick=1.0, snap=1000, target=0.0,
                        cfg="stylegan2")
    one = train(opts)
    two = train(replace(opts, outdir=str(tmp_path / "two"), gpus=2, batch_gpu=None))
    log = (two / "log.txt").read_text()
    assert "2 process(es)" in log and "ranks in sync: max |difference| 0" in log
    assert sorted(p.name for p in two.iterdir() if p.suffix == ".safetensors") == \
        sorted(p.name for p in one.iterdir() if p.suffix == ".safetensors")
    assert_same_training(one, two)


def test_torchrun_ranks_train_like_one_process(tmp_path):
    data = make_zip(tmp_path / "discs.zip")
    opts = tiny_options(data, tmp_path / "one", kimg=0.032, batch=8, batch_gpu=4, tick=1.0, snap=1000, target=0.0,
                        cfg="stylegan2")
    one = train(opts)
    script = tmp_path / "job.py"
    script.write_text("from train.loop import train\nfrom tests.train.trainer_data import tiny_options\n"
                      f"train(tiny_options({str(data)!r}, {str(tmp_path / 'torchrun')!r}, kimg=0.032, batch=8, "
                      "tick=1.0, snap=1000, target=0.0, cfg='stylegan2'))\n")
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                           str(script)], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (run,) = (tmp_path / "torchrun").iterdir()
    assert "ranks in sync: max |difference| 0" in (run / "log.txt").read_text()
    assert_same_training(one, run)


def test_every_rank_takes_rank_zeros_precision(tmp_path):
    """Where a timing probe picks bf16 for each process on its own, the ranks could answer differently."""
    data = make_zip(tmp_path / "discs.zip", count=8)
    script = tmp_path / "job.py"
    script.write_text(
        "import os, sys\n"
        "from model import fast\n"
        "from train import trainer\n"
        "from train.loop import train\n"
        "from tests.train.trainer_data import tiny_options\n"
        "fast._bf16_pays = lambda: os.environ['RANK'] == '1'  # rank 0 says fp32, rank 1 bf16\n"
        "init = trainer.Trainer.__init__\n"
        "def report(self, *args, **kwargs):\n"
        "    init(self, *args, **kwargs)\n"
        "    print(f\"rank {os.environ['RANK']}: {self.precision}\", file=sys.stderr)\n"
        "trainer.Trainer.__init__ = report\n"
        f"train(tiny_options({str(data)!r}, {str(tmp_path / 'runs')!r}, kimg=0.008, batch=8, precision=None))\n")
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                           str(script)], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    reports = sorted(line for line in proc.stderr.splitlines() if line.startswith("rank "))
    assert reports == ["rank 0: fp32", "rank 1: fp32"]
