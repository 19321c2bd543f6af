"""The explorer window: each frame turns events into state changes, the state into render requests, then draws.

`App` owns the window, the loop, the layout and the drawing, and delegates the rest: input.py turns events into
typed actions (actions.py), handlers.py carries each one out on the state (state.py), render_sync.py asks the
renderer for what the state shows and puts the results in the views, dialogs.py keeps the windows over it all.

The loop never waits on the renderer: requests go out as the state changes and results come back as events.
`step()` is one frame (tests and the benchmark drive it directly); `run()` paces it at 60 fps, sleeping in
`pygame.event.wait` so a finished render or a click wakes it at once. Only a frame with something new does the
drawing work (see `step`): the render worker's Python shares the GIL with this loop, so every millisecond the
loop spends on an unchanged window is added to the wait for the image the user asked for.
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from pathlib import Path

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import platformdirs  # noqa: E402
import pygame  # noqa: E402
import pygame_gui  # noqa: E402

from model.spec import MAX_SEED  # noqa: E402

from .assets import THEME  # noqa: E402
from .captions import spec_caption  # noqa: E402
from .dialogs import Dialogs  # noqa: E402
from .input import handle  # noqa: E402
from .pins import load_settings  # noqa: E402
from .render_sync import IMAGE_RESULTS, RenderSync  # noqa: E402
from .renderer import RENDER_EVENT, Renderer  # noqa: E402
from .state import Explorer  # noqa: E402
from .views.controls import ControlsPanel  # noqa: E402
from .views.directions import DirectionsPanel  # noqa: E402
from .views.draw import ACCENT, BG, DIM, font, text  # noqa: E402
from .views.grid import GridView  # noqa: E402
from .views.help import draw_help  # noqa: E402
from .views.large import LargeView  # noqa: E402
from .views.layout import MIN_SIZE, layout  # noqa: E402
from .views.pins_strip import PinsStrip  # noqa: E402
from .views.projection import ProjectionView  # noqa: E402
from .views.status import TITLE, StatusBar  # noqa: E402
from .views.thumbs import Thumbs  # noqa: E402

FPS = 60
IDLE_REDRAW_S = 0.1  # with nothing new the widgets are updated and redrawn at 10 fps (toasts, tooltips, blink)
MAX_GUI_STEP_S = 0.25  # the widgets' clock advances at most this much per update, so a stall does not jump it
WHEEL_GLIDE_S = 0.25  # after a wheel turn a scrolled panel glides for ~0.1 s: the widgets update every frame
# How long one thread may hold the GIL while another waits (Python's default is 5 ms): the render worker starts
# and runs its Python between torch calls while this loop draws, instead of waiting for the loop to finish a frame.
GIL_SWITCH_S = 0.0005
# A frame that asks for a large image that renders this fast (the last one did) waits for it, up to this long,
# before it updates and draws: the slider and the image then change together, and the UI's drawing (GIL-bound
# Python) is not in the render's way. Slower renders show the moved widget at once.
HOLD_S = 0.05


def moves_widgets(event: pygame.event.Event) -> bool:
    """Whether the widgets may change with `event`: any input may; a rendered image only reaches our own views."""
    return event.type != RENDER_EVENT or event.result.kind not in IMAGE_RESULTS


def default_save_dir() -> Path:
    return Path(platformdirs.user_pictures_dir()) / "stylegan-explorer"


class App:
    def __init__(self, network: str | os.PathLike | None = None, size: tuple[int, int] = (1280, 800),
                 device: str = "auto", precision: str = "auto", save_dir: str | os.PathLike | None = None,
                 threads: int = 1):
        self._gil_switch = sys.getswitchinterval()
        sys.setswitchinterval(GIL_SWITCH_S)
        pygame.display.init()  # display and fonts only: no audio device is opened
        pygame.font.init()
        font.cache_clear()  # fonts from an earlier pygame.init are dead
        size = (max(size[0], MIN_SIZE[0]), max(size[1], MIN_SIZE[1]))
        self.window = pygame.display.set_mode(size, pygame.RESIZABLE)
        pygame.display.set_caption(TITLE)
        theme = str(THEME) if THEME.is_file() else None  # only a broken install lacks it: pygame_gui's own theme
        self.manager = pygame_gui.UIManager(size, theme)
        self.clock = pygame.time.Clock()
        self.renderer = Renderer(device, precision, threads)
        self.state: Explorer | None = None
        self.thumbs = Thumbs()
        self.grid, self.large, self.strip, self.status = GridView(), LargeView(), PinsStrip(), StatusBar()
        self.panel: ControlsPanel | None = None
        self.directions: DirectionsPanel | None = None
        self.dialogs = Dialogs(self.manager)
        self.projection_view = ProjectionView(self.manager)
        self.sync = RenderSync(self)
        self.running = True
        self.quit_armed_until = 0.0
        self.mouse = (0, 0)
        self.save_dir = Path(save_dir or self.settings().get("save_dir") or default_save_dir())
        self._held: list[pygame.event.Event] = []
        self._updated = 0.0  # when the widgets were last updated
        self._owed_update = self._owed_draw = False  # something new arrived during a hold
        self._hold_until = 0.0
        self._glide_until = 0.0
        self.relayout()
        if network is not None:
            self.sync.open(network)

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
                    self.dialogs.error("Unexpected error", f"{type(e).__name__}: {e}")
                self._idle(start + 1 / FPS)
        finally:
            self.close()

    def step(self) -> bool:
        """One frame: events -> state -> render requests -> draw. Returns False once the user has quit.

        pygame_gui's update (hover checks over every widget, and what makes a changed widget's new look visible)
        runs after input or a result a panel or dialog shows, while a mouse button is held (a held slider arrow
        keeps scrolling), for WHEEL_GLIDE_S after a wheel turn, and every IDLE_REDRAW_S (toasts, tooltips, the
        cursor's blink). A rendered image or thumbnail changes no widget: that frame is only redrawn. A frame with
        nothing new does neither, and neither does a frame within HOLD_S of asking for a fast large image, until it
        arrives.
        """
        self.clock.tick()
        events, self._held = self._held + pygame.event.get(), []
        for event in events:
            handle(self, event)
        if self.state is not None:
            self.panel.sync(self.state, str(self.save_dir))
            self.directions.sync(self.state, self.sync.ganspace_progress)
            self.sync.reconcile()
        self.projection_view.sync(self.sync.projection, self.layout.main)
        now = time.perf_counter()
        if any(e.type == pygame.MOUSEWHEEL for e in events):
            self._glide_until = now + WHEEL_GLIDE_S
        gliding = now < self._glide_until
        self._owed_update |= any(map(moves_widgets, events)) or any(pygame.mouse.get_pressed()) or gliding
        self._owed_draw |= bool(events)
        if self.sync.take_image_asked() and (self.sync.image_ms or 1e9) <= HOLD_S * 1000:
            self._hold_until = now + HOLD_S
        arrived = any(e.type == RENDER_EVENT and e.result.kind == "image" for e in events)
        if now < self._hold_until and not arrived:
            return self.running
        self._hold_until = 0.0
        update = self._owed_update or now - self._updated >= IDLE_REDRAW_S
        if update:
            self.manager.update(min(now - self._updated, MAX_GUI_STEP_S))
            self._updated = now
        if update or self._owed_draw:
            self.draw()
            pygame.display.flip()
        self._owed_update = self._owed_draw = False
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
        sys.setswitchinterval(self._gil_switch)

    def settings(self) -> dict:
        """The saved preferences; an unreadable settings file has been moved aside, and the user is told."""
        settings, warning = load_settings()
        if warning:
            self.dialogs.error("Settings", warning)
        return settings

    # -- layout ------------------------------------------------------------------------------------

    def rebuild_panel(self) -> None:
        """The panels of a newly opened model."""
        for panel in (self.panel, self.directions):
            if panel is not None:
                panel.kill()
        self.panel = ControlsPanel(self.manager, self.layout.panel, self.state, str(self.save_dir))
        self.directions = DirectionsPanel(self.manager, self.layout.directions, self.state)

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
            self.directions.move(self.layout.directions)

    # -- drawing -----------------------------------------------------------------------------------

    def back_rect(self) -> pygame.Rect:
        return pygame.Rect(self.layout.main.left + 12, self.layout.main.top + 10, 150, 24)

    def draw(self) -> None:
        w, s, lay = self.window, self.state, self.layout
        w.fill(BG)
        if s is None:
            loading = self.sync.loading
            message = f"Loading {loading}…" if loading else "Drop a network file here, or press O to open one"
            text(w, message, lay.main.center, 18, DIM, anchor="center")
        elif self.sync.projection is not None:
            self.projection_view.draw(w, lay.main, self.sync.projection, s.nearest)
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
            self.strip.draw(w, s.pins, self.thumbs, s.current_pin_index(), self.mouse, s.former_pins)
        self.status.draw(w, lay.status, self.status_text(), self.status_right(), time.monotonic())
        self.manager.draw_ui(w)
        if self.dialogs.help_open:
            draw_help(w)

    def status_text(self) -> str:
        s = self.state
        if s is None:
            return TITLE
        info = s.model
        parts = [info.name, f"{info.resolution}×{info.resolution}", info.device]
        if info.c_dim:
            parts.append(f"{info.c_dim} classes")
        if self.sync.render_ms is not None:
            parts.append(f"render {self.sync.render_ms:.0f} ms")
        parts.append(f"{self.clock.get_fps():.0f} fps")
        return "   ·   ".join(parts)

    def status_right(self) -> str:
        parts = []
        if self.sync.loading:
            parts.append(f"loading {self.sync.loading}…")
        if self.renderer.exporting:
            parts.append(f"exporting {self.sync.export_status}")
        s = self.state
        if s is not None and s.mode == "grid":
            last = min(s.page_start + s.page_size - 1, MAX_SEED)
            parts.append(f"seeds {s.page_start}–{last}")
        parts.append("F1 help")
        return "   ·   ".join(parts)
