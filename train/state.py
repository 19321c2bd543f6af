"""The training-state file: everything an exact resume needs, as data only.

`training-state-NNNNNNNNNN.safetensors` (NNN = images shown) holds tensors (G, D, G_ema, Adam's moments and
steps, pl_mean, ADA p, RNG states) and, in its header, one JSON document with the scalars (counters, optimiser
hyperparameters, the python/numpy RNG scalars). It is self-contained and replaced atomically, so resuming never
depends on a network snapshot having been written completely. No pickle and no torch.save anywhere.
"""

from __future__ import annotations

import json
import os
import random
import re
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from model.io.atomic import atomic_write

HEADER_KEY = "stylegan-explorer-training-state"
FORMAT = "stylegan-explorer-training-state/1"
STATE_RE = re.compile(r"^training-state-(\d+)\.safetensors$")


class StateError(ValueError):
    """A training-state file that cannot be used for resuming (corrupt, foreign, or without its snapshot)."""


def save_state(path: str | os.PathLike, tensors: dict[str, torch.Tensor], scalars: dict) -> None:
    data = {k: t.detach().to("cpu").contiguous() for k, t in tensors.items()}
    header = json.dumps({"format": FORMAT, **scalars})
    atomic_write(path, lambda tmp: save_file(data, tmp, metadata={HEADER_KEY: header}))


def read_state(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict]:
    try:
        with safe_open(str(path), framework="pt") as f:
            raw = (f.metadata() or {}).get(HEADER_KEY)
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, ValueError) as e:
        raise StateError(f"corrupt training state: {Path(path).name} ({e})") from None
    if raw is None:
        raise StateError(f"not a training state: {Path(path).name}")
    scalars = json.loads(raw)
    if scalars.pop("format", None) != FORMAT:
        raise StateError(f"unsupported training state format in {Path(path).name}")
    return tensors, scalars


def state_name(cur_nimg: int) -> str:
    return f"training-state-{cur_nimg:010d}.safetensors"


def state_files(run_dir: Path) -> list[Path]:
    """Training-state files of a run, newest (most images shown) first."""
    found = [p for p in run_dir.glob("training-state-*.safetensors") if STATE_RE.match(p.name)]
    return sorted(found, key=lambda p: int(STATE_RE.match(p.name).group(1)), reverse=True)


# ---------------------------------------------------------------------------------------------------------
# Optimisers


def optimizer_to_state(name: str, opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    """Adam's per-parameter tensors by parameter index, and its param_groups as JSON.

    With beta1 = 0 (StyleGAN2's Adam) the first moment is left out: the next step sets it to that step's gradient
    exactly (lerp with weight 1 returns its end point), so it never reaches the future and a resume stays exact.
    That keeps over a quarter of a training-state file's bytes (145 -> 104 MB for the demo run) out of every
    hand-over."""
    sd = opt.state_dict()
    no_first_moment = {idx for group in sd["param_groups"] if group.get("betas", (None,))[0] == 0
                       for idx in group["params"]}
    tensors = {}
    for idx, slots in sd["state"].items():
        for key, value in slots.items():
            if not (key == "exp_avg" and idx in no_first_moment):
                tensors[f"{name}.state.{idx}.{key}"] = torch.as_tensor(value)
    return tensors, {"param_groups": sd["param_groups"]}


def optimizer_from_state(name: str, opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor],
                         scalars: dict) -> None:
    """Restore Adam's moments and param_groups, except the learning rate: `opt` was built with the run's current
    one (the same on a plain resume; `--glr`/`--dlr` change it for the rest of a run)."""
    prefix = f"{name}.state."
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith(prefix):
            idx, slot = key[len(prefix):].split(".", 1)
            state.setdefault(int(idx), {})[slot] = value
    for slots in state.values():
        if "exp_avg_sq" in slots and "exp_avg" not in slots:  # left out by optimizer_to_state (beta1 = 0)
            slots["exp_avg"] = torch.zeros_like(slots["exp_avg_sq"])
    groups = scalars["param_groups"]
    for group, current in zip(groups, opt.param_groups, strict=True):
        group["lr"] = current["lr"]
        if "betas" in group:
            group["betas"] = tuple(group["betas"])
    opt.load_state_dict({"state": state, "param_groups": groups})


# ---------------------------------------------------------------------------------------------------------
# Random number generators


def capture_rng() -> tuple[dict[str, torch.Tensor], dict]:
    """torch (CPU and CUDA), numpy and python RNG states as tensors + JSON."""
    tensors = {"rng.torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{i}"] = s
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    tensors["rng.numpy.keys"] = torch.from_numpy(np.asarray(keys, dtype=np.uint32).view(np.int32).copy())
    version, internal, gauss_next = random.getstate()
    scalars = {"numpy": [kind, int(pos), int(has_gauss), float(cached)],
               "python": [version, list(internal), gauss_next]}
    return tensors, {"rng": scalars}


def restore_rng(tensors: dict[str, torch.Tensor], scalars: dict) -> None:
    torch.set_rng_state(tensors["rng.torch"])
    cuda = [tensors[k] for k in sorted(k for k in tensors if k.startswith("rng.cuda."))]
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)
    kind, pos, has_gauss, cached = scalars["rng"]["numpy"]
    keys = tensors["rng.numpy.keys"].numpy().view(np.uint32)
    np.random.set_state((kind, keys, pos, has_gauss, cached))
    version, internal, gauss_next = scalars["rng"]["python"]
    random.setstate((version, tuple(internal), gauss_next))
