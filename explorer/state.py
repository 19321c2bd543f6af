"""The explorer's UI state as plain dataclasses: the current latent, the sliders, paging, pins and undo.

No pygame and no torch here, so every rule about what the user sees is testable without a window; the app's action
handlers (handlers.py) turn input into calls on `Explorer`, and the renderer is asked for its `LatentSpec`s.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field, replace

from model.spec import MAX_SEED, PSI_RANGE, Edit, LatentSpec, Mix, W

from .model_info import Band, DirectionSet, ModelInfo

UNDO_LIMIT = 200
CRISP_MAX_RESOLUTION = 128  # models up to this size are upscaled a lot in the large view: nearest-neighbour there
STRENGTH_RANGE = (-5.0, 5.0)  # the edit sliders: w units for SeFa, σ for GANSpace
TRANSLATE_RANGE = (-1.0, 1.0)  # StyleGAN3's input sliders: image widths
ROTATE_RANGE = (-180.0, 180.0)  # degrees
EDITS_PER_PAGE = 8


@dataclass(frozen=True)
class Pin:
    name: str
    spec: LatentSpec


@dataclass(frozen=True)
class Controls:
    """The slider and picker values; together with a seed or a w they make a LatentSpec."""

    psi: float = 1.0
    cutoff: int | None = None  # None = truncate every w index
    class_idx: int | None = None
    noise_mode: str = "const"
    mix_seed: int | None = None  # the source seed; None and no mix_pin = no mixing
    mix_first: int = 0
    mix_last: int = 0
    mix_pin: Pin | None = None  # the pin picked as source, named in the picker; a seed pin is kept only while
    # mix_seed is its seed, a w pin (no seed, e.g. a projected image) is the source itself, its whole spec
    edits: tuple[tuple[str, float], ...] = ()  # (direction id, strength), nonzero only: zero is no edit at all
    edit_first: int = 0  # the w indices every edit moves
    edit_last: int = 0
    translate: tuple[float, float] = (0.0, 0.0)  # StyleGAN3 only: the input's shift (image widths)
    rotate: float = 0.0  # and rotation (degrees)

    @property
    def mix_source(self) -> int | LatentSpec | None:
        """What the mixed w indices come from: the seed, or a w pin's spec; None = mixing off."""
        if self.mix_seed is None and self.mix_pin is not None and self.mix_pin.spec.seed is None:
            return self.mix_pin.spec
        return self.mix_seed


@dataclass(frozen=True)
class Snapshot:
    seed: int
    w: W | None
    controls: Controls
    pins: tuple[Pin, ...]


def pin_name(name: str) -> str:
    """A pin's name as typed or taken from a file: one line, single spaces, at most 40 characters."""
    return " ".join(name.split())[:40]


def _pin_source(c: Controls) -> Controls:
    """Forget the source pin once the mix seed is no longer its seed (typed over, mixing off, recalled away)."""
    if c.mix_pin is not None and c.mix_pin.spec.seed is not None and c.mix_pin.spec.seed != c.mix_seed:
        return replace(c, mix_pin=None)
    return c


