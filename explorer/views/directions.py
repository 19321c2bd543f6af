"""The directions panel (pygame_gui): pick a set of latent directions, move along its top components, choose the
w range the edits move, compute GANSpace or load a directions file.

As in the controls panel, widgets only report what the user did (typed actions) and `sync` moves them to the
state, which holds the strengths: undo, pin recall and paging all show up here through `sync`. Only the set picker
(a drop-down, which cannot change in place) is recreated, and only when the sets or the shown one change.
"""

from __future__ import annotations

import pygame
import pygame_gui
from pygame import Rect
from pygame_gui.elements import UIButton, UIDropDownMenu, UIHorizontalSlider, UILabel, UIPanel

from ..actions import (
    Action,
    CancelGanspace,
    ComputeGanspace,
    DirectionsPage,
    EditRange,
    PinImage,
    PromptLoadDirections,
    ResetEdits,
    SetEditFirst,
    SetEditLast,
    SetEditStrength,
    ShowDirections,
)
from ..captions import layer_text
from ..model_info import DirectionSet
from ..state import EDITS_PER_PAGE, STRENGTH_RANGE, Explorer
from .controls import PAD, ROW


class DirectionsPanel:
    def __init__(self, manager: pygame_gui.UIManager, rect: Rect, state: Explorer):
        self.manager = manager
        self.panel = UIPanel(Rect(rect), starting_height=1, manager=manager, object_id="#controls")
        self.width = width = rect.width - 2 * PAD
        self.values: dict[str, str] = {}
        self.running = False  # GANSpace: its button cancels it
        self.y = 12
        self._heading("Directions")
        self.set_rect = Rect(PAD, self.y, width, ROW)
        self.set_picker, self.set_key = None, None
        self.y += ROW + 6
        half = (width - 8) // 2
        self.ganspace = self._button("GANSpace", PAD, half, "Principal components of sampled w's (cancellable)")
        self.load = self._button("Load file…", PAD + half + 8, half, "A directions file from sgx directions")
        self.y += ROW + 2
        self.about = self._label(Rect(PAD, self.y, width, 20), "#path")
        self.y += 24

        self._heading("Components")
        self.prev = self._button("‹", PAD, 30, "Previous components")
        self.next = self._button("›", PAD + width - 30, 30, "Next components")
        self.page_label = self._label(Rect(PAD + 34, self.y, width - 68, ROW), "#name")
        self.y += ROW + 6
        self.names, self.sliders, self.strengths = [], [], []
        for _ in range(EDITS_PER_PAGE):
            self.names.append(self._label(Rect(PAD, self.y, 36, 22), "#small"))
            self.sliders.append(UIHorizontalSlider(Rect(PAD + 36, self.y, width - 84, 22), 0.0, STRENGTH_RANGE,
                                                   manager, container=self.panel, click_increment=0.1))
            self.strengths.append(self._label(Rect(PAD + width - 46, self.y, 46, 22), "#value"))
            self.y += 22 + 6

        self._heading("Edit w range")
        self.range_label = self._label(Rect(PAD, self.y, width, ROW), "#value")
        self.y += ROW
        last = state.model.num_ws - 1
        self.first = self._range_slider("first", state.controls.edit_first, last)
        self.last = self._range_slider("last", state.controls.edit_last, last)
        names = [b.name for b in state.model.bands] + ["all"]
        step = (width - 6 * (len(names) - 1)) // len(names)
        self.bands = {self._button(n, PAD + i * (step + 6), step, f"Edit the {n} w indices"): EditRange(n)
                      for i, n in enumerate(names)}
        self.y += ROW + 10
        self.reset = self._button("Reset", PAD, half, "Set every strength back to 0")
        self.pin = self._button("Pin  P", PAD + half + 8, half, "Pin the edited image (P)")
        self.sync(state, None)

    # -- building ----------------------------------------------------------------------------------

    def _heading(self, title: str) -> None:
        self.y += 4
        UILabel(Rect(PAD, self.y, self.width, 20), title.upper(), self.manager, container=self.panel,
                object_id="#heading")
        self.y += 22

    def _label(self, rect: Rect, kind: str) -> UILabel:
        return UILabel(rect, "", self.manager, container=self.panel, object_id=kind)

    def _button(self, label: str, x: int, w: int, tip: str) -> UIButton:
        return UIButton(Rect(x, self.y, w, ROW), label, self.manager, container=self.panel, tool_tip_text=tip)

    def _range_slider(self, name: str, value: int, last: int) -> UIHorizontalSlider:
        UILabel(Rect(PAD, self.y, 40, 22), name, self.manager, container=self.panel, object_id="#small")
        slider = UIHorizontalSlider(Rect(PAD + 44, self.y, self.width - 44, 22), value, (0, last), self.manager,
                                    container=self.panel, click_increment=1)
        self.y += 22 + 6
        return slider

    def kill(self) -> None:
        self.panel.kill()

    def move(self, rect: Rect) -> None:
        self.panel.set_position(rect.topleft)
        self.panel.set_dimensions(rect.size)

    # -- state -> widgets --------------------------------------------------------------------------

    def sync(self, state: Explorer, ganspace_progress: float | None) -> None:
        """Move labels, sliders and the set picker to the state (cheap when nothing changed)."""
        sets, shown = state.direction_sets, state.shown_directions()
        key = (state.shown_set, tuple(d.name for d in sets))
        if sets and self.set_key != key:
            if self.set_picker is not None:
                self.set_picker.kill()
            options = [(f"{d.name} · {d.count}", str(i)) for i, d in enumerate(sets)]
            self.set_picker = UIDropDownMenu(options, options[state.shown_set], self.set_rect, self.manager,
                                             container=self.panel)
            self.set_key = key
        self.running = ganspace_progress is not None
        self._set(self.ganspace, "ganspace", "Cancel" if self.running else "GANSpace")
        self._set(self.about, "about", about(shown, ganspace_progress))
        start = state.edit_page * EDITS_PER_PAGE
        count = shown.count if shown else 0
        self._set(self.page_label, "page", f"{start}–{min(start + EDITS_PER_PAGE, count) - 1} of {count}"
                  if count else "")
        for i, (name, slider, strength) in enumerate(zip(self.names, self.sliders, self.strengths, strict=True)):
            k = start + i
            if k >= count:
                slider.hide()
                self._set(name, f"name{i}", "")
                self._set(strength, f"strength{i}", "")
                continue
            slider.show()
            value = state.edit_strength(k)
            self._set(name, f"name{i}", f"c{k}")
            self._set(strength, f"strength{i}", f"{value:+.1f}")
            if abs(slider.current_value - value) > 0.05:
                slider.set_current_value(value, warn=False)
        c = state.controls
        self._set(self.range_label, "range", layer_text(c.edit_first, c.edit_last, state.model.index_labels))
        for slider, value in ((self.first, c.edit_first), (self.last, c.edit_last)):
            if abs(slider.current_value - value) > 0.5:
                slider.set_current_value(value, warn=False)

    def _set(self, widget: UILabel | UIButton, key: str, value: str) -> None:
        if self.values.get(key) != value:
            self.values[key] = value
            widget.set_text(value)

    # -- widgets -> actions ------------------------------------------------------------------------

    def handle(self, event: pygame.event.Event, page: int) -> Action | None:
        """`page` is the state's component page, which the sliders showed when the user moved one."""
        element = getattr(event, "ui_element", None)
        if event.type == pygame_gui.UI_HORIZONTAL_SLIDER_MOVED:
            if element in self.sliders:
                return SetEditStrength(page * EDITS_PER_PAGE + self.sliders.index(element), float(event.value))
            if element is self.first:
                return SetEditFirst(int(event.value))
            if element is self.last:
                return SetEditLast(int(event.value))
        elif event.type == pygame_gui.UI_BUTTON_PRESSED:
            if element is self.ganspace:
                return CancelGanspace() if self.running else ComputeGanspace()
            buttons = {self.prev: DirectionsPage(-1), self.next: DirectionsPage(1), self.load: PromptLoadDirections(),
                       self.reset: ResetEdits(), self.pin: PinImage(), **self.bands}
            return buttons.get(element)
        elif event.type == pygame_gui.UI_DROP_DOWN_MENU_CHANGED and element is self.set_picker:
            return ShowDirections(int(event.selected_option_id))
        return None


def about(shown: DirectionSet | None, ganspace_progress: float | None) -> str:
    """The line under the buttons: GANSpace's progress, else what a strength of 1 means."""
    if ganspace_progress is not None:
        return f"GANSpace: sampling {100 * ganspace_progress:.0f}%  (Cancel stops it)"
    if shown is None:
        return "finding directions…"
    return "strength: w units along unit vectors" if shown.unit == "w" else "strength: σ of the sampled w's"
