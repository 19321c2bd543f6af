"""Latent maths with no networks: seeds, labels, truncation, style mixing and keyframe paths.

Everything is a pure function. Seeds and labels follow NVlabs' conventions (spec §5), truncation is bit-identical
to ``G.mapping`` (spec §4.7), and the keyframe paths are vectorised with numpy so a whole video path is computed
at once instead of in a Python loop on the render thread.
"""

from collections.abc import Callable, Iterable

import numpy as np
import torch
from torch import nn

from model.errors import ModelError

from .spec import check_seed, is_int

MAX_RANGE_VALUES = 1_000_000  # a typo like 0-4294967295 should fail, not fill the memory
METHODS = ("lerp", "slerp", "cubic")
EASINGS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "linear": lambda u: u,
    "ease-in": lambda u: u * u,
    "ease-out": lambda u: u * (2 - u),
    "ease-in-out": lambda u: u * u * (3 - 2 * u),  # smoothstep: zero velocity at both keys
}


# ---------------------------------------------------------------------------------------------------------
# Seeds, ranges, labels


def seed_to_z(seed: int, z_dim: int) -> np.ndarray:
    """z as NVlabs' generate.py draws it: float64 [1, z_dim] from ``RandomState(seed).randn(1, z_dim)``."""
    check_seed(seed)
    return np.random.RandomState(int(seed)).randn(1, z_dim)


def seeds_to_z(seeds: Iterable[int], z_dim: int) -> np.ndarray:
    """float64 [len(seeds), z_dim]; row i is ``seed_to_z(seeds[i], z_dim)[0]``."""
    rows = [seed_to_z(seed, z_dim) for seed in seeds]
    return np.concatenate(rows, axis=0) if rows else np.zeros([0, z_dim])


def parse_range(text: str) -> list[int]:
    """'0-9,42' -> [0, 1, ..., 9, 42] for --seeds / --styles / --rows; order and repeats are kept as written."""
    values: list[int] = []
    for part in str(text).split(","):
        bounds = [b.strip() for b in part.split("-")]
        if len(bounds) > 2 or not all(b.isascii() and b.isdigit() for b in bounds):
            raise ModelError(f"bad range: {part.strip()!r} in {text!r} (use non-negative integers like 0-9,42)")
        lo, hi = int(bounds[0]), int(bounds[-1])
        if lo > hi:
            raise ModelError(f"bad range: {part.strip()!r} is reversed (write {hi}-{lo})")
        if len(values) + hi - lo + 1 > MAX_RANGE_VALUES:
            raise ModelError(f"bad range: {text!r} has more than {MAX_RANGE_VALUES} values")
        values.extend(range(lo, hi + 1))
    return values


def parse_seeds(text: str) -> list[int]:
    """parse_range for seeds: every value checked up front, so a bad seed fails before any work starts."""
    seeds = parse_range(text)
    for seed in seeds:
        check_seed(seed)
    return seeds


def one_hot(class_idx: int | None, c_dim: int) -> np.ndarray:
    """float32 [1, c_dim] label with a 1 at ``class_idx``.

    An unconditional net (c_dim 0) gets ``[1, 0]`` whatever the class: NVlabs ignores ``--class`` there, and it
    is the caller's job to warn when ``class_idx is not None``. A conditional net needs a class in range.
    """
    label = np.zeros([1, c_dim], dtype=np.float32)
    if c_dim == 0:
        return label
    if class_idx is None:
        raise ModelError(f"bad class: this network is conditional; choose a class in 0..{c_dim - 1}")
    if not is_int(class_idx) or not 0 <= class_idx < c_dim:
        raise ModelError(f"bad class: {class_idx!r} is not in 0..{c_dim - 1}")
    label[0, class_idx] = 1
    return label


# ---------------------------------------------------------------------------------------------------------
# Truncation and style mixing


