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
from ..networks_sg3 import Generator as AliasFreeGenerator
from .atomic import atomic_write
from .build import build_network, check_size_keywords

FORMAT = "stylegan-explorer/1"
HEADER_KEY = "stylegan-explorer"
TRAINING_STATE_KEY = "stylegan-explorer-training-state"  # the trainer's resume files: safetensors, not networks
CLASSES = {"Generator": Generator, "Discriminator": Discriminator, "StyleGAN3Generator": AliasFreeGenerator}
CLASS_NAMES = {cls: name for name, cls in CLASSES.items()}


def save_networks(path: str | os.PathLike, networks: dict[str, nn.Module], metadata: dict | None = None) -> None:
    """Write networks (e.g. {"G_ema": G}) atomically: a temp file in the same folder, then a rename."""
    path = Path(path)
    tensors, header = {}, {"format": FORMAT, "networks": {}, "metadata": metadata or {}}
    for name, net in networks.items():
        header["networks"][name] = {"class": CLASS_NAMES[type(net)], "init_kwargs": net.init_kwargs}
        for key, t in net.state_dict().items():
            tensors[f"{name}.{key}"] = t.detach().to("cpu", torch.float32).contiguous()
    atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata={HEADER_KEY: json.dumps(header)}))


def read_header(path: str | os.PathLike) -> dict:
    """The JSON header, without reading any tensor data; its whole schema is checked here, once."""
    name = Path(path).name
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as e:
        raise ModelError(f"corrupt file: {name} is not a readable safetensors file ({e})") from None
    raw = meta.get(HEADER_KEY)
    if raw is None:
        if TRAINING_STATE_KEY in meta:
            raise ModelError(f"unsupported file: {name} is a training-state file, not a network: resume from it "
                             "with `sgx train --resume RUN_DIR`, or open the run's network-snapshot-*.safetensors")
        raise ModelError(f"unsupported file: {name} is a safetensors file without stylegan-explorer metadata")
    try:
        header = json.loads(raw)
    except (ValueError, RecursionError):
        raise ModelError(f"corrupt file: {name} has an unreadable header") from None
    check_header(header, name)
    return header


def check_header(header: object, name: str) -> None:
    """format, networks {name: {class: str, init_kwargs: dict}} and an optional metadata dict, or a ModelError."""
    def bad(what: str) -> ModelError:
        return ModelError(f"corrupt file: {name} has a malformed header ({what})")

    if not isinstance(header, dict):
        raise bad(f"a {type(header).__name__}, not an object")
    if header.get("format") != FORMAT:
        raise ModelError(f"unsupported file: format {header.get('format')!r:.60} (expected {FORMAT!r})")
    networks = header.get("networks")
    if not isinstance(networks, dict) or not networks:
        raise bad("no 'networks' object")
    for net, spec in networks.items():
        if not isinstance(spec, dict):
            raise bad(f"network {net!r:.40} is a {type(spec).__name__}, not an object")
        if not isinstance(spec.get("class"), str):
            raise bad(f"network {net!r:.40} has no class name")
        if not isinstance(spec.get("init_kwargs"), dict):
            raise bad(f"network {net!r:.40} has no constructor keywords")
    if not isinstance(header.get("metadata", {}), dict):
        raise bad("'metadata' is not an object")


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
                kwargs = spec["init_kwargs"]
                if "img_resolution" not in kwargs:
                    raise ModelError(f"unsupported network: {name} in {Path(path).name} has no constructor keywords")
                check_size_keywords(name, kwargs)
                prefix = f"{name}."
                tensors = {k[len(prefix):]: f.get_tensor(k) for k in f.keys() if k.startswith(prefix)}
                networks[name] = build_network(name, cls, kwargs, tensors)
    except (SafetensorError, OSError) as e:
        raise ModelError(f"corrupt file: {Path(path).name} ({e})") from None
    return networks, header.get("metadata", {})
