"""Video export: mp4 / GIF read back, loops, cancel, failure, bounded memory, and `sgx video`."""

import os
import subprocess
import threading
import time
import weakref

import imageio.v3 as iio
import imageio_ffmpeg
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from explorer import export
from explorer.cli import main
from explorer.export import Exporter, ExportError, ExportSettings
from explorer.state import Pin
from model.errors import ModelError
from model.io import load, save_networks
from model.networks import Generator
from model.render import render_seed, spec_transforms, spec_ws, synthesize
from model.spec import Edit, LatentSpec, Mix, W
from tests.model.conformance import G_KWARGS, fill_weights, make_g
from tests.model.sg3_fixture import make_t


@pytest.fixture(scope="module")
def G():
    return make_g()


def psnr(a, b):
    mse = np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2)
    return 10 * np.log10(255**2 / max(mse, 1e-10))


def box2(img):
    """2x2 box average: yuv420p keeps colour at half resolution, so compare what it keeps."""
    h, w, c = img.shape
    return img.reshape(h // 2, 2, w // 2, 2, c).astype(np.float64).mean(axis=(1, 3))


def mp4_psnr(frame, ref):
    return psnr(box2(frame), box2(ref))


def step_sizes(frames):
    return np.abs(np.diff(frames.astype(np.int64), axis=0)).mean(axis=(1, 2, 3))


def seeds_settings(out, seeds=(1, 5, 9), **kw):
    keys = [LatentSpec(s, psi=0.7 if i == 0 else 1.0) for i, s in enumerate(seeds)]
    return ExportSettings(keys, str(out), **{"frames_per_transition": 4, "precision": "exact", **kw})


# ---------------------------------------------------------------------------------------------------------
# Keyframes


def test_a_pin_spec_is_the_keyframe_the_explorer_shows(G):
    ws = spec_ws(G, LatentSpec(seed=3, psi=0.6, mix=Mix(7, 1, 3)))[0]
    with torch.no_grad():
        own = G.mapping(torch.from_numpy(np.random.RandomState(3).randn(1, 32)).float(), None, truncation_psi=0.6)
        src = G.mapping(torch.from_numpy(np.random.RandomState(7).randn(1, 32)).float(), None, truncation_psi=0.6)
    assert torch.equal(ws[1:4], src[0, 1:4])
    assert torch.equal(ws[[0, 4, 5]], own[0, [0, 4, 5]])


# ---------------------------------------------------------------------------------------------------------
# Files read back


def test_mp4_has_the_frames_size_and_keyframe_images(G, tmp_path):
    out = tmp_path / "v.mp4"
    Exporter(G, seeds_settings(out, fps=24)).run()
    frames = iio.imread(out)
    assert frames.shape == (9, 16, 16, 3)
    refs = [render_seed(G, 1, 0.7), render_seed(G, 5), render_seed(G, 9)]
    for i, frame in enumerate(frames[[0, 4, 8]]):
        assert mp4_psnr(frame, refs[i]) > 30
        assert mp4_psnr(frame, refs[i]) > mp4_psnr(frame, refs[(i + 1) % 3]) + 10
    assert imageio_ffmpeg.count_frames_and_secs(str(out)) == (9, pytest.approx(9 / 24, abs=0.05))
    probe = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(out)], capture_output=True,
                           text=True)
    assert "Video: h264" in probe.stderr and "yuv420p" in probe.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.mp4"]


def test_gif_has_one_palette_exact_first_frame_and_true_timing(G, tmp_path):
    out = tmp_path / "v.gif"
    Exporter(G, seeds_settings(out, seeds=(1, 5), frames_per_transition=5, fps=30)).run()
    frames = iio.imread(out)
    assert frames.shape == (6, 16, 16, 3)
    with Image.open(out) as gif:
        assert gif.n_frames == 6 and gif.size == (16, 16)
        palette = Image.new("P", (1, 1))
        palette.putpalette(gif.getpalette())
        durations = []
        for i in range(gif.n_frames):
            gif.seek(i)
            durations.append(gif.info["duration"])
    ref = render_seed(G, 1, 0.7)
    nearest = np.asarray(Image.fromarray(ref).quantize(palette=palette, dither=Image.Dither.NONE).convert("RGB"))
    assert np.array_equal(frames[0], nearest)
    assert psnr(frames[0], ref) > 30
    assert set(durations) <= {30, 40} and abs(sum(durations) - 6 * 1000 / 30) <= 10


