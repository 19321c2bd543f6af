"""The explorer's UI state as plain dataclasses: the current seed, the sliders, paging, pins and undo.

No pygame and no torch here, so every rule about what the user sees is testable without a window; the app turns
events into calls on `Explorer` and asks the renderer for `Recipe`s.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field, replace

MAX_SEED = 2**32 - 1
NOISE_MODES = ("const", "random", "none")
PSI_RANGE = (-1.0, 2.0)
UNDO_LIMIT = 200


@dataclass(frozen=True)
class Mix:
    """Style mixing: w indices first..last (inclusive) come from the source seed, the rest from the image's own."""

    seed: int
    first: int
    last: int

    @property
    def indices(self) -> range:
        return range(self.first, self.last + 1)


@dataclass(frozen=True)
class Recipe:
    """Everything needed to render one image again; a pin stores one, the renderer takes one, caches key on one."""

    seed: int
    psi: float = 1.0
    cutoff: int | None = None
    class_idx: int | None = None
    noise_mode: str = "const"
    mix: Mix | None = None

    def to_json(self) -> dict:
        d = {"seed": self.seed, "psi": self.psi, "cutoff": self.cutoff, "class_idx": self.class_idx,
             "noise_mode": self.noise_mode, "mix": None}
        if self.mix is not None:
            d["mix"] = {"seed": self.mix.seed, "first": self.mix.first, "last": self.mix.last}
        return d

    @classmethod
    def from_json(cls, d: dict) -> Recipe:
        """Parse and validate; a ValueError names the first bad field."""
        if not isinstance(d, dict):
            raise ValueError("a recipe must be an object")
        mix = d.get("mix")
        if mix is not None:
            if not isinstance(mix, dict):
                raise ValueError("mix must be an object or null")
            mix = Mix(_seed(mix.get("seed")), _index(mix.get("first"), "mix.first"),
                      _index(mix.get("last"), "mix.last"))
            if mix.first > mix.last:
                raise ValueError("mix.first is after mix.last")
        psi = d.get("psi", 1.0)
        if isinstance(psi, bool) or not isinstance(psi, int | float) or not math.isfinite(psi):
            raise ValueError(f"bad psi {psi!r}")
        cutoff, class_idx = d.get("cutoff"), d.get("class_idx")
        noise = d.get("noise_mode", "const")
        if noise not in NOISE_MODES:
            raise ValueError(f"bad noise mode {noise!r}")
        return cls(_seed(d.get("seed")), float(psi), None if cutoff is None else _index(cutoff, "cutoff"),
                   None if class_idx is None else _index(class_idx, "class_idx"), noise, mix)

    def caption(self, index_labels: tuple[str, ...] = ()) -> str:
        """One line for the large view and the export dialog: seed, psi, class, mix."""
        trunc = f"ψ {self.psi:.2f}" + (f" on the first {self.cutoff} w" if self.cutoff is not None else "")
        parts = [f"seed {self.seed}", trunc]
        if self.class_idx is not None:
            parts.append(f"class {self.class_idx}")
        if self.noise_mode != "const":
            parts.append(f"noise {self.noise_mode}")
        if self.mix is not None:
            parts.append(f"mix seed {self.mix.seed} @ {layer_text(self.mix.first, self.mix.last, index_labels)}")
        return "  ·  ".join(parts)


def _seed(v) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= MAX_SEED:
        raise ValueError(f"bad seed {v!r}")
    return v


