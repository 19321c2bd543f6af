"""`sgx project` on a tiny network, and its proj.npz in `sgx generate / edit / video --w`."""

import imageio.v3 as iio
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from explorer.cli import main
from explorer.images import read_png_metadata
from explorer.project_cli import PREVIEW_EVERY
from model.directions import save_directions, sefa
from model.io import load, save_networks
from model.project import project
from model.render import spec_ws, synthesize
from model.spec import LatentSpec, W
from model.w_file import read_w_file, save_projection
from tests.model.conformance import make_d, make_g

STEPS = 12


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A network file with D (as training snapshots), a target it made, and a SeFa file."""
    folder = tmp_path_factory.mktemp("project")
    save_networks(folder / "net.safetensors", {"G_ema": make_g(), "D": make_d()})
    save_networks(folder / "g_only.safetensors", {"G_ema": make_g()})
    G = load(folder / "net.safetensors").G
    Image.fromarray(synthesize(G, spec_ws(G, LatentSpec(5, psi=0.7)))[0]).save(folder / "target.png")
    save_directions(folder / "sefa.npz", sefa(G))
    return folder


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def projected(files):
    out = files / "proj.npz"
    result = run("project", "--network", files / "net.safetensors", "--target", files / "target.png", "--space",
                 "w+", "--steps", STEPS, "--noise", "--seed", 4, "--precision", "fp32", "--out", out,
                 "--save-video", files / "progress.mp4")
    assert result.exit_code == 0, result.output
    return out


def test_project_writes_what_the_function_finds_and_generate_renders_the_same_pixels(files, projected, tmp_path):
    G = load(files / "net.safetensors").G
    target = np.asarray(Image.open(files / "target.png"))
    expected = project(G, target, "w+", STEPS, seed=4, optimize_noise=True, precision="fp32")
    (latent,) = read_w_file(projected)
    assert np.array_equal(latent.spec.w.array(), expected.w) and latent.spec.psi == 1
    assert latent.noise.keys() == expected.noise.keys() and latent.noise  # the fitted noise maps are kept
    with np.load(projected, allow_pickle=False) as data:
        assert data["w"].dtype == np.float32 and data["w"].shape == (G.num_ws, G.w_dim)
    result = run("generate", "--network", files / "net.safetensors", "--w", projected, "--outdir", tmp_path,
                 "--precision", "exact")
    assert result.exit_code == 0, result.output
    png = tmp_path / f"w-{latent.spec.w.digest}.png"
    assert np.array_equal(np.asarray(Image.open(png)), expected.image)  # with its own noise maps
    assert LatentSpec.from_json(read_png_metadata(png)) == latent.spec
    frames = iio.imread(files / "progress.mp4")
    assert len(frames) == 2 * STEPS // PREVIEW_EVERY + (2 * STEPS % PREVIEW_EVERY > 0)
    assert frames.shape[1:] == (256, 512, 3)  # target | current image, scaled up


def test_edit_and_video_take_projections(files, projected, tmp_path):
    net = files / "net.safetensors"
    G = load(net).G
    other = tmp_path / "other.npz"
    w = spec_ws(G, LatentSpec(9))[0].numpy()
    save_projection(other, LatentSpec(w=W.of(w)), {}, {})
    result = run("edit", "--network", net, "--w", f"{projected},{other}", "--directions", files / "sefa.npz",
                 "--component", 0, "--strengths", "0,2", "--outdir", tmp_path / "edit", "--grid")
    assert result.exit_code == 0, result.output
    assert len(list((tmp_path / "edit").glob("w-*-c0-s*.png"))) == 4
    assert np.asarray(Image.open(tmp_path / "edit" / "grid.png")).shape == (32, 32, 3)
    result = run("video", "--network", net, "--w", f"{projected},{other}", "--frames", 3, "--interp", "lerp",
                 "--out", tmp_path / "v.gif")
    assert result.exit_code == 0, result.output
    assert "noise maps are not used in videos" in result.output
    assert len(iio.imread(tmp_path / "v.gif")) == 4


@pytest.mark.parametrize("kind,message", [
    ("text", "cannot read bad.png as an image: not an image format Pillow reads"),
    ("truncated", "cannot read bad.png as an image"),
    ("missing", "cannot read bad.png as an image"),
])
def test_an_unreadable_target_is_one_line_and_writes_nothing(files, tmp_path, kind, message):
    bad = tmp_path / "bad.png"
    if kind == "text":
        bad.write_text("hello")
    elif kind == "truncated":
        bad.write_bytes((files / "target.png").read_bytes()[:80])
    result = run("project", "--network", files / "net.safetensors", "--target", bad, "--steps", 2,
                 "--out", tmp_path / "p.npz")
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0]
    assert not list(tmp_path.glob("*.npz")) and not list(tmp_path.glob(".p.npz*"))


def test_d_features_use_the_files_d_and_need_one(files, tmp_path):
    result = run("project", "--network", files / "net.safetensors", "--target", files / "target.png", "--steps", 3,
                 "--d-features", "--out", tmp_path / "p.npz")
    assert result.exit_code == 0, result.output
    with np.load(tmp_path / "p.npz", allow_pickle=False) as data:
        assert '"d": 0.1' in str(data["info"])
    result = run("project", "--network", files / "g_only.safetensors", "--target", files / "target.png",
                 "--d-features", "--out", tmp_path / "q.npz")
    assert result.exit_code == 2 and "has no network 'D'" in result.output
    assert len(result.output.strip().splitlines()) == 1 and not (tmp_path / "q.npz").exists()


@pytest.mark.parametrize("args,message", [
    (["--out", "p.txt"], "--out must be an .npz file"),
    (["--save-video", "v.avi"], "--save-video must end in .mp4 or .gif"),
])
def test_bad_options_are_one_line(files, tmp_path, args, message):
    args = [tmp_path / a if a.startswith(("p.", "v.")) else a for a in args]
    result = run("project", "--network", files / "net.safetensors", "--target", files / "target.png",
                 "--steps", 2, *(["--out", tmp_path / "p.npz"] if "--out" not in args else []), *args)
    assert result.exit_code == 2 and message in result.output and len(result.output.strip().splitlines()) == 1


def test_generate_needs_exactly_one_of_seeds_and_w_and_names_a_bad_w_file(files, tmp_path):
    net = files / "net.safetensors"
    result = run("generate", "--network", net, "--seeds", 1, "--w", files / "sefa.npz", "--outdir", tmp_path)
    assert result.exit_code == 2 and "exactly one of --seeds and --w" in result.output
    result = run("generate", "--network", net, "--w", files / "sefa.npz", "--outdir", tmp_path)
    assert result.exit_code == 2 and "bad w file sefa.npz: it has no array 'w'" in result.output
    result = run("generate", "--network", net, "--w", tmp_path / "none.npz", "--outdir", tmp_path)
    assert result.exit_code == 2 and "no such file" in result.output
    assert not list(tmp_path.glob("*.png"))



def test_a_w_fitted_to_another_network_renders_with_a_warning(files, projected, tmp_path):
    net = files / "net.safetensors"
    (ours,) = read_w_file(projected)
    assert ours.model_id == load(net).model_id  # project records the network it fitted to
    foreign = tmp_path / "foreign.npz"
    save_projection(foreign, ours.spec, {}, {"model_id": "f00d" * 16})
    for command in (["generate", "--outdir", tmp_path / "g"], ["video", "--frames", 2, "--out", tmp_path / "v.gif"],
                    ["edit", "--directions", files / "sefa.npz", "--component", 0, "--strengths", "1",
                     "--outdir", tmp_path / "e"]):
        for w, warned in ((f"{foreign},{projected}", True), (f"{projected},{projected}", False)):
            result = run(command[0], "--network", net, "--w", w, *command[1:])
            assert result.exit_code == 0, result.output
            assert ("fitted to network f00df00df00d, not this one" in result.output) == warned, result.output