@pytest.mark.parametrize("fmt", ["mp4", "gif"])
def test_sizes_not_divisible_by_16_are_kept(tmp_path, fmt):
    g8 = Generator(c_dim=0, **dict(G_KWARGS, img_resolution=8)).eval()
    fill_weights(g8, 3)
    out = tmp_path / f"v.{fmt}"
    Exporter(g8, seeds_settings(out, seeds=(1, 2), frames_per_transition=2, scale=3)).run()
    assert iio.imread(out).shape == (3, 24, 24, 3)


def test_upscaled_frames_are_the_keyframe_enlarged(G, tmp_path):
    out = tmp_path / "v.mp4"
    Exporter(G, seeds_settings(out, seeds=(1, 5), frames_per_transition=2, scale=2)).run()
    frames = iio.imread(out)
    assert frames.shape == (3, 32, 32, 3)
    ref = np.asarray(Image.fromarray(render_seed(G, 1, 0.7)).resize((32, 32), Image.Resampling.BICUBIC))
    assert psnr(frames[0], ref) > 30


def test_loop_ends_where_it_starts(G, tmp_path):
    looped, straight = tmp_path / "loop.mp4", tmp_path / "straight.mp4"
    Exporter(G, seeds_settings(looped, frames_per_transition=12, loop=True), batch=18).run()
    Exporter(G, seeds_settings(straight, frames_per_transition=12, loop=False), batch=25).run()
    loop_frames, straight_frames = iio.imread(looped), iio.imread(straight)
    assert len(loop_frames) == 36 and len(straight_frames) == 25
    steps = step_sizes(loop_frames)
    seam = step_sizes(loop_frames[[-1, 0]])[0]
    assert seam <= steps.max()
    assert step_sizes(straight_frames[[-1, 0]])[0] > 2 * step_sizes(straight_frames).max()  # no loop: a jump


# ---------------------------------------------------------------------------------------------------------
# Cancel, failure, memory


@pytest.mark.parametrize("fmt", ["mp4", "gif"])
def test_cancel_between_steps_leaves_nothing(G, tmp_path, fmt):
    exporter = Exporter(G, seeds_settings(tmp_path / f"v.{fmt}"), batch=2)
    exporter.step()
    assert any(tmp_path.iterdir())  # the temp file exists while running
    exporter.cancel()
    assert exporter.state == "cancelled" and exporter.finished
    assert exporter.step() < 1
    assert list(tmp_path.iterdir()) == []


def test_cancel_before_start_and_while_finishing_a_gif(G, tmp_path):
    early = Exporter(G, seeds_settings(tmp_path / "a.gif"))
    early.cancel()
    early.step()
    assert early.state == "cancelled"
    late = Exporter(G, seeds_settings(tmp_path / "b.gif", frames_per_transition=20), batch=41)
    while late.rendered < late.total:
        late.step()
    late.step()  # palette, header and the first frames written
    assert not late.finished
    late.cancel()
    assert late.state == "cancelled"
    with pytest.raises(ExportError, match="cancelled"):
        late.run()
    assert list(tmp_path.iterdir()) == []


def test_cancel_from_another_thread_during_a_step(G, tmp_path, monkeypatch):
    exporter = None

    def render(g, ws, noise_mode, precision, transform=None):
        thread = threading.Thread(target=exporter.cancel)  # the UI thread, while the worker is rendering
        thread.start()
        thread.join()
        return synthesize(g, ws, noise_mode, precision, transform)

    monkeypatch.setattr(export, "synthesize", render)
    exporter = Exporter(G, seeds_settings(tmp_path / "v.mp4"))
    exporter.step()
    assert exporter.state == "cancelled" and exporter.rendered == 4
    assert list(tmp_path.iterdir()) == []


def test_unwritable_folder_is_a_one_line_error(G, tmp_path):
    (tmp_path / "file").write_text("not a folder")
    exporter = Exporter(G, seeds_settings(tmp_path / "file" / "v.mp4"))
    with pytest.raises(ExportError, match="^export failed: Not a directory") as error:
        exporter.run()
    assert "\n" not in str(error.value) and exporter.state == "failed"
    assert [p.name for p in tmp_path.iterdir()] == ["file"]


@pytest.mark.parametrize("fmt", ["mp4", "gif"])
def test_failure_mid_export_removes_the_temp_file(G, tmp_path, monkeypatch, fmt):
    calls = []

    def render(g, ws, noise_mode, precision, transform=None):
        calls.append(len(ws))
        if len(calls) == 2:
            raise RuntimeError("out of memory\nlong details")
        return synthesize(g, ws, noise_mode, precision, transform)

    monkeypatch.setattr(export, "synthesize", render)
    with pytest.raises(ExportError, match="^export failed: out of memory$"):
        Exporter(G, seeds_settings(tmp_path / f"v.{fmt}")).run()
    assert list(tmp_path.iterdir()) == []


