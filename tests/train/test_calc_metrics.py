"""`sgx metrics`: finished networks measured over several draws, on a 16x16 run with three snapshots."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from train.calc_metrics import Scorer, network_files
from train.cli import metrics_command
from train.files import read_jsonl
from train.loop import train

from .trainer_data import make_zip, tiny_options


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return make_zip(tmp_path_factory.mktemp("data") / "discs.zip")


@pytest.fixture(scope="module")
def run(data, tmp_path_factory) -> Path:
    """Snapshots after 4, 12 and 16 images, each with the trainer's SWD."""
    return train(tiny_options(data, tmp_path_factory.mktemp("runs"), metrics="swd"))


def snapshots(run: Path) -> list[Path]:
    """In training order: network-snapshot-000000, then -000000-0000000012 and -000000-0000000016."""
    return network_files([run])


def test_draw_zero_repeats_the_trainers_number_and_later_draws_are_fresh(data, run):
    recorded = {r["snapshot"]: r["results"] for r in read_jsonl(run / "metric-swd.jsonl")}
    scorer = Scorer(data, ["swd"], num=2048)
    assert scorer.metrics[0].num == 16  # capped at the dataset, as the trainer's --swd-images 16
    kimgs = []
    for path in snapshots(run):
        score = scorer(path, draws=3, device=torch.device("cpu"))
        kimgs.append(score.kimg)
        assert set(score.values) == {"swd16", "swdavg"} and all(len(v) == 3 for v in score.values.values())
        assert score.values["swdavg"][0] == pytest.approx(recorded[path.name]["swdavg"], rel=1e-5)
        assert len(set(score.values["swdavg"])) == 3  # fresh fakes and descriptors per draw
        assert score.sem("swdavg") > 0 and min(score.values["swdavg"]) < score.mean("swdavg")
    assert kimgs == pytest.approx([0.004, 0.012, 0.016])


def test_a_run_directory_is_its_snapshots_measured_on_its_own_dataset(run):
    result = CliRunner().invoke(metrics_command, [str(run), "--draws", "2"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("3 network(s), 2 draw(s) of 16 images against ")
    assert lines[1].split() == ["network", "kimg", "swdavg", "swd16"]  # the ranking key first
    rows = {line.split()[0]: line.split() for line in lines[2:5]}
    assert list(rows) == [p.name for p in snapshots(run)]  # in training order
    assert [float(rows[p.name][1]) for p in snapshots(run)] == [0.0, 0.0, 0.0]  # kimg to one decimal
    means = {name: float(row[2]) for name, row in rows.items()}  # swdavg: mean ± sem
    assert all(row[3] == row[6] == "±" for row in rows.values())
    best = min(means, key=means.get)
    assert lines[5].startswith(f"lowest swdavg: {best} ({row_swdavg(rows[best])}")
    assert len(lines) == 6


def row_swdavg(row: list[str]) -> str:
    return f"{row[2]} ± {row[4]}"


def test_one_draw_has_no_standard_error_and_a_file_stands_alone(run, data):
    path = snapshots(run)[-1]
    result = CliRunner().invoke(metrics_command, [str(path), "--draws", "1", "--data", str(data)])
    assert result.exit_code == 0, result.output
    row = result.output.splitlines()[2].split()
    assert row[0] == path.name and "±" not in row and len(row) == 4
    assert "lowest" not in result.output


def test_bad_input_is_one_line(run, data, tmp_path):
    moved = tmp_path / "moved.safetensors"
    shutil.copy(snapshots(run)[0], moved)
    other = make_zip(tmp_path / "big.zip", count=4, res=32)
    (tmp_path / "empty").mkdir()
    cases = [
        ([str(tmp_path / "nope.safetensors")], "nope.safetensors: no such file or directory"),
        ([str(tmp_path / "empty")], "no network-snapshot-*.safetensors in this directory"),
        ([str(moved), "--data", str(other)], "moved.safetensors makes 16x16x3 images, the dataset has 32x32x3"),
        ([str(moved), "--data", str(data), "--metrics", "fid"], "FID needs --fid-weights"),
        ([str(moved), "--data", str(tmp_path / "gone.zip")], "--data"),
        ([str(data), "--data", str(data)], "discs.zip"),  # a dataset is not a network
    ]
    for args, message in cases:
        result = CliRunner().invoke(metrics_command, args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output and len(result.output.splitlines()) == 1, (args, result.output)


def test_a_network_whose_dataset_is_gone_asks_for_data(tmp_path):
    data = make_zip(tmp_path / "gone.zip", count=4)
    run = train(tiny_options(data, tmp_path / "runs", kimg=0.004))
    data.unlink()
    result = CliRunner().invoke(metrics_command, [str(run)])
    assert result.exit_code == 2
    assert result.output.splitlines() == [f"Error: {snapshots(run)[0].name} does not name a dataset that is here: "
                                          "give --data"]
