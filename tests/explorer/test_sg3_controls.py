"""StyleGAN3's input transform in the explorer: sliders shown for StyleGAN3 models only, writing the controls,
the spec and so the rendered image (headless, as tests/explorer/test_app.py drives the app)."""

import numpy as np
import pytest

from explorer.renderer import model_info
from explorer.state import Explorer
from model.io import load, save_networks
from model.render import render_spec
from model.spec import LatentSpec
from tests.model.conformance import make_g
from tests.model.sg3_fixture import make_t

from .test_app import folder, make_app, press, pygame, shows, slide  # noqa: F401 - fixtures


@pytest.fixture(scope="module")
def sg3_net(tmp_path_factory):
    path = tmp_path_factory.mktemp("sg3") / "t32.safetensors"
    save_networks(path, {"G_ema": make_t()})
    return path


def test_model_info_says_the_family():
    assert model_info(make_t(), "t", "id", "cpu").family == "stylegan3"
    assert model_info(make_g(0), "g", "id", "cpu").family == "stylegan2"


def test_the_rotate_slider_renders_a_rotated_image(sg3_net, make_app):  # noqa: F811
    app = make_app(sg3_net)
    assert len(app.panel.translate) == 2 and app.panel.rotate is not None and app.panel.noise_rect is None
    assert app.panel.y <= app.layout.panel.height  # the whole panel shows in the default window
    press(pygame.K_RETURN)
    assert app.pump_until(shows(app, LatentSpec(0)))
    still = app.large.image
    slide(app.panel.rotate, 30)
    assert app.pump_until(shows(app, LatentSpec(0, rotate=30.0)))
    G = load(sg3_net).G
    assert np.array_equal(app.large.image, render_spec(G, LatentSpec(0, rotate=30), app.renderer.precision))
    assert not np.array_equal(app.large.image, still)
    slide(app.panel.translate[1], -0.25)
    assert app.pump_until(shows(app, LatentSpec(0, rotate=30.0, translate=(0.0, -0.25))))
    assert app.panel.values["input"] == "x +0.00  y -0.25  +30°"
    assert app.state.undo() and app.state.spec() == LatentSpec(0, rotate=30.0)


def test_stylegan2_models_have_no_input_sliders(make_app, tmp_path):  # noqa: F811
    path = tmp_path / "g.safetensors"
    save_networks(path, {"G_ema": make_g(0)})
    app = make_app(path)
    assert app.panel.translate == () and app.panel.rotate is None and "input" not in app.panel.values


def test_translate_and_rotate_are_clamped_rounded_undone_pinned_and_recalled():
    state = Explorer(model_info(make_t(), "t", "id", "cpu"))
    state.set_translate(0, 0.123)
    state.set_translate(0, 3.0)  # one drag on one slider: one undo step
    state.set_controls("rotate", rotate=-400.04)
    assert state.controls.translate == (1.0, 0.0) and state.controls.rotate == -180.0
    assert state.undo() and state.controls.rotate == 0.0 and state.controls.translate == (1.0, 0.0)
    assert state.undo() and state.controls.translate == (0.0, 0.0)
    state.set_translate(1, -0.456)
    state.set_controls("rotate", rotate=12.34)
    pin = state.pin()
    assert pin.spec == LatentSpec(0, translate=(0.0, -0.46), rotate=12.3)
    state.set_controls(None, translate=(0.5, 0.5), rotate=0.0)
    state.recall(0)
    assert state.spec() == pin.spec
