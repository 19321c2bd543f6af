"""Our own checkpoint format: one safetensors file (data only) with the architecture as JSON in its header.

Tensors are named `<network>.<state-dict name>` (e.g. `G_ema.mapping.fc0.weight`), so one file can hold G,
D and G_ema. The header's `stylegan-explorer` entry records, per network, its class and constructor
keywords, plus free-form metadata (training kimg, dataset, ...). Nothing in the file is ever executed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import nn

from ..errors import ModelError
from ..networks import Discriminator, Generator
from .atomic import atomic_write
from .build import build_network, check_size_keywords

FORMAT = "stylegan-explorer/1"
HEADER_KEY = "stylegan-explorer"
CLASSES = {"Generator": Generator, "Discriminator": Discriminator}


def save_networks(path: str | os.PathLike, networks: dict[str, nn.Module], metadata: dict | None = None) -> None:
    """Write networks (e.g. {"G_ema": G}) atomically: a temp file in the same folder, then a rename."""
    path = Path(path)
    tensors, header = {}, {"format": FORMAT, "networks": {}, "metadata": metadata or {}}
    for name, net in networks.items():
        header["networks"][name] = {"class": type(net).__name__, "init_kwargs": net.init_kwargs}
        for key, t in net.state_dict().items():
            tensors[f"{name}.{key}"] = t.detach().to("cpu", torch.float32).contiguous()
    atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata={HEADER_KEY: json.dumps(header)}))


def read_header(path: str | os.PathLike) -> dict:
    """The JSON header, without reading any tensor data."""
    try:
        with safe_open(str(path), framework="pt") as f:
            raw = (f.metadata() or {}).get(HEADER_KEY)
    except (SafetensorError, OSError, ValueError) as e:
        raise ModelError(f"corrupt file: {Path(path).name} is not a readable safetensors file ({e})") from None
    if raw is None:
        raise ModelError(f"unsupported file: {Path(path).name} is a safetensors file without stylegan-explorer "
                         "metadata")
    try:
        header = json.loads(raw)
    except json.JSONDecodeError:
        raise ModelError(f"corrupt file: {Path(path).name} has an unreadable header") from None
    if header.get("format") != FORMAT:
        raise ModelError(f"unsupported file: format {header.get('format')!r} (expected {FORMAT!r})")
    return header


def read_networks(path: str | os.PathLike, which: tuple[str, ...] = ("G_ema",)) -> tuple[dict[str, nn.Module], dict]:
    """Rebuild the requested networks from their recorded keywords and adopt their checked tensors."""
    header = read_header(path)
    stored = header["networks"]
    missing = [n for n in which if n not in stored]
    if missing:
        raise ModelError(f"incompatible weights: {Path(path).name} has no network '{missing[0]}' "
                         f"(it has {', '.join(stored) or 'none'})")
    networks = {}
    try:
        with safe_open(str(path), framework="pt") as f:
            for name in which:
                spec = stored[name]
                cls = CLASSES.get(spec.get("class"))
                if cls is None:
                    raise ModelError(f"unsupported network: class {spec.get('class')!r}")
                kwargs = spec.get("init_kwargs")
                if not isinstance(kwargs, dict) or "img_resolution" not in kwargs:
                    raise ModelError(f"unsupported network: {name} in {Path(path).name} has no constructor keywords")
                check_size_keywords(name, kwargs)
                prefix = f"{name}."
                tensors = {k[len(prefix):]: f.get_tensor(k) for k in f.keys() if k.startswith(prefix)}
                networks[name] = build_network(name, cls, kwargs, tensors)
    except (SafetensorError, OSError) as e:
        raise ModelError(f"corrupt file: {Path(path).name} ({e})") from None
    return networks, header.get("metadata", {})
