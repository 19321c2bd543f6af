"""The explorer window, headless: driven by posted events and `App.step`, waiting only through `pump_until`.

Posted events do not move pygame's mouse, so every mouse event carries its own `pos`. Where a test needs the
worker to be busy (rapid slider moves, cancelling an export) the worker is held at a gate inside its synthesis
call, so nothing depends on how fast this machine renders.
"""

import json
import os
import shutil
import threading
import warnings

os.environ.update(SDL_VIDEODRIVER="dummy", SDL_AUDIODRIVER="dummy", PYGAME_HIDE_SUPPORT_PROMPT="1")

import numpy as np  # noqa: E402
import pygame  # noqa: E402
import pygame_gui  # noqa: E402
import pytest  # noqa: E402
from click.testing import CliRunner  # noqa: E402
from PIL import Image  # noqa: E402

import explorer.export  # noqa: E402
import explorer.input  # noqa: E402
from explorer.actions import OpenNetwork, PromptGoTo, SetPsi, SetSaveDir  # noqa: E402
from explorer.app import App, default_save_dir  # noqa: E402
from explorer.assets import DEMO_MODEL  # noqa: E402
from explorer.captions import spec_caption  # noqa: E402
from explorer.cli import main  # noqa: E402
from explorer.handlers import dispatch  # noqa: E402
from explorer.images import read_png_metadata  # noqa: E402
from explorer.pins import ENV_VAR, load_pins, pins_path  # noqa: E402
from explorer.state import Pin  # noqa: E402
from explorer.views.dialogs import TextDialog  # noqa: E402
from model.io import load, save_networks  # noqa: E402
from model.render import render_seed  # noqa: E402
from model.spec import MAX_SEED, LatentSpec  # noqa: E402
from tests.model.conformance import make_g  # noqa: E402

from .test_demo_model import needs_demo_model  # noqa: E402


@pytest.fixture(scope="module")
def nets(tmp_path_factory):
    folder = tmp_path_factory.mktemp("nets")
    uncond, cond = folder / "tiny.safetensors", folder / "cond.safetensors"
    save_networks(uncond, {"G_ema": make_g(0)})
    save_networks(cond, {"G_ema": make_g(3)})
    return uncond, cond


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "data"))
    return tmp_path


@pytest.fixture
def make_app(folder):
    apps = []

    def make(net):
        app = App(net, size=(1280, 800), device="cpu", save_dir=folder / "saved")
        apps.append(app)
        assert app.pump_until(lambda: app.state is not None)
        return app

    yield make
    for app in apps:
        app.renderer.close()
    pygame.quit()


def post(type_, **attrs):
    assert pygame.event.post(pygame.event.Event(type_, **attrs))


def click(pos, button=1):
    post(pygame.MOUSEBUTTONDOWN, pos=pos, button=button)
    post(pygame.MOUSEBUTTONUP, pos=pos, button=button)


def press(key, mod=0, unicode=""):
    post(pygame.KEYDOWN, key=key, mod=mod, unicode=unicode, scancode=0)
    post(pygame.KEYUP, key=key, mod=mod, unicode=unicode, scancode=0)


def slide(slider, value):
    """What pygame_gui posts when the user drags a slider to `value`."""
    slider.set_current_value(value, warn=False)
    post(pygame_gui.UI_HORIZONTAL_SLIDER_MOVED, ui_element=slider, value=slider.get_current_value())


def has_message(app):
    windows = app.manager.get_window_stack().get_full_stack()
    return any(isinstance(w, pygame_gui.windows.UIMessageWindow) for w in windows)


def shows(app, spec):
    return lambda: app.large.spec == spec


def gate(monkeypatch, owner, attr, key=None):
    """Hold the worker inside the next synthesis call until the returned `release` is set."""
    entered, release = threading.Event(), threading.Event()
    inner = getattr(owner, attr) if key is None else owner[key]

    def gated(*args):
        entered.set()
        assert release.wait(30)
        return inner(*args)

    if key is None:
        monkeypatch.setattr(owner, attr, gated)
    else:
        monkeypatch.setitem(owner, key, gated)
    return entered, release


