"""The training loop end to end on 16x16 runs: run directory, snapshots, exact resume, crash safety, Ctrl+C,
ADA, presets and transfer learning."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image
from safetensors import SafetensorError

from model.fast import choose_precision
from model.io import load
from model.io.atomic import TEMP_NAME
from model.render import render_seed
from train.cli import train_command
from train.config import ConfigError, TrainOptions, resolve
from train.dataset import ImageZipDataset
from train.files import read_jsonl
from train.loop import prepare, train
from train.state import read_state, state_files
from train.trainer import Trainer, resolve_precision

from ..model.nvlabs_fixture import dump, sg2a_pickle
from .trainer_data import make_zip, tiny_options

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return make_zip(tmp_path_factory.mktemp("data") / "discs.zip")


def run_dir_of(outdir: Path) -> Path:
    (run,) = [p for p in outdir.iterdir() if p.is_dir()]
    return run


def final_state(run: Path) -> tuple[dict, dict]:
    return read_state(state_files(run)[0])


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def short_run(data, tmp_path_factory) -> Path:
    """Three snapshots within the first kimg (after 4, 12 and 16 images), with SWD and ADA. Copy it to write."""
    return train(tiny_options(data, tmp_path_factory.mktemp("short"), metrics="swd", aug="ada"))


@pytest.fixture(scope="module")
def one_snapshot(data, tmp_path_factory) -> Path:
    """A run of one minibatch with one snapshot. Copy it to write."""
    return train(tiny_options(data, tmp_path_factory.mktemp("one"), kimg=0.004))


def copy_run(run: Path, outdir: Path) -> Path:
    outdir.mkdir()
    return Path(shutil.copytree(run, outdir / run.name))


# ---------------------------------------------------------------------------------------------------------
# Configuration


def test_presets_give_nvlabs_numbers():
    auto = resolve(TrainOptions(data="d", outdir="o"), 256, 3, 0, "d", 100)
    # auto at 256: batch max(min(1 * min(4096 // 256, 32), 64), 1) = 16, gamma 0.0002 * 256^2 / 16, ema 16 * 10/32.
    assert (auto.batch_size, auto.batch_gpu) == (16, 16)
    assert auto.loss_kwargs["r1_gamma"] == pytest.approx(0.8192)
    assert auto.ema_kimg == pytest.approx(5.0) and auto.ema_rampup == 0.05
    assert auto.G_kwargs["synthesis_kwargs"]["channel_base"] == 16384 and auto.G_kwargs["mapping_kwargs"] == {
        "num_layers": 2}
    assert auto.G_opt_kwargs == dict(lr=0.0025, betas=[0.0, 0.99], eps=1e-8)
    assert auto.D_kwargs["epilogue_kwargs"]["mbstd_group_size"] == 4
    paper = resolve(TrainOptions(data="d", outdir="o", cfg="paper256"), 256, 3, 0, "d", 100)
    assert (paper.batch_size, paper.batch_gpu, paper.ema_kimg, paper.ema_rampup) == (64, 8, 20, None)
    assert paper.loss_kwargs["r1_gamma"] == 1 and paper.D_kwargs["epilogue_kwargs"]["mbstd_group_size"] == 8
    cifar = resolve(TrainOptions(data="d", outdir="o", cfg="cifar"), 32, 3, 10, "d", 100)
    assert cifar.loss_kwargs["pl_weight"] == 0 and cifar.loss_kwargs["style_mixing_prob"] == 0
    assert cifar.D_kwargs["architecture"] == "orig" and cifar.total_kimg == 100000


def test_auto_takes_its_numbers_from_the_preset_batch_not_from_batch_override():
    # NVlabs' train.py: auto at 64 has mb 32, so gamma 0.0002 * 64^2 / 32 and ema 32 * 10/32; --batch changes
    # only the batch.
    cfg = resolve(TrainOptions(data="d", outdir="o", batch=16), 64, 3, 0, "d", 100)
    assert (cfg.batch_size, cfg.batch_gpu) == (16, 16)
    assert cfg.loss_kwargs["r1_gamma"] == pytest.approx(0.0256) and cfg.ema_kimg == pytest.approx(10.0)
    assert cfg.D_kwargs["epilogue_kwargs"]["mbstd_group_size"] == 4


def test_auto_precision_is_bf16_on_the_cpu_only_where_the_probe_says_it_pays():
    assert resolve_precision("auto", torch.device("cpu")) == {"bf16": "bf16"}.get(choose_precision("cpu"), "fp32")
    assert resolve_precision("exact", torch.device("cpu")) == "exact"


def test_resume_keeps_the_recorded_precision_and_splits_the_batch_over_new_processes(data, tmp_path):
    train(tiny_options(data, tmp_path, kimg=0.004, precision="exact"))
    plan = prepare(replace(tiny_options(data, tmp_path, resume="auto"), precision=None, gpus=2))
    assert plan.cfg.precision == "exact" and (plan.cfg.num_gpus, plan.cfg.batch_gpu, plan.cfg.batch_size) == (2, 2, 4)
    with pytest.raises(ConfigError, match="does not split"):
        prepare(replace(tiny_options(data, tmp_path, resume="auto"), gpus=3))


def test_ada_kimg_and_gamma_are_set_for_a_new_run_and_changed_for_a_resumed_one(data, tmp_path):
    assert resolve(TrainOptions(data="d", outdir="o", cbase=128, cmax=16), 16, 3, 0, "d", 16).ada_kimg == 500
    run = train(tiny_options(data, tmp_path, kimg=0.004, ada_kimg=250, gamma=0.5))

    def recorded():
        options = json.loads((run / "training_options.json").read_text())
        return options["ada_kimg"], options["loss_kwargs"]["r1_gamma"]

    assert recorded() == (250, 0.5)
    cfg = prepare(tiny_options(data, tmp_path, resume="auto")).cfg
    assert (cfg.ada_kimg, cfg.loss_kwargs["r1_gamma"]) == (250, 0.5)
    prepare(tiny_options(data, tmp_path, resume="auto", ada_kimg=100, gamma=2.0))
    # The change is recorded, so the next `--resume auto` keeps it.
    assert recorded() == (100, 2.0)
    cfg = prepare(tiny_options(data, tmp_path, resume="auto")).cfg
    assert (cfg.ada_kimg, cfg.loss_kwargs["r1_gamma"]) == (100, 2.0)
    with pytest.raises(ConfigError, match="ada-kimg"):
        resolve(TrainOptions(data="d", outdir="o", ada_kimg=0), 16, 3, 0, "d", 16)


def test_learning_rates_change_for_a_resumed_run_and_stay_changed(data, tmp_path):
    run = train(tiny_options(data, tmp_path, kimg=0.004))

    def lrs() -> tuple[float, float]:  # what the last state's optimisers stepped with (lazy-regularisation scaled)
        scalars = final_state(run)[1]
        return scalars["G_opt"]["param_groups"][0]["lr"], scalars["D_opt"]["param_groups"][0]["lr"]

    assert lrs() == pytest.approx((0.0025 * 4 / 5, 0.0025 * 16 / 17))
    train(tiny_options(data, tmp_path, kimg=0.008, resume="auto", glr=0.001, dlr=0.002))
    assert lrs() == pytest.approx((0.001 * 4 / 5, 0.002 * 16 / 17))  # not the saved optimisers' old rate
    train(tiny_options(data, tmp_path, kimg=0.012, resume="auto"))  # recorded, so a plain resume keeps them
    assert lrs() == pytest.approx((0.001 * 4 / 5, 0.002 * 16 / 17))


def test_snap_and_tick_default_for_a_new_run_and_change_a_resumed_one_only_when_given(data, tmp_path):
    cfg = resolve(TrainOptions(data="d", outdir="o", cbase=128, cmax=16), 16, 3, 0, "d", 16)
    assert (cfg.snapshot_ticks, cfg.kimg_per_tick) == (50, 4.0)
    train(tiny_options(data, tmp_path, kimg=0.004, snap=3, tick=0.004))
    cfg = prepare(tiny_options(data, tmp_path, resume="auto", snap=None, tick=None)).cfg
    assert (cfg.snapshot_ticks, cfg.kimg_per_tick) == (3, 0.004)
    prepare(tiny_options(data, tmp_path, resume="auto", snap=7, tick=0.5))
    cfg = prepare(tiny_options(data, tmp_path, resume="auto", snap=None, tick=None)).cfg
    assert (cfg.snapshot_ticks, cfg.kimg_per_tick) == (7, 0.5)


def test_lazy_regularisation_corrects_adam():
    cfg = resolve(TrainOptions(data="d", outdir="o", batch=4, cbase=128, cmax=16, map=1), 16, 3, 0, "d", 16)
    trainer = Trainer(cfg, np.zeros([16, 0], np.float32), torch.device("cpu"))
    g_opt, d_opt = trainer.phases[0].opt, trainer.phases[2].opt
    assert [(p.name, p.interval) for p in trainer.phases] == [("Gmain", 1), ("Greg", 4), ("Dmain", 1), ("Dreg", 16)]
    assert g_opt.param_groups[0]["lr"] == pytest.approx(0.0025 * 4 / 5)
    assert g_opt.param_groups[0]["betas"][1] == pytest.approx(0.99 ** (4 / 5))
    assert d_opt.param_groups[0]["lr"] == pytest.approx(0.0025 * 16 / 17)
    assert d_opt.param_groups[0]["betas"] == pytest.approx((0.0, 0.99 ** (16 / 17)))


# ---------------------------------------------------------------------------------------------------------
# A run and its files


def test_run_writes_every_file_and_the_snapshot_renders(short_run):
    run = short_run
    assert run.name.startswith("00000-discs-auto1")
    for name in ("training_options.json", "log.txt", "stats.jsonl", "reals.png", "fakes_init.png",
                 "fakes000000-0000000016.png", "network-snapshot-000000-0000000016.safetensors", "metric-swd.jsonl"):
        assert (run / name).is_file(), name
    assert not list(run.glob(".*.tmp"))
    options = json.loads((run / "training_options.json").read_text())
    assert options["batch_size"] == 4 and options["G_kwargs"]["img_resolution"] == 16
    stats = read_jsonl(run / "stats.jsonl")
    assert len(stats) == 3  # tick 0 is the first minibatch, then one per 8 images
    for name in ("Loss/G/loss", "Loss/D/loss", "Loss/r1_penalty", "Loss/pl_penalty", "Loss/signs/real",
                 "Progress/augment", "Progress/kimg", "Timing/sec_per_kimg", "Timing/Gmain", "Timing/Dreg"):
        assert name in stats[0], name
    assert [s["Progress/kimg"]["mean"] for s in stats] == pytest.approx([0.004, 0.012, 0.016])
    swd = read_jsonl(run / "metric-swd.jsonl")
    assert len(swd) == 3 and all(np.isfinite(r["results"]["swd16"]) for r in swd)

    model = load(run / "network-snapshot-000000-0000000016.safetensors", which=("G", "D", "G_ema"))
    assert model.metadata["nimg"] == 16 and model.metadata["cfg"] == "auto"
    img = render_seed(model.G, 0, noise_mode="const")
    assert img.shape == (16, 16, 3) and img.std() > 0
    with Image.open(run / "fakes000000-0000000016.png") as png:
        meta = json.loads(png.text["stylegan-explorer"])
        assert png.size == (16 * meta["grid_w"], 16 * meta["grid_h"])
        cell = np.asarray(png.convert("RGB"))[:16, :16]
    assert meta["seeds"] == f"0-{meta['grid_w'] * meta['grid_h'] - 1}" and meta["noise_mode"] == "const"
    # The grid's first cell is seed 0 as `sgx generate` renders it (fast ops: equal up to rounding).
    assert np.abs(cell.astype(int) - img.astype(int)).max() <= 2


def test_snapshots_within_one_kimg_get_distinct_names_and_none_is_overwritten(data, short_run, tmp_path):
    names = ["network-snapshot-000000.safetensors", "network-snapshot-000000-0000000012.safetensors",
             "network-snapshot-000000-0000000016.safetensors"]
    assert sorted(p.name for p in short_run.glob("network-snapshot-*")) == sorted(names)
    assert [load(short_run / name).metadata["nimg"] for name in names] == [4, 12, 16]
    fakes = [name.replace("network-snapshot-", "fakes").replace(".safetensors", ".png") for name in names]
    assert sorted(p.name for p in short_run.glob("fakes0*.png")) == sorted(fakes)
    assert [r["snapshot"] for r in read_jsonl(short_run / "metric-swd.jsonl")] == names
    # A resume that redoes a snapshot (its state was lost) writes it beside the existing one.
    run = copy_run(short_run, tmp_path / "runs")
    before = {p.name: digest(p) for p in run.iterdir() if p.name.startswith(("network-snapshot-", "fakes"))}
    state_files(run)[0].unlink()
    train(tiny_options(data, tmp_path / "runs", resume="auto"))
    assert {name: digest(run / name) for name in before} == before
    assert load(run / "network-snapshot-000000-0000000016-2.safetensors").metadata["nimg"] == 16
    assert (run / "fakes000000-0000000016-2.png").is_file()
    assert read_jsonl(run / "metric-swd.jsonl")[-1]["snapshot"] == "network-snapshot-000000-0000000016-2.safetensors"


def test_conditional_run_uses_the_labels(tmp_path):
    data = make_zip(tmp_path / "classes.zip", num_classes=3)
    run = train(tiny_options(data, tmp_path / "runs", kimg=0.004, cond=True, mirror=True))
    model = load(run / "network-snapshot-000000.safetensors", which=("G", "D", "G_ema"))
    assert model.G.c_dim == 3 and model.networks["D"].c_dim == 3
    assert render_seed(model.G, 0, class_idx=2, noise_mode="const").shape == (16, 16, 3)
    with Image.open(run / "reals.png") as png:
        labels = json.loads(png.text["stylegan-explorer"])["labels"]
    rows = np.array(labels).reshape(16, 16, 3).argmax(axis=2)
    assert (rows == rows[:, :1]).all() and set(rows[:3, 0]) == {0, 1, 2}  # one class per grid row


def test_resume_continues_exactly(data, tmp_path):
    # 5 minibatches of 4, split after 3: the resumed part has an ADA update (batch 4) and path length (batch 4).
    opts = tiny_options(data, tmp_path / "whole", kimg=0.020, aug="ada", target=0.0, tick=1.0, snap=1000)
    whole = train(opts)
    train(replace(opts, outdir=str(tmp_path / "split"), kimg=0.012))
    split = train(replace(opts, outdir=str(tmp_path / "split"), resume="auto"))
    assert [line.endswith("; precision fp32") for line in (split / "log.txt").read_text().splitlines()
            if line.startswith("resuming")] == [True]
    a, sa = final_state(whole)
    b, sb = final_state(split)
    assert sa["cur_nimg"] == sb["cur_nimg"] == 20 and sa["batch_idx"] == sb["batch_idx"] == 5
    assert a.keys() == b.keys()
    for key in a:
        assert torch.allclose(a[key].float(), b[key].float(), rtol=0, atol=1e-6), key
    assert float(a["augment_p"]) > 0  # ADA moved p (target 0), and identically in both runs


CHILD = textwrap.dedent("""
    import os, signal, sys
    from safetensors.torch import save_file
    import model.io.native
    import train.state as state
    from train.loop import train
    from tests.train.trainer_data import tiny_options
    calls = []
    def dying_save_file(tensors, filename, metadata=None):
        calls.append(filename)
        if len(calls) == 2:  # the second snapshot: start writing, then die
            with open(filename, "wb") as f:
                f.write(b"torn")
            os.kill(os.getpid(), signal.SIGKILL)
        save_file(tensors, filename, metadata=metadata)
    module = state if sys.argv[1] == "state" else model.io.native
    module.save_file = dying_save_file
    train(tiny_options(sys.argv[2], sys.argv[3]))
