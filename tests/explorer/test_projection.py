"""Projection in the window, headless: a dropped image is projected on the worker, shown beside its reconstruction,
and becomes a pin with an explicit w; Cancel, a newer drop and a bad file leave no pin. Tiny networks, a few steps;
where a test needs the projection to be under way, the worker is held between two steps."""

import os
import threading

os.environ.update(SDL_VIDEODRIVER="dummy", SDL_AUDIODRIVER="dummy", PYGAME_HIDE_SUPPORT_PROMPT="1")

import numpy as np  # noqa: E402
import pygame  # noqa: E402
import pygame_gui  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from explorer import projection_job  # noqa: E402
from explorer.actions import OpenNetwork, ProjectImage  # noqa: E402
from explorer.app import App  # noqa: E402
from explorer.handlers import dispatch  # noqa: E402
from explorer.images import read_png_metadata  # noqa: E402
from explorer.input import dropped  # noqa: E402
from explorer.pins import load_pins  # noqa: E402
from model.directions import edit_vectors, sefa  # noqa: E402
from model.io import load  # noqa: E402
from model.render import render_seed, render_spec  # noqa: E402
from model.spec import LatentSpec  # noqa: E402

from . import test_app  # noqa: E402
from .test_app import click, has_message, post, press  # noqa: E402

nets, folder, make_app = test_app.nets, test_app.folder, test_app.make_app  # the fixtures


@pytest.fixture(autouse=True)
def few_steps(monkeypatch):
    monkeypatch.setattr(projection_job, "STEPS", 6)
    monkeypatch.setattr(projection_job, "PREVIEW_EVERY", 2)


def made_image(net, path, seed=7):
    """An image the network makes (seed 7, ψ 0.7, class 0), saved as a PNG: a projection target with an exact fit."""
    g = load(net).G
    pixels = render_seed(g, seed, psi=0.7, class_idx=0 if g.c_dim else None, noise_mode="const", precision="exact")
    Image.fromarray(pixels).save(path)
    return pixels


def drop(path):
    post(pygame.DROPFILE, file=str(path))


def results(app, monkeypatch):
    """Every 'projection' result the window gets, in order."""
    seen = []
    inner = app.sync.on_projection

    def record(result):
        seen.append(result)
        inner(result)

    monkeypatch.setattr(app.sync, "on_projection", record)
    return seen


def hold(app, monkeypatch):
    """Hold the worker between two projection steps until the returned `release` is set."""
    entered, release = threading.Event(), threading.Event()
    inner = app.renderer._serve_waiting

    def held():
        entered.set()
        assert release.wait(30)
        inner()

    monkeypatch.setattr(app.renderer, "_serve_waiting", held)
    return entered, release


def mean_colour(surface, rect):
    return pygame.surfarray.array3d(surface.subsurface(rect)).reshape(-1, 3).mean(axis=0)


def test_a_dropped_file_is_projected_if_pillow_reads_its_kind_else_opened_as_a_network():
    assert dropped("/x/face.PNG") == ProjectImage("/x/face.PNG")
    assert dropped("photo.jpeg") == ProjectImage("photo.jpeg") and dropped("a.webp") == ProjectImage("a.webp")
    for network in ("ffhq.pkl", "run/network-snapshot.safetensors", "no-suffix"):
        assert dropped(network) == OpenNetwork(network)


@pytest.mark.parametrize("conditional", [False, True])
def test_a_dropped_image_made_by_the_network_becomes_a_pin_with_an_explicit_w(nets, make_app, folder, monkeypatch,
                                                                             conditional):
    net = nets[conditional]
    app = make_app(net)
    seen = results(app, monkeypatch)
    target = made_image(net, folder / "my  face.png")
    drop(folder / "my  face.png")
    assert app.pump_until(lambda: app.state.pins)
    running = [r for r in seen if r.state == "running"]
    assert np.array_equal(running[0].images[0], target)  # the target, as fitted to the model, shown first
    assert [r.step for r in running if len(r.images) == 2] == list(range(2, 13, 2))  # every PREVIEW_EVERY of 2 x 6
    assert seen[-1].state == "done" and app.sync.projection is None and app.projection_view.cancel is None
    pin, s = app.state.pins[0], app.state
    assert pin.name == "my face" and pin.spec.w is not None and pin.spec.seed is None
    assert pin.spec.class_idx == (0 if conditional else None) and pin.spec.psi == 1.0 and not pin.spec.edits
    assert s.mode == "large" and s.spec() == pin.spec
    assert app.pump_until(lambda: app.large.spec == pin.spec and app.large.image is not None)
    g = load(net).G
    with torch.no_grad():
        expected = render_spec(g, pin.spec, app.renderer.precision)
    assert np.array_equal(app.large.image, expected)
    first = next(r for r in running if r.step >= 1)
    assert seen[-1].loss < first.loss  # the fit improved on where it started (the mean w)
    assert app.pump_until(lambda: s.shown_directions() is not None)
    s.set_edit_strength(1, 2.0)  # edited along SeFa 1 and mixed with a seed, as any pin
    s.mix_band(s.model.bands[-1].name)
    edited = s.spec()
    assert edited.w == pin.spec.w and edited.edits and edited.mix is not None
    assert app.pump_until(lambda: app.large.spec == edited)
    with torch.no_grad():
        expected = render_spec(g, edited, app.renderer.precision, edit_vectors(sefa(g)))
    assert np.array_equal(app.large.image, expected)
    drop(folder / "my  face.png")  # the same image again: the same w, so the same pin
    assert app.pump_until(lambda: app.sync.projection is None and seen[-1].stamp != seen[0].stamp)
    assert len(app.state.pins) == 1


