"""The controls panel in a short window: its rows scroll (wheel or bar), the scroll bar covers none of them, and a
window tall enough shows no bar (headless, as tests/explorer/test_app.py drives the app)."""

import pygame_gui
import pytest

import explorer.app
from explorer.app import App
from explorer.views.layout import MIN_SIZE
from model.io import save_networks
from tests.model.conformance import make_g

from .test_app import folder, post, pygame  # noqa: F401 - fixtures


@pytest.fixture(scope="module")
def cond_net(tmp_path_factory):
    path = tmp_path_factory.mktemp("cond") / "cond.safetensors"
    save_networks(path, {"G_ema": make_g(3)})  # a class slider: the tallest StyleGAN2 panel
    return path


@pytest.fixture
def open_app(folder):  # noqa: F811
    apps = []

    def make(net, size):
        app = App(net, size=size, device="cpu", save_dir=folder / "saved")
        apps.append(app)
        assert app.pump_until(lambda: app.state is not None and app.panel is not None)
        return app

    yield make
    for app in apps:
        app.renderer.close()
    pygame.quit()


def shown(bar):
    return bar is not None and bar.visible and bar.rect.width > 0  # pygame_gui keeps an unneeded bar at width 0


def widgets(panel):
    return [e for e in panel.box.get_container().elements if not isinstance(e, pygame_gui.core.UIContainer)]


def test_a_short_window_scrolls_the_controls_to_their_last_row(cond_net, open_app, monkeypatch):
    app = open_app(cond_net, MIN_SIZE)
    panel, visible = app.panel, app.panel.panel.rect
    assert panel.y > visible.height and not visible.contains(panel.help.rect)  # Help is below the window's edge
    bar = panel.box.vert_scroll_bar
    assert shown(bar)
    assert all(e.rect.right <= bar.rect.left for e in widgets(panel))  # the bar covers no row
    monkeypatch.setattr(pygame.mouse, "get_pos", lambda: visible.center)  # the wheel scrolls what is under it
    post(pygame.MOUSEMOTION, pos=visible.center, rel=(1, 1), buttons=(0, 0, 0))
    app.step()

    def scrolled():  # one notch per frame, as a hand turns a wheel; pygame_gui keeps one notch per update
        if visible.contains(panel.help.rect):
            return True
        post(pygame.MOUSEWHEEL, x=0, y=-1, flipped=False, precise_x=0.0, precise_y=-1.0, touch=False)
        return False

    assert app.pump_until(scrolled)
    assert not visible.contains(panel.psi.rect)  # scrolled, not squeezed: the first rows left at the top


def test_a_tall_window_shows_every_row_without_a_bar(cond_net, open_app):
    app = open_app(cond_net, (1280, 1000))
    assert app.panel.panel.rect.contains(app.panel.help.rect)
    assert not shown(app.panel.box.vert_scroll_bar)


def test_a_resize_keeps_the_rows_and_brings_the_bar(cond_net, open_app):
    app = open_app(cond_net, (1280, 1000))
    help_button = app.panel.help
    app.resize(MIN_SIZE)
    app.step()
    assert app.panel.help is help_button  # moved, not rebuilt
    assert shown(app.panel.box.vert_scroll_bar)
    assert not app.panel.panel.rect.contains(help_button.rect)


def test_one_wheel_notch_glides_to_its_end_without_idle_refreshes(cond_net, open_app, monkeypatch):
    monkeypatch.setattr(explorer.app, "IDLE_REDRAW_S", 1e9)  # only the wheel's glide may keep the widgets updating
    app = open_app(cond_net, MIN_SIZE)
    bar, centre = app.panel.box.vert_scroll_bar, app.panel.panel.rect.center
    monkeypatch.setattr(pygame.mouse, "get_pos", lambda: centre)
    post(pygame.MOUSEMOTION, pos=centre, rel=(1, 1), buttons=(0, 0, 0))
    app.step()
    post(pygame.MOUSEWHEEL, x=0, y=-1, flipped=False, precise_x=0.0, precise_y=-1.0, touch=False)
    app.step()  # takes the notch: the target moves, the rows start to follow
    assert 0 < bar.target_scroll_position and bar.scroll_position < bar.target_scroll_position
    assert app.pump_until(lambda: bar.scroll_position == bar.target_scroll_position, timeout=5)
