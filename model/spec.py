"""What to render, as plain data: a seed or an explicit w, truncation, class, style mix and direction edits.

A `LatentSpec` is frozen, hashable and torch-free, so the explorer's state, pins, caches, video keyframes and
PNG metadata all hold the same thing. `model.render.spec_ws` is the one function that turns it into ws, in this
order (defined here, once):

1. base: a seed is mapped (z from ``RandomState(seed)``, batch 1, the spec's class) without truncation; an
   explicit w is taken as it is;
2. mix: w indices first..last are replaced by those of the source (a seed, mapped like the base, or another
   spec, rendered to ws by the same rules on its own);
3. truncate: every w index below the cutoff (all of them without one) moves towards w_avg by ψ;
4. edit: each direction edit adds strength x direction to its w indices, in the order listed.

A StyleGAN3 spec may also move the network's input: `translate` (x, y) and `rotate` (degrees), applied to the
Fourier features by `model.render.spec_transforms` (the ws stay the same). They are StyleGAN3-only.

For a seed spec with no mix and no edits, steps 1 and 3 are exactly NVlabs' mapping with truncation, which
keeps our pixels equal to their generate.py. The JSON form is a superset of the seed recipes that pins files
and PNGs held before, so those load unchanged.
"""

from __future__ import annotations

import base64
import hashlib
import math
from dataclasses import dataclass, field

import numpy as np

from .errors import ModelError

MAX_SEED = 2**32 - 1  # numpy's RandomState takes seeds in 0..2**32-1
NOISE_MODES = ("const", "random", "none")
PRECISIONS = ("auto", "exact", "fp32", "bf16", "fp16")
PSI_RANGE = (-1.0, 2.0)  # what the explorer's slider offers; files and the CLI may hold any finite ψ
MAX_ABS_VALUE = 1e6  # a ψ or an edit strength beyond this is a typo or an attack, not a setting
MAX_W_VALUES = 64 * 1024  # 18 x 512 at 1024², with room for larger layouts
MAX_EDITS = 64


def is_int(value: object) -> bool:
    """An integer of Python or numpy, not a bool (True is an int to Python, never a seed or an index here)."""
    return isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)


def check_seed(seed: object) -> int:
    if not is_int(seed) or not 0 <= seed <= MAX_SEED:
        raise ModelError(f"bad seed: {seed!r:.40} is not an integer in 0..{MAX_SEED}")
    return int(seed)


def check_index(value: object, what: str) -> int:
    if not is_int(value) or value < 0:
        raise ModelError(f"bad {what}: {value!r:.40} is not a non-negative integer")
    return int(value)


def check_number(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating | np.integer):
        raise ModelError(f"bad {what}: {value!r:.40} is not a number")
    try:
        number = float(value)
    except OverflowError:  # an int like 10**400
        number = math.inf
    if not abs(number) <= MAX_ABS_VALUE:  # also refuses nan
        raise ModelError(f"bad {what}: {value!r:.40} is not a finite number within ±{MAX_ABS_VALUE:g}")
    return number


def check_w_range(first: object, last: object, what: str) -> None:
    """A mix or an edit covers w indices first..last, both included: a non-empty run."""
    first, last = check_index(first, f"{what}.first"), check_index(last, f"{what}.last")
    if first > last:
        raise ModelError(f"bad {what}: first w index {first} is after the last {last}")


def check_noise_mode(mode: object) -> str:
    if mode not in NOISE_MODES:
        raise ModelError(f"unknown noise mode {mode!r:.40} (choose {', '.join(NOISE_MODES)})")
    return mode


def check_precision(precision: object) -> str:
    if precision not in PRECISIONS:
        raise ModelError(f"unknown precision {precision!r:.40} (choose {', '.join(PRECISIONS)})")
    return precision