@pytest.mark.parametrize("conditional", [False, True])
def test_clicking_a_tile_shows_that_seed_pixel_equal_to_sgx_generate(nets, make_app, folder, conditional):
    net = nets[conditional]
    app = make_app(net)
    s = app.state
    s.go_to(40)
    app.step()
    index = 5
    seed = s.page_seeds()[index]
    click(app.grid.tile_rect(index).center)
    assert app.pump_until(lambda: app.large.spec is not None)
    assert s.mode == "large" and app.large.spec.seed == seed
    args = ["generate", "--network", str(net), "--seeds", str(seed), "--outdir", str(folder / "gen")]
    result = CliRunner().invoke(main, args + (["--class", "0"] if conditional else []))
    assert result.exit_code == 0, result.output
    assert np.array_equal(app.large.image, np.asarray(Image.open(folder / "gen" / f"seed{seed:04d}.png")))
    assert f"seed {seed}" in spec_caption(app.large.spec) and ("class 0" in spec_caption(app.large.spec)) == conditional


def test_keys_and_widgets_reach_the_app_as_typed_actions_and_typing_is_not_a_key(nets, make_app, monkeypatch):
    app = make_app(nets[0])
    seen = []

    def record(app_, action):
        seen.append(action)
        dispatch(app_, action)

    monkeypatch.setattr(explorer.input, "dispatch", record)
    press(pygame.K_g)
    app.step()
    assert PromptGoTo() in seen and app.dialogs.text.alive
    seen.clear()
    press(pygame.K_p, unicode="p")  # typed into the seed prompt, focused on opening without a click: no pin
    slide(app.panel.psi, 0.5)
    app.step()
    assert [a for a in seen if a is not None] == [SetPsi(0.5)] and app.state.pins == []


def test_psi_slider_renders_with_that_psi(nets, make_app):
    app = make_app(nets[0])
    press(pygame.K_RETURN)
    assert app.pump_until(shows(app, LatentSpec(0)))
    slide(app.panel.psi, 0.5)
    assert app.pump_until(shows(app, LatentSpec(0, psi=0.5)))
    assert np.array_equal(app.large.image, render_seed(load(nets[0]).G, 0, 0.5, precision=app.renderer.precision))
    click(app.panel.psi.right_button.rect.center)  # the slider's own arrow button, through pygame_gui
    assert app.pump_until(shows(app, LatentSpec(0, psi=0.55)))
    assert app.panel.values["psi"] == "0.55"


@needs_demo_model
def test_the_bundled_demo_model_opens_and_fills_its_first_page(make_app):
    app = make_app(DEMO_MODEL)
    assert app.state.model.model_id == load(DEMO_MODEL).model_id
    assert app.pump_until(lambda: all(app.state.spec(s) in app.thumbs for s in app.state.page_seeds()))
    first = [pygame.surfarray.array3d(app.thumbs.get(app.state.spec(s), 64)) for s in app.state.page_seeds()[:2]]
    assert not np.array_equal(*first)


def test_rapid_slider_moves_cause_few_renders_and_the_last_one_wins(nets, make_app, monkeypatch):
    app = make_app(nets[0])
    assert app.pump_until(lambda: all(app.state.spec(s) in app.thumbs for s in app.state.page_seeds()))
    press(pygame.K_RETURN)
    assert app.pump_until(shows(app, LatentSpec(0)))
    entered, release = gate(monkeypatch, app.renderer, "_render_specs")
    before = app.renderer.images_rendered
    values = np.linspace(-1, 2, 100)
    for value in values:
        slide(app.panel.psi, float(value))
        app.step()
    assert entered.is_set()
    release.set()
    final = LatentSpec(0, psi=round(float(values[-1]), 2))
    assert app.pump_until(shows(app, final))
    assert app.renderer.images_rendered - before <= 3  # the render in flight at the first move, then the last
    assert np.array_equal(app.large.image, render_seed(load(nets[0]).G, 0, final.psi,
                                                       precision=app.renderer.precision))
    assert app.state.undo() and app.state.controls.psi == 1.0  # the whole drag is one undo step


