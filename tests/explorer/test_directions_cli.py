"""`sgx directions` and `sgx edit` through click's CliRunner on tiny networks."""

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from explorer.cli import main
from explorer.images import read_png_metadata
from model.directions import edit_vectors, ganspace, load_directions, save_directions, sefa
from model.io import load, save_networks
from model.networks import Generator
from model.render import render_seed, render_spec
from model.spec import LatentSpec
from tests.model.conformance import G_KWARGS, fill_weights, make_g


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A network, another one with other weights, and SeFa / GANSpace files of the first."""
    folder = tmp_path_factory.mktemp("directions")
    other = Generator(c_dim=0, **G_KWARGS).eval()
    fill_weights(other, 99)
    save_networks(folder / "net.safetensors", {"G_ema": make_g()})
    save_networks(folder / "other.safetensors", {"G_ema": other})
    g = load(folder / "net.safetensors").G
    save_directions(folder / "sefa.npz", sefa(g, [1, 2, 3]))
    save_directions(folder / "pca.npz", ganspace(g, samples=200, num=6))
    save_directions(folder / "foreign.npz", sefa(other))
    return folder


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_directions_writes_what_the_model_functions_compute(files, tmp_path):
    net = files / "net.safetensors"
    g = load(net).G
    result = run("directions", "--network", net, "--method", "sefa", "--num", 5, "--layers", "0-2",
                 "--out", tmp_path / "s.npz")
    assert result.exit_code == 0, result.output
    found = load_directions(tmp_path / "s.npz")
    assert found.layers == (0, 1, 2) and np.array_equal(found.directions, sefa(g, [0, 1, 2], 5).directions)
    result = run("directions", "--network", net, "--method", "ganspace", "--samples", 300, "--seed", 4,
                 "--out", tmp_path / "sub" / "p.npz")
    assert result.exit_code == 0, result.output
    found = load_directions(tmp_path / "sub" / "p.npz")
    assert found.directions.shape == (g.w_dim, g.w_dim) and (found.samples, found.seed) == (300, 4)
    assert np.allclose(found.values, ganspace(g, samples=300, seed=4).values, rtol=1e-9)
    assert found.id(0) in result.output


def test_edit_writes_a_grid_whose_cells_render_again_from_their_metadata(files, tmp_path):
    net = files / "net.safetensors"
    result = run("edit", "--network", net, "--seeds", "1,2", "--directions", files / "pca.npz", "--component", 1,
                 "--strengths", "-2,0,2.5", "--trunc", 0.8, "--outdir", tmp_path, "--grid", "--precision", "exact")
    assert result.exit_code == 0, result.output
    g = load(net).G
    vectors = edit_vectors(load_directions(files / "pca.npz"))
    grid = np.asarray(Image.open(tmp_path / "grid.png"))
    assert grid.shape == (2 * 16, 3 * 16, 3)
    for row, seed in enumerate((1, 2)):
        for col, strength in enumerate(("-2", "+0", "+2.5")):
            path = tmp_path / f"seed{seed:04d}-c1-s{strength}.png"
            pixels = np.asarray(Image.open(path))
            assert np.array_equal(grid[row * 16:(row + 1) * 16, col * 16:(col + 1) * 16], pixels)
            meta = read_png_metadata(path)
            spec = LatentSpec.from_json(meta)
            assert (spec.seed, spec.psi, spec.edits[0].strength) == (seed, 0.8, float(strength))
            assert (spec.edits[0].first, spec.edits[0].last) == (0, g.num_ws - 1)  # ganspace: every w index
            assert np.array_equal(render_spec(g, spec, meta["precision"], vectors), pixels)
        assert np.array_equal(np.asarray(Image.open(tmp_path / f"seed{seed:04d}-c1-s+0.png")),
                              render_seed(g, seed, 0.8))
    assert not np.array_equal(grid[:16, :16], grid[:16, 16:32])


def test_edit_layers_default_to_the_sefa_files_and_can_be_chosen(files, tmp_path):
    net = files / "net.safetensors"
    common = ["edit", "--network", net, "--seeds", "3", "--directions", files / "sefa.npz", "--component", 0,
              "--strengths", "1", "--outdir"]
    assert run(*common, tmp_path / "a").exit_code == 0
    edit = LatentSpec.from_json(read_png_metadata(tmp_path / "a" / "seed0003-c0-s+1.png")).edits[0]
    assert (edit.first, edit.last) == (1, 3)
    assert run(*common, tmp_path / "b", "--layers", "4-5").exit_code == 0
    edit = LatentSpec.from_json(read_png_metadata(tmp_path / "b" / "seed0003-c0-s+1.png")).edits[0]
    assert (edit.first, edit.last) == (4, 5)


@pytest.mark.parametrize("args,message", [
    (["edit", "--directions", "foreign.npz"], "was made for model id"),
    (["edit", "--directions", "net.safetensors"], "bad directions file net.safetensors"),
    (["edit", "--directions", "sefa.npz", "--component", 99], "bad component: 99"),
    (["edit", "--directions", "sefa.npz", "--layers", "0-9"], "out of range"),
    (["edit", "--directions", "sefa.npz", "--layers", "0,2"], "contiguous"),
    (["edit", "--directions", "sefa.npz", "--strengths", "1,x"], "--strengths"),
    (["edit", "--directions", "sefa.npz", "--strengths", "nan"], "bad edit strength"),
    (["directions", "--method", "sefa", "--samples", 10], "--samples does not apply to --method sefa"),
    (["directions", "--method", "ganspace", "--layers", "0-2"], "--layers does not apply"),
    (["directions", "--method", "sefa", "--layers", "5"], "no conv layer"),
    (["directions", "--method", "sefa", "--num", 33], "at most 32 directions"),
    (["directions", "--method", "ganspace", "--num", 33], "at most 32 directions"),  # before sampling any w
])
def test_bad_input_exits_2_with_one_line(files, tmp_path, args, message):
    args = [files / a if a.endswith((".npz", ".safetensors")) else a for a in map(str, args)]
    if args[0] == "edit":
        args += ["--seeds", "1"] + (["--component", "0"] if "--component" not in args else [])
    else:
        args += ["--out", tmp_path / "x.npz"]
    result = run(args[0], "--network", files / "net.safetensors", *args[1:])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], result.output
    assert not (tmp_path / "x.npz").exists()
