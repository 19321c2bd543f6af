"""Small dialogs: error / warning messages, a one-line text prompt (go to seed, rename pin), file pickers."""

from __future__ import annotations

import html
from collections.abc import Callable

import pygame
import pygame_gui
from PIL import Image
from pygame import Rect
from pygame_gui.elements import UIButton, UICheckBox, UILabel, UITextEntryLine, UIWindow
from pygame_gui.windows import UIFileDialog, UIMessageWindow

from ..actions import Action

NETWORK_SUFFIXES = (".pkl", ".safetensors")
DIRECTIONS_SUFFIXES = (".npz",)
IMAGE_SUFFIXES = tuple(sorted(ext for ext, kind in Image.registered_extensions().items() if kind in Image.OPEN))


def centred(manager: pygame_gui.UIManager, w: int, h: int) -> Rect:
    sw, sh = manager.window_resolution
    w, h = min(w, sw), min(h, sh)
    return Rect((sw - w) // 2, (sh - h) // 2, w, h)


def show_message(manager: pygame_gui.UIManager, title: str, message: str) -> UIMessageWindow:
    return UIMessageWindow(centred(manager, 440, 220), html.escape(message), manager, window_title=title,
                           always_on_top=True)


class TextDialog:
    """A window with one text line; Enter or OK gives the action `then` makes of the text, Esc or Cancel closes it."""

    def __init__(self, manager: pygame_gui.UIManager, title: str, prompt: str, initial: str,
                 then: Callable[[str], Action | None], numbers: bool = False):
        self.then = then
        self.window = UIWindow(centred(manager, 360, 170), manager, window_display_title=title,
                               always_on_top=True)
        UILabel(Rect(12, 10, 320, 24), prompt, manager, container=self.window, object_id="#name")
        self.entry = UITextEntryLine(Rect(12, 38, 320, 30), manager, container=self.window)
        if numbers:
            self.entry.set_allowed_characters("numbers")
        self.entry.set_text(initial)
        self.entry.focus()
        manager.set_focus_set(self.entry)  # else keys still reach the app's shortcuts until the entry is clicked
        self.ok = UIButton(Rect(160, 80, 80, 28), "OK", manager, container=self.window)
        self.cancel = UIButton(Rect(252, 80, 80, 28), "Cancel", manager, container=self.window)

    @property
    def alive(self) -> bool:
        return self.window.alive()

    def handle(self, event: pygame.event.Event) -> Action | None:
        element = getattr(event, "ui_element", None)
        if (event.type == pygame_gui.UI_TEXT_ENTRY_FINISHED and element is self.entry) or \
                (event.type == pygame_gui.UI_BUTTON_PRESSED and element is self.ok):
            value = self.entry.get_text()
            self.window.kill()
            return self.then(value)
        if event.type == pygame_gui.UI_BUTTON_PRESSED and element is self.cancel:
            self.window.kill()
        return None


class FileDialog(UIFileDialog):
    """pygame_gui's file dialog listing only what can be picked here: folders and, when picking a file, files with
    `suffixes`; hidden entries stay hidden. A "show all files" box lists everything."""

    def __init__(self, manager: pygame_gui.UIManager, title: str, initial: str, directories: bool,
                 suffixes: tuple[str, ...] = NETWORK_SUFFIXES):
        self.show_all = False
        self.suffixes = set() if directories else set(suffixes)
        super().__init__(centred(manager, 560, 440), manager, window_title=title, initial_file_path=initial,
                         allowed_suffixes=self.suffixes, allow_existing_files_only=not directories,
                         allow_picking_directories=directories, always_on_top=True)
        self.show_all_box = UICheckBox(Rect(10, -34, 20, 20), "show all files", manager, container=self,
                                       anchors={"left": "left", "right": "left", "top": "bottom",
                                                "bottom": "bottom"})

    def update_current_file_list(self, should_try_again: bool = True) -> None:
        self.allowed_suffixes = {""} if self.show_all else self.suffixes
        super().update_current_file_list(should_try_again)
        if not self.show_all:
            self.current_file_list = [item for item in self.current_file_list if not _name(item).startswith(".")]

    def process_event(self, event: pygame.event.Event) -> bool:
        handled = super().process_event(event)
        if event.type in (pygame_gui.UI_CHECK_BOX_CHECKED, pygame_gui.UI_CHECK_BOX_UNCHECKED) and \
                event.ui_element is self.show_all_box:
            self.show_all = event.type == pygame_gui.UI_CHECK_BOX_CHECKED
            self.update_current_file_list()
            self.file_selection_list.set_item_list(self.current_file_list)
        return handled


def _name(item: str | tuple[str, str]) -> str:
    return item if isinstance(item, str) else item[0]
