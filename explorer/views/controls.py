"""The controls panel (pygame_gui): truncation, noise, class, StyleGAN3's input, style mixing, the main actions.

Widgets only report what the user did, as typed actions (explorer/actions.py); the state is the truth, and `sync` moves
the widgets to it after undo, pin recall or presets. A pygame_gui drop-down cannot change its selection or options
in place, so `sync` recreates just that drop-down when its selection or options must change (building the whole
panel takes ~100 ms, a visible hitch).
"""

from __future__ import annotations

import pygame
import pygame_gui
from pygame import Rect
from pygame_gui.elements import (
    UIButton,
    UIDropDownMenu,
    UIHorizontalSlider,
    UILabel,
    UIPanel,
    UIScrollingContainer,
    UITextEntryLine,
)

from model.spec import NOISE_MODES, PSI_RANGE

from ..actions import (
    Action,
    ExportOpen,
    Help,
    MixBand,
    MixOff,
    MixPin,
    MixSeed,
    PinImage,
    PromptGoTo,
    PromptOpen,
    PromptProject,
    PromptSaveDir,
    RandomSeed,
    Save,
    SetClass,
    SetCutoff,
    SetMixFirst,
    SetMixLast,
    SetNoise,
    SetPsi,
    SetRotate,
    SetTranslate,
)
from ..captions import layer_text
from ..state import ROTATE_RANGE, TRANSLATE_RANGE, Explorer
from .draw import elide_left, elide_middle, font, home_relative

PAD = 16
ROW = 26
SCROLL_BAR = 20  # pygame_gui's scroll bar width: the rows leave it free, so showing it moves nothing


