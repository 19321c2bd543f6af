"""`sgx video` with direction edits: a sweep along one component, and pins whose edits name directions."""

import imageio.v3 as iio
import numpy as np
import pytest
import torch
from click.testing import CliRunner

import explorer.export
from explorer.cli import main
from explorer.pins import save_pins
from explorer.state import Pin
from model.directions import edit_vectors, save_directions, sefa
from model.io import load, save_networks
from model.render import spec_ws
from model.spec import Edit, LatentSpec
from tests.model.conformance import make_g


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    folder = tmp_path_factory.mktemp("net")
    path = folder / "g.safetensors"
    save_networks(path, {"G_ema": make_g()})
    directions = sefa(load(path).G)
    save_directions(folder / "sefa.npz", directions)
    return path, folder / "sefa.npz", directions


@pytest.fixture
def exported(monkeypatch):
    """The keyframes and vectors the command hands to the exporter (the rendering is tested elsewhere)."""
    seen = {}
    real = explorer.export.Exporter

    def record(G, settings, batch=4, directions=None):
        seen.update(G=G, keys=list(settings.keyframes), loop=settings.loop, directions=directions)
        return real(G, settings, batch, directions)

    monkeypatch.setattr(explorer.export, "Exporter", record)
    return seen


def run(*args):
    return CliRunner().invoke(main, ["video", *[str(a) for a in args]])


def test_a_sweep_moves_one_seed_from_a_to_b_and_back(net, tmp_path, exported):
    path, dirs, directions = net
    out = tmp_path / "sweep.mp4"
    result = run("--network", path, "--seeds", 3, "--trunc", 0.7, "--direction", f"{dirs}:1", "--strengths", "-2:2.5",
                 "--layers", "1-3", "--frames", 3, "--interp", "lerp", "--out", out, "--precision", "exact")
    assert result.exit_code == 0, result.output
    edit = lambda s: (Edit(directions.id(1), s, 1, 3),)  # noqa: E731
    assert exported["keys"] == [LatentSpec(3, 0.7, edits=edit(-2.0)), LatentSpec(3, 0.7, edits=edit(2.5))]
    assert exported["loop"] and len(iio.imread(out)) == 6
    ws = [spec_ws(exported["G"], key, directions=exported["directions"]) for key in exported["keys"]]
    plain = spec_ws(exported["G"], LatentSpec(3, 0.7))
    assert torch.equal(ws[0][:, [0, 4, 5]], plain[:, [0, 4, 5]])  # only w indices 1-3 move
    vector = torch.from_numpy(edit_vectors(directions)[directions.id(1)])
    torch.testing.assert_close(ws[1][0, 2] - ws[0][0, 2], 4.5 * vector)


def test_pins_with_edits_find_their_directions_again(net, tmp_path, monkeypatch, exported):
    path, _, directions = net
    monkeypatch.setenv("SGX_DATA_DIR", str(tmp_path / "data"))
    model_id = load(path).model_id
    edited = LatentSpec(5, edits=(Edit(directions.id(0), 1.5, 0, 5),))
    save_pins(model_id, [Pin("a", LatentSpec(1)), Pin("b", edited)])
    result = run("--network", path, "--pins", "--frames", 2, "--out", tmp_path / "v.gif")
    assert result.exit_code == 0, result.output
    assert exported["keys"][1] == edited and directions.id(0) in exported["directions"]
    assert np.array_equal(exported["directions"][directions.id(0)], edit_vectors(directions)[directions.id(0)])
    save_pins(model_id, [Pin("a", LatentSpec(1)), Pin("c", LatentSpec(5, edits=(Edit("ganspace-0:0", 1, 0, 5),)))])
    result = run("--network", path, "--pins", "--frames", 2, "--out", tmp_path / "w.gif")
    assert result.exit_code == 2 and "unknown direction 'ganspace-0:0'" in result.output
    assert len(result.output.strip().splitlines()) == 1


@pytest.mark.parametrize("args,message", [
    (["--seeds", "1", "--direction", "nofile.npz:0"], "no such file"),
    (["--seeds", "1", "--direction", "{dirs}"], "use FILE:K"),
    (["--seeds", "1", "--direction", "{dirs}:0", "--strengths", "3"], "use A:B"),
    (["--seeds", "1,2", "--direction", "{dirs}:0"], "sweeps one image"),
    (["--pins", "--direction", "{dirs}:0"], "sweeps one image"),
    (["--seeds", "1", "--direction", "{dirs}:999"], "bad component"),
])
def test_bad_sweeps_are_one_line(net, tmp_path, args, message):
    path, dirs, _ = net
    result = run("--network", path, "--out", tmp_path / "v.mp4", *[a.replace("{dirs}", str(dirs)) for a in args])
    assert result.exit_code == 2 and message in result.output and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "v.mp4").exists()