def test_pin_unpin_persist_and_reload(nets, make_app):
    app = make_app(nets[0])
    model_id = app.state.model.model_id
    press(pygame.K_p)
    press(pygame.K_RIGHT)
    slide(app.panel.psi, 0.7)
    app.step()
    press(pygame.K_p)
    press(pygame.K_RIGHT)
    press(pygame.K_p)
    app.step()
    expected = [LatentSpec(0), LatentSpec(1, psi=0.7), LatentSpec(2, psi=0.7)]
    assert [p.spec for p in load_pins(model_id)[0]] == expected
    press(pygame.K_DELETE)  # unpins the current image, seed 2
    app.step()
    assert [p.spec for p in load_pins(model_id)[0]] == expected[:2]
    press(pygame.K_z, mod=pygame.KMOD_CTRL)
    app.step()
    assert [p.spec for p in load_pins(model_id)[0]] == expected
    assert app.pump_until(lambda: all(p.spec in app.thumbs for p in app.state.pins))

    strip = app.strip  # drag pin 0 onto the last slot, then rename and remove through the strip
    post(pygame.MOUSEBUTTONDOWN, pos=strip.pin_rect(0).center, button=1)
    post(pygame.MOUSEMOTION, pos=strip.pin_rect(1).center, rel=(80, 0), buttons=(1, 0, 0))
    post(pygame.MOUSEMOTION, pos=strip.pin_rect(2).center, rel=(80, 0), buttons=(1, 0, 0))
    post(pygame.MOUSEBUTTONUP, pos=strip.pin_rect(2).center, button=1)
    app.step()
    assert [p.spec.seed for p in app.state.pins] == [1, 2, 0]
    click(strip.pin_rect(0).center)
    click(strip.pin_rect(0).center)  # a double-click renames
    app.step()
    assert isinstance(app.dialogs.text, TextDialog)
    app.dialogs.text.entry.set_text("favourite")
    click(app.dialogs.text.ok.rect.center)
    app.step()
    app.step()
    assert app.state.pins[0].name == "favourite" and app.state.seed == 1 and app.state.mode == "large"
    post(pygame.MOUSEMOTION, pos=strip.pin_rect(1).center, rel=(0, 0), buttons=(0, 0, 0))
    click(strip.close_rect(1).center)
    app.step()
    saved = load_pins(model_id)[0]
    assert [(p.name, p.spec.seed) for p in saved] == [("favourite", 1), ("seed 0", 0)]

    again = make_app(nets[0])  # a new session on the same model finds them
    assert again.state.pins == saved
    assert make_app(nets[1]).state.pins == []  # another model has its own


def test_the_demo_with_no_pins_says_where_the_earlier_demo_models_pins_are(nets, make_app, monkeypatch):
    import explorer.pins

    former = "4d" * 32
    explorer.pins.save_pins(former, [Pin("kept", LatentSpec(5))])
    monkeypatch.setattr(explorer.pins, "FORMER_DEMO_IDS", (former,))
    monkeypatch.setattr(explorer.pins, "DEMO_MODEL", nets[0])  # the tiny net stands in for the bundled model

    def strip_pixels(app):
        app.draw()
        return pygame.surfarray.array3d(app.window.subsurface(app.strip.rect)).copy()

    other = make_app(nets[1])
    assert other.state.former_pins == "" and other.state.pins == []
    demo = make_app(nets[0])
    assert demo.state.former_pins == str(pins_path(former)) and demo.state.pins == []
    assert not np.array_equal(strip_pixels(demo), strip_pixels(other))  # the note is drawn in the empty strip
    demo.state.former_pins = ""
    assert np.array_equal(strip_pixels(demo), strip_pixels(other))
    assert load_pins(former)[0] == [Pin("kept", LatentSpec(5))]  # left as it was


def test_a_corrupt_pins_file_is_moved_aside_with_a_visible_warning(nets, make_app):
    path = pins_path(load(nets[0]).model_id)
    path.parent.mkdir(parents=True)
    path.write_text("{ this is not json")
    app = make_app(nets[0])
    assert has_message(app)
    assert app.state.pins == [] and len(list(path.parent.glob("*.corrupt-*"))) == 1
    press(pygame.K_p)
    app.step()
    assert len(load_pins(app.state.model.model_id)[0]) == 1


def test_one_bad_pin_leaves_the_others_with_a_visible_warning(nets, make_app):
    model_id = load(nets[0]).model_id
    path = pins_path(model_id)
    path.parent.mkdir(parents=True)
    items = [{"name": "a", "seed": 1}, {"name": "b", "seed": "x"}, {"name": "c", "seed": 3}]
    path.write_text(json.dumps({"format": "stylegan-explorer-pins/1", "model_id": model_id, "pins": items}))
    app = make_app(nets[0])
    assert [p.name for p in app.state.pins] == ["a", "c"] and has_message(app)
    assert any("pin 2 “b”" in m for _, m in app.dialogs.messages)
    assert len(list(path.parent.glob("*.corrupt-*"))) == 1


def test_an_unreadable_settings_file_is_moved_aside_with_a_visible_warning(folder):
    settings = folder / "data" / "settings.json"
    settings.parent.mkdir()
    settings.write_text("[" * 100_000)  # a RecursionError inside json
    app = App(size=(1280, 800), device="cpu")
    try:
        assert has_message(app) and app.save_dir == default_save_dir()
        assert not settings.exists() and len(list(settings.parent.glob("settings.json.corrupt-*"))) == 1
    finally:
        app.close()