def _index(v, name: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise ValueError(f"bad {name} {v!r}")
    return v


def layer_text(first: int, last: int, index_labels: tuple[str, ...]) -> str:
    """'w 0–3 (4²–8²)': the indices and, when known, the resolutions they belong to."""
    span = f"w {first}" if first == last else f"w {first}–{last}"
    if last >= len(index_labels):
        return span
    a, b = index_labels[first], index_labels[last]
    return f"{span} ({a})" if a == b else f"{span} ({a}–{b})"


@dataclass(frozen=True)
class Band:
    """A named mixing preset: coarse / middle / fine with its w indices and resolution label."""

    name: str
    first: int
    last: int
    label: str


@dataclass(frozen=True)
class ModelInfo:
    """What the UI needs to know about the open model (filled in by the renderer, which owns the network)."""

    name: str
    model_id: str
    resolution: int
    channels: int
    num_ws: int
    c_dim: int
    device: str
    bands: tuple[Band, ...]
    index_labels: tuple[str, ...]  # resolution owning each w index, e.g. '8²'
    path: str = ""


@dataclass(frozen=True)
class Controls:
    """The slider and picker values; together with a seed they make a Recipe."""

    psi: float = 1.0
    cutoff: int | None = None  # None = truncate every w index
    class_idx: int | None = None
    noise_mode: str = "const"
    mix_seed: int | None = None  # None = no mixing
    mix_first: int = 0
    mix_last: int = 0


@dataclass(frozen=True)
class Pin:
    name: str
    recipe: Recipe


@dataclass(frozen=True)
class Snapshot:
    seed: int
    controls: Controls
    pins: tuple[Pin, ...]


@dataclass
class Explorer:
    """The whole UI state for one open model."""

    model: ModelInfo
    seed: int = 0  # the current / selected seed
    controls: Controls = field(default_factory=Controls)
    mode: str = "grid"  # 'grid' (seed browser) or 'large' (one image)
    page_start: int = 0
    cols: int = 4
    rows: int = 3
    pins: list[Pin] = field(default_factory=list)
    undo_stack: list[Snapshot] = field(default_factory=list)
    undo_tag: str | None = None

    def __post_init__(self) -> None:
        if self.model.c_dim and self.controls.class_idx is None:
            self.controls = replace(self.controls, class_idx=0)
        if self.controls.mix_first == self.controls.mix_last == 0 and self.model.bands:
            band = self.model.bands[0]
            self.controls = replace(self.controls, mix_first=band.first, mix_last=band.last)

    # -- what to render ------------------------------------------------------------------------------

    def recipe(self, seed: int | None = None) -> Recipe:
        c = self.controls
        mix = Mix(c.mix_seed, c.mix_first, c.mix_last) if c.mix_seed is not None else None
        return Recipe(self.seed if seed is None else seed, c.psi, c.cutoff, c.class_idx, c.noise_mode, mix)

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
        self.seed = min(max(self.seed + steps, 0), MAX_SEED)
        self._show_selected()

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
        new = replace(new, psi=round(min(max(new.psi, PSI_RANGE[0]), PSI_RANGE[1]), 2))
        if new.cutoff is not None and not 0 <= new.cutoff < self.model.num_ws:
            new = replace(new, cutoff=None)
        first, last = sorted((min(max(new.mix_first, 0), self.model.num_ws - 1),
                              min(max(new.mix_last, 0), self.model.num_ws - 1)))
        new = replace(new, mix_first=first, mix_last=last)
        if new == self.controls:
            return False
        self._remember(tag)
        self.controls = new
        return True

    # -- pins ------------------------------------------------------------------------------------

    def pin(self) -> Pin:
        """Pin the current image; pinning the same recipe twice is a no-op that returns the existing pin."""
        recipe = self.recipe()
        for p in self.pins:
            if p.recipe == recipe:
                return p
        self._remember(None)
        pin = Pin(self._fresh_name(f"seed {recipe.seed}"), recipe)
        self.pins.append(pin)
        return pin

    def current_pin_index(self) -> int | None:
        recipe = self.recipe()
        return next((i for i, p in enumerate(self.pins) if p.recipe == recipe), None)

    def unpin(self, index: int) -> Pin:
        self._remember(None)
        return self.pins.pop(index)

    def rename_pin(self, index: int, name: str) -> None:
        name = " ".join(name.split())[:40]
        if name and name != self.pins[index].name:
            self._remember(None)
            self.pins[index] = replace(self.pins[index], name=name)

    def move_pin(self, index: int, to: int) -> None:
        to = min(max(to, 0), len(self.pins) - 1)
        if to != index:
            self._remember(None)
            self.pins.insert(to, self.pins.pop(index))

    def recall(self, index: int) -> None:
        """Show a pin: its seed and all its settings (a pin without mixing keeps the current layer range)."""
        r = self.pins[index].recipe
        mix = r.mix
        new = Controls(r.psi, r.cutoff, r.class_idx, r.noise_mode, mix.seed if mix else None,
                       mix.first if mix else self.controls.mix_first, mix.last if mix else self.controls.mix_last)
        if new != self.controls or r.seed != self.seed:
            self._remember(None)
            self.controls = new
        self.go_to(r.seed)

    def _fresh_name(self, base: str) -> str:
        names = {p.name for p in self.pins}
        if base not in names:
            return base
        return next(f"{base} ({i})" for i in range(2, len(names) + 3) if f"{base} ({i})" not in names)

    # -- undo --------------------------------------------------------------------------------------

    def _remember(self, tag: str | None) -> None:
        if tag is None or tag != self.undo_tag:
            self.undo_stack.append(Snapshot(self.seed, self.controls, tuple(self.pins)))
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
        self.undo_tag = None
        return True
