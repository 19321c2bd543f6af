"""What the user asked for, as small typed values: keys, the panel, the pins strip and the dialogs produce them,
and `handlers.HANDLERS` maps each type to the one function that carries it out.

No pygame here: an action says what to do, not which key or widget asked. Most act on the open model and are
ignored until one is open (`needs_model`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from .state import Pin


@dataclass(frozen=True)
class Action:
    needs_model: ClassVar[bool] = True


# -- the app --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Help(Action):
    needs_model: ClassVar[bool] = False


@dataclass(frozen=True)
class Back(Action):
    """Esc: close the help or the top dialog, else cancel a projection, else leave the large view, else quit."""

    needs_model: ClassVar[bool] = False


@dataclass(frozen=True)
class Quit(Action):
    needs_model: ClassVar[bool] = False


@dataclass(frozen=True)
class PromptOpen(Action):
    """Ask for a network file."""

    needs_model: ClassVar[bool] = False


@dataclass(frozen=True)
class OpenNetwork(Action):
    path: str
    needs_model: ClassVar[bool] = False


@dataclass(frozen=True)
class Undo(Action):
    pass


@dataclass(frozen=True)
class ToggleScaling(Action):
    """The large view's crisp (nearest-neighbour) or smooth scaling."""


# -- browsing -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Move(Action):
    steps: int


@dataclass(frozen=True)
class MoveRows(Action):
    """Up / down: a row of the grid, or one seed in the large view."""

    rows: int


@dataclass(frozen=True)
class Page(Action):
    pages: int


@dataclass(frozen=True)
class Wheel(Action):
    """Mouse wheel notches (down is positive): the grid scrolls by rows, the large view moves by seeds."""

    notches: int


@dataclass(frozen=True)
class RandomSeed(Action):
    pass


@dataclass(frozen=True)
class ShowLarge(Action):
    """The large view of `seed`, or of the current image."""

    seed: int | None = None


@dataclass(frozen=True)
class ShowGrid(Action):
    pass


@dataclass(frozen=True)
class PromptGoTo(Action):
    pass


@dataclass(frozen=True)
class GoTo(Action):
    seed: int


# -- controls -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SetPsi(Action):
    value: float


@dataclass(frozen=True)
class SetCutoff(Action):
    """Truncate the first `count` w vectors; the number of ws or more means all of them."""

    count: int


@dataclass(frozen=True)
class SetClass(Action):
    index: int


@dataclass(frozen=True)
class SetNoise(Action):
    mode: str


@dataclass(frozen=True)
class SetTranslate(Action):
    """StyleGAN3's input shift along x (axis 0) or y (1), in image widths."""

    axis: int
    value: float


@dataclass(frozen=True)
class SetRotate(Action):
    """StyleGAN3's input rotation, degrees."""

    value: float


@dataclass(frozen=True)
class SetMixFirst(Action):
    index: int


@dataclass(frozen=True)
class SetMixLast(Action):
    index: int


@dataclass(frozen=True)
class MixBand(Action):
    name: str


@dataclass(frozen=True)
class MixSeed(Action):
    """A typed source seed; None when the field is empty."""

    seed: int | None


@dataclass(frozen=True)
class MixPin(Action):
    index: int


@dataclass(frozen=True)
class MixOff(Action):
    pass


# -- pins -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PinImage(Action):
    pass


@dataclass(frozen=True)
class Unpin(Action):
    """Unpin the current image."""


@dataclass(frozen=True)
class RemovePin(Action):
    index: int


@dataclass(frozen=True)
class Recall(Action):
    index: int


@dataclass(frozen=True)
class MovePin(Action):
    index: int
    to: int


@dataclass(frozen=True)
class PromptRename(Action):
    """Ask for a new name of pin `index`, or of the current image's pin."""

    index: int | None = None


@dataclass(frozen=True)
class Rename(Action):
    pin: Pin  # the pin itself: the strip may have changed while the prompt was open
    name: str


# -- save and export ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Save(Action):
    pass


@dataclass(frozen=True)
class PromptSaveDir(Action):
    pass


@dataclass(frozen=True)
class SetSaveDir(Action):
    path: str
    needs_model: ClassVar[bool] = False


@dataclass(frozen=True)
class ExportOpen(Action):
    pass


@dataclass(frozen=True)
class ExportStart(Action):
    pass


@dataclass(frozen=True)
class ExportCancel(Action):
    pass


@dataclass(frozen=True)
class ExportBrowse(Action):
    pass


@dataclass(frozen=True)
class SetExportFolder(Action):
    path: str


# -- direction edits (the directions panel) -------------------------------------------------------------------


@dataclass(frozen=True)
class SetEditStrength(Action):
    """Strength of component k of the shown directions set."""

    k: int
    value: float


@dataclass(frozen=True)
class SetEditFirst(Action):
    index: int


@dataclass(frozen=True)
class SetEditLast(Action):
    index: int


@dataclass(frozen=True)
class EditRange(Action):
    """A preset w range for the edits: a mixing band's name, or 'all'."""

    band: str


@dataclass(frozen=True)
class ShowDirections(Action):
    """Which set's sliders the panel shows."""

    index: int


@dataclass(frozen=True)
class DirectionsPage(Action):
    delta: int


@dataclass(frozen=True)
class ResetEdits(Action):
    pass


@dataclass(frozen=True)
class ComputeGanspace(Action):
    pass


@dataclass(frozen=True)
class CancelGanspace(Action):
    pass


@dataclass(frozen=True)
class PromptLoadDirections(Action):
    pass


@dataclass(frozen=True)
class LoadDirections(Action):
    path: str


# -- projection (an image file into the latent space) ---------------------------------------------------------


@dataclass(frozen=True)
class PromptProject(Action):
    """Ask for an image file to project."""


@dataclass(frozen=True)
class ProjectImage(Action):
    """Project an image file (dropped or picked); the result becomes a pin. Without a model it only says why not."""

    path: str
    needs_model: ClassVar[bool] = False


@dataclass(frozen=True)
class CancelProjection(Action):
    pass