def test_undo_restores_the_pin_named_as_mix_source(nets, make_app):
    app = make_app(nets[0])
    app.state.go_to(6)
    press(pygame.K_p)
    app.step()

    def choose(option, label):
        post(pygame_gui.UI_DROP_DOWN_MENU_CHANGED, ui_element=app.panel.mix_source, text=label,
             selected_option_id=option)
        app.step()

    choose("pin:0", "pin: seed 6")
    assert app.state.controls.mix_seed == 6 and app.panel.mix_source.selected_option == ("pin: seed 6", "pin:0")
    choose("none", "none")
    assert app.state.controls.mix_seed is None
    press(pygame.K_z, mod=pygame.KMOD_CTRL)
    app.step()
    assert app.state.controls.mix_seed == 6 and app.panel.mix_source.selected_option == ("pin: seed 6", "pin:0")


def test_the_seed_field_shows_the_largest_seed_in_full(nets, make_app):
    app = make_app(nets[0])
    app.state.go_to(MAX_SEED)
    app.step()
    label = app.panel.labels["seed"]
    assert label.text == "4294967295"
    assert label.font.get_rect(label.text).width <= label.rect.width and label.rect.right <= app.panel.goto.rect.left


def test_a_long_model_name_is_elided_to_fit_its_label(nets, make_app, folder):
    long = folder / ("network-snapshot-000200-" + "x" * 80 + "-final.safetensors")
    shutil.copy(nets[0], long)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        app = make_app(long)
    assert not [w for w in caught if "too small" in str(w.message)]
    shown = app.panel.model_name.text
    assert shown.startswith("network-sn") and shown.endswith("-final") and "…" in shown


def test_the_wheel_scrolls_one_row_per_notch(nets, make_app):
    app = make_app(nets[0])
    s = app.state
    post(pygame.MOUSEMOTION, pos=app.layout.main.center, rel=(0, 0), buttons=(0, 0, 0))
    post(pygame.MOUSEWHEEL, x=0, y=-1, flipped=False, precise_x=0.0, precise_y=-1.0)
    app.step()
    assert s.cols > 1 and s.page_start == s.cols and s.seed == s.cols  # a row, the selection kept on the page
    post(pygame.MOUSEWHEEL, x=0, y=1, flipped=False, precise_x=0.0, precise_y=1.0)
    app.step()
    assert s.page_start == 0


def test_n_switches_the_large_view_between_crisp_and_smooth(nets, make_app):
    app = make_app(nets[0])
    assert app.state.model.resolution <= 128 and app.state.nearest  # a small model starts crisp
    press(pygame.K_n)
    app.step()
    assert not app.state.nearest and "smooth" in app.status.toast
    press(pygame.K_n)
    app.step()
    assert app.state.nearest and "nearest" in app.status.toast


def test_the_open_dialog_lists_folders_and_network_files_unless_asked_for_all(nets, make_app, folder):
    app = make_app(nets[0])
    browse = folder / "browse"
    (browse / ".git").mkdir(parents=True)
    (browse / "runs").mkdir()
    for name in ("a.pkl", "b.safetensors", "notes.txt", ".hidden.pkl"):
        (browse / name).write_text("x")

    def listed():
        return {item[0] for item in app.dialogs.file.current_file_list}

    app.dialogs.pick_file("Open a network file", str(browse) + os.sep, False, OpenNetwork)
    assert listed() == {"runs", "a.pkl", "b.safetensors"}
    click(app.dialogs.file.show_all_box.rect.center)
    app.step()
    app.step()
    assert listed() == {".git", "runs", "a.pkl", "b.safetensors", "notes.txt", ".hidden.pkl"}
    app.dialogs.pick_file("Choose the save folder", str(browse), True, SetSaveDir)
    assert listed() == {"runs"}