def test_interrupt_cleans_up(G, tmp_path):
    exporter = Exporter(G, seeds_settings(tmp_path / "v.mp4"), batch=2)

    def interrupt(progress):
        if exporter.rendered >= 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        exporter.run(interrupt)
    assert exporter.state == "cancelled" and list(tmp_path.iterdir()) == []


def test_an_export_removes_the_temp_files_a_killed_one_left(G, tmp_path):
    """Only our temp names, and only those untouched since this export began: a concurrent one's stay."""
    exporter = Exporter(G, seeds_settings(tmp_path / "v.mp4", seeds=(1, 2), frames_per_transition=1))
    stale = [tmp_path / ".v.0123abcd.part.mp4", tmp_path / ".notes.txt.a1B2c3d4.tmp"]  # an export's, atomic_write's
    fresh = tmp_path / ".w.89abcdef.part.gif"
    users = [tmp_path / ".v.part.mp4", tmp_path / "v.0123abcd.part.mp4", tmp_path / ".v.0123abcd.part.mp4.keep"]
    for path in [*stale, fresh, *users]:
        path.write_bytes(b"x")
        os.utime(path, (time.time() - 3600,) * 2)
    os.utime(fresh, (time.time() + 60,) * 2)  # a concurrent export writing while this one runs
    exporter.run()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in [tmp_path / "v.mp4", fresh, *users])


def test_a_running_gif_exports_temp_file_survives_an_export_started_later(G, tmp_path):
    """A GIF's temp file is written only at the end, so it looks stale to an export started later; the lock on it
    keeps it, and the first export still finishes."""
    first = Exporter(G, seeds_settings(tmp_path / "a.gif", seeds=(1, 2), frames_per_transition=2))
    first.step()
    (temp,) = [p for p in tmp_path.iterdir() if p.name.startswith(".a.")]
    os.utime(temp, (time.time() - 3600,) * 2)
    Exporter(G, seeds_settings(tmp_path / "b.mp4", seeds=(1, 2), frames_per_transition=1)).run()
    assert temp.exists()
    first.run()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.gif", "b.mp4"]


@pytest.mark.parametrize("fmt", ["mp4", "gif"])
def test_frames_stream_out_one_chunk_at_a_time(G, tmp_path, monkeypatch, fmt):
    """The exporter keeps no rendered batch past the step that made it, so memory cannot grow with length."""
    batches = []

    def render(g, ws, noise_mode, precision, transform=None):
        frames = synthesize(g, ws, noise_mode, precision, transform)
        batches.append((len(frames), weakref.ref(frames)))
        return frames

    monkeypatch.setattr(export, "synthesize", render)
    exporter = Exporter(G, seeds_settings(tmp_path / f"v.{fmt}", frames_per_transition=6), batch=4)
    progress = [0.0]
    while not exporter.finished:
        progress.append(exporter.step())
        assert all(ref() is None for _, ref in batches)
    assert exporter.state == "done" and progress[-1] == 1.0
    assert progress == sorted(progress) and len(set(progress)) == len(progress)
    assert [n for n, _ in batches] == [4, 4, 4, 1] and exporter.largest_batch == 4
    assert len(iio.imread(tmp_path / f"v.{fmt}")) == 13


@pytest.mark.parametrize("change,message", [
    (dict(keyframes=[LatentSpec(1)]), "at least 2 keyframes"),
    (dict(keyframes=[LatentSpec(1), {"seed": 2}]), "keyframe 2 is a dict, not a LatentSpec"),
    (dict(output="v.avi"), r"must end in \.mp4 or \.gif"),
    (dict(format="gif"), r"does not end in \.gif"),
    (dict(output="v.gif", fps=60), "at most 50 fps"),
    (dict(fps=0), "fps"),
    (dict(frames_per_transition=0), "frames per transition"),
    (dict(interpolation="bezier"), "unknown interpolation"),
    (dict(easing="bounce"), "unknown easing"),
    (dict(scale=0), "scale"),
    (dict(noise_mode="loud"), "noise mode"),
    (dict(precision="magic"), "precision"),
])
def test_bad_settings_are_one_line_errors(change, message):
    settings = ExportSettings(**{**dict(keyframes=[LatentSpec(1), LatentSpec(2)], output="v.mp4"), **change})
    with pytest.raises(ModelError, match=message) as error:
        Exporter(None, settings)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("keys,message", [
    ([LatentSpec(w=W.of(np.zeros([6, 32]))), LatentSpec(2)], "z-slerp needs seeds"),
    ([LatentSpec(1, mix=Mix(LatentSpec(w=W.of(np.zeros([6, 32]))), 0, 0)), LatentSpec(2)], "z-slerp needs seeds"),
    ([LatentSpec(1, edits=(Edit("sefa:0", 1.0, 0, 1),)), LatentSpec(2)], "z-slerp needs seeds"),
])
def test_network_dependent_errors_come_from_the_first_step(G, tmp_path, keys, message):
    exporter = Exporter(G, ExportSettings(keys, str(tmp_path / "v.mp4"), interpolation="z-slerp"))
    with pytest.raises(ModelError, match=message):
        exporter.step()
    assert exporter.state == "failed" and list(tmp_path.iterdir()) == []