@dataclass(frozen=True)
class W:
    """An explicit latent [num_ws, w_dim] as float32 bytes: hashable, compared by content, exact in JSON."""

    data: bytes = field(repr=False)
    shape: tuple[int, int]

    @classmethod
    def of(cls, array) -> W:
        a = np.asarray(array, dtype=np.float32)
        if a.ndim == 3 and a.shape[0] == 1:
            a = a[0]
        if a.ndim != 2 or not 0 < a.size <= MAX_W_VALUES:
            raise ModelError(f"bad w: shape {list(a.shape)} (expected [num_ws, w_dim])")
        if not np.isfinite(a).all():
            raise ModelError("bad w: it holds non-finite values")
        return cls(np.ascontiguousarray(a).astype("<f4", copy=False).tobytes(), (int(a.shape[0]), int(a.shape[1])))

    def array(self) -> np.ndarray:
        return np.frombuffer(self.data, dtype="<f4").reshape(self.shape).astype(np.float32)

    @property
    def digest(self) -> str:
        """12 hex digits of the content hash: names a w in captions and file names."""
        return hashlib.sha256(self.data).hexdigest()[:12]

    def to_json(self) -> dict:
        return {"shape": list(self.shape), "float32_base64": base64.b64encode(self.data).decode("ascii")}

    @classmethod
    def from_json(cls, d: object) -> W:
        if not isinstance(d, dict) or not isinstance(d.get("float32_base64"), str):
            raise ModelError("bad w: expected {shape, float32_base64}")
        shape = d.get("shape")
        if not isinstance(shape, list) or len(shape) != 2 or not all(is_int(n) and n > 0 for n in shape):
            raise ModelError(f"bad w: shape {shape!r:.40}")
        if shape[0] * shape[1] > MAX_W_VALUES:
            raise ModelError(f"bad w: shape {shape} is too large")
        try:
            data = base64.b64decode(d["float32_base64"], validate=True)
        except ValueError:
            raise ModelError("bad w: float32_base64 is not base64") from None
        if len(data) != 4 * shape[0] * shape[1]:
            raise ModelError(f"bad w: {len(data)} bytes for shape {shape}")
        return cls.of(np.frombuffer(data, dtype="<f4").reshape(shape))


@dataclass(frozen=True)
class Mix:
    """Style mixing: w indices first..last (inclusive) come from the source, the rest from the spec's own base."""

    source: int | LatentSpec  # a seed, or another spec (e.g. a pin)
    first: int
    last: int

    def __post_init__(self) -> None:
        if not isinstance(self.source, LatentSpec):
            object.__setattr__(self, "source", check_seed(self.source))
        check_w_range(self.first, self.last, "mix")

    @property
    def indices(self) -> range:
        return range(self.first, self.last + 1)

    @property
    def seed(self) -> int | None:
        return self.source if isinstance(self.source, int) else None

    def to_json(self) -> dict:
        if isinstance(self.source, LatentSpec):
            return {"spec": self.source.to_json(), "first": self.first, "last": self.last}
        return {"seed": self.source, "first": self.first, "last": self.last}

    @classmethod
    def from_json(cls, d: object, depth: int) -> Mix:
        if not isinstance(d, dict):
            raise ModelError("bad mix: expected an object or null")
        source = LatentSpec.from_json(d["spec"], depth + 1) if "spec" in d else d.get("seed")
        return cls(source, d.get("first"), d.get("last"))


@dataclass(frozen=True)
class Edit:
    """Move along a latent direction: w indices first..last += strength x direction (a unit vector in w)."""

    direction: str  # an id the caller resolves to a vector, e.g. "sefa:3"
    strength: float
    first: int
    last: int

    def __post_init__(self) -> None:
        if not isinstance(self.direction, str) or not 0 < len(self.direction) <= 200:
            raise ModelError(f"bad edit: direction id {self.direction!r:.40}")
        object.__setattr__(self, "strength", check_number(self.strength, "edit strength"))
        check_w_range(self.first, self.last, "edit")

    @property
    def indices(self) -> range:
        return range(self.first, self.last + 1)

    def to_json(self) -> dict:
        return {"direction": self.direction, "strength": self.strength, "first": self.first, "last": self.last}

    @classmethod
    def from_json(cls, d: object) -> Edit:
        if not isinstance(d, dict):
            raise ModelError("bad edit: expected an object")
        return cls(d.get("direction"), d.get("strength"), d.get("first"), d.get("last"))


MAX_NESTING = 4  # a mix source may itself be a spec with a mix, this deep at most