class ControlsPanel:
    def __init__(self, manager: pygame_gui.UIManager, rect: Rect, state: Explorer, save_dir: str):
        self.manager = manager
        self.panel = UIPanel(Rect(rect), starting_height=1, manager=manager, object_id="#controls")
        # The rows outgrow a short window (at the minimum size, any net): they scroll, by wheel or bar.
        inner = Rect((0, 0), self.panel.get_container().get_rect().size)
        self.box = UIScrollingContainer(inner, manager, container=self.panel, allow_scroll_x=False)
        self.width = inner.width - PAD - max(PAD, SCROLL_BAR + 4)
        self.y = 12
        self.labels: dict[str, UILabel] = {}
        self.values: dict[str, str] = {}
        info, c = state.model, state.controls

        self._heading("Seed")
        self._value_row("seed", "", big=True)  # as wide as the buttons leave: 4294967295 fits
        self.goto = self._button("Go to…  G", PAD + self.width - 150, 78, self.y - ROW - 2, "Go to a seed (G)")
        self.random = self._button("Random", PAD + self.width - 66, 66, self.y - ROW - 2, "A random seed (Space)")
        self.y += 6

        self._heading("Truncation")
        self._value_row("psi", "Truncation ψ")
        self.psi = self._slider(c.psi, PSI_RANGE, 0.05)
        self._value_row("cutoff", "Apply to w")
        self.cutoff = self._slider(info.num_ws if c.cutoff is None else c.cutoff, (0, info.num_ws), 1)

        self._heading("Rendering")
        self.noise_rect, self.noise, self.noise_key = None, None, None
        self.translate, self.rotate = (), None
        if info.family == "stylegan3":  # no noise inputs, but a Fourier-feature input that can be moved and turned
            self._value_row("input", "Input")
            half = (self.width - 8) // 2
            self.translate = tuple(self._slider_at(axis, c.translate[i], TRANSLATE_RANGE, 0.01, PAD + i * (half + 8),
                                                   half) for i, axis in enumerate("xy"))
            self.y += 22 + 6
            self.rotate = self._labelled_slider("rot", c.rotate, ROTATE_RANGE, 1)
        else:
            UILabel(Rect(PAD, self.y, 90, ROW), "Noise", manager, container=self.box, object_id="#name")
            self.noise_rect = Rect(PAD + self.width - 150, self.y, 150, ROW)
            self.y += ROW + 6
        self.klass = None
        if info.c_dim:
            self._value_row("class", "Class")
            if info.c_dim > 1:
                self.klass = self._slider(c.class_idx or 0, (0, info.c_dim - 1), 1)

        self._heading("Style mixing")
        UILabel(Rect(PAD, self.y, 70, ROW), "Source", manager, container=self.box, object_id="#name")
        self.mix_rect = Rect(PAD + 70, self.y, 118, ROW)
        self.mix_source, self.mix_key = None, None
        self.mix_seed = UITextEntryLine(Rect(PAD + self.width - 76, self.y, 76, ROW), manager, container=self.box,
                                        placeholder_text="seed")
        self.mix_seed.set_allowed_characters("numbers")
        if c.mix_seed is not None:
            self.mix_seed.set_text(str(c.mix_seed))
        self.y += ROW + 6
        self._value_row("layers", "Layers from source")
        last = info.num_ws - 1
        self.mix_first = self._labelled_slider("first", c.mix_first, (0, last))
        self.mix_last = self._labelled_slider("last", c.mix_last, (0, last))
        self.y += 2
        self.bands: dict[UIButton, MixBand] = {}
        width = (self.width - 8 * (len(info.bands) - 1)) // max(len(info.bands), 1)
        for i, band in enumerate(info.bands):
            x = PAD + i * (width + 8)
            UILabel(Rect(x, self.y, width, 18), band.name, manager, container=self.box, object_id="#small")
            button = UIButton(Rect(x, self.y + 18, width, ROW), band.label, manager, container=self.box,
                              tool_tip_text=f"Take the {band.name} layers, w {band.first}–{band.last}, "
                                            "from the source")
            self.bands[button] = MixBand(band.name)
        self.y += 18 + ROW + 12

        self._heading("Image")
        third = (self.width - 16) // 3
        self.pin = self._button("Pin  P", PAD, third, self.y, "Pin the current image (P)")
        self.save = self._button("Save  S", PAD + third + 8, third, self.y, "Save a PNG (S)")
        self.export = self._button("Video  E", PAD + 2 * (third + 8), third, self.y, "Export a video (E)")
        self.y += ROW + 8
        self.project = self._button("Project an image…", PAD, self.width, self.y,
                                    "Find the latent of an image file: it becomes a pin (or drop the file here)")
        self.y += ROW + 8
        UILabel(Rect(PAD, self.y, 120, ROW), "Saves go to", manager, container=self.box, object_id="#name")
        self.save_dir_button = self._button("Change…", PAD + self.width - 78, 78, self.y, "Choose the save folder")
        self.y += ROW
        self.save_dir_label = UILabel(Rect(PAD, self.y, self.width, 20), "", manager, container=self.box,
                                      object_id="#path")
        self.y += 24

        self._heading("Model")
        self.model_name = UILabel(Rect(PAD, self.y, self.width - 100, ROW),
                                  elide_middle(info.name, self.width - 104, font(14)), manager,
                                  container=self.box, object_id="#name")
        self.model_name.set_tooltip(info.name)
        UILabel(Rect(PAD + self.width - 100, self.y, 100, ROW), f"id {info.model_id[:8]}", manager,
                container=self.box, object_id="#path_right")
        self.y += ROW - 4
        kind = f"{info.c_dim} classes" if info.c_dim else "unconditional"
        details = f"{info.resolution}×{info.resolution}  ·  {info.num_ws} w vectors  ·  {kind}"
        UILabel(Rect(PAD, self.y, self.width, 20), details, manager, container=self.box, object_id="#path")
        self.y += 28
        half = (self.width - 8) // 2
        self.open = self._button("Open network…  O", PAD, half, self.y, "Open a network file (O), or drop one")
        self.help = self._button("Help  F1", PAD + half + 8, half, self.y, "Keys and mouse (F1)")
        self.y += ROW + 4
        self.box.set_scrollable_area_dimensions((self.box.get_relative_rect().width, self.y))
        self.sync(state, save_dir)

    # -- building ----------------------------------------------------------------------------------

    def _heading(self, title: str) -> None:
        self.y += 4
        UILabel(Rect(PAD, self.y, self.width, 20), title.upper(), self.manager, container=self.box,
                object_id="#heading")
        self.y += 22

    def _value_row(self, key: str, name: str, big: bool = False) -> None:
        if name:
            UILabel(Rect(PAD, self.y, self.width - 110, ROW), name, self.manager, container=self.box,
                    object_id="#name")
            rect = Rect(PAD + self.width - 150, self.y, 150, ROW)
        else:
            rect = Rect(PAD, self.y, self.width - 154, ROW + 4)
        self.labels[key] = UILabel(rect, "", self.manager, container=self.box,
                                   object_id="#big_value" if big else "#value")
        self.y += ROW + (4 if big else 0)

    def _slider(self, value, value_range, step) -> UIHorizontalSlider:
        slider = UIHorizontalSlider(Rect(PAD, self.y, self.width, 22), value, value_range, self.manager,
                                    container=self.box, click_increment=step)
        self.y += 22 + 8
        return slider

    def _labelled_slider(self, name: str, value, value_range, step=1) -> UIHorizontalSlider:
        slider = self._slider_at(name, value, value_range, step, PAD, self.width)
        self.y += 22 + 6
        return slider

    def _slider_at(self, name: str, value, value_range, step, x: int, width: int) -> UIHorizontalSlider:
        """A small name and a slider in one row of `width` at x (the row's y is the caller's to advance)."""
        label = 40 if width == self.width else 16
        UILabel(Rect(x, self.y, label, 22), name, self.manager, container=self.box, object_id="#small")
        return UIHorizontalSlider(Rect(x + label + 4, self.y, width - label - 4, 22), value, value_range,
                                  self.manager, container=self.box, click_increment=step)

    def _button(self, label: str, x: int, w: int, y: int, tip: str) -> UIButton:
        return UIButton(Rect(x, y, w, ROW), label, self.manager, container=self.box, tool_tip_text=tip)

    def kill(self) -> None:
        self.panel.kill()

    def move(self, rect: Rect) -> None:
        """Follow a window resize without rebuilding (the height only changes the background and how far it scrolls)."""
        self.panel.set_position(rect.topleft)
        self.panel.set_dimensions(rect.size)
        self.box.set_dimensions(self.panel.get_container().get_rect().size)

    # -- state -> widgets --------------------------------------------------------------------------

    def _sync_dropdowns(self, state: Explorer) -> None:
        c = state.controls
        if self.noise_rect is not None and self.noise_key != c.noise_mode:
            if self.noise is not None:
                self.noise.kill()
            self.noise = UIDropDownMenu(list(NOISE_MODES), c.noise_mode, self.noise_rect, self.manager,
                                        container=self.box)
            self.noise_key = c.noise_mode
        pin = state.pins.index(c.mix_pin) if c.mix_pin in state.pins else None
        key = (c.mix_source is None, pin, tuple(p.name for p in state.pins))
        if self.mix_key != key:
            if self.mix_source is not None:
                self.mix_source.kill()
            options = [("none", "none"), ("seed", "seed")] + [(f"pin: {p.name}", f"pin:{i}")
                                                              for i, p in enumerate(state.pins)]
            start = options[0] if c.mix_source is None else options[1] if pin is None else options[2 + pin]
            self.mix_source = UIDropDownMenu(options, start, self.mix_rect, self.manager, container=self.box,
                                             expansion_height_limit=220)
            self.mix_key = key

    def sync(self, state: Explorer, save_dir: str) -> None:
        """Move labels and sliders to the state (cheap when nothing changed)."""
        c, info = state.controls, state.model
        cutoff = info.num_ws if c.cutoff is None else c.cutoff
        self._sync_dropdowns(state)
        self._set("seed", f"{state.seed}")
        self._set("psi", f"{c.psi:.2f}")
        self._set("cutoff", f"all {info.num_ws}" if c.cutoff is None else f"first {cutoff} of {info.num_ws}")
        if info.c_dim:
            self._set("class", f"{c.class_idx} of 0–{info.c_dim - 1}")
        span = layer_text(c.mix_first, c.mix_last, info.index_labels)
        self._set("layers", span if c.mix_source is not None else f"{span}, off")
        self._slide(self.psi, c.psi, 0.005)
        self._slide(self.cutoff, cutoff, 0.5)
        if self.klass is not None:
            self._slide(self.klass, c.class_idx or 0, 0.5)
        if self.rotate is not None:
            self._set("input", f"x {c.translate[0]:+.2f}  y {c.translate[1]:+.2f}  {c.rotate:+.0f}°")
            for slider, value in zip(self.translate, c.translate, strict=True):
                self._slide(slider, value, 0.005)
            self._slide(self.rotate, c.rotate, 0.05)
        self._slide(self.mix_first, c.mix_first, 0.5)
        self._slide(self.mix_last, c.mix_last, 0.5)
        if c.mix_seed is not None and self.mix_seed.get_text() != str(c.mix_seed) and not self.mix_seed.is_focused:
            self.mix_seed.set_text(str(c.mix_seed))
        if self.values.get("save_dir") != save_dir:
            self.values["save_dir"] = save_dir
            self.save_dir_label.set_text(elide_left(home_relative(save_dir), self.width, font(12)))
            self.save_dir_label.set_tooltip(save_dir)

    def _set(self, key: str, value: str) -> None:
        if self.values.get(key) != value:
            self.values[key] = value
            self.labels[key].set_text(value)

    @staticmethod
    def _slide(slider: UIHorizontalSlider, value: float, tolerance: float) -> None:
        if abs(slider.current_value - value) > tolerance:
            slider.set_current_value(value, warn=False)

    # -- widgets -> actions ------------------------------------------------------------------------

    def handle(self, event: pygame.event.Event) -> Action | None:
        element = getattr(event, "ui_element", None)
        if event.type == pygame_gui.UI_HORIZONTAL_SLIDER_MOVED:
            if element is self.psi:
                return SetPsi(float(event.value))
            if element in self.translate:
                return SetTranslate(self.translate.index(element), float(event.value))
            if element is self.rotate:
                return SetRotate(float(event.value))
            sliders = {self.cutoff: SetCutoff, self.klass: SetClass, self.mix_first: SetMixFirst,
                       self.mix_last: SetMixLast}
            if element in sliders:
                return sliders[element](int(event.value))
        elif event.type == pygame_gui.UI_BUTTON_PRESSED:
            buttons = {self.goto: PromptGoTo(), self.random: RandomSeed(), self.pin: PinImage(), self.save: Save(),
                       self.export: ExportOpen(), self.project: PromptProject(), self.save_dir_button: PromptSaveDir(),
                       self.open: PromptOpen(),
                       self.help: Help(), **self.bands}
            return buttons.get(element)
        elif event.type == pygame_gui.UI_DROP_DOWN_MENU_CHANGED:
            if element is self.noise:
                return SetNoise(event.text)
            if element is self.mix_source:
                option = event.selected_option_id
                if option == "seed":
                    return MixSeed(self._typed_seed())
                return MixOff() if option == "none" else MixPin(int(option[4:]))
        elif event.type == pygame_gui.UI_TEXT_ENTRY_FINISHED and element is self.mix_seed:
            return MixSeed(self._typed_seed())
        return None

    def _typed_seed(self) -> int | None:
        digits = self.mix_seed.get_text().strip()
        return int(digits) if digits else None
