"""The handlers of the Directions panel's actions, registered in the one dispatch table of explorer/handlers.py."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from .actions import (
    CancelGanspace,
    ComputeGanspace,
    DirectionsPage,
    EditRange,
    LoadDirections,
    PromptLoadDirections,
    ResetEdits,
    SetEditFirst,
    SetEditLast,
    SetEditStrength,
    ShowDirections,
)
from .handlers import handles, toast
from .views.dialogs import DIRECTIONS_SUFFIXES

if TYPE_CHECKING:
    from .app import App


@handles(SetEditStrength)
def set_edit_strength(app: App, a: SetEditStrength) -> None:
    app.state.set_edit_strength(a.k, a.value)


@handles(SetEditFirst)
def set_edit_first(app: App, a: SetEditFirst) -> None:
    app.state.set_edit_first(a.index)


@handles(SetEditLast)
def set_edit_last(app: App, a: SetEditLast) -> None:
    app.state.set_edit_last(a.index)


@handles(EditRange)
def edit_range(app: App, a: EditRange) -> None:
    app.state.edit_band(a.band)


@handles(ShowDirections)
def show_directions(app: App, a: ShowDirections) -> None:
    app.state.show_set(a.index)


@handles(DirectionsPage)
def directions_page(app: App, a: DirectionsPage) -> None:
    app.state.page_directions(a.delta)


@handles(ResetEdits)
def reset_edits(app: App, a: ResetEdits) -> None:
    if not app.state.reset_edits():
        toast(app, "no edits to reset")


@handles(ComputeGanspace)
def compute_ganspace(app: App, a: ComputeGanspace) -> None:
    if app.sync.ganspace_progress is None:
        app.renderer.compute_ganspace()
        app.sync.ganspace_progress = 0.0


@handles(CancelGanspace)
def cancel_ganspace(app: App, a: CancelGanspace) -> None:
    app.renderer.cancel_ganspace()


@handles(PromptLoadDirections)
def prompt_load_directions(app: App, a: PromptLoadDirections) -> None:
    app.dialogs.pick_file("Load a directions file (sgx directions)", str(Path.cwd()) + os.sep, False, LoadDirections,
                          DIRECTIONS_SUFFIXES)


@handles(LoadDirections)
def load_directions(app: App, a: LoadDirections) -> None:
    app.renderer.load_directions(a.path)
