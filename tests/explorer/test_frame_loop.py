"""The frame loop, headless: a frame with nothing new updates no widget and draws nothing, and everything new still
reaches the window (a hover, a new image, a moved slider's value label)."""

import os

os.environ.update(SDL_VIDEODRIVER="dummy", SDL_AUDIODRIVER="dummy", PYGAME_HIDE_SUPPORT_PROMPT="1")

import numpy as np  # noqa: E402
import pygame  # noqa: E402
import pygame_gui  # noqa: E402
import pytest  # noqa: E402

import explorer.app  # noqa: E402
from explorer.app import App  # noqa: E402
from explorer.pins import ENV_VAR  # noqa: E402
from explorer.views.draw import fit, to_surface  # noqa: E402
from model.io import save_networks  # noqa: E402
from model.spec import LatentSpec  # noqa: E402
from tests.model.conformance import make_g  # noqa: E402


@pytest.fixture
def app(tmp_path, monkeypatch):
    """The large view of seed 0, the worker idle: nothing new is on its way."""
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "data"))
    net = tmp_path / "tiny.safetensors"
    save_networks(net, {"G_ema": make_g(0)})
    app = App(net, size=(1280, 800), device="cpu", save_dir=tmp_path / "saved")
    try:
        assert app.pump_until(lambda: app.state is not None and app.state.direction_sets)
        assert app.pump_until(lambda: all(app.state.spec(s) in app.thumbs for s in app.state.page_seeds()))
        app.state.mode = "large"
        assert app.pump_until(lambda: app.large.spec == app.state.spec() and not app.renderer._pending)
        yield app
    finally:
        app.renderer.close()
        pygame.quit()


@pytest.fixture
def counts(app, monkeypatch):
    """How often the widgets were updated and the window flipped; no idle refresh unless a test asks for one."""
    seen = {"update": 0, "flip": 0}
    update, flip = app.manager.update, pygame.display.flip

    def counted(name, inner):
        def call(*args):
            seen[name] += 1
            return inner(*args)
        return call

    monkeypatch.setattr(app.manager, "update", counted("update", update))
    monkeypatch.setattr(pygame.display, "flip", counted("flip", flip))
    monkeypatch.setattr(explorer.app, "IDLE_REDRAW_S", 1e9)
    return seen


def pixels(app, rect):
    return pygame.surfarray.array3d(app.window.subsurface(rect)).copy()


def post(type_, **attrs):
    assert pygame.event.post(pygame.event.Event(type_, **attrs))


def test_a_frame_with_nothing_new_updates_no_widget_and_draws_nothing(app, counts, monkeypatch):
    assert not pygame.event.peek()
    app.step()
    assert counts == {"update": 0, "flip": 0}
    post(pygame.MOUSEMOTION, pos=(5, 5), rel=(1, 1), buttons=(0, 0, 0))  # input: widgets' hover may change
    app.step()
    assert counts == {"update": 1, "flip": 1}
    held = [True, False, False]
    monkeypatch.setattr(pygame.mouse, "get_pressed", lambda *args, **kwargs: tuple(held))
    app.step()  # a held button: pygame_gui moves a held slider arrow on its own, every frame
    assert counts == {"update": 2, "flip": 2}
    held[0] = False
    app.step()
    assert counts == {"update": 2, "flip": 2}
    monkeypatch.setattr(explorer.app, "IDLE_REDRAW_S", 0.0)
    app.step()  # once the idle interval has passed: toasts, tooltips, the text cursor's blink
    assert counts == {"update": 3, "flip": 3}

def test_a_hover_reaches_the_window_and_leaves_it(app, counts):
    link = app.back_rect()
    app.draw()
    plain = pixels(app, link)
    post(pygame.MOUSEMOTION, pos=link.center, rel=(1, 1), buttons=(0, 0, 0))
    app.step()
    lit = pixels(app, link)
    assert not np.array_equal(lit, plain)  # "‹ all seeds" lights up under the mouse
    post(pygame.MOUSEMOTION, pos=app.layout.main.bottomright, rel=(1, 1), buttons=(0, 0, 0))
    app.step()
    assert np.array_equal(pixels(app, link), plain)


def test_a_new_image_and_the_slider_value_reach_the_window(app, counts):
    r = app.large.image_rect(app.layout.main)
    lower = pygame.Rect(r.left, r.centery, r.width, r.bottom - r.centery)  # clear of the back link
    app.draw()
    before = pixels(app, lower)
    label = app.panel.labels["psi"]
    label_before = pixels(app, label.rect)
    psi = app.panel.psi
    psi.set_current_value(0.3, warn=False)
    post(pygame_gui.UI_HORIZONTAL_SLIDER_MOVED, ui_element=psi, value=0.3)
    app.sync.image_ms = 1000.0  # a slow model: the moved slider shows at once, while the image renders
    app.step()
    assert app.large.spec == LatentSpec(0) and not np.array_equal(pixels(app, label.rect), label_before)
    assert app.pump_until(lambda: app.large.spec == LatentSpec(0, psi=0.3))
    expected = fit(to_surface(app.large.image), r.width, app.state.nearest)
    shown = pixels(app, lower)
    assert np.array_equal(shown, pygame.surfarray.array3d(expected)[:, r.height // 2:])
    assert not np.array_equal(shown, before)


def test_a_fast_image_is_waited_for_and_drawn_with_the_moved_slider(app, counts, monkeypatch):
    """Renders faster than HOLD_S: the frame that asks draws nothing until the image is here, then both at once."""
    monkeypatch.setattr(explorer.app, "HOLD_S", 60.0)  # however slow this machine is, the hold outlasts the render
    app.sync.image_ms = 1.0
    label = app.panel.labels["psi"]
    label_before = pixels(app, label.rect)
    psi = app.panel.psi
    psi.set_current_value(0.4, warn=False)
    post(pygame_gui.UI_HORIZONTAL_SLIDER_MOVED, ui_element=psi, value=0.4)
    app.step()
    assert counts == {"update": 0, "flip": 0} and app.large.spec == LatentSpec(0)
    assert app.pump_until(lambda: counts["flip"] > 0)
    assert counts == {"update": 1, "flip": 1}
    assert app.large.spec == LatentSpec(0, psi=0.4)  # the frame that drew had the image
    assert not np.array_equal(pixels(app, label.rect), label_before)  # and the slider's new value
