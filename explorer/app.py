"""The explorer window: each frame turns events into state changes, the state into render requests, then draws.

The loop never waits on the renderer: requests go out as the state changes and results come back as events.
`step()` is one frame (tests and the benchmark drive it directly); `run()` paces it at 60 fps, sleeping in
`pygame.event.wait` so a finished render or a click wakes it at once. A frame without events is only redrawn
every IDLE_REDRAW_S: an idle window leaves the CPU to the render worker (a full-window flip costs 1-20 ms).
"""

from __future__ import annotations

import os
import time
import traceback
from pathlib import Path

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import platformdirs  # noqa: E402
import pygame  # noqa: E402
import pygame_gui  # noqa: E402
from pygame_gui.elements import UITextEntryLine, UIWindow  # noqa: E402

from model.errors import ModelError  # noqa: E402
from model.spec import MAX_SEED, LatentSpec  # noqa: E402

from .assets import THEME  # noqa: E402
from .images import save_png, spec_metadata, spec_stem  # noqa: E402
from .pins import load_pins, load_settings, save_pins, save_settings  # noqa: E402
from .renderer import RENDER_EVENT, Renderer, Result  # noqa: E402
from .state import Explorer, spec_caption  # noqa: E402
from .views.controls import ControlsPanel  # noqa: E402
from .views.dialogs import FileDialog, TextDialog, show_message  # noqa: E402
from .views.draw import ACCENT, BG, DIM, font, text  # noqa: E402
from .views.export_dialog import ExportDialog  # noqa: E402
from .views.grid import GridView  # noqa: E402
from .views.help import draw_help  # noqa: E402
from .views.large import LargeView  # noqa: E402
from .views.layout import MIN_SIZE, layout  # noqa: E402
from .views.pins_strip import THUMB, PinsStrip  # noqa: E402
from .views.status import StatusBar  # noqa: E402
from .views.thumbs import Thumbs  # noqa: E402

FPS = 60
IDLE_REDRAW_S = 0.1  # with no events a frame is redrawn at 10 fps (toasts, widget hover and cursor blink)
QUIT_CONFIRM_S = 3.0  # a second quit within this many seconds cancels a running export and quits
MAX_MESSAGES = 3
TITLE = "StyleGAN Explorer"


def default_save_dir() -> Path:
    return Path(platformdirs.user_pictures_dir()) / "stylegan-explorer"


