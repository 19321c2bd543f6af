"""Pins that hold an explicit w (no seed makes them): state, pins file, large view and a saved PNG."""

import os

os.environ.update(SDL_VIDEODRIVER="dummy", SDL_AUDIODRIVER="dummy", PYGAME_HIDE_SUPPORT_PROMPT="1")

import numpy as np  # noqa: E402
import pygame  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from explorer.captions import spec_caption  # noqa: E402
from explorer.images import read_png_metadata  # noqa: E402
from explorer.pins import load_pins, save_pins  # noqa: E402
from explorer.state import Explorer, Pin  # noqa: E402
from model.io import load  # noqa: E402
from model.render import render_spec, spec_ws  # noqa: E402
from model.spec import LatentSpec, W  # noqa: E402

from .test_app import folder, make_app, nets, press  # noqa: E402, F401 - fixtures
from .test_state import INFO  # noqa: E402


def w_pin(g=None, seed: int = 7) -> Pin:
    """A pin whose w is seed 7's untruncated w (or any w of the right shape): an image given by its latent."""
    if g is None:
        w = np.random.RandomState(seed).randn(INFO.num_ws, 32).astype(np.float32)
    else:
        w = spec_ws(g, LatentSpec(seed))[0].numpy()
    return Pin("projected", LatentSpec(w=W.of(w), psi=0.7))


def test_recalling_a_w_pin_shows_its_w_until_the_user_browses_away():
    s = Explorer(INFO, pins=[w_pin()])
    s.set_grid(4, 3)
    s.go_to(12)
    s.recall(0)
    assert s.spec() == s.pins[0].spec and s.current_pin_index() == 0
    assert spec_caption(s.spec()).startswith(f"w {s.pins[0].spec.w.digest}")
    assert s.pin() is s.pins[0] and len(s.pins) == 1  # pinning it again is a no-op
    assert s.spec(13).seed == 13  # the grid still shows seeds
    s.set_controls("psi", psi=0.3)
    assert s.spec().w == s.pins[0].spec.w and s.spec().psi == 0.3
    assert s.undo() and s.spec() == s.pins[0].spec
    s.move(1)
    assert s.spec().seed == 13 and s.spec().w is None


def test_a_w_pin_survives_the_pins_file_bit_for_bit(folder):  # noqa: F811
    pins = [w_pin(), Pin("seed", LatentSpec(3, 0.5))]
    save_pins("ab" * 32, pins)
    loaded, warning = load_pins("ab" * 32)
    assert warning is None and loaded == pins
    assert np.array_equal(loaded[0].spec.w.array(), pins[0].spec.w.array())


def test_a_w_pin_renders_and_saves_a_png_that_renders_again(nets, make_app, folder):  # noqa: F811
    net = nets[0]
    g = load(net).G
    pin = w_pin(g)
    save_pins(load(net).model_id, [pin])
    app = make_app(net)
    app.state.recall(0)
    app.state.mode = "large"
    assert app.pump_until(lambda: app.large.spec == pin.spec and app.large.image is not None)
    precision = app.renderer.precision
    with torch.no_grad():
        expected = render_spec(g, LatentSpec(7, psi=0.7), precision)  # the same w, reached from its seed
    assert np.array_equal(app.large.image, expected)
    press(pygame.K_s, unicode="s")
    saved = folder / "saved" / f"w-{pin.spec.w.digest}.png"
    assert app.pump_until(saved.exists)
    meta = read_png_metadata(saved)
    again = LatentSpec.from_json(meta)
    assert again == pin.spec and meta["precision"] == precision
    assert np.array_equal(render_spec(g, again, meta["precision"]), np.asarray(Image.open(saved)))