def test_s_saves_the_png_with_generate_metadata(nets, make_app, folder):
    app = make_app(nets[1])
    slide(app.panel.klass, 2)
    app.step()
    press(pygame.K_s)  # from the grid: the image is rendered first, then saved
    assert app.pump_until(lambda: (folder / "saved" / "seed0000.png").exists())
    press(pygame.K_s)
    assert app.pump_until(lambda: (folder / "saved" / "seed0000-1.png").exists())
    pixels = np.asarray(Image.open(folder / "saved" / "seed0000.png"))
    assert np.array_equal(pixels, render_seed(load(nets[1]).G, 0, class_idx=2,
                                                   precision=app.renderer.precision))
    meta = read_png_metadata(folder / "saved" / "seed0000.png")
    assert meta["seed"] == 0 and meta["class_idx"] == 2 and meta["psi"] == 1.0 and meta["noise_mode"] == "const"
    assert meta["model_id"] == app.state.model.model_id and meta["model"] == nets[1].name
    assert meta["precision"] == app.renderer.precision != "auto"
    assert "saved seed0000-1.png" in app.status.toast


def pin_two(app):
    press(pygame.K_p)
    press(pygame.K_RIGHT)
    press(pygame.K_p)
    press(pygame.K_e)
    app.step()
    app.step()
    assert app.dialogs.export is not None and app.dialogs.export.alive
    app.dialogs.export.frames.set_text("3")


def test_export_from_the_dialog_writes_the_video(nets, make_app, folder):
    app = make_app(nets[0])
    pin_two(app)
    output = folder / "saved" / "tiny-2-pins.mp4"
    assert app.dialogs.export.output == output and not output.parent.exists()  # made on Export
    click(app.dialogs.export.start.rect.center)
    assert app.pump_until(lambda: app.sync.export_status.startswith("done"))
    assert output.stat().st_size > 0 and sorted(p.name for p in output.parent.iterdir()) == [output.name]
    assert app.dialogs.export.bar.current_progress == 100
    status = app.dialogs.export.status  # "done: <long path>" elided to fit
    assert status.text.startswith("done: ") and status.text.endswith(output.name)
    assert status.font.get_rect(status.text).width <= status.rect.width


def test_gif_at_60_fps_plays_at_50(nets, make_app):
    app = make_app(nets[0])
    pin_two(app)
    dialog = app.dialogs.export
    dialog.format.selected_option, dialog.fps.selected_option = ("GIF", "gif"), ("60", "60")
    dialog.name.set_text("loop.gif")
    assert dialog.settings(app.state.pins).fps == 50
    dialog.format.selected_option = ("mp4 (H.264)", "mp4")
    dialog.name.set_text("loop.mp4")
    assert dialog.settings(app.state.pins).fps == 60


def test_quitting_during_an_export_asks_first(nets, make_app, folder, monkeypatch):
    app = make_app(nets[0])
    pin_two(app)
    entered, release = gate(monkeypatch, explorer.export, "synthesize")
    click(app.dialogs.export.start.rect.center)
    assert app.pump_until(entered.is_set)
    post(pygame.QUIT)
    assert app.step() and "export is running" in app.status.toast
    post(pygame.QUIT)
    assert not app.step()
    release.set()


def test_export_cancel_leaves_no_file_and_the_ui_stays_live(nets, make_app, folder, monkeypatch):
    app = make_app(nets[0])
    pin_two(app)
    folder.joinpath("saved").mkdir()
    entered, release = gate(monkeypatch, explorer.export, "synthesize")
    click(app.dialogs.export.start.rect.center)
    assert app.pump_until(entered.is_set)
    for _ in range(5):  # the worker is stuck in the export, the loop is not
        press(pygame.K_RIGHT)
        assert app.step()
    assert app.state.seed == 6
    click(app.dialogs.export.cancel.rect.center)
    app.step()
    release.set()
    assert app.pump_until(lambda: app.sync.export_status.startswith("cancelled"))
    assert list((folder / "saved").iterdir()) == []
    assert not app.renderer.exporting


def test_export_needs_two_pins(nets, make_app):
    app = make_app(nets[0])
    press(pygame.K_e)
    app.step()
    assert app.dialogs.export is None and has_message(app)


def test_dropping_files_opens_them_and_errors_go_to_a_message_window(nets, make_app, folder):
    app = make_app(nets[0])
    bad = folder / "notes.txt"
    bad.write_text("hello")
    post(pygame.DROPFILE, file=str(bad))
    assert app.pump_until(lambda: has_message(app))
    assert app.sync.loading is None and app.state.model.c_dim == 0 and app.running
    post(pygame.DROPFILE, file=str(nets[1]))
    assert app.pump_until(lambda: app.state.model.c_dim == 3)