@dataclass
class Explorer:
    """The whole UI state for one open model."""

    model: ModelInfo
    seed: int = 0  # the current / selected seed
    w: W | None = None  # an explicit latent shown instead of the seed (a recalled w pin); browsing drops it
    controls: Controls = field(default_factory=Controls)
    mode: str = "grid"  # 'grid' (seed browser) or 'large' (one image)
    page_start: int = 0
    cols: int = 4
    rows: int = 3
    pins: list[Pin] = field(default_factory=list)
    former_pins: str = ""  # the file holding the user's pins of an earlier demo model, shown while there are none
    undo_stack: list[Snapshot] = field(default_factory=list)
    undo_tag: str | None = None
    direction_sets: list[DirectionSet] = field(default_factory=list)  # what the directions panel offers
    shown_set: int = 0  # the set whose sliders the panel shows
    edit_page: int = 0  # its first slider is component edit_page * EDITS_PER_PAGE
    nearest: bool = field(init=False)  # large view scaling: crisp pixels (True) or smooth

    def __post_init__(self) -> None:
        self.nearest = self.model.resolution <= CRISP_MAX_RESOLUTION
        if self.model.c_dim and self.controls.class_idx is None:
            self.controls = replace(self.controls, class_idx=0)
        if self.controls.mix_first == self.controls.mix_last == 0 and self.model.bands:
            band = self.model.bands[0]
            self.controls = replace(self.controls, mix_first=band.first, mix_last=band.last)
        if self.controls.edit_first == self.controls.edit_last == 0:
            self.controls = replace(self.controls, edit_last=self.model.num_ws - 1)

    # -- what to render ------------------------------------------------------------------------------

    def spec(self, seed: int | None = None) -> LatentSpec:
        """The current image (or seed `seed` of the grid) with the current sliders."""
        c = self.controls
        mix = Mix(c.mix_source, c.mix_first, c.mix_last) if c.mix_source is not None else None
        w = self.w if seed is None else None
        base = dict(w=w) if w is not None else dict(seed=self.seed if seed is None else seed)
        edits = tuple(Edit(d, strength, c.edit_first, c.edit_last) for d, strength in c.edits)
        return LatentSpec(**base, psi=c.psi, cutoff=c.cutoff, class_idx=c.class_idx, noise_mode=c.noise_mode, mix=mix,
                          edits=edits, translate=c.translate, rotate=c.rotate)

    @property
    def page_size(self) -> int:
        return self.cols * self.rows

    def page_seeds(self) -> list[int]:
        return [s for s in range(self.page_start, self.page_start + self.page_size) if s <= MAX_SEED]

    # -- browsing ----------------------------------------------------------------------------------

    def set_grid(self, cols: int, rows: int) -> None:
        """The layout changed: keep the selected seed on the page."""
        self.cols, self.rows = max(1, cols), max(1, rows)
        self._show_selected()

    def go_to(self, seed: int) -> None:
        self.w = None
        self.seed = min(max(int(seed), 0), MAX_SEED)
        if not self.page_start <= self.seed < self.page_start + self.page_size:
            self.page_start = self.seed
        self._clamp_page()

    def random_seed(self, rng: random.Random | None = None) -> int:
        self.go_to((rng or random).randint(0, MAX_SEED))
        self.page_start = self.seed
        self._clamp_page()
        return self.seed

    def move(self, steps: int) -> None:
        """Arrow keys: move the selection (a row is `cols` steps); the page follows by whole rows."""
        self.w = None
        self.seed = min(max(self.seed + steps, 0), MAX_SEED)
        self._show_selected()

    def move_rows(self, rows: int) -> None:
        """Up / down: a row of the grid, or one seed in the large view."""
        self.move(rows * (self.cols if self.mode == "grid" else 1))

    def wheel(self, notches: int) -> None:
        """Mouse wheel (down is positive): the grid scrolls by rows, the large view moves by seeds."""
        if self.mode == "grid":
            self.scroll(notches)
        else:
            self.move(notches)

    def page(self, pages: int) -> None:
        """PgUp / PgDn: a whole page, selection and all."""
        delta = pages * self.page_size
        self.page_start += delta
        self._clamp_page()
        self.seed = min(max(self.seed + delta, self.page_start), min(self.page_start + self.page_size - 1, MAX_SEED))

    def scroll(self, rows: int) -> None:
        """Mouse wheel: move the page by rows; the selection stays on the page."""
        self.page_start += rows * self.cols
        self._clamp_page()
        self.seed = min(max(self.seed, self.page_start), min(self.page_start + self.page_size - 1, MAX_SEED))

    def _show_selected(self) -> None:
        if self.seed < self.page_start:
            self.page_start -= math.ceil((self.page_start - self.seed) / self.cols) * self.cols
        elif self.seed >= self.page_start + self.page_size:
            self.page_start += math.ceil((self.seed - self.page_start - self.page_size + 1) / self.cols) * self.cols
        self._clamp_page()

    def _clamp_page(self) -> None:
        self.page_start = min(max(self.page_start, 0), max(MAX_SEED - self.page_size + 1, 0))

    # -- sliders and pickers (undoable; a drag on one slider is one undo step) ------------------------

    def set_controls(self, tag: str, **changes) -> bool:
        """Apply changes; returns whether anything changed. `tag` groups consecutive edits into one undo step."""
        new = replace(self.controls, **changes)
        new = replace(new, psi=round(min(max(new.psi, PSI_RANGE[0]), PSI_RANGE[1]), 2),
                      translate=tuple(round(min(max(v, TRANSLATE_RANGE[0]), TRANSLATE_RANGE[1]), 2)
                                      for v in new.translate),
                      rotate=round(min(max(new.rotate, ROTATE_RANGE[0]), ROTATE_RANGE[1]), 1))
        if new.cutoff is not None and not 0 <= new.cutoff < self.model.num_ws:
            new = replace(new, cutoff=None)
        first, last = self._w_range(new.mix_first, new.mix_last)
        edit_first, edit_last = self._w_range(new.edit_first, new.edit_last)
        new = _pin_source(replace(new, mix_first=first, mix_last=last, edit_first=edit_first, edit_last=edit_last))
        if new == self.controls:
            return False
        self._remember(tag)
        self.controls = new
        return True

    def set_translate(self, axis: int, value: float) -> None:
        """StyleGAN3's input shift along x (axis 0) or y (1); a drag on one slider is one undo step."""
        translate = list(self.controls.translate)
        translate[axis] = value
        self.set_controls(f"translate {axis}", translate=tuple(translate))

    def _w_range(self, first: int, last: int) -> tuple[int, int]:
        top = self.model.num_ws - 1
        return tuple(sorted((min(max(first, 0), top), min(max(last, 0), top))))

    def set_mix_first(self, index: int) -> None:
        """The first w index taken from the source; the last one follows so the range stays in order."""
        self.set_controls("mix_first", mix_first=index, mix_last=max(self.controls.mix_last, index))

    def set_mix_last(self, index: int) -> None:
        self.set_controls("mix_last", mix_last=index, mix_first=min(self.controls.mix_first, index))

    def mix_band(self, name: str) -> int | None:
        """A preset's w range; with mixing off, the next seed becomes the source. Returns the seed it picked."""
        band = next(b for b in self.model.bands if b.name == name)
        picked = (self.seed + 1) % (MAX_SEED + 1) if self.controls.mix_source is None else None
        source = self.controls.mix_seed if picked is None else picked
        self.set_controls(None, mix_first=band.first, mix_last=band.last, mix_seed=source)
        return picked

    def mix_with_pin(self, index: int) -> None:
        """A pin as the mixing source; an index past the pins (from a picker they just replaced) is ignored."""
        if index < len(self.pins):
            pin = self.pins[index]
            self.set_controls(None, mix_seed=pin.spec.seed, mix_pin=pin)

    # -- direction edits (the strengths and range are controls: undoable, pinned, in the spec) -------------

    def add_direction_sets(self, sets: list[DirectionSet], show: bool = False) -> None:
        """New sets for the panel (a set already there is not repeated); `show` shows the first of them."""
        for d in sets:
            if all(d.prefix != known.prefix for known in self.direction_sets):
                self.direction_sets.append(d)
        if show and sets:
            self.show_set([d.prefix for d in self.direction_sets].index(sets[0].prefix))

    def shown_directions(self) -> DirectionSet | None:
        return self.direction_sets[self.shown_set] if self.shown_set < len(self.direction_sets) else None

    def show_set(self, index: int) -> None:
        """Show another set's sliders; edits along the other sets stay."""
        if 0 <= index < len(self.direction_sets):
            self.shown_set, self.edit_page = index, 0

    def page_directions(self, delta: int) -> None:
        d = self.shown_directions()
        pages = math.ceil(d.count / EDITS_PER_PAGE) if d else 1
        self.edit_page = min(max(self.edit_page + delta, 0), pages - 1)

    def edit_strength(self, k: int) -> float:
        d = self.shown_directions()
        return dict(self.controls.edits).get(d.id(k), 0.0) if d else 0.0

    def set_edit_strength(self, k: int, value: float) -> None:
        """Component k of the shown set; a drag on one slider is one undo step, and 0 removes the edit."""
        d = self.shown_directions()
        if d is None or not 0 <= k < d.count:
            return
        edits = dict(self.controls.edits)
        value = round(min(max(value, STRENGTH_RANGE[0]), STRENGTH_RANGE[1]), 1)
        if value:
            edits[d.id(k)] = value
        else:
            edits.pop(d.id(k), None)
        self.set_controls(f"edit {d.id(k)}", edits=tuple(edits.items()))

    def set_edit_first(self, index: int) -> None:
        self.set_controls("edit_first", edit_first=index, edit_last=max(self.controls.edit_last, index))

    def set_edit_last(self, index: int) -> None:
        self.set_controls("edit_last", edit_last=index, edit_first=min(self.controls.edit_first, index))

    def edit_band(self, name: str) -> None:
        """A preset range for the edits: a mixing band's w indices, or 'all'."""
        band = next((b for b in self.model.bands if b.name == name), Band("all", 0, self.model.num_ws - 1, ""))
        self.set_controls(None, edit_first=band.first, edit_last=band.last)

    def reset_edits(self) -> bool:
        return self.set_controls(None, edits=())

    def toggle_nearest(self) -> bool:
        """N: crisp nearest-neighbour or smooth scaling in the large view; returns the new setting."""
        self.nearest = not self.nearest
        return self.nearest

    # -- pins ------------------------------------------------------------------------------------

    def pin(self, spec: LatentSpec | None = None, name: str = "") -> Pin:
        """Pin the current image (or `spec`, named `name`, e.g. a projection named after its file); pinning the same
        spec twice is a no-op that returns the existing pin."""
        spec = self.spec() if spec is None else spec
        for p in self.pins:
            if p.spec == spec:
                return p
        self._remember(None)
        pin = Pin(self._fresh_name(pin_name(name) or spec.label), spec)
        self.pins.append(pin)
        return pin

    def current_pin_index(self) -> int | None:
        spec = self.spec()
        return next((i for i, p in enumerate(self.pins) if p.spec == spec), None)

    def unpin(self, index: int) -> Pin:
        self._remember(None)
        return self.pins.pop(index)

    def rename_pin(self, index: int, name: str) -> None:
        name = pin_name(name)
        old = self.pins[index]
        if name and name != old.name:
            self._remember(None)
            self.pins[index] = replace(old, name=name)
            if self.controls.mix_pin == old:  # the mix source picker follows the new name
                self.controls = replace(self.controls, mix_pin=self.pins[index])

    def move_pin(self, index: int, to: int) -> None:
        to = min(max(to, 0), len(self.pins) - 1)
        if to != index:
            self._remember(None)
            self.pins.insert(to, self.pins.pop(index))

    def recall(self, index: int) -> None:
        """Show a pin: its seed or w and all its settings (a pin without mixing or edits keeps the current ranges)."""
        r, c = self.pins[index].spec, self.controls
        mix, edit = r.mix, r.edits[0] if r.edits else None
        source_pin = c.mix_pin
        if mix is not None and mix.seed is None:  # a w pin was the source: name it by that pin if it is still here
            source_pin = next((p for p in self.pins if p.spec == mix.source), Pin("mix source", mix.source))
        new = _pin_source(Controls(r.psi, r.cutoff, r.class_idx, r.noise_mode, mix.seed if mix else None,
                                   mix.first if mix else c.mix_first, mix.last if mix else c.mix_last, source_pin,
                                   tuple((e.direction, e.strength) for e in r.edits),
                                   edit.first if edit else c.edit_first, edit.last if edit else c.edit_last,
                                   r.translate, r.rotate))
        if new != self.controls or r.seed != self.seed or r.w != self.w:
            self._remember(None)
            self.controls = new
        if r.seed is not None:
            self.go_to(r.seed)
        self.w = r.w

    def _fresh_name(self, base: str) -> str:
        names = {p.name for p in self.pins}
        if base not in names:
            return base
        return next(f"{base} ({i})" for i in range(2, len(names) + 3) if f"{base} ({i})" not in names)

    # -- undo --------------------------------------------------------------------------------------

    def _remember(self, tag: str | None) -> None:
        if tag is None or tag != self.undo_tag:
            self.undo_stack.append(Snapshot(self.seed, self.w, self.controls, tuple(self.pins)))
            del self.undo_stack[:-UNDO_LIMIT]
        self.undo_tag = tag

    def end_drag(self) -> None:
        """The next slider edit starts a new undo step."""
        self.undo_tag = None

    def undo(self) -> bool:
        if not self.undo_stack:
            return False
        snap = self.undo_stack.pop()
        self.controls, self.pins = snap.controls, list(snap.pins)
        self.go_to(snap.seed)
        self.w = snap.w
        self.undo_tag = None
        return True
