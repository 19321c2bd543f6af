"""The video export dialog: keyframes are the pins in strip order; progress bar and Cancel while it runs."""

from __future__ import annotations

from pathlib import Path

import pygame
import pygame_gui
from pygame import Rect
from pygame_gui.elements import UIButton, UICheckBox, UIDropDownMenu, UILabel, UIProgressBar, UITextEntryLine, UIWindow

from model.errors import ModelError
from model.latents import EASINGS

from ..actions import Action, ExportBrowse, ExportCancel, ExportStart
from ..export import GIF_MAX_FPS, ExportSettings
from ..state import Pin
from .dialogs import centred
from .draw import elide_left, elide_middle, font, home_relative

INTERPOLATION_NAMES = {"w-cubic": "W cubic spline", "w-lerp": "W lerp", "z-slerp": "Z slerp"}
FPS_CHOICES = ("24", "30", "60")
FORMAT_NAMES = {"mp4": "mp4 (H.264)", "gif": "GIF"}
MAX_SIZE = 2048
LABEL_W = 150
WIDTH = 520


class PercentBar(UIProgressBar):
    def status_text(self) -> str:
        return f"{100 * self.progress_percentage:.0f}%"


class ExportDialog:
    def __init__(self, manager: pygame_gui.UIManager, pins: list[Pin], resolution: int, output: Path):
        self.window = UIWindow(centred(manager, WIDTH, 540), manager, window_display_title="Export video",
                               always_on_top=True)
        self.manager, self.y = manager, 12
        width = WIDTH - 2 * 16 - 32
        self.field_w = width - LABEL_W
        self._row("Keyframes")
        UILabel(Rect(16 + LABEL_W, self.y, self.field_w, 26), f"the {len(pins)} pins, in strip order", manager,
                container=self.window, object_id="#value_left")
        self.y += 34
        self._row("Frames per transition")
        self.frames = UITextEntryLine(Rect(16 + LABEL_W, self.y, 90, 28), manager, container=self.window)
        self.frames.set_allowed_characters("numbers")
        self.frames.set_text("30")
        self.y += 36
        self.fps = self._dropdown("Frames per second", list(FPS_CHOICES), "30")
        self.interp = self._dropdown("Interpolation", [(v, k) for k, v in INTERPOLATION_NAMES.items()],
                                     (INTERPOLATION_NAMES["w-cubic"], "w-cubic"))
        self.easing = self._dropdown("Easing", list(EASINGS), "linear")
        self.loop = UICheckBox(Rect(16 + LABEL_W, self.y + 4, 20, 20), "seamless loop", manager,
                               container=self.window)
        self._row("Loop")
        self.y += 34
        sizes = [(f"{resolution * s} px" + (" (model)" if s == 1 else f" (×{s})"), str(s))
                 for s in (1, 2, 4, 8) if resolution * s <= max(MAX_SIZE, resolution)]
        self.size = self._dropdown("Size", sizes, sizes[0])
        self.format = self._dropdown("Format", [(v, k) for k, v in FORMAT_NAMES.items()],
                                     (FORMAT_NAMES["mp4"], "mp4"))
        self._row("Folder")
        self.folder = output.parent
        self.folder_label = UILabel(Rect(16 + LABEL_W, self.y, self.field_w - 88, 28), "", manager,
                                    container=self.window, object_id="#value_left")
        self.browse = UIButton(Rect(16 + LABEL_W + self.field_w - 80, self.y, 80, 28), "Change…", manager,
                               container=self.window)
        self.y += 36
        self._row("File name")
        self.name = UITextEntryLine(Rect(16 + LABEL_W, self.y, self.field_w, 28), manager, container=self.window)
        self.name.set_text(output.name)
        self.y += 44
        self.set_output(str(output))
        self.bar = PercentBar(Rect(16, self.y, width, 24), manager, container=self.window)
        self.y += 30
        self.status = UILabel(Rect(16, self.y, width, 24), "Ready", manager, container=self.window,
                              object_id="#value_left")
        self.y += 34
        self.start = UIButton(Rect(16 + width - 260, self.y, 124, 30), "Export", manager, container=self.window)
        self.cancel = UIButton(Rect(16 + width - 124, self.y, 124, 30), "Cancel", manager, container=self.window)
        self.cancel.disable()
        self.running = False
        self.window.set_dimensions((WIDTH, self.y + 30 + 64))  # fit the content: title bar, margins
        self.window.set_position(centred(manager, WIDTH, self.y + 30 + 64).topleft)

    def _row(self, name: str) -> None:
        UILabel(Rect(16, self.y, LABEL_W - 8, 28), name, self.manager, container=self.window, object_id="#name")

    def _dropdown(self, name: str, options, start) -> UIDropDownMenu:
        self._row(name)
        menu = UIDropDownMenu(options, start, Rect(16 + LABEL_W, self.y, 180, 28), self.manager,
                              container=self.window)
        self.y += 36
        return menu

    @property
    def alive(self) -> bool:
        return self.window.alive()

    def kill(self) -> None:
        self.window.kill()

    def settings(self, pins: list[Pin]) -> ExportSettings:
        """The dialog's choices as ExportSettings, checked; a ModelError says what is wrong."""
        digits = self.frames.get_text().strip()
        if not digits or not 1 <= int(digits) <= 10_000:
            raise ModelError("bad export: frames per transition must be a number from 1 to 10000")
        name, out = self.name.get_text().strip(), self.output
        if not name or Path(name).name != name:
            raise ModelError("bad export: type a file name such as video.mp4 (the folder is chosen above)")
        fmt = self.format.selected_option[1]
        fps = int(self.fps.selected_option[0])
        if fmt == "gif":
            fps = min(fps, GIF_MAX_FPS)  # GIF delays are whole centiseconds: 60 fps plays as 50
        settings = ExportSettings(
            keyframes=[p.spec for p in pins], output=str(out),
            frames_per_transition=int(digits),
            fps=fps, interpolation=self.interp.selected_option[1],
            easing=self.easing.selected_option[0], loop=self.loop.get_state() is True,
            scale=int(self.size.selected_option[1]), format=fmt,
            noise_mode=pins[0].spec.noise_mode if pins else "const")
        settings.check()
        return settings

    @property
    def output(self) -> Path:
        return self.folder / self.name.get_text().strip()

    def set_output(self, path: str) -> None:
        """A picked path: its folder goes to the folder row (end of the path kept visible), its name to the entry."""
        path = Path(path).expanduser()
        self.folder = path.parent
        self.folder_label.set_text(elide_left(home_relative(str(self.folder)), self.field_w - 96, font(14)))
        self.folder_label.set_tooltip(str(self.folder))
        self.name.set_text(path.name)

    def set_running(self, running: bool) -> None:
        self.running = running
        if running:
            self.start.disable()
            self.cancel.enable()
        else:
            self.start.enable()
            self.cancel.disable()

    def set_progress(self, progress: float, message: str) -> None:
        self.bar.set_current_progress(100 * progress)
        self.status.set_text(elide_middle(message, self.status.relative_rect.width, font(14)))  # "done: <path>"

    def handle(self, event: pygame.event.Event) -> Action | None:
        element = getattr(event, "ui_element", None)
        if event.type == pygame_gui.UI_BUTTON_PRESSED:
            if element is self.start:
                return ExportStart()
            if element is self.cancel:
                return ExportCancel()
            if element is self.browse:
                return ExportBrowse()
        if event.type == pygame_gui.UI_DROP_DOWN_MENU_CHANGED and element is self.format:
            name = Path(self.name.get_text().strip() or "video")
            self.name.set_text(str(name.with_suffix("." + event.selected_option_id)))
        return None
