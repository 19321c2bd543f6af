"""`sgx generate / mix / info / convert` through click's CliRunner on tiny networks."""

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from explorer.cli import main
from explorer.images import read_png_metadata
from model.fast import choose_precision
from model.io import load, save_networks
from model.render import render_seed
from tests.model.conformance import make_d, make_g


@pytest.fixture(scope="module")
def nets(tmp_path_factory):
    folder = tmp_path_factory.mktemp("nets")
    uncond, cond = folder / "uncond.safetensors", folder / "cond.safetensors"
    save_networks(uncond, {"G_ema": make_g(0)})
    save_networks(cond, {"G": make_g(3), "D": make_d(3), "G_ema": make_g(3)})
    return uncond, cond


def run(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result


def nvlabs_generate(g, seed, psi=1.0, class_idx=None):
    """What generate.py does on the CPU, written out independently of model/render.py."""
    z = torch.from_numpy(np.random.RandomState(seed).randn(1, g.z_dim))
    c = torch.zeros([1, g.c_dim])
    if class_idx is not None:
        c[0, class_idx] = 1
    with torch.no_grad():
        img = g(z, c, truncation_psi=psi, noise_mode="const", force_fp32=True)
    return (img.permute(0, 2, 3, 1) * 127.5 + 128).clamp(0, 255).to(torch.uint8)[0].numpy()


def test_generate_matches_nvlabs_procedure_and_metadata_reproduces(nets, tmp_path):
    _, cond = nets
    result = run("generate", "--network", cond, "--seeds", "0-2,7", "--trunc", 0.7, "--class", 1, "--outdir",
                 tmp_path, "--grid", "--precision", "exact")
    assert result.exit_code == 0, result.output
    g = load(cond).G
    for seed in (0, 1, 2, 7):
        pixels = np.asarray(Image.open(tmp_path / f"seed{seed:04d}.png"))
        assert np.array_equal(pixels, nvlabs_generate(g, seed, 0.7, 1))
        meta = read_png_metadata(tmp_path / f"seed{seed:04d}.png")
        assert meta["seed"] == seed and meta["model_id"] == load(cond).model_id and meta["precision"] == "exact"
        again = render_seed(g, meta["seed"], meta["psi"], meta["cutoff"], meta["class_idx"], meta["noise_mode"],
                            meta["precision"])
        assert np.array_equal(again, pixels)
    assert Image.open(tmp_path / "grid.png").size == (32, 32)  # 4 images in a 2 x 2 grid of 16 px


def test_generate_defaults_to_the_fast_path_and_records_it(nets, tmp_path):
    uncond, _ = nets
    assert run("generate", "--network", uncond, "--seeds", "3", "--outdir", tmp_path).exit_code == 0
    meta = read_png_metadata(tmp_path / "seed0003.png")
    assert meta["precision"] == choose_precision("cpu", "auto") != "exact"
    pixels = np.asarray(Image.open(tmp_path / "seed0003.png"))
    g = load(uncond).G
    assert np.array_equal(pixels, render_seed(g, 3, precision=meta["precision"]))
    assert np.abs(pixels.astype(int) - nvlabs_generate(g, 3)).max() <= 8  # a few levels off at most


@pytest.mark.parametrize("args,message", [
    (["--seeds", "0-2"], "class"),
    (["--seeds", "5-2", "--class", "0"], "range"),
    (["--seeds", "x", "--class", "0"], ""),
    (["--seeds", "1", "--class", "9"], "class"),
])
def test_generate_bad_input_exits_2_with_one_line(nets, tmp_path, args, message):
    _, cond = nets
    result = run("generate", "--network", cond, "--outdir", tmp_path, *args)
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.output
    assert message in lines[0].lower()


def test_generate_missing_and_garbage_files(tmp_path):
    assert run("generate", "--network", tmp_path / "no.pkl", "--seeds", "1").exit_code == 2
    bad = tmp_path / "bad.pkl"
    bad.write_bytes(b"\x80\x04garbage")
    result = run("generate", "--network", bad, "--seeds", "1")
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1


def test_generate_ignores_class_on_unconditional_net(nets, tmp_path):
    uncond, _ = nets
    result = run("generate", "--network", uncond, "--seeds", "3", "--class", "2", "--outdir", tmp_path,
                 "--precision", "exact")
    assert result.exit_code == 0 and "ignored" in result.output
    assert np.array_equal(np.asarray(Image.open(tmp_path / "seed0003.png")), nvlabs_generate(load(uncond).G, 3))


def test_mix_grid_layout_and_cells(nets, tmp_path):
    uncond, _ = nets
    result = run("mix", "--network", uncond, "--rows", "85,100", "--cols", "55,821,3", "--styles", "0-2",
                 "--trunc", 0.8, "--outdir", tmp_path, "--precision", "exact")
    assert result.exit_code == 0, result.output
    grid = np.asarray(Image.open(tmp_path / "grid.png"))
    assert grid.shape == (16 * 3, 16 * 4, 3)
    assert not grid[:16, :16].any()  # the top-left cell stays black
    cell = lambda name: np.asarray(Image.open(tmp_path / name))  # noqa: E731
    assert np.array_equal(grid[:16, 16:32], cell("55-55.png"))
    assert np.array_equal(grid[16:32, :16], cell("85-85.png"))
    assert np.array_equal(grid[32:48, 48:64], cell("100-3.png"))
    # The column seed supplies w indices 0-2, the row seed the rest.
    g = load(uncond).G
    with torch.no_grad():
        z = torch.from_numpy(np.stack([np.random.RandomState(s).randn(32) for s in (100, 3)])).float()
        ws = g.mapping(z, None)
        ws = g.mapping.w_avg + (ws - g.mapping.w_avg) * 0.8
        w = ws[0].clone()
        w[:3] = ws[1][:3]
        img = g.synthesis(w[None], noise_mode="const")
    expected = (img.permute(0, 2, 3, 1) * 127.5 + 128).clamp(0, 255).to(torch.uint8)[0].numpy()
    assert np.abs(cell("100-3.png").astype(int) - expected).max() <= 1  # batch composition may move 1 LSB


def test_mix_styles_out_of_range(nets, tmp_path):
    uncond, _ = nets
    result = run("mix", "--network", uncond, "--rows", "1", "--cols", "2", "--styles", "0-6", "--outdir", tmp_path)
    assert result.exit_code == 2 and "out of range" in result.output


def test_info_describes_the_network(nets):
    _, cond = nets
    result = run("info", cond)
    assert result.exit_code == 0, result.output
    assert "16 x 16, 3 channel(s)" in result.output
    assert "c_dim 3, num_ws 6" in result.output
    assert load(cond).model_id in result.output
    blocks = [line.split()[0] for line in result.output.splitlines() if line[:2] in ("b4", "b8", "b1")]
    assert blocks == ["b4", "b8", "b16"]


def test_convert_keeps_identity_and_chosen_networks(nets, tmp_path):
    _, cond = nets
    out = tmp_path / "g.safetensors"
    result = run("convert", cond, out, "--networks", "G_ema")
    assert result.exit_code == 0, result.output
    assert load(out).model_id == load(cond).model_id
    assert run("convert", cond, cond).exit_code == 2


def test_convert_nvlabs_pickle_then_generate_same_pixels(tmp_path):
    from tests.model.nvlabs_fixture import dump, sg2a_pickle

    g, d, g_ema = make_g(3), make_d(3), make_g(3)
    pkl = dump(sg2a_pickle(g, d, g_ema), tmp_path / "net.pkl", protocol=3)
    out = tmp_path / "net.safetensors"
    assert run("convert", pkl, out).exit_code == 0
    converted = load(out, which=("G", "D", "G_ema"))
    assert converted.model_id == load(pkl).model_id
    assert set(converted.networks) == {"G", "D", "G_ema"}
    for path, folder in ((pkl, tmp_path / "a"), (out, tmp_path / "b")):
        args = ("--seeds", "4", "--class", "2", "--outdir", folder, "--precision", "exact")
        assert run("generate", "--network", path, *args).exit_code == 0
    a, b = (np.asarray(Image.open(tmp_path / f / "seed0004.png")) for f in ("a", "b"))
    assert np.array_equal(a, b)
    assert np.array_equal(a, nvlabs_generate(g_ema, 4, class_idx=2))
