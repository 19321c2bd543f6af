"""The dispatch table: one small handler per action type (explorer/actions.py).

A handler turns the action into calls on the state (explorer/state.py holds the rules), on the dialogs or on the
renderer, and says what happened in the status bar. Adding a control means one action type, its widget, and one
entry here.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from model.errors import ModelError
from model.spec import MAX_SEED

from .actions import (
    Action,
    Back,
    CancelProjection,
    ExportBrowse,
    ExportCancel,
    ExportOpen,
    ExportStart,
    GoTo,
    Help,
    MixBand,
    MixOff,
    MixPin,
    MixSeed,
    Move,
    MovePin,
    MoveRows,
    OpenNetwork,
    Page,
    PinImage,
    PromptGoTo,
    PromptOpen,
    PromptRename,
    PromptSaveDir,
    Quit,
    RandomSeed,
    Recall,
    RemovePin,
    Rename,
    Save,
    SetClass,
    SetCutoff,
    SetExportFolder,
    SetMixFirst,
    SetMixLast,
    SetNoise,
    SetPsi,
    SetRotate,
    SetSaveDir,
    SetTranslate,
    ShowGrid,
    ShowLarge,
    ToggleScaling,
    Undo,
    Unpin,
    Wheel,
)
from .pins import save_settings

if TYPE_CHECKING:
    from .app import App

QUIT_CONFIRM_S = 3.0  # a second quit within this many seconds cancels a running export and quits

HANDLERS: dict[type[Action], Callable[[App, Any], None]] = {}


def handles(kind: type[Action]) -> Callable:
    def register(handler: Callable[[App, Any], None]) -> Callable[[App, Any], None]:
        if kind in HANDLERS:
            raise TypeError(f"a second handler for {kind.__name__}")
        HANDLERS[kind] = handler
        return handler
    return register


def dispatch(app: App, action: Action | None) -> None:
    """Carry out an action; one that needs a model does nothing until a model is open."""
    if action is None or (action.needs_model and app.state is None):
        return
    HANDLERS[type(action)](app, action)


def toast(app: App, message: str) -> None:
    app.status.show(message, time.monotonic())


# -- the app --------------------------------------------------------------------------------------------------


@handles(Help)
def show_help(app: App, a: Help) -> None:
    app.dialogs.help_open = True


@handles(Back)
def back(app: App, a: Back) -> None:
    if app.dialogs.close_top():
        return
    if app.sync.projection is not None:
        dispatch(app, CancelProjection())
        return
    if app.state is not None and app.state.mode == "large":
        app.state.mode = "grid"
    else:
        dispatch(app, Quit())


@handles(Quit)
def quit_app(app: App, a: Quit) -> None:
    """Quit, but not silently over a running export: the first request only warns."""
    now = time.monotonic()
    if app.renderer.exporting and now > app.quit_armed_until:
        app.quit_armed_until = now + QUIT_CONFIRM_S
        toast(app, "an export is running: quit again to cancel it and quit")
        return
    app.running = False


@handles(PromptOpen)
def prompt_open(app: App, a: PromptOpen) -> None:
    app.dialogs.pick_file("Open a network file", str(Path.cwd()) + os.sep, False, OpenNetwork)


@handles(OpenNetwork)
def open_network(app: App, a: OpenNetwork) -> None:
    app.sync.open(a.path)


@handles(Undo)
def undo(app: App, a: Undo) -> None:
    if not app.state.undo():
        toast(app, "nothing to undo")


@handles(ToggleScaling)
def toggle_scaling(app: App, a: ToggleScaling) -> None:
    scaling = "crisp (nearest-neighbour)" if app.state.toggle_nearest() else "smooth"
    toast(app, f"large view: {scaling} scaling")


# -- browsing -------------------------------------------------------------------------------------------------


@handles(Move)
def move(app: App, a: Move) -> None:
    app.state.move(a.steps)


@handles(MoveRows)
def move_rows(app: App, a: MoveRows) -> None:
    app.state.move_rows(a.rows)


@handles(Page)
def page(app: App, a: Page) -> None:
    app.state.page(a.pages)


@handles(Wheel)
def wheel(app: App, a: Wheel) -> None:
    app.state.wheel(a.notches)


@handles(RandomSeed)
def random_seed(app: App, a: RandomSeed) -> None:
    app.state.random_seed()


@handles(ShowLarge)
def show_large(app: App, a: ShowLarge) -> None:
    if a.seed is not None:
        app.state.go_to(a.seed)
    app.state.mode = "large"


@handles(ShowGrid)
def show_grid(app: App, a: ShowGrid) -> None:
    app.state.mode = "grid"


@handles(PromptGoTo)
def prompt_go_to(app: App, a: PromptGoTo) -> None:
    app.dialogs.prompt("Go to seed", f"Seed (0 – {MAX_SEED})", "",
                       lambda text: GoTo(int(text)) if text.strip() else None, numbers=True)


@handles(GoTo)
def go_to(app: App, a: GoTo) -> None:
    app.state.go_to(a.seed)


# -- controls (a slider drag is one undo step: the tag groups it) ---------------------------------------------


@handles(SetPsi)
def set_psi(app: App, a: SetPsi) -> None:
    app.state.set_controls("psi", psi=a.value)


@handles(SetCutoff)
def set_cutoff(app: App, a: SetCutoff) -> None:
    app.state.set_controls("cutoff", cutoff=a.count)


@handles(SetClass)
def set_class(app: App, a: SetClass) -> None:
    app.state.set_controls("class", class_idx=a.index)


@handles(SetNoise)
def set_noise(app: App, a: SetNoise) -> None:
    app.state.set_controls("noise", noise_mode=a.mode)


@handles(SetTranslate)
def set_translate(app: App, a: SetTranslate) -> None:
    app.state.set_translate(a.axis, a.value)


@handles(SetRotate)
def set_rotate(app: App, a: SetRotate) -> None:
    app.state.set_controls("rotate", rotate=a.value)


@handles(SetMixFirst)
def set_mix_first(app: App, a: SetMixFirst) -> None:
    app.state.set_mix_first(a.index)


@handles(SetMixLast)
def set_mix_last(app: App, a: SetMixLast) -> None:
    app.state.set_mix_last(a.index)


@handles(MixBand)
def mix_band(app: App, a: MixBand) -> None:
    picked = app.state.mix_band(a.name)
    if picked is not None:
        toast(app, f"mixing with seed {picked}: pick another source above")


@handles(MixSeed)
def mix_seed(app: App, a: MixSeed) -> None:
    if a.seed is None or not 0 <= a.seed <= MAX_SEED:
        app.dialogs.error("Style mixing", f"Type a source seed from 0 to {MAX_SEED}.")
    else:
        app.state.set_controls(None, mix_seed=a.seed, mix_pin=None)


@handles(MixPin)
def mix_pin(app: App, a: MixPin) -> None:
    app.state.mix_with_pin(a.index)


@handles(MixOff)
def mix_off(app: App, a: MixOff) -> None:
    app.state.set_controls(None, mix_seed=None, mix_pin=None)


# -- pins -----------------------------------------------------------------------------------------------------


@handles(PinImage)
def pin_image(app: App, a: PinImage) -> None:
    toast(app, f"pinned “{app.state.pin().name}”")


@handles(Unpin)
def unpin(app: App, a: Unpin) -> None:
    i = app.state.current_pin_index()
    if i is None:
        toast(app, "the current image is not pinned")
    else:
        toast(app, f"unpinned “{app.state.unpin(i).name}”")


@handles(RemovePin)
def remove_pin(app: App, a: RemovePin) -> None:
    toast(app, f"unpinned “{app.state.unpin(a.index).name}”")


@handles(Recall)
def recall(app: App, a: Recall) -> None:
    app.state.recall(a.index)
    app.state.mode = "large"


@handles(MovePin)
def move_pin(app: App, a: MovePin) -> None:
    app.state.move_pin(a.index, a.to)


@handles(PromptRename)
def prompt_rename(app: App, a: PromptRename) -> None:
    i = app.state.current_pin_index() if a.index is None else a.index
    if i is None:
        toast(app, "the current image is not pinned")
        return
    pin = app.state.pins[i]
    app.dialogs.prompt("Rename pin", "Name", pin.name, lambda text: Rename(pin, text))


@handles(Rename)
def rename(app: App, a: Rename) -> None:
    if a.pin in app.state.pins:
        app.state.rename_pin(app.state.pins.index(a.pin), a.name)


# -- save and export ------------------------------------------------------------------------------------------


@handles(Save)
def save(app: App, a: Save) -> None:
    app.sync.save()


@handles(PromptSaveDir)
def prompt_save_dir(app: App, a: PromptSaveDir) -> None:
    app.dialogs.pick_file("Choose the save folder", str(app.save_dir), True, SetSaveDir)


@handles(SetSaveDir)
def set_save_dir(app: App, a: SetSaveDir) -> None:
    app.save_dir = Path(a.path)
    try:
        save_settings({**app.settings(), "save_dir": str(app.save_dir)})
    except OSError as e:
        app.dialogs.error("Settings", f"Could not remember the folder: {e}")


@handles(ExportOpen)
def export_open(app: App, a: ExportOpen) -> None:
    s = app.state
    if len(s.pins) < 2:
        app.dialogs.error("Export video", "Pin at least two images (P): the video moves through the pins in order.")
        return
    output = app.save_dir / f"{s.model.name}-{len(s.pins)}-pins.mp4"
    running = app.sync.export_status if app.renderer.exporting else None
    app.dialogs.open_export(s.pins, s.model.resolution, output, running)


@handles(ExportStart)
def export_start(app: App, a: ExportStart) -> None:
    dialog = app.dialogs.export
    try:
        settings = dialog.settings(app.state.pins)
        Path(settings.output).parent.mkdir(parents=True, exist_ok=True)  # the default folder may be new
        app.renderer.export(settings)
    except ModelError as e:
        app.dialogs.error("Export video", str(e))
        return
    except OSError as e:
        app.dialogs.error("Export video", f"cannot create the folder: {e.strerror or e}: {e.filename}")
        return
    dialog.set_running(True)
    dialog.set_progress(0, "starting…")


@handles(ExportCancel)
def export_cancel(app: App, a: ExportCancel) -> None:
    app.renderer.cancel_export()


@handles(ExportBrowse)
def export_browse(app: App, a: ExportBrowse) -> None:
    if app.dialogs.export is not None:
        app.dialogs.pick_file("Export into this folder", str(app.dialogs.export.folder), True, SetExportFolder)


@handles(SetExportFolder)
def set_export_folder(app: App, a: SetExportFolder) -> None:
    dialog = app.dialogs.export
    if dialog is not None:
        dialog.set_output(str(Path(a.path) / dialog.output.name))


from . import edit_handlers, project_handlers  # noqa: E402, F401 - register their handlers in HANDLERS
