"""From seeds or w latents to uint8 images, with NVlabs' conventions (spec §5).

`generate.py` maps each seed with batch 1 and converts with `trunc(clamp(x*127.5 + 128))`; doing the same on
the exact path is what makes our PNGs pixel-equal to theirs.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from . import fast, latents
from .errors import ModelError
from .latents import one_hot, seed_to_z, seeds_to_z
from .spec import LatentSpec, W, check_noise_mode


def pick_device(name: str = "auto") -> torch.device:
    """`auto` = cuda, then mps, then cpu; an explicit device that is missing is a one-line error."""
    has = {"cuda": torch.cuda.is_available(), "mps": torch.backends.mps.is_available(), "cpu": True}
    if name == "auto":
        return torch.device(next(d for d in ("cuda", "mps", "cpu") if has[d]))
    if name not in has:
        raise ModelError(f"unknown device '{name}' (choose auto, cpu, cuda or mps)")
    if not has[name]:
        raise ModelError(f"device '{name}' is not available on this machine")
    return torch.device(name)


def to_uint8(img: torch.Tensor) -> np.ndarray:
    """[N, C, H, W] float in [-1, 1] -> [N, H, W, C] uint8, rounding half up exactly as generate.py does."""
    img = img.float().permute(0, 2, 3, 1)
    return (img * 127.5 + 128).clamp(0, 255).to(torch.uint8).cpu().numpy()


def label(G, class_idx: int | None, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(one_hot(class_idx, G.c_dim)).to(device)


@torch.inference_mode()
def spec_ws(G, spec: LatentSpec, device: torch.device | None = None,
            directions: Mapping[str, np.ndarray] | None = None) -> torch.Tensor:
    """[1, num_ws, w_dim] for a spec: base, mix, truncate, edit, the order model/spec.py defines.

    A seed's z is drawn in float64 (RandomState), made fp32 on the CPU, then moved: the mapping would round it
    to fp32 anyway, and devices without float64 (MPS) work. `directions` resolves the edits' direction ids to
    unit vectors [w_dim].
    """
    device = device or next(G.parameters()).device
    ws = _base_ws(G, spec.seed, spec.w, spec.class_idx, device)
    if spec.mix is not None:
        source = spec.mix.source
        src = (_base_ws(G, source, None, spec.class_idx, device) if isinstance(source, int)
               else spec_ws(G, source, device, directions))
        ws = latents.mix_styles(ws, src, spec.mix.indices)
    ws = latents.truncate(ws, G.mapping.w_avg, spec.psi, spec.cutoff)
    for edit in spec.edits:
        vector = (directions or {}).get(edit.direction)
        if vector is None:
            raise ModelError(f"unknown direction '{edit.direction}' (load its directions file first)")
        vector = torch.as_tensor(np.asarray(vector, dtype=np.float32), device=device)
        if vector.shape != (G.w_dim,):
            raise ModelError(f"bad direction '{edit.direction}': shape {list(vector.shape)}, this network's w has "
                             f"{G.w_dim} values")
        if edit.last >= G.num_ws:
            raise ModelError(f"bad edit: w indices {edit.first}-{edit.last}, this network has 0-{G.num_ws - 1}")
        ws[:, edit.first:edit.last + 1] += edit.strength * vector
    return ws


def _base_ws(G, seed: int | None, w: W | None, class_idx: int | None, device: torch.device) -> torch.Tensor:
    """Untruncated [1, num_ws, w_dim]: a seed mapped with batch 1 as generate.py does, or the explicit w."""
    if seed is not None:
        z = torch.from_numpy(seed_to_z(seed, G.z_dim)).float().to(device)
        return G.mapping(z, label(G, class_idx, device))
    if w.shape != (G.num_ws, G.w_dim):
        raise ModelError(f"bad w: shape {list(w.shape)}, this network needs [{G.num_ws}, {G.w_dim}]")
    return torch.from_numpy(w.array()).to(device)[None]


def synthesize(G, ws: torch.Tensor, noise_mode: str = "const", precision: str = "exact") -> np.ndarray:
    """ws [N, num_ws, w_dim] -> uint8 [N, H, W, C]; 'exact' is the fp32 NVlabs path, the others model/fast.py."""
    check_noise_mode(noise_mode)
    return to_uint8(fast.render(G, ws, noise_mode, precision))


def style_mix(G, row_seeds: list[int], col_seeds: list[int], col_styles: list[int], psi: float = 1.0,
              class_idx: int | None = None, noise_mode: str = "const", precision: str = "exact",
              ) -> tuple[dict[int, np.ndarray], dict[tuple[int, int], np.ndarray]]:
    """NVlabs' style_mixing.py: (image per distinct seed, image per (row, col) with the col seed's `col_styles`).

    As there, the distinct seeds are mapped in one batch and truncated by hand over every w index.
    """
    device = next(G.parameters()).device
    seeds = list(dict.fromkeys(row_seeds + col_seeds))
    with torch.inference_mode():
        z = torch.from_numpy(seeds_to_z(seeds, G.z_dim)).float().to(device)
        ws = G.mapping(z, label(G, class_idx, device).repeat(len(seeds), 1))
        ws = G.mapping.w_avg + (ws - G.mapping.w_avg) * psi
        w_of = dict(zip(seeds, ws, strict=True))
        own = dict(zip(seeds, synthesize(G, ws, noise_mode, precision), strict=True))
        mixed = {}
        for r in row_seeds:
            for col in col_seeds:
                w = w_of[r].clone()
                w[col_styles] = w_of[col][col_styles]
                mixed[(r, col)] = synthesize(G, w[None], noise_mode, precision)[0]
    return own, mixed


def render_spec(G, spec: LatentSpec, precision: str = "exact",
                directions: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
    """One spec -> uint8 [H, W, C]; a seed spec with 'exact' gives NVlabs' generate.py pixels on the CPU."""
    return synthesize(G, spec_ws(G, spec, directions=directions), spec.noise_mode, precision)[0]


def render_seed(G, seed: int, psi: float = 1.0, cutoff: int | None = None, class_idx: int | None = None,
                noise_mode: str = "const", precision: str = "exact") -> np.ndarray:
    """One seed -> uint8 [H, W, C]; with 'exact', the same pixels as NVlabs' generate.py on the CPU."""
    return render_spec(G, LatentSpec(seed=seed, psi=psi, cutoff=cutoff, class_idx=class_idx, noise_mode=noise_mode),
                       precision)