def test_the_view_shows_target_and_reconstruction_and_cancel_leaves_no_pin(nets, make_app, folder, monkeypatch):
    app = make_app(nets[0])
    seen = results(app, monkeypatch)
    entered, release = hold(app, monkeypatch)
    monkeypatch.setattr(projection_job, "PREVIEW_EVERY", 1)
    made_image(nets[0], folder / "face.png")
    drop(folder / "face.png")
    assert app.pump_until(lambda: app.sync.projection is not None and app.sync.projection.image is not None)
    assert entered.is_set()
    job = app.sync.projection
    app.step()
    left, right = app.projection_view.frame(app.layout.main)
    for rect, image in ((left, job.target), (right, job.image)):
        assert np.allclose(mean_colour(app.window, rect), image.reshape(-1, 3).mean(axis=0), atol=3)
    assert job.step == 1 and job.total == 12 and np.isfinite(job.loss)
    click(app.projection_view.cancel.rect.center)
    assert app.pump_until(lambda: app.sync.projection is None)
    release.set()
    assert app.pump_until(lambda: seen[-1].state == "cancelled")
    app.step()
    assert app.state.pins == [] and app.projection_view.cancel is None
    assert load_pins(app.state.model.model_id)[0] == []


def test_esc_cancels_and_a_newer_drop_replaces_a_running_projection(nets, make_app, folder, monkeypatch):
    app = make_app(nets[0])
    seen = results(app, monkeypatch)
    entered, release = hold(app, monkeypatch)
    made_image(nets[0], folder / "first.png", seed=1)
    made_image(nets[0], folder / "second.png", seed=2)
    drop(folder / "first.png")
    assert app.pump_until(entered.is_set)
    press(pygame.K_ESCAPE)
    app.step()
    assert app.sync.projection is None and app.state.mode == "grid"  # Esc cancelled; it did not quit
    drop(folder / "first.png")
    app.step()
    drop(folder / "second.png")
    app.step()
    assert app.sync.projection.name == "second"
    release.set()
    assert app.pump_until(lambda: app.state.pins)
    assert [p.name for p in app.state.pins] == ["second"] and app.running
    assert [r.state for r in seen if r.state != "running"] == ["cancelled", "done"]  # the retry of first never ran


def test_a_corrupt_image_gives_one_error_line_and_no_pin(nets, make_app, folder):
    app = make_app(nets[0])
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    drop(folder / "broken.png")
    assert app.pump_until(lambda: has_message(app))
    assert [m for _, m in app.dialogs.messages] == ["cannot read broken.png as an image: not an image format Pillow "
                                                    "reads"]
    assert app.sync.projection is None and app.state.pins == []


def test_an_image_without_a_model_says_why_nothing_happens(folder):
    app = App(None, size=(1280, 800), device="cpu", save_dir=folder / "saved")
    try:
        dispatch(app, ProjectImage(str(folder / "face.png")))
        assert has_message(app) and "Open a network first" in app.dialogs.messages[0][1]
    finally:
        app.close()


def test_a_projected_pin_survives_a_restart_and_its_png_renders_the_same_pixels(nets, make_app, folder):
    net = nets[0]
    app = make_app(net)
    made_image(net, folder / "face.png")
    click(app.panel.project.rect.center)  # "Project an image…": a file dialog listing images
    assert app.pump_until(lambda: app.dialogs.file is not None)
    assert app.dialogs.file.alive() and {".png", ".jpg", ".webp"} <= app.dialogs.file.suffixes
    post(pygame_gui.UI_FILE_DIALOG_PATH_PICKED, ui_element=app.dialogs.file, text=str(folder / "face.png"))
    assert app.pump_until(lambda: app.state.pins)
    pin = app.state.pins[0]
    app.renderer.close()
    again = make_app(net)
    assert again.state.pins == [pin]
    assert np.array_equal(again.state.pins[0].spec.w.array(), pin.spec.w.array())
    again.state.recall(0)
    again.state.mode = "large"
    assert again.pump_until(lambda: again.large.spec == pin.spec and again.large.image is not None)
    press(pygame.K_s, unicode="s")
    saved = folder / "saved" / f"w-{pin.spec.w.digest}.png"
    assert again.pump_until(saved.exists)
    meta = read_png_metadata(saved)
    spec = LatentSpec.from_json(meta)
    assert spec == pin.spec
    with torch.no_grad():
        pixels = render_spec(load(net).G, spec, meta["precision"])
    assert np.array_equal(pixels, np.asarray(Image.open(saved)))
