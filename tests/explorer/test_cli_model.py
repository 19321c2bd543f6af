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
from model.render import render_seed, render_spec
from model.spec import LatentSpec, Mix
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
    (["--seeds", "1", "--class", "0", "--trunc", "nan"], "bad psi"),
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
    # Each cell's metadata is its latent spec, and renders the same pixels again.
    spec = LatentSpec.from_json(read_png_metadata(tmp_path / "100-3.png"))
    assert spec == LatentSpec(100, 0.8, mix=Mix(3, 0, 2))
    assert np.array_equal(render_spec(g, spec, "exact"), cell("100-3.png"))


@pytest.mark.parametrize("styles,message", [("0-6", "out of range"), ("0,2", "one run of w indices")])
def test_mix_styles_out_of_range_or_not_one_run(nets, tmp_path, styles, message):
    uncond, _ = nets
    result = run("mix", "--network", uncond, "--rows", "1", "--cols", "2", "--styles", styles, "--outdir", tmp_path)
    assert result.exit_code == 2 and message in result.output


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


@pytest.mark.parametrize("command", [("generate", "--seeds"), ("mix", "--cols", "1", "--rows")])
def test_a_seed_out_of_range_fails_before_any_work(nets, tmp_path, command):
    uncond, _ = nets
    out = tmp_path / "out"
    result = run(*command[:1], "--network", uncond, "--outdir", out, *command[1:], "3,99999999999")
    assert result.exit_code == 2 and result.output.strip() == "Error: bad seed: 99999999999 is not an integer in " \
                                                             "0..4294967295"
    assert not out.exists()


def test_convert_refuses_a_destination_that_is_not_safetensors(nets, tmp_path):
    _, cond = nets
    result = run("convert", cond, tmp_path / "out.txt")
    assert result.exit_code == 2 and "must be a .safetensors file" in result.output
    assert list(tmp_path.iterdir()) == []


def test_info_and_convert_warn_about_non_finite_weights(tmp_path):
    g = make_g(0)
    with torch.no_grad():
        g.mapping.fc0.bias[1] = float("inf")
    path = tmp_path / "inf.safetensors"
    save_networks(path, {"G_ema": g})
    for args in (("info", path), ("convert", path, tmp_path / "copy.safetensors", "--networks", "G_ema")):
        result = run(*args)
        assert result.exit_code == 0 and "warning: the network holds non-finite values" in result.output


def test_info_on_a_training_state_says_what_it_is(tmp_path):
    import json

    from safetensors.torch import save_file

    from train.state import HEADER_KEY

    path = tmp_path / "training-state-0000000064.safetensors"
    save_file({"x": torch.zeros(1)}, str(path), metadata={HEADER_KEY: json.dumps({"format": "x"})})
    result = run("info", path)
    assert result.exit_code == 2 and "training-state file" in result.output and "--resume" in result.output


def test_commands_clear_their_own_stale_temp_files_only(nets, tmp_path):
    import os
    import time

    uncond, _ = nets
    out = tmp_path / "out"
    out.mkdir()
    old = time.time() - 3600
    stale = [out / ".seed0001.png.x1y2z3ab.tmp", out / ".clip.0a1b2c3d.part.mp4"]
    fresh, foreign = out / ".seed0002.png.k9k9k9k9.tmp", out / ".notes.tmp"
    for path in (*stale, fresh, foreign):
        path.write_bytes(b"x")
    for path in (*stale, foreign):
        os.utime(path, (old, old))
    fresh_time = time.time() + 3600  # as if a concurrent run had just started writing it
    os.utime(fresh, (fresh_time, fresh_time))
    assert run("generate", "--network", uncond, "--seeds", "1", "--outdir", out).exit_code == 0
    assert not any(p.exists() for p in stale) and fresh.exists() and foreign.exists()


def full_disk(*args, **kwargs):
    import errno
    import os

    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.parametrize("command", [("generate", "--seeds", "1"),
                                     ("mix", "--rows", "1", "--cols", "2", "--styles", "0")])
def test_a_full_disk_is_one_line_and_keeps_what_existed(nets, tmp_path, monkeypatch, command):
    from PIL import Image as PILImage

    uncond, _ = nets
    out = tmp_path / "out"
    out.mkdir()
    (out / "grid.png").write_bytes(b"older grid")
    (out / "seed0001.png").write_bytes(b"older image")
    monkeypatch.setattr(PILImage.Image, "save", full_disk)
    result = run(command[0], "--network", uncond, "--outdir", out, *command[1:])
    assert result.exit_code == 1, result.output
    assert result.output.strip().splitlines()[-1].startswith("Error: cannot write ")
    assert "No space left on device" in result.output and "Traceback" not in result.output
    assert sorted(p.name for p in out.iterdir()) == ["grid.png", "seed0001.png"]
    assert (out / "grid.png").read_bytes() == b"older grid"


def test_convert_on_a_full_disk_is_one_line_and_keeps_what_existed(nets, tmp_path, monkeypatch):
    from safetensors import SafetensorError

    import model.io.native

    def failing(tensors, filename, metadata=None):
        with open(filename, "wb") as f:
            f.write(b"partial")
        raise SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")

    _, cond = nets
    dest = tmp_path / "out.safetensors"
    dest.write_bytes(b"older")
    monkeypatch.setattr(model.io.native, "save_file", failing)
    result = run("convert", cond, dest)
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: cannot write {dest}: No space left on device"
    assert dest.read_bytes() == b"older" and [p.name for p in tmp_path.iterdir()] == ["out.safetensors"]