def test_wrong_w_shape_is_named(G, tmp_path):
    keys = [LatentSpec(w=W.of(np.zeros([5, 32]))), LatentSpec(2)]
    with pytest.raises(ModelError, match=r"shape \[5, 32\].*\[6, 32\]"):
        Exporter(G, ExportSettings(keys, str(tmp_path / "v.mp4"))).run()


# ---------------------------------------------------------------------------------------------------------
# sgx video


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    path = tmp_path_factory.mktemp("net") / "g.safetensors"
    save_networks(path, {"G_ema": make_g()})
    return path


def run(*args):
    return CliRunner().invoke(main, ["video", *[str(a) for a in args]])


def test_cli_seeds_to_mp4(G, net, tmp_path):
    out = tmp_path / "sub" / "x.mp4"
    result = run("--network", net, "--seeds", "1,5", "--frames", 3, "--trunc", 0.7, "--interp", "lerp",
                 "--easing", "ease-in-out", "--out", out)
    assert result.exit_code == 0, result.output
    frames = iio.imread(out)
    assert frames.shape == (4, 16, 16, 3)
    assert mp4_psnr(frames[0], render_seed(G, 1, 0.7)) > 30
    assert mp4_psnr(frames[3], render_seed(G, 5, 0.7)) > 30


def test_cli_w_npz_to_looping_gif(G, net, tmp_path):
    with torch.no_grad():
        w = G.mapping(torch.randn(3, G.z_dim, generator=torch.Generator().manual_seed(0)), None).numpy()
    np.savez(tmp_path / "w.npz", w=w)
    out = tmp_path / "x.gif"
    result = run("--network", net, "--w", tmp_path / "w.npz", "--frames", 2, "--loop", "--interp", "lerp",
                 "--size", "32", "--out", out)
    assert result.exit_code == 0, result.output
    frames = iio.imread(out)
    assert frames.shape == (6, 32, 32, 3)
    ref = synthesize(G, torch.from_numpy(w[:1]))[0]
    assert psnr(box2(frames[0]), ref) > 25 and psnr(box2(frames[2]), synthesize(G, torch.from_numpy(w[1:2]))[0]) > 25


def test_cli_pins(G, net, tmp_path, monkeypatch):
    from explorer.pins import save_pins

    monkeypatch.setenv("SGX_DATA_DIR", str(tmp_path / "data"))
    save_pins(load(net).model_id, [Pin("a", LatentSpec(1, psi=0.7)), Pin("b", LatentSpec(5, mix=Mix(9, 0, 1)))])
    out = tmp_path / "x.mp4"
    result = run("--network", net, "--pins", "--frames", 2, "--interp", "slerp", "--out", out)
    assert result.exit_code == 0, result.output
    frames = iio.imread(out)
    assert frames.shape == (3, 16, 16, 3)
    assert mp4_psnr(frames[0], render_seed(G, 1, 0.7)) > 30
    mixed = synthesize(G, spec_ws(G, LatentSpec(5, mix=Mix(9, 0, 1))))[0]
    assert mp4_psnr(frames[2], mixed) > 30


def bad_npz(folder, kind):
    path = folder / f"{kind}.npz"
    if kind == "nokey":
        np.savez(path, latents=np.zeros([2, 6, 32]))
    elif kind == "pickled":
        np.savez(path, w=np.array([{"x": 1}, None], dtype=object))
    elif kind == "shape":
        np.savez(path, w=np.zeros([2, 5, 32]))
    elif kind == "npy":
        np.save(folder / "npy.npy", np.zeros([2, 6, 32]))
        (folder / "npy.npy").rename(path)
    elif kind == "text":
        path.write_text("hello")
    return path