def test_escape_closes_help_then_dialogs_then_the_large_view_then_quits(nets, make_app):
    app = make_app(nets[0])
    press(pygame.K_RETURN)
    press(pygame.K_g)
    app.step()
    assert app.dialogs.text is not None and app.dialogs.text.alive
    app.dialogs.text.entry.set_text("123")
    post(pygame_gui.UI_TEXT_ENTRY_FINISHED, ui_element=app.dialogs.text.entry, text="123")
    app.step()
    assert app.state.seed == 123
    press(pygame.K_F1)
    app.step()
    assert app.dialogs.help_open
    for expected in ("help closed", "large", "grid", "quit"):
        if expected == "large":
            press(pygame.K_g)
            app.step()
            assert app.dialogs.text.alive
        press(pygame.K_ESCAPE)
        app.step()
        if expected == "help closed":
            assert not app.dialogs.help_open and app.running
    assert not app.running


def test_event_storm_raises_nothing_and_the_loop_stays_alive(nets, make_app, folder, monkeypatch):
    app = make_app(nets[0])
    picked = []
    monkeypatch.setattr(app.dialogs, "pick_file", lambda *args: picked.append(args))
    rng = np.random.default_rng(7)
    keys = [pygame.K_LEFT, pygame.K_RIGHT, pygame.K_UP, pygame.K_DOWN, pygame.K_PAGEUP, pygame.K_PAGEDOWN,
            pygame.K_SPACE, pygame.K_RETURN, pygame.K_p, pygame.K_DELETE, pygame.K_s, pygame.K_e, pygame.K_g,
            pygame.K_h, pygame.K_F1, pygame.K_F2, pygame.K_z, pygame.K_o, pygame.K_a, pygame.K_1, pygame.K_TAB,
            pygame.K_BACKSPACE]
    bad = folder / "bad.pkl"
    bad.write_bytes(b"\x80\x04junk")
    posted = steps = 0

    def pos():
        w, h = app.window.get_size()
        return int(rng.integers(0, w)), int(rng.integers(0, h))

    while posted < 2200:
        kind = rng.choice(["click", "click", "key", "key", "drag", "wheel", "text", "resize", "drop"],
                          p=[0.25, 0.1, 0.25, 0.1, 0.1, 0.1, 0.05, 0.03, 0.02])
        if kind == "click":
            click(pos(), button=int(rng.choice([1, 1, 1, 3])))
            posted += 2
        elif kind == "key":
            k = int(rng.choice(keys))
            press(k, mod=pygame.KMOD_CTRL if k == pygame.K_z else 0, unicode=chr(k) if k < 128 else "")
            posted += 2
        elif kind == "drag":
            start = pos()
            post(pygame.MOUSEBUTTONDOWN, pos=start, button=1)
            for _ in range(int(rng.integers(2, 8))):
                post(pygame.MOUSEMOTION, pos=pos(), rel=(1, 1), buttons=(1, 0, 0))
                posted += 1
            post(pygame.MOUSEBUTTONUP, pos=pos(), button=1)
            posted += 2
        elif kind == "wheel":
            post(pygame.MOUSEMOTION, pos=pos(), rel=(0, 0), buttons=(0, 0, 0))
            post(pygame.MOUSEWHEEL, x=0, y=int(rng.choice([-1, 1])), flipped=False, precise_x=0.0, precise_y=1.0)
            posted += 2
        elif kind == "text":
            post(pygame.TEXTINPUT, text=str(rng.integers(0, 10)))
            posted += 1
        elif kind == "resize":
            post(pygame.VIDEORESIZE, size=(int(rng.integers(500, 1700)), int(rng.integers(400, 1100))))
            posted += 1
        else:
            post(pygame.DROPFILE, file=str(rng.choice([str(bad), str(nets[0])])))
            posted += 1
        if rng.random() < 0.3:
            assert app.step()
            steps += 1
    assert app.step() and app.running and app.renderer._thread.is_alive()
    assert app.pump_until(lambda: app.state is not None and app.sync.loading is None)
    for window in app.manager.get_window_stack().get_full_stack():
        window.kill()
    app.dialogs.help_open = False
    app.state.mode = "large"
    app.state.set_controls(None, psi=-0.33)  # the worker and the loop still answer
    assert app.pump_until(shows(app, app.state.spec()))
    assert app.large.spec.psi == -0.33 and steps > 200


def test_a_network_with_non_finite_weights_says_so_in_the_status(make_app, folder):
    g = make_g(0)
    g.synthesis.b16.torgb.bias.data[0] = float("inf")
    path = folder / "inf.safetensors"
    save_networks(path, {"G_ema": g})
    app = make_app(path)
    assert "non-finite values" in app.status.toast