def truncate(ws: torch.Tensor, w_avg: torch.Tensor, psi: float, cutoff: int | None = None) -> torch.Tensor:
    """``lerp(w_avg, ws, psi)`` on w indices < cutoff (None = all); returns a new tensor.

    ws is ``[..., num_ws, w_dim]``. Uses ``torch.lerp`` with a Python float weight exactly like ``G.mapping``, so
    ``truncate(G.mapping(z, c), w_avg, psi, k)`` equals ``G.mapping(z, c, psi, k)`` bit for bit. psi = 1 is a copy.
    """
    if cutoff is not None and (not is_int(cutoff) or cutoff < 0):
        raise ModelError(f"bad truncation cutoff: {cutoff!r} is not a non-negative integer")
    out = ws.clone()
    if psi != 1:
        out[..., :cutoff, :] = w_avg.lerp(ws[..., :cutoff, :], float(psi))
    return out


def num_ws_at(img_resolution: int) -> int:
    """Number of w vectors a StyleGAN2 generator of this resolution reads (spec §2): 2*log2(R) - 2."""
    if not is_int(img_resolution) or img_resolution < 4 or img_resolution & (img_resolution - 1):
        raise ModelError(f"bad resolution: {img_resolution!r} is not a power of two >= 4")
    return 2 * (int(img_resolution).bit_length() - 1) - 2


