"""From seeds or w latents to uint8 images, with NVlabs' conventions (spec §5).

`generate.py` maps each seed with batch 1 and converts with `trunc(clamp(x*127.5 + 128))`; doing the same on
the exact path is what makes our PNGs pixel-equal to theirs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import torch
import torch.nn.functional as F

from . import fast, latents
from .errors import ModelError
from .latents import one_hot, seed_to_z
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
            directions: Mapping[str, np.ndarray] | None = None, c: torch.Tensor | None = None) -> torch.Tensor:
    """[1, num_ws, w_dim] for a spec: base, mix, truncate, edit, the order model/spec.py defines.

    A seed's z is drawn in float64 (RandomState), made fp32 on the CPU, then moved: the mapping would round it
    to fp32 anyway, and devices without float64 (MPS) work. `directions` resolves the edits' direction ids to
    unit vectors [w_dim]. `c` [c_dim] conditions the seeds' mapping instead of the one-hot of spec.class_idx: the
    trainer's grid uses its dataset's labels, which may be float vectors.
    """
    device = device or next(G.parameters()).device
    ws = _base_ws(G, spec.seed, spec.w, spec.class_idx, c, device)
    if spec.mix is not None:
        source = spec.mix.source
        src = (_base_ws(G, source, None, spec.class_idx, c, device) if isinstance(source, int)
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


def _base_ws(G, seed: int | None, w: W | None, class_idx: int | None, c: torch.Tensor | None,
             device: torch.device) -> torch.Tensor:
    """Untruncated [1, num_ws, w_dim]: a seed mapped with batch 1 as generate.py does, or the explicit w."""
    if seed is not None:
        z = torch.from_numpy(seed_to_z(seed, G.z_dim)).float().to(device)
        return G.mapping(z, label(G, class_idx, device) if c is None else c.reshape(1, -1).to(device))
    if w.shape != (G.num_ws, G.w_dim):
        raise ModelError(f"bad w: shape {list(w.shape)}, this network needs [{G.num_ws}, {G.w_dim}]")
    return torch.from_numpy(w.array()).to(device)[None]


def input_transform(translate: tuple[float, float], rotate: float) -> torch.Tensor:
    """StyleGAN3's input transform for a translation (image widths) and a rotation (degrees), as NVlabs'
    gen_images.py and visualizer build it: the inverse of [[cos, sin, x], [-sin, cos, y], [0, 0, 1]], which maps the
    output grid back to the input's coordinates (float64, then float32)."""
    a = math.radians(rotate)
    m = np.array([[math.cos(a), math.sin(a), translate[0]], [-math.sin(a), math.cos(a), translate[1]], [0, 0, 1]])
    return torch.from_numpy(np.linalg.inv(m)).float()


def spec_transforms(G, specs: list[LatentSpec]) -> torch.Tensor | None:
    """[N, 3, 3] input transforms for synthesis(transform=...), or None when no spec moves the input (then a
    StyleGAN3 network keeps its stored transform, the identity in every trained one)."""
    if not any(spec.moves_input for spec in specs):
        return None
    if G.family != "stylegan3":
        raise ModelError("translate and rotate need a StyleGAN3 network; this one is StyleGAN2")
    stored = G.synthesis.input.transform.detach().cpu()
    return torch.stack([input_transform(s.translate, s.rotate) if s.moves_input else stored for s in specs])


def synthesize(G, ws: torch.Tensor, noise_mode: str = "const", precision: str = "exact",
               transform: torch.Tensor | None = None) -> np.ndarray:
    """ws [N, num_ws, w_dim] -> uint8 [N, H, W, C]; 'exact' is the fp32 NVlabs path, the others model/fast.py.
    `transform`: StyleGAN3's input transforms (`spec_transforms`)."""
    check_noise_mode(noise_mode)
    return to_uint8(fast.render(G, ws, noise_mode, precision, transform))


def render_specs(G, specs: list[LatentSpec], precision: str = "exact",
                 directions: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
    """Specs of one noise mode -> uint8 [N, H, W, C], synthesised in batches (faster than one by one)."""
    modes = {spec.noise_mode for spec in specs}
    if len(modes) != 1:
        raise ValueError(f"render_specs: one noise mode per call, got {sorted(modes)}")
    ws = torch.cat([spec_ws(G, spec, directions=directions) for spec in specs])
    return synthesize(G, ws, modes.pop(), precision, spec_transforms(G, specs))


def render_spec(G, spec: LatentSpec, precision: str = "exact",
                directions: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
    """One spec -> uint8 [H, W, C]; a seed spec with 'exact' gives NVlabs' generate.py pixels on the CPU."""
    return render_specs(G, [spec], precision, directions)[0]


def render_seed(G, seed: int, psi: float = 1.0, cutoff: int | None = None, class_idx: int | None = None,
                noise_mode: str = "const", precision: str = "exact") -> np.ndarray:
    """One seed -> uint8 [H, W, C]; with 'exact', the same pixels as NVlabs' generate.py on the CPU."""
    return render_spec(G, LatentSpec(seed=seed, psi=psi, cutoff=cutoff, class_idx=class_idx, noise_mode=noise_mode),
                       precision)


def shrink(images: np.ndarray, size: int) -> np.ndarray:
    """uint8 [N, H, W, C] -> box-filtered by the largest power of two keeping the side >= size (no-op if none)."""
    factor = 1
    while images.shape[1] // (factor * 2) >= size:
        factor *= 2
    if factor == 1:
        return images
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float()
    x = F.avg_pool2d(x, factor).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).contiguous().numpy()


def as_rgb(images: np.ndarray) -> np.ndarray:
    return np.repeat(images, 3, axis=3) if images.shape[3] == 1 else images
