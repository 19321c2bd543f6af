"""pygame events into actions: the key table, the mouse over the main view and the pins strip, and the order in
which a window event reaches the help overlay, the widgets and the app."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import pygame
from pygame_gui.elements import UITextEntryLine

from .actions import (
    Action,
    Back,
    ExportOpen,
    Help,
    Move,
    MoveRows,
    OpenNetwork,
    Page,
    PinImage,
    ProjectImage,
    PromptGoTo,
    PromptOpen,
    PromptRename,
    Quit,
    RandomSeed,
    Save,
    ShowGrid,
    ShowLarge,
    ToggleScaling,
    Undo,
    Unpin,
    Wheel,
)
from .handlers import dispatch
from .renderer import RENDER_EVENT
from .views.dialogs import IMAGE_SUFFIXES

if TYPE_CHECKING:
    from .app import App

KEYS: dict[int, Action] = {
    pygame.K_ESCAPE: Back(), pygame.K_F1: Help(), pygame.K_h: Help(), pygame.K_o: PromptOpen(),
    pygame.K_LEFT: Move(-1), pygame.K_RIGHT: Move(1), pygame.K_UP: MoveRows(-1), pygame.K_DOWN: MoveRows(1),
    pygame.K_PAGEUP: Page(-1), pygame.K_PAGEDOWN: Page(1), pygame.K_SPACE: RandomSeed(),
    pygame.K_RETURN: ShowLarge(), pygame.K_KP_ENTER: ShowLarge(),
    pygame.K_DELETE: Unpin(), pygame.K_BACKSPACE: Unpin(),  # a Mac's "delete" key is backspace
    pygame.K_F2: PromptRename(), pygame.K_n: ToggleScaling(), pygame.K_g: PromptGoTo(), pygame.K_p: PinImage(),
    pygame.K_s: Save(), pygame.K_e: ExportOpen(),
}


def key_action(key: int, mod: int) -> Action | None:
    if key == pygame.K_z and mod & (pygame.KMOD_CTRL | pygame.KMOD_META):
        return Undo()
    return KEYS.get(key)


def handle(app: App, event: pygame.event.Event) -> None:
    """One window event: renderer results and window events first, then the help overlay, the widgets (which
    may consume it), a drag on the pins strip, and finally keys and clicks."""
    if hasattr(event, "pos"):
        app.mouse = event.pos
    if event.type == pygame.QUIT:
        dispatch(app, Quit())
        return
    if event.type == RENDER_EVENT:
        app.sync.on_result(event.result)
        return
    if event.type == pygame.VIDEORESIZE:
        app.resize(event.size)
    if event.type == pygame.DROPFILE:
        dispatch(app, dropped(event.file))
        return
    if app.dialogs.help_open and event.type in (pygame.KEYDOWN, pygame.MOUSEBUTTONDOWN):
        app.dialogs.help_open = False
        return
    consumed = app.manager.process_events(event)
    dispatch(app, app.projection_view.handle(event))
    if app.panel is not None:
        dispatch(app, app.panel.handle(event))
        dispatch(app, app.directions.handle(event, app.state.edit_page))
    dispatch(app, app.dialogs.handle(event))
    s = app.state
    if event.type == pygame.MOUSEBUTTONUP and s is not None:
        s.end_drag()
    if s is not None and app.strip.pressed and event.type in (pygame.MOUSEMOTION, pygame.MOUSEBUTTONUP):
        dispatch(app, app.strip.handle(event, len(s.pins), time.monotonic()))
        return
    if consumed:
        return
    if event.type == pygame.KEYDOWN and (event.key == pygame.K_ESCAPE or not typing(app)):  # Esc closes a prompt
        dispatch(app, key_action(event.key, event.mod))
    elif event.type in (pygame.MOUSEBUTTONDOWN, pygame.MOUSEWHEEL) and s is not None:
        dispatch(app, mouse_action(app, event))


def dropped(path: str) -> Action:
    """A dropped file: an image (by its extension, any Pillow reads) is projected, anything else is opened as a
    network file, whose format the loader tells from the content."""
    return ProjectImage(path) if Path(path).suffix.lower() in IMAGE_SUFFIXES else OpenNetwork(path)


def typing(app: App) -> bool:
    return any(isinstance(e, UITextEntryLine) for e in app.manager.get_focus_set() or ())


def mouse_action(app: App, event: pygame.event.Event) -> Action | None:
    """A click or a wheel notch over the pins strip, a tile, or the large view's back link."""
    s, main = app.state, app.layout.main
    if app.strip.rect.collidepoint(app.mouse):
        return app.strip.handle(event, len(s.pins), time.monotonic())
    if app.sync.projection is not None:
        return None  # the projection view covers the main area; its Cancel button is a widget
    if event.type == pygame.MOUSEWHEEL and main.collidepoint(app.mouse):
        return Wheel(-event.y)
    if event.type == pygame.MOUSEBUTTONDOWN and event.button == 1 and main.collidepoint(event.pos):
        if s.mode == "grid":
            seed = app.grid.hit(event.pos, s)
            return ShowLarge(seed) if seed is not None else None
        if app.back_rect().collidepoint(event.pos):
            return ShowGrid()
    return None