@dataclass(frozen=True)
class LatentSpec:
    """Everything needed to render one image again. Exactly one of seed and w is set."""

    seed: int | None = None
    psi: float = 1.0
    cutoff: int | None = None  # truncate only w indices below it; None = all
    class_idx: int | None = None
    noise_mode: str = "const"
    mix: Mix | None = None
    edits: tuple[Edit, ...] = ()
    w: W | None = None  # [num_ws, w_dim], untruncated (a projection, an edited latent), instead of a seed
    translate: tuple[float, float] = (0.0, 0.0)  # StyleGAN3 input shift (x, y), in image widths
    rotate: float = 0.0  # StyleGAN3 input rotation, degrees

    def __post_init__(self) -> None:
        if (self.seed is None) == (self.w is None):
            raise ModelError("bad latent: give exactly one of a seed and a w")
        if self.seed is not None:
            object.__setattr__(self, "seed", check_seed(self.seed))
        elif not isinstance(self.w, W):
            raise ModelError("bad latent: w must be a W (use W.of(array))")
        object.__setattr__(self, "psi", check_number(self.psi, "psi"))
        if self.cutoff is not None:
            object.__setattr__(self, "cutoff", check_index(self.cutoff, "truncation cutoff"))
        if self.class_idx is not None:
            object.__setattr__(self, "class_idx", check_index(self.class_idx, "class"))
        check_noise_mode(self.noise_mode)
        if self.mix is not None and not isinstance(self.mix, Mix):
            raise ModelError("bad latent: mix must be a Mix")
        edits = tuple(self.edits)
        if len(edits) > MAX_EDITS or not all(isinstance(e, Edit) for e in edits):
            raise ModelError(f"bad latent: edits must be at most {MAX_EDITS} Edit values")
        object.__setattr__(self, "edits", edits)
        t = self.translate
        if not isinstance(t, tuple | list) or len(t) != 2:
            raise ModelError(f"bad translate: {t!r:.40} (expected two numbers x, y)")
        object.__setattr__(self, "translate", (check_number(t[0], "translate x"), check_number(t[1], "translate y")))
        object.__setattr__(self, "rotate", check_number(self.rotate, "rotate"))

    @property
    def moves_input(self) -> bool:
        """Whether the spec translates or rotates StyleGAN3's input (the default leaves the network's own)."""
        return self.translate != (0.0, 0.0) or self.rotate != 0.0

    @property
    def label(self) -> str:
        """What the base is, for names and captions: 'seed 42' or 'w 3f2a9c01b7de'."""
        return f"seed {self.seed}" if self.seed is not None else f"w {self.w.digest}"

    def to_json(self) -> dict:
        """JSON for pins files and PNG metadata; a seed spec without edits is exactly the old recipe."""
        d = {"seed": self.seed, "psi": self.psi, "cutoff": self.cutoff, "class_idx": self.class_idx,
             "noise_mode": self.noise_mode, "mix": None if self.mix is None else self.mix.to_json()}
        if self.w is not None:
            d["w"] = self.w.to_json()
        if self.edits:
            d["edits"] = [e.to_json() for e in self.edits]
        if self.translate != (0.0, 0.0):
            d["translate"] = list(self.translate)
        if self.rotate != 0.0:
            d["rotate"] = self.rotate
        return d

    @classmethod
    def from_json(cls, d: object, depth: int = 0) -> LatentSpec:
        """Parse and validate; a ModelError (a ValueError) names the first bad field."""
        if not isinstance(d, dict):
            raise ModelError("bad latent: expected an object")
        if depth > MAX_NESTING:
            raise ModelError(f"bad latent: mix sources nested deeper than {MAX_NESTING}")
        w = W.from_json(d["w"]) if d.get("w") is not None else None
        mix = Mix.from_json(d["mix"], depth) if d.get("mix") is not None else None
        edits = d.get("edits") or []
        if not isinstance(edits, list):
            raise ModelError("bad latent: edits must be a list")
        return cls(seed=d.get("seed"), w=w, psi=d.get("psi", 1.0), cutoff=d.get("cutoff"),
                   class_idx=d.get("class_idx"), noise_mode=d.get("noise_mode", "const"), mix=mix,
                   edits=tuple(Edit.from_json(e) for e in edits[:MAX_EDITS + 1]),
                   translate=d.get("translate", (0.0, 0.0)), rotate=d.get("rotate", 0.0))