class App:
    def __init__(self, network: str | os.PathLike | None = None, size: tuple[int, int] = (1280, 800),
                 device: str = "auto", precision: str = "auto", save_dir: str | os.PathLike | None = None,
                 threads: int = 1):
        pygame.display.init()  # display and fonts only: no audio device is opened
        pygame.font.init()
        font.cache_clear()  # fonts from an earlier pygame.init are dead
        size = (max(size[0], MIN_SIZE[0]), max(size[1], MIN_SIZE[1]))
        self.window = pygame.display.set_mode(size, pygame.RESIZABLE)
        pygame.display.set_caption(TITLE)
        theme = str(THEME) if THEME.is_file() else None  # a wheel install has no assets/: pygame_gui's own theme
        self.manager = pygame_gui.UIManager(size, theme)
        self.clock = pygame.time.Clock()
        self.renderer = Renderer(device, precision, threads)
        self.state: Explorer | None = None
        self.thumbs = Thumbs()
        self.grid, self.large, self.strip, self.status = GridView(), LargeView(), PinsStrip(), StatusBar()
        self.panel: ControlsPanel | None = None
        self.text_dialog: TextDialog | None = None
        self.export_dialog: ExportDialog | None = None
        self.file_dialog = None
        self.file_purpose = ""
        self.messages: list[tuple[pygame_gui.windows.UIMessageWindow, str]] = []
        self.help_open = False
        self.running = True
        self.quit_armed_until = 0.0
        self.mouse = (0, 0)
        self.loading: str | None = None
        self.open_stamp = self.model_stamp = 0
        self.requested: dict[str, object] = {}
        self.render_ms: float | None = None
        self.save_pending: LatentSpec | None = None
        self.saved_pins: tuple = ()
        self.export_status = ""
        self.save_dir = Path(save_dir or self.settings().get("save_dir") or default_save_dir())
        self._held: list[pygame.event.Event] = []
        self._drawn = 0.0
        self.relayout()
        if network is not None:
            self.open(network)

    # -- the loop ----------------------------------------------------------------------------------

    def run(self) -> None:
        """Until quit; an unexpected error is shown in a message window rather than closing the app."""
        try:
            while self.running:
                start = time.perf_counter()
                try:
                    self.step()
                except Exception as e:  # noqa: BLE001 - the last line of defence: report, keep the window
                    traceback.print_exc()
                    self.error("Unexpected error", f"{type(e).__name__}: {e}")
                self._idle(start + 1 / FPS)
        finally:
            self.close()

    def step(self) -> bool:
        """One frame: events -> state -> render requests -> draw. Returns False once the user has quit."""
        dt = self.clock.tick() / 1000
        events, self._held = self._held + pygame.event.get(), []
        for event in events:
            self.handle(event)
        self.reconcile()
        self.manager.update(min(dt, 0.1))
        now = time.perf_counter()
        if events or now - self._drawn >= IDLE_REDRAW_S:
            self._drawn = now
            self.draw()
            pygame.display.flip()
        return self.running

    def _idle(self, deadline: float) -> None:
        """Sleep until the next frame, waking early for anything but mouse motion (a result, a click, a key)."""
        while (left := deadline - time.perf_counter()) > 0.001:
            event = pygame.event.wait(max(int(left * 1000), 1))
            if event.type == pygame.NOEVENT:
                break
            self._held.append(event)
            if event.type != pygame.MOUSEMOTION:
                break

    def pump_until(self, done, timeout: float = 30.0) -> bool:
        """Step frames until done() is true or the timeout passes (tests, benchmark); never sleeps blindly."""
        end = time.perf_counter() + timeout
        while not done():
            if time.perf_counter() > end:
                return False
            self.step()
            self._idle(time.perf_counter() + 0.005)
        return True

    def close(self) -> None:
        self.renderer.close()
        pygame.display.quit()

    # -- events ------------------------------------------------------------------------------------

    def handle(self, event: pygame.event.Event) -> None:
        if hasattr(event, "pos"):
            self.mouse = event.pos
        if event.type == pygame.QUIT:
            self.quit()
            return
        if event.type == RENDER_EVENT:
            self.on_result(event.result)
            return
        if event.type == pygame.VIDEORESIZE:
            self.resize(event.size)
        if event.type == pygame.DROPFILE:
            self.open(event.file)
            return
        if self.help_open and event.type in (pygame.KEYDOWN, pygame.MOUSEBUTTONDOWN):
            self.help_open = False
            return
        consumed = self.manager.process_events(event)
        self.on_widget(event)
        if event.type == pygame.MOUSEBUTTONUP and self.state is not None:
            self.state.end_drag()
        if self.state is not None and self.strip.pressed and event.type in (pygame.MOUSEMOTION, pygame.MOUSEBUTTONUP):
            self.act(self.strip.handle(event, len(self.state.pins), time.monotonic()))
            return
        if consumed:
            return
        if event.type == pygame.KEYDOWN and not self.typing():
            self.on_key(event)
        elif event.type in (pygame.MOUSEBUTTONDOWN, pygame.MOUSEWHEEL):
            self.on_mouse(event)

    def typing(self) -> bool:
        return any(isinstance(e, UITextEntryLine) for e in self.manager.get_focus_set() or ())

    def on_key(self, event: pygame.event.Event) -> None:
        k, s = event.key, self.state
        if k == pygame.K_ESCAPE:
            self.back()
        elif k in (pygame.K_F1, pygame.K_h):
            self.help_open = True
        elif k == pygame.K_o:
            self.act(("open",))
        elif s is None:
            return
        elif k == pygame.K_z and event.mod & (pygame.KMOD_CTRL | pygame.KMOD_META):
            if not s.undo():
                self.status.show("nothing to undo", time.monotonic())
        elif k in (pygame.K_LEFT, pygame.K_RIGHT):
            s.move(1 if k == pygame.K_RIGHT else -1)
        elif k in (pygame.K_UP, pygame.K_DOWN):
            s.move((1 if k == pygame.K_DOWN else -1) * (s.cols if s.mode == "grid" else 1))
        elif k in (pygame.K_PAGEUP, pygame.K_PAGEDOWN):
            s.page(1 if k == pygame.K_PAGEDOWN else -1)
        elif k == pygame.K_SPACE:
            s.random_seed()
        elif k in (pygame.K_RETURN, pygame.K_KP_ENTER):
            s.mode = "large"
        elif k in (pygame.K_DELETE, pygame.K_BACKSPACE):  # a Mac's "delete" key is backspace
            self.act(("unpin",))
        elif k == pygame.K_F2:
            self.act(("rename", s.current_pin_index()))
        elif k == pygame.K_n:
            scaling = "crisp (nearest-neighbour)" if s.toggle_nearest() else "smooth"
            self.status.show(f"large view: {scaling} scaling", time.monotonic())
        else:
            keys = {pygame.K_g: "goto", pygame.K_p: "pin", pygame.K_s: "save", pygame.K_e: "export"}
            if k in keys:
                self.act((keys[k],))

    def on_mouse(self, event: pygame.event.Event) -> None:
        s, lay = self.state, self.layout
        if s is None:
            return
        if self.strip.rect.collidepoint(self.mouse):
            self.act(self.strip.handle(event, len(s.pins), time.monotonic()))
        elif event.type == pygame.MOUSEWHEEL and lay.main.collidepoint(self.mouse):
            if s.mode == "grid":
                s.scroll(-event.y)
            else:
                s.move(-event.y)
        elif event.type == pygame.MOUSEBUTTONDOWN and event.button == 1 and lay.main.collidepoint(event.pos):
            if s.mode == "grid":
                seed = self.grid.hit(event.pos, s)
                if seed is not None:
                    s.go_to(seed)
                    s.mode = "large"
            elif self.back_rect().collidepoint(event.pos):
                s.mode = "grid"

    def on_widget(self, event: pygame.event.Event) -> None:
        """pygame_gui events from the panel and dialogs."""
        if event.type == pygame_gui.UI_FILE_DIALOG_PATH_PICKED and event.ui_element is self.file_dialog:
            self.on_path(event.text)
            return
        for source in (self.panel, self.text_dialog, self.export_dialog):
            if source is not None:
                self.act(source.handle(event))
        if self.text_dialog is not None and not self.text_dialog.alive:
            self.text_dialog = None

    def back(self) -> None:
        """Esc: close the help or the top dialog, else leave the large view, else quit."""
        windows = [w for w in self.manager.get_window_stack().get_full_stack() if isinstance(w, UIWindow)]
        if self.help_open:
            self.help_open = False
        elif windows:
            windows[-1].kill()
        elif self.state is not None and self.state.mode == "large":
            self.state.mode = "grid"
        else:
            self.quit()

    def quit(self) -> None:
        """Quit, but not silently over a running export: the first request only warns."""
        now = time.monotonic()
        if self.renderer.exporting and now > self.quit_armed_until:
            self.quit_armed_until = now + QUIT_CONFIRM_S
            self.status.show("an export is running: quit again to cancel it and quit", now)
            return
        self.running = False

    # -- actions (from keys, panel, pins strip, dialogs) ------------------------------------------

    def act(self, action: tuple | None) -> None:
        if not action:
            return
        name, *args = action
        if name in ("goto", "rename") and self.text_dialog is not None:
            self.text_dialog.window.kill()  # one prompt at a time
            self.text_dialog = None
        s, now = self.state, time.monotonic()
        if name == "help":
            self.help_open = True
        elif name == "open":
            self.pick_file("Open a network file", "open", str(Path.cwd()) + os.sep, False)
        elif s is None:
            return
        elif name in ("psi", "cutoff", "class", "noise", "mix_first", "mix_last", "band", "mix_seed", "mix_pin",
                      "mix_none"):
            self.set_control(name, *args)
        elif name == "goto":
            self.text_dialog = TextDialog(self.manager, "Go to seed", f"Seed (0 – {MAX_SEED})", "", "goto_seed",
                                          numbers=True)
        elif name == "goto_seed":
            if args[0].strip():
                s.go_to(int(args[0]))
        elif name == "random":
            s.random_seed()
        elif name == "pin":
            pin = s.pin()
            self.status.show(f"pinned “{pin.name}”", now)
        elif name == "unpin":
            i = s.current_pin_index()
            if i is None:
                self.status.show("the current image is not pinned", now)
            else:
                self.status.show(f"unpinned “{s.unpin(i).name}”", now)
        elif name == "remove":
            self.status.show(f"unpinned “{s.unpin(args[0]).name}”", now)
        elif name == "recall":
            s.recall(args[0])
            s.mode = "large"
        elif name == "move":
            s.move_pin(*args)
        elif name == "rename":
            if args[0] is None:
                self.status.show("the current image is not pinned", now)
            else:
                self.text_dialog = TextDialog(self.manager, "Rename pin", "Name", s.pins[args[0]].name,
                                              "rename_to", payload=s.pins[args[0]])
        elif name == "rename_to":
            if args[1] in s.pins:
                s.rename_pin(s.pins.index(args[1]), args[0])
        elif name == "save":
            self.save()
        elif name == "save_dir":
            self.pick_file("Choose the save folder", "save_dir", str(self.save_dir), True)
        elif name == "export":
            self.open_export()
        elif name == "export_start":
            self.start_export()
        elif name == "export_cancel":
            self.renderer.cancel_export()
        elif name == "export_browse" and self.export_dialog is not None:
            self.pick_file("Export into this folder", "export_folder", str(self.export_dialog.folder), True)

    def set_control(self, name: str, *args) -> None:
        s = self.state
        c, info = s.controls, s.model
        if name == "psi":
            s.set_controls("psi", psi=float(args[0]))
        elif name == "cutoff":
            s.set_controls("cutoff", cutoff=None if int(args[0]) >= info.num_ws else int(args[0]))
        elif name == "class":
            s.set_controls("class", class_idx=int(args[0]))
        elif name == "noise":
            s.set_controls("noise", noise_mode=args[0])
        elif name == "mix_first":
            s.set_controls("mix_first", mix_first=int(args[0]), mix_last=max(c.mix_last, int(args[0])))
        elif name == "mix_last":
            s.set_controls("mix_last", mix_last=int(args[0]), mix_first=min(c.mix_first, int(args[0])))
        elif name == "band":
            band = next(b for b in info.bands if b.name == args[0])
            source = c.mix_seed if c.mix_seed is not None else (s.seed + 1) % (MAX_SEED + 1)
            s.set_controls(None, mix_first=band.first, mix_last=band.last, mix_seed=source)
            if c.mix_seed is None:
                self.status.show(f"mixing with seed {source}: pick another source above", time.monotonic())
        elif name == "mix_seed":
            if args[0] is None or not 0 <= args[0] <= MAX_SEED:
                self.error("Style mixing", f"Type a source seed from 0 to {MAX_SEED}.")
            else:
                s.set_controls(None, mix_seed=args[0], mix_pin=None)
        elif name == "mix_pin":
            if args[0] < len(s.pins):  # the choice may come from a drop-down the pins just replaced
                pin = s.pins[args[0]]
                s.set_controls(None, mix_seed=pin.spec.seed, mix_pin=pin)
        elif name == "mix_none":
            s.set_controls(None, mix_seed=None)

    def pick_file(self, title: str, purpose: str, initial: str, directories: bool) -> None:
        if self.file_dialog is not None and self.file_dialog.alive():
            self.file_dialog.kill()
        self.file_dialog, self.file_purpose = FileDialog(self.manager, title, initial, directories), purpose

    def on_path(self, path: str) -> None:
        if self.file_purpose == "open":
            self.open(path)
        elif self.file_purpose == "save_dir":
            self.save_dir = Path(path)
            try:
                save_settings({**self.settings(), "save_dir": str(self.save_dir)})
            except OSError as e:
                self.error("Settings", f"Could not remember the folder: {e}")
        elif self.file_purpose == "export_folder" and self.export_dialog is not None:
            self.export_dialog.set_output(str(Path(path) / self.export_dialog.output.name))

    def settings(self) -> dict:
        """The saved preferences; an unreadable settings file has been moved aside, and the user is told."""
        settings, warning = load_settings()
        if warning:
            self.error("Settings", warning)
        return settings

    def error(self, title: str, message: str) -> None:
        """A message window; a repeat of one still open is not stacked, and at most MAX_MESSAGES stay open."""
        self.messages = [(w, m) for w, m in self.messages if w.alive()]
        if any(m == message for _, m in self.messages):
            return
        while len(self.messages) >= MAX_MESSAGES:
            self.messages.pop(0)[0].kill()
        self.messages.append((show_message(self.manager, title, message), message))

    # -- model, save, export -----------------------------------------------------------------------

    def open(self, path: str | os.PathLike) -> None:
        self.loading = Path(path).name
        self.open_stamp = self.renderer.open(path)

    def on_model(self, result: Result) -> None:
        info = result.info
        self.loading = None
        self.model_stamp = result.stamp
        pins, warning = load_pins(info.model_id)
        self.state = Explorer(info, pins=pins)
        self.saved_pins = tuple(pins)
        self.thumbs.clear()
        self.large.clear()
        self.requested.clear()
        self.save_pending = None
        if self.export_dialog is not None:
            self.export_dialog.kill()
            self.export_dialog = None
        pygame.display.set_caption(f"{info.name} — {TITLE}")
        self.relayout()
        self.rebuild_panel()
        if warning:
            self.error("Pins", warning)
        if result.message:  # e.g. non-finite weights: the images would come out black without a word
            self.status.show(f"warning: {result.message}", time.monotonic())

    def save(self) -> None:
        spec = self.state.spec()
        if self.large.spec == spec and self.large.image is not None:
            self.write_png(spec, self.large.image)
        else:
            self.save_pending = spec

    def write_png(self, spec: LatentSpec, image) -> None:
        """Same name pattern and metadata as `sgx generate`; never overwrites an earlier save."""
        info = self.state.model
        meta = spec_metadata(spec, precision=self.renderer.precision, model_id=info.model_id,
                             model=Path(info.path).name)
        try:
            self.save_dir.mkdir(parents=True, exist_ok=True)
            path, n = self.save_dir / f"{spec_stem(spec)}.png", 1
            while path.exists():
                path, n = self.save_dir / f"{spec_stem(spec)}-{n}.png", n + 1
            save_png(path, image, meta)
        except OSError as e:
            self.error("Could not save", f"{e.strerror or e}: {e.filename or self.save_dir}")
            return
        self.status.show(f"saved {path.name} in {self.save_dir}", time.monotonic())

    def open_export(self) -> None:
        s = self.state
        if len(s.pins) < 2:
            self.error("Export video", "Pin at least two images (P): the video moves through the pins in order.")
            return
        if self.export_dialog is not None and self.export_dialog.alive:
            return
        stem = f"{s.model.name}-{len(s.pins)}-pins"
        self.export_dialog = ExportDialog(self.manager, s.pins, s.model.resolution, self.save_dir / f"{stem}.mp4")
        if self.renderer.exporting:
            self.export_dialog.set_running(True)
            self.export_dialog.set_progress(0, self.export_status)

    def start_export(self) -> None:
        try:
            settings = self.export_dialog.settings(self.state.pins)
            Path(settings.output).parent.mkdir(parents=True, exist_ok=True)  # the default folder may be new
            self.renderer.export(settings)
        except ModelError as e:
            self.error("Export video", str(e))
            return
        except OSError as e:
            self.error("Export video", f"cannot create the folder: {e.strerror or e}: {e.filename}")
            return
        self.export_dialog.set_running(True)
        self.export_dialog.set_progress(0, "starting…")

    def on_export(self, result: Result) -> None:
        done = {"done": f"done: {result.output}", "cancelled": "cancelled: nothing was written",
                "failed": "failed"}
        self.export_status = done.get(result.state, f"{100 * result.progress:.0f}%")
        dialog = self.export_dialog if self.export_dialog is not None and self.export_dialog.alive else None
        if dialog is not None:
            dialog.set_progress(result.progress, self.export_status)
            dialog.set_running(result.state not in done)
        if result.state == "done":
            self.status.show(f"exported {Path(result.output).name}", time.monotonic())

    # -- results -----------------------------------------------------------------------------------

    def on_result(self, result: Result) -> None:
        if result.kind == "model":
            if result.stamp == self.open_stamp:
                self.on_model(result)
        elif result.kind == "error":
            self.on_error(result)
        elif result.kind == "export":
            self.on_export(result)
        elif result.stamp < self.model_stamp or self.state is None:
            return  # rendered with the previous model
        elif result.kind == "image":
            self.render_ms = result.ms
            if result.stamp > self.large.stamp:
                self.large.set_image(result.images[0], result.specs[0], result.stamp)
            if self.save_pending == result.specs[0]:
                self.save_pending = None
                self.write_png(result.specs[0], result.images[0])
        elif result.kind == "thumbs":
            self.render_ms = result.ms
            for spec, image in zip(result.specs, result.images, strict=True):
                self.thumbs.put(spec, image)

    def on_error(self, result: Result) -> None:
        if result.channel == "open":
            if result.stamp == self.open_stamp:
                self.loading = None
                self.requested.clear()  # renders dropped while the file was loading are asked for again
            self.error("Could not open the file", result.message)
        elif result.channel == "export":
            self.on_export(Result("export", result.stamp, state="failed"))
            self.error("Export failed", result.message)
        else:
            if result.channel == "image":
                self.requested.pop("image", None)
                self.save_pending = None
            self.error("Render failed", result.message)

    # -- state -> requests, widgets ----------------------------------------------------------------

    def reconcile(self) -> None:
        s = self.state
        if s is None:
            return
        if self.panel is None:
            self.rebuild_panel()
        self.panel.sync(s, str(self.save_dir))
        if s.mode == "large" or self.save_pending is not None:
            want = self.save_pending or s.spec()
            if self.requested.get("image") != want:
                self.renderer.render(want)
                self.requested["image"] = want
        size = max(self.grid.tile, THUMB)
        if s.mode == "grid":
            self.request_thumbs("grid", [s.spec(seed) for seed in s.page_seeds()], size)
        self.request_thumbs("pins", [p.spec for p in s.pins], size)
        if tuple(s.pins) != self.saved_pins:
            self.saved_pins = tuple(s.pins)
            try:
                save_pins(s.model.model_id, s.pins)
            except OSError as e:
                self.error("Could not save the pins", f"{e.strerror or e}: {e.filename}")

    def request_thumbs(self, channel: str, specs: list[LatentSpec], size: int) -> None:
        """Ask only for missing thumbnails, and only if they are not already on their way."""
        missing = list(dict.fromkeys(r for r in specs if r not in self.thumbs))
        if missing and not set(missing) <= self.requested.get(channel, set()):
            self.renderer.thumbs(channel, missing, size)
            self.requested[channel] = set(missing)

    def rebuild_panel(self) -> None:
        if self.panel is not None:
            self.panel.kill()
        self.panel = ControlsPanel(self.manager, self.layout.panel, self.state, str(self.save_dir))

    def resize(self, size: tuple[int, int]) -> None:
        size = (max(size[0], MIN_SIZE[0]), max(size[1], MIN_SIZE[1]))
        if self.window.get_size() != size:
            self.window = pygame.display.set_mode(size, pygame.RESIZABLE)
        self.relayout()

    def relayout(self) -> None:
        size = self.window.get_size()
        self.manager.set_window_resolution(size)
        self.layout = layout(size)
        self.grid.set_rect(self.layout.main)
        self.strip.set_rect(self.layout.pins)
        if self.state is not None:
            self.state.set_grid(self.grid.cols, self.grid.rows)
        if self.panel is not None:
            self.panel.move(self.layout.panel)

    # -- drawing -----------------------------------------------------------------------------------

    def back_rect(self) -> pygame.Rect:
        return pygame.Rect(self.layout.main.left + 12, self.layout.main.top + 10, 150, 24)

    def draw(self) -> None:
        w, s, lay = self.window, self.state, self.layout
        w.fill(BG)
        if s is None:
            message = f"Loading {self.loading}…" if self.loading else "Drop a network file here, or press O to open one"
            text(w, message, lay.main.center, 18, DIM, anchor="center")
        elif s.mode == "grid":
            self.grid.draw(w, s, self.thumbs, self.mouse)
        else:
            pending = self.large.spec != s.spec()
            caption = spec_caption(self.large.spec or s.spec(), s.model.index_labels)
            self.large.draw(w, lay.main, caption, pending, s.nearest)
            r = self.back_rect()
            colour = ACCENT if r.collidepoint(self.mouse) else DIM
            text(w, "‹ all seeds  (Esc)", r.midleft, 14, colour, anchor="midleft")
        if s is not None:
            self.strip.draw(w, s.pins, self.thumbs, s.current_pin_index(), self.mouse)
        self.status.draw(w, lay.status, self.status_text(), self.status_right(), time.monotonic())
        self.manager.draw_ui(w)
        if self.help_open:
            draw_help(w)

    def status_text(self) -> str:
        s = self.state
        if s is None:
            return TITLE
        info = s.model
        parts = [info.name, f"{info.resolution}×{info.resolution}", info.device]
        if info.c_dim:
            parts.append(f"{info.c_dim} classes")
        if self.render_ms is not None:
            parts.append(f"render {self.render_ms:.0f} ms")
        parts.append(f"{self.clock.get_fps():.0f} fps")
        return "   ·   ".join(parts)

    def status_right(self) -> str:
        parts = []
        if self.loading:
            parts.append(f"loading {self.loading}…")
        if self.renderer.exporting:
            parts.append(f"exporting {self.export_status}")
        s = self.state
        if s is not None and s.mode == "grid":
            last = min(s.page_start + s.page_size - 1, MAX_SEED)
            parts.append(f"seeds {s.page_start}–{last}")
        parts.append("F1 help")
        return "   ·   ".join(parts)