def w_resolutions(layout: int | nn.Module) -> tuple[int, ...]:
    """The resolution each w index shapes: a generator's own `w_resolutions`, or, for a bare resolution, those of
    a StyleGAN2 generator of that size.

    In StyleGAN2 an index belongs to the block whose *convolutions* read it (spec §4.8): b4 owns 0, block 2^k
    owns 2k-5 and 2k-4, and the last block also owns the final index, which only its ToRGB reads. ToRGB of block r
    shares its index with conv0 of block 2r and is ignored: it only adds a colour skip, while conv0 shapes the
    features. So the owner of index i is 2 ** min((i + 5) // 2, log2(R)).
    """
    if isinstance(layout, nn.Module):
        return tuple(layout.w_resolutions)
    num_ws = num_ws_at(layout)
    return tuple(2 ** min((i + 5) // 2, num_ws // 2 + 1) for i in range(num_ws))


def resolution_of_w_index(index: int, layout: int | nn.Module) -> int:
    """The resolution that w index ``index`` shapes (``w_resolutions``)."""
    owners = w_resolutions(layout)
    if not is_int(index) or not 0 <= index < len(owners):
        raise ModelError(f"bad w index: {index!r} is not in 0..{len(owners) - 1}")
    return owners[int(index)]


def layer_ranges(layout: int | nn.Module) -> dict[str, range]:
    """Named w-index ranges for style mixing, by the resolution each index shapes (``w_resolutions``).

    The StyleGAN paper's bands are 'coarse' 4²-8², 'middle' 16²-32², 'fine' 64² and up. Nets trained on a CPU are
    often smaller than 64², and a user still expects 'fine' to mean the top layers, so the top block is always
    fine: fine = blocks >= min(64, R); coarse and middle keep their resolutions minus what fine took. Empty bands
    are left out (16²: coarse 4²-8², fine 16²; 32²: coarse, middle 16², fine 32²). The ranges are contiguous,
    in coarse -> fine order, and partition 0..num_ws-1. At 1024²: coarse 0-2, middle 3-6 (NVlabs' default
    col_styles 0-6 is coarse + middle), fine 7-17.
    """
    owners = w_resolutions(layout)
    fine_from = min(64, owners[-1])
    bands: dict[str, list[int]] = {"coarse": [], "middle": [], "fine": []}
    for i, res in enumerate(owners):
        bands["fine" if res >= fine_from else "coarse" if res <= 8 else "middle"].append(i)
    return {name: range(idx[0], idx[-1] + 1) for name, idx in bands.items() if idx}


def range_label(indices: range, layout: int | nn.Module) -> str:
    """UI label for a contiguous w-index range by the resolutions it covers, e.g. '4²–8²' or '16²'."""
    if len(indices) == 0:
        raise ModelError("bad w index: empty range")
    first = resolution_of_w_index(indices[0], layout)
    last = resolution_of_w_index(indices[-1], layout)
    return f"{first}²" if first == last else f"{first}²–{last}²"


def mix_styles(ws_dst: torch.Tensor | np.ndarray, ws_src: torch.Tensor | np.ndarray,
               indices: Iterable[int]) -> torch.Tensor | np.ndarray:
    """A copy of ws_dst (``[..., num_ws, w_dim]``) whose rows at ``indices`` come from ws_src.

    As in NVlabs' style_mixing.py the *source* (the column seed there) supplies the listed layers and the
    destination (the row seed) keeps the rest. ws_src may be a single ``[num_ws, w_dim]`` that broadcasts.
    """
    idx = list(indices)
    num_ws = ws_dst.shape[-2]
    if tuple(ws_src.shape[-2:]) != tuple(ws_dst.shape[-2:]):
        raise ModelError(f"bad w shape: source {list(ws_src.shape)} does not match destination {list(ws_dst.shape)}")
    bad = [i for i in idx if not is_int(i) or not 0 <= i < num_ws]
    if bad:
        raise ModelError(f"bad w index: {bad[0]!r} is not in 0..{num_ws - 1}")
    if isinstance(ws_dst, torch.Tensor):
        out, rows = ws_dst.clone(), torch.tensor(idx, dtype=torch.long)
    else:
        out, rows = np.array(ws_dst, copy=True), np.array(idx, dtype=np.int64)
    out[..., rows, :] = ws_src[..., rows, :]
    return out


# ---------------------------------------------------------------------------------------------------------
# Keyframe paths


def frame_count(num_keys: int, frames_per_transition: int, loop: bool) -> int:
    """(K-1)*n + 1 frames ending on the last key, or K*n when looping (frame K*n would repeat frame 0)."""
    return num_keys * frames_per_transition if loop else (num_keys - 1) * frames_per_transition + 1


def interpolate(keys: np.ndarray, frames_per_transition: int, method: str = "lerp", easing: str = "linear",
                loop: bool = False) -> np.ndarray:
    """Frames [F, ...] through keyframes [K, ...]; frame i*n is key i exactly (bit-equal). See ``path_at``."""
    keys = _check_keys(keys)
    n = frames_per_transition
    if not is_int(n) or n < 1:
        raise ModelError(f"bad frame count: {n!r} frames per transition (need an integer >= 1)")
    segment, step = np.divmod(np.arange(frame_count(len(keys), int(n), loop)), int(n))
    return _evaluate(keys, segment, step / n, method, easing, loop)


def path_at(keys: np.ndarray, t: float | np.ndarray, method: str = "lerp", easing: str = "linear",
            loop: bool = False) -> np.ndarray:
    """Point(s) on the path through keyframes [K, ...] at parameter t (scalar -> [...], array [T] -> [T, ...]).

    t runs over [0, K-1]; with ``loop`` it wraps modulo K, the last key leading back to the first. At integer t
    the key itself is returned. Methods:
      lerp  - straight segments.
      slerp - great-circle arcs of the vectors along the last axis (for z); falls back to lerp where the angle
              is ~0 (identical keys), a norm is 0, or the vectors are ~opposite (no unique arc).
      cubic - a C2 cubic spline through all keys: natural ends, or periodic when looping, so the loop closes
              with continuous velocity and acceleration. It may overshoot the keys' range a little.
    ``easing`` (one of EASINGS) maps the position within each transition, for every method. With 'cubic' a
    non-linear easing keeps the spline's shape but makes the motion stop at each key; use 'linear' for a flowing
    spline. Maths is float64; the result has the keys' float dtype (float64 for integer keys).
    """
    keys = _check_keys(keys)
    t = np.asarray(t, dtype=np.float64)
    last = len(keys) if loop else len(keys) - 1
    if not np.all(np.isfinite(t)) or (not loop and (np.any(t < 0) or np.any(t > last))):
        raise ModelError(f"bad path position: t must be finite and in [0, {last}]")
    if loop:
        t = np.mod(t, len(keys))
    segment = np.floor(t)
    points = _evaluate(keys, segment.astype(np.int64).ravel(), (t - segment).ravel(), method, easing, loop)
    return points.reshape(t.shape + keys.shape[1:])


def _check_keys(keys: np.ndarray) -> np.ndarray:
    keys = np.asarray(keys)
    if keys.ndim < 2 or len(keys) == 0:
        raise ModelError(f"bad keyframes: expected an array [K >= 1, ..., dim], got shape {list(keys.shape)}")
    if not np.issubdtype(keys.dtype, np.number) or not np.all(np.isfinite(keys)):
        raise ModelError("bad keyframes: values must be finite numbers")
    return keys


def _evaluate(keys: np.ndarray, segment: np.ndarray, u: np.ndarray, method: str, easing: str,
              loop: bool) -> np.ndarray:
    """Points at fraction u in [0, 1) of transition ``segment`` (integer arrays of equal length)."""
    if method not in METHODS:
        raise ModelError(f"bad interpolation: unknown method '{method}' (choose {', '.join(METHODS)})")
    if easing not in EASINGS:
        raise ModelError(f"bad interpolation: unknown easing '{easing}' (choose {', '.join(EASINGS)})")
    count = len(keys)
    segment = segment % count if loop else np.minimum(segment, count - 1)
    following = (segment + 1) % count if loop else np.minimum(segment + 1, count - 1)
    p = keys.astype(np.float64)
    a, b = p[segment], p[following]
    w = EASINGS[easing](u).reshape((-1,) + (1,) * (keys.ndim - 1))
    if method == "lerp":
        points = a + (b - a) * w
    elif method == "slerp":
        points = _slerp(a, b, w)
    else:
        m = _spline_tangents(p.reshape(count, -1), loop).reshape(p.shape)
        w2, w3 = w * w, w * w * w
        points = ((2 * w3 - 3 * w2 + 1) * a + (w3 - 2 * w2 + w) * m[segment]
                  + (3 * w2 - 2 * w3) * b + (w3 - w2) * m[following])
    exact = (u == 0).reshape(w.shape)  # keys are returned as they are, not recomputed
    dtype = keys.dtype if np.issubdtype(keys.dtype, np.floating) else np.float64
    return np.where(exact, keys[segment], points).astype(dtype)


def _slerp(a: np.ndarray, b: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Shoemake's slerp along the last axis, with lerp where the arc is degenerate."""
    norms = np.linalg.norm(a, axis=-1, keepdims=True) * np.linalg.norm(b, axis=-1, keepdims=True)
    dot = np.sum(a * b, axis=-1, keepdims=True)
    cos = np.clip(np.divide(dot, norms, out=np.ones_like(dot), where=norms > 0), -1, 1)
    omega = np.arccos(cos)
    sin_omega = np.sin(omega)
    arc = sin_omega > 1e-6
    safe = np.where(arc, sin_omega, 1)
    wa = np.where(arc, np.sin((1 - w) * omega) / safe, 1 - w)
    wb = np.where(arc, np.sin(w * omega) / safe, w)
    return wa * a + wb * b


def _spline_tangents(p: np.ndarray, loop: bool) -> np.ndarray:
    """Knot derivatives [K, D] of the C2 cubic through points p [K, D] at unit spacing.

    Continuity of the second derivative gives m[i-1] + 4 m[i] + m[i+1] = 3 (p[i+1] - p[i-1]); indices wrap
    when looping (periodic spline), otherwise the natural ends (zero curvature) give 2 m[0] + m[1] = 3 (p[1] - p[0])
    and its mirror. A K x K solve; K is small.
    """
    count = len(p)
    i = np.arange(count)
    matrix = np.zeros([count, count])
    if loop:
        before, after = (i - 1) % count, (i + 1) % count
        np.add.at(matrix, (i, i), 4.0)
        np.add.at(matrix, (i, before), 1.0)
        np.add.at(matrix, (i, after), 1.0)
    else:
        before, after = np.maximum(i - 1, 0), np.minimum(i + 1, count - 1)
        matrix[i, i] = 4.0
        matrix[i[1:], i[:-1]] = 1.0
        matrix[i[:-1], i[1:]] = 1.0
        matrix[0, 0] = matrix[-1, -1] = 2.0
    return np.linalg.solve(matrix, 3 * (p[after] - p[before]))
