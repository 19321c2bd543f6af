"""The windows over the explorer: one text prompt at a time, a file picker that knows what its path is for,
message windows, the export dialog, and the help overlay. Their input comes back as actions."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pygame
import pygame_gui
from pygame_gui.elements import UIWindow

from .actions import Action
from .state import Pin
from .views.dialogs import NETWORK_SUFFIXES, FileDialog, TextDialog, show_message
from .views.export_dialog import ExportDialog

MAX_MESSAGES = 3


class Dialogs:
    def __init__(self, manager: pygame_gui.UIManager):
        self.manager = manager
        self.text: TextDialog | None = None
        self.file: FileDialog | None = None
        self._picked: Callable[[str], Action] | None = None  # what the file dialog's path becomes
        self.export: ExportDialog | None = None
        self.messages: list[tuple[pygame_gui.windows.UIMessageWindow, str]] = []
        self.help_open = False

    def prompt(self, title: str, label: str, initial: str, then: Callable[[str], Action | None],
               numbers: bool = False) -> None:
        """A one-line text prompt; `then` turns the text into an action. One prompt at a time."""
        if self.text is not None:
            self.text.window.kill()
        self.text = TextDialog(self.manager, title, label, initial, then, numbers)

    def pick_file(self, title: str, initial: str, directories: bool, then: Callable[[str], Action],
                  suffixes: tuple[str, ...] = NETWORK_SUFFIXES) -> None:
        """A file (or folder) picker listing files with `suffixes`; `then` turns the picked path into an action."""
        if self.file is not None and self.file.alive():
            self.file.kill()
        self.file, self._picked = FileDialog(self.manager, title, initial, directories, suffixes), then

    def error(self, title: str, message: str) -> None:
        """A message window; a repeat of one still open is not stacked, and at most MAX_MESSAGES stay open."""
        self.messages = [(w, m) for w, m in self.messages if w.alive()]
        if any(m == message for _, m in self.messages):
            return
        while len(self.messages) >= MAX_MESSAGES:
            self.messages.pop(0)[0].kill()
        self.messages.append((show_message(self.manager, title, message), message))

    def close_top(self) -> bool:
        """Esc: close the help or the topmost window; False if there was none."""
        windows = [w for w in self.manager.get_window_stack().get_full_stack() if isinstance(w, UIWindow)]
        if self.help_open:
            self.help_open = False
        elif windows:
            windows[-1].kill()
        else:
            return False
        return True

    def handle(self, event: pygame.event.Event) -> Action | None:
        """pygame_gui events of the dialogs, as the action they ask for."""
        if event.type == pygame_gui.UI_FILE_DIALOG_PATH_PICKED and event.ui_element is self.file:
            return self._picked(event.text)
        typed = self.text.handle(event) if self.text is not None else None
        if self.text is not None and not self.text.alive:
            self.text = None
        exporting = self.export.handle(event) if self.export is not None else None
        return typed or exporting

    # -- the export dialog ---------------------------------------------------------------------------------------

    def open_export(self, pins: list[Pin], resolution: int, output: Path, running: str | None) -> None:
        """The export dialog, unless it is open; `running` is the status of an export already under way."""
        if self.export is not None and self.export.alive:
            return
        self.export = ExportDialog(self.manager, pins, resolution, output)
        if running is not None:
            self.export.set_running(True)
            self.export.set_progress(0, running)

    def export_progress(self, progress: float, status: str, running: bool) -> None:
        if self.export is not None and self.export.alive:
            self.export.set_progress(progress, status)
            self.export.set_running(running)

    def close_export(self) -> None:
        """A new model: the old model's pins are no export's keyframes any more."""
        if self.export is not None:
            self.export.kill()
            self.export = None