""")


@pytest.mark.parametrize("target", ["state", "network"])
def test_sigkill_while_writing_a_snapshot_leaves_no_corrupt_file_and_resumes(data, tmp_path, target):
    proc = subprocess.run([sys.executable, "-c", CHILD, target, str(data), str(tmp_path)], cwd=REPO,
                          env=dict(os.environ, PYTHONPATH=str(REPO)), capture_output=True, text=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    run = run_dir_of(tmp_path)
    assert list(run.glob(".*.tmp"))  # the torn write is a temp file, never a final name
    for path in run.glob("network-snapshot-*.safetensors"):
        load(path, which=("G", "D", "G_ema"))
    states = state_files(run)
    assert [read_state(p)[1]["cur_nimg"] for p in states] == [4]
    resumed = train(tiny_options(data, tmp_path, resume="auto"))
    assert resumed == run and not list(run.glob(".*.tmp"))
    _, scalars = final_state(run)
    assert scalars["cur_nimg"] == 16
    kimgs = [s["Progress/kimg"]["mean"] for s in read_jsonl(run / "stats.jsonl")]
    assert kimgs == sorted(kimgs) and len(kimgs) == len(set(np.round(kimgs, 6)))


def test_ctrl_c_writes_a_final_snapshot_and_exits_cleanly(data, tmp_path):
    child = ("from train.loop import train\nfrom tests.train.trainer_data import tiny_options\n"
             f"train(tiny_options({str(data)!r}, {str(tmp_path)!r}, kimg=100, snap=1000))")
    proc = subprocess.Popen([sys.executable, "-c", child], cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in proc.stdout:
        if line.startswith("tick 1 "):
            proc.send_signal(signal.SIGINT)
            break
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "writing a final snapshot" in err and "stopped by request" in out
    run = run_dir_of(tmp_path)
    _, scalars = final_state(run)
    assert 12 <= scalars["cur_nimg"] < 100_000
    assert (run / "network-snapshot-000000.safetensors").is_file()


def test_a_tick_that_spans_a_stop_does_not_count_the_stop(data, tmp_path):
    """Ctrl+Z or kill -STOP, then continue: sec/tick, sec/kimg, the ETA and the total leave the pause out."""
    pause = 4.0
    child = ("from train.loop import train\nfrom tests.train.trainer_data import tiny_options\n"
             f"train(tiny_options({str(data)!r}, {str(tmp_path)!r}, kimg=100, snap=1000, tick=0.004))")
    proc = subprocess.Popen([sys.executable, "-c", child], cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ticks = 0
    for line in proc.stdout:
        ticks += line.startswith("tick ")
        if ticks == 2 and line.startswith("tick "):
            proc.send_signal(signal.SIGSTOP)
            time.sleep(pause)  # the pause being measured, not a wait for the child
            proc.send_signal(signal.SIGCONT)
        if ticks == 4:
            proc.send_signal(signal.SIGINT)
            break
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    stats = read_jsonl(run_dir_of(tmp_path) / "stats.jsonl")
    assert len(stats) >= 4
    spent = [s["Timing/sec_per_tick"]["mean"] + s["Timing/maintenance_sec"]["mean"] for s in stats]
    assert max(spent) < pause, spent
    assert stats[-1]["Timing/total_sec"]["mean"] < pause


def test_ada_raises_p_when_d_overfits_a_tiny_dataset(tmp_path):
    # Four images, G nearly frozen: D soon tells every real from every fake, E[sign(D(real))] passes the 0.6
    # target and ADA raises p by batch * 4 / (ada_kimg * 1000) = 0.064 per update.
    opts = TrainOptions(data="d", outdir="o", batch=8, cbase=128, cmax=32, map=1, glr=1e-6)
    cfg = resolve(opts, 16, 3, 0, "d", 4)
    cfg.ada_kimg = 0.5
    trainer = Trainer(cfg, np.zeros([4, 0], np.float32), torch.device("cpu"))
    four = torch.from_numpy(ImageZipDataset(make_zip(tmp_path / "four.zip", count=4)).images)
    ps, signs = [], []
    for _ in range(40):
        trainer.step(torch.cat([four, four]), torch.zeros([8, 0]))
        ps.append(trainer.augment_p)
        signs.append(trainer.stats.finish()["Loss/signs/real"]["mean"])
    assert np.mean(signs[-12:]) > 0.6  # D overfits
    assert ps[-1] >= 0.19 and ps[-16:] == sorted(ps[-16:])  # and p keeps rising
    assert all(round(p / 0.064, 6).is_integer() for p in ps)  # in steps of exactly one ADA adjustment


# ---------------------------------------------------------------------------------------------------------
# Starting from a network file; CLI errors


@pytest.mark.parametrize("kind", ["safetensors", "nvlabs-pickle"])
def test_starting_from_a_network_file_copies_its_weights(data, tmp_path, kind):
    source = train(tiny_options(data, tmp_path / "a", kimg=0.004))
    start = source / "network-snapshot-000000.safetensors"
    model = load(start, which=("G", "D", "G_ema"))
    if kind == "nvlabs-pickle":
        start = dump(sg2a_pickle(**model.networks), tmp_path / "network-snapshot-000000.pkl")
    plan = prepare(TrainOptions(data=str(data), outdir=str(tmp_path / "b"), batch=4, resume=str(start),
                                metrics="none"))
    cfg = plan.cfg
    assert cfg.ada_kimg == 100 and cfg.ema_rampup is None and cfg.resume_pkl == str(start)
    assert cfg.G_kwargs["synthesis_kwargs"]["channel_base"] == 128  # the file's architecture, not auto's
    trainer = Trainer(cfg, np.zeros([16, 0], np.float32), torch.device("cpu"))
    total = sum(len(n.state_dict()) for n in model.networks.values())
    assert trainer.copy_matching(load(start, which=("G", "D", "G_ema")).networks) == total
    for name, net in trainer.networks().items():
        for key, t in net.state_dict().items():
            assert torch.equal(t, model.networks[name].state_dict()[key]), (name, key)


@pytest.mark.parametrize("args, message", [
    (["--batch", "6"], "multiple of the minibatch-std group"),
    (["--precision", "fp16", "--device", "cpu"], "needs a CUDA device"),
    (["--aug", "ada", "--p", "0.3"], "--p can only be given with --aug fixed"),
    (["--cond"], "requires a dataset with labels"),
])
def test_bad_options_are_one_line_errors(data, tmp_path, args, message):
    result = CliRunner().invoke(train_command, ["--data", str(data), "--outdir", str(tmp_path), *args])
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output
    assert not any(tmp_path.iterdir())  # nothing was created


def test_resume_auto_with_no_run_to_resume_says_so_in_one_line(tmp_path):
    result = CliRunner().invoke(train_command, ["--outdir", str(tmp_path / "runs"), "--resume", "auto"])
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit)
    assert result.output.splitlines() == [f"Error: --resume auto: no run to resume in {tmp_path / 'runs'} "
                                          "(give --data to start a new one)"]


def torn_then(error: Exception):
    """save_file(tensors, path, ...) or Image.save(image, path, ...) that writes part of the file, then fails."""
    def write(*args, **kwargs):
        Path(args[1]).write_bytes(b"torn")
        raise error
    return write


ENOSPC = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
SAFETENSORS_ENOSPC = SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")


@pytest.mark.parametrize("writer, target, failing", [
    ("model.io.native.save_file", SAFETENSORS_ENOSPC, "network-snapshot-000000-0000000008.safetensors"),
    ("train.state.save_file", SAFETENSORS_ENOSPC, "training-state-0000000008.safetensors"),
    ("PIL.Image.Image.save", ENOSPC, "fakes000000-0000000008.png"),
    ("os.write", ENOSPC, "stats.jsonl"),
], ids=["network", "state", "fakes", "stats"])
def test_a_full_disk_is_one_line_and_keeps_the_previous_files(data, one_snapshot, tmp_path, monkeypatch, writer,
                                                             target, failing):
    run = copy_run(one_snapshot, tmp_path / "runs")
    before = {p.name: digest(p) for p in run.iterdir() if p.is_file()}
    if writer == "os.write":
        real_write = os.write

        def full_for_stats(fd, data):  # every other os.write goes through
            if b"Progress/kimg" in data:
                raise target
            return real_write(fd, data)

        monkeypatch.setattr(os, "write", full_for_stats)
    else:
        monkeypatch.setattr(writer, torn_then(target))

    result = CliRunner().invoke(train_command, ["--outdir", str(tmp_path / "runs"), "--resume", "auto",
                                                "--kimg", "0.008"])

    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert result.stderr.splitlines() == [f"Error: cannot write {run / failing}: No space left on device"]
    assert not [p for p in run.iterdir() if TEMP_NAME.fullmatch(p.name)]
    if failing != "stats.jsonl":
        assert not (run / failing).exists()
    for name, value in before.items():
        if name not in ("log.txt", "training_options.json", "stats.jsonl"):  # appended to, rewritten on resume
            assert digest(run / name) == value, name
    assert read_state(state_files(run)[0])[1]["cur_nimg"] == 4  # still resumable from the previous state


def test_temp_files_of_ours_left_by_a_killed_run_are_removed_on_the_next_run(data, one_snapshot, tmp_path):
    run = copy_run(one_snapshot, tmp_path / "runs")
    now = time.time()
    planted = {}
    for folder in (run, tmp_path / "runs"):
        planted[folder / ".network-snapshot-000000.safetensors.k3j4h5g6.tmp"] = now - 3600, False  # stale, ours
        planted[folder / ".log.txt.a1b2c3d4.tmp"] = now + 3600, True  # a concurrent writer's, newer than the run
        planted[folder / ".notes.tmp"] = now - 3600, True  # not of our naming
    for path, (when, _) in planted.items():
        path.write_bytes(b"x")
        os.utime(path, (when, when))

    train(tiny_options(data, tmp_path / "runs", resume="auto", kimg=0.008))  # cleans the run directory
    prepare(tiny_options(data, tmp_path / "runs"))  # a new run cleans the folder it is created in

    assert {path: path.exists() for path in planted} == {path: kept for path, (_, kept) in planted.items()}