@pytest.mark.parametrize("args,message", [
    ([], "exactly one of --seeds, --pins and --w"),
    (["--seeds", "1,2", "--pins"], "got --seeds and --pins"),
    (["--seeds", "3"], "at least 2 keyframes"),
    (["--seeds", "2-1"], "reversed"),
    (["--seeds", "1,2", "--out-ext", "avi"], "must end in .mp4 or .gif"),
    (["--seeds", "1,2", "--out-ext", "gif", "--fps", 60], "at most 50 fps"),
    (["--seeds", "1,2", "--easing", "bounce"], "unknown easing"),
    (["--seeds", "1,2", "--size", "3y"], "--size 3y"),
    (["--seeds", "1,2", "--size", "24"], "multiple of the model resolution 16"),
    (["--pins"], "needs at least 2 pins"),
    (["--w", "nokey", "--interp", "lerp"], "has no array 'w'"),
    (["--w", "pickled"], "not a readable plain array"),
    (["--w", "shape"], "shape [5, 32]"),
    (["--w", "npy"], "is an .npy array"),
    (["--w", "text"], "not a readable .npz"),
    (["--w", "shape", "--interp", "slerp"], "z-slerp needs seeds"),
])
def test_cli_bad_input_exits_2_with_one_line(net, tmp_path, monkeypatch, args, message):
    monkeypatch.setenv("SGX_DATA_DIR", str(tmp_path / "data"))
    ext = "mp4"
    if "--out-ext" in args:
        i = args.index("--out-ext")
        ext, args = args[i + 1], args[:i] + args[i + 2:]
    if "--w" in args:
        i = args.index("--w")
        args = [*args[:i + 1], bad_npz(tmp_path, args[i + 1]), *args[i + 2:]]
    result = run("--network", net, *args, "--out", tmp_path / f"x.{ext}")
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert lines[-1].startswith("Error: ") and message in lines[-1]
    assert not list(tmp_path.glob("x.*")) and not list(tmp_path.glob(".x.*"))


def test_cli_pins_of_the_demo_say_where_the_earlier_demo_models_pins_are(net, tmp_path, monkeypatch):
    import explorer.pins

    monkeypatch.setenv("SGX_DATA_DIR", str(tmp_path / "data"))
    former = "3c" * 32
    explorer.pins.save_pins(former, [Pin("a", LatentSpec(1)), Pin("b", LatentSpec(2))])
    monkeypatch.setattr(explorer.pins, "FORMER_DEMO_IDS", (former,))
    result = run("--network", net, "--pins", "--out", tmp_path / "x.mp4")
    assert result.exit_code == 2 and "earlier demo" not in result.output  # not the demo: nothing to say
    monkeypatch.setattr(explorer.pins, "DEMO_MODEL", net)
    result = run("--network", net, "--pins", "--out", tmp_path / "x.mp4")
    assert result.exit_code == 2 and "needs at least 2 pins" in result.output
    assert f"your pins of the earlier demo model are kept in {explorer.pins.pins_path(former)}" in result.output


def test_frames_render_at_the_chosen_precision(G, tmp_path, monkeypatch):
    seen = []

    def render(g, ws, noise_mode, precision, transform=None):
        seen.append(precision)
        return synthesize(g, ws, noise_mode, precision, transform)

    monkeypatch.setattr(export, "synthesize", render)
    Exporter(G, seeds_settings(tmp_path / "v.mp4", precision="bf16")).run()
    assert seen and set(seen) == {"bf16"}
    assert ExportSettings([LatentSpec(1), LatentSpec(2)], "v.mp4").precision == "auto"


def test_stylegan3_keyframes_moved_input_reaches_the_frames(tmp_path, monkeypatch):
    T, seen = make_t(), []

    def render(g, ws, noise_mode, precision, transform=None):
        seen.append(transform)
        return synthesize(g, ws, noise_mode, precision, transform)

    monkeypatch.setattr(export, "synthesize", render)
    keys = [LatentSpec(1, rotate=40.0), LatentSpec(2, translate=(0.2, 0.0), rotate=-40.0)]
    Exporter(T, ExportSettings(keys, str(tmp_path / "t.mp4"), frames_per_transition=4), batch=2).run()
    transforms = torch.cat(seen)
    assert len(transforms) == 5
    assert torch.equal(transforms[0], spec_transforms(T, keys[:1])[0])
    assert torch.equal(transforms[4], spec_transforms(T, keys[1:])[0])
