"""`load(path)`: one entry point for every network file we accept, returning the networks and metadata.

Formats: our safetensors checkpoints (data only) and NVlabs network pickles, read by a restricted
unpickler that never executes code from the file. Anything else is refused with a one-line ModelError.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from torch import nn

from ..errors import ModelError
from .identity import model_id
from .native import read_networks, save_networks

NETWORK_NAMES = ("G", "D", "G_ema")
MAX_FILE_BYTES = 2 << 30


@dataclass
class LoadedModel:
    """What `load` returns: the requested networks (eval mode, CPU, fp32) and what is known about them."""

    networks: dict[str, nn.Module]
    format: str
    path: Path
    model_id: str
    metadata: dict = field(default_factory=dict)

    @property
    def G(self) -> nn.Module:  # noqa: N802 - NVlabs' name
        """The generator to render with: G_ema when loaded, else G."""
        return self.networks["G_ema"] if "G_ema" in self.networks else self.networks["G"]

    @property
    def name(self) -> str:
        return self.path.stem


def sniff(path: Path) -> str:
    """Tell the file kind from its first bytes, not its extension."""
    with open(path, "rb") as f:
        head = f.read(16)
    if head[:1] == b"\x80":
        return "pickle"
    if len(head) >= 9 and head[8:9] == b"{":
        return "safetensors"
    if head[:2] == b"PK":
        return "zip"
    return "unknown"


def check_file(path: str | os.PathLike) -> Path:
    path = Path(path)
    if not path.exists():
        raise ModelError(f"file not found: {path}")
    if not path.is_file():
        raise ModelError(f"not a regular file: {path}")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ModelError(f"file too large: {size / 2**30:.1f} GiB > {MAX_FILE_BYTES / 2**30:.0f} GiB limit")
    return path


def load(path: str | os.PathLike, which: tuple[str, ...] = ("G_ema",)) -> LoadedModel:
    """Load the named networks (default G_ema) from our safetensors format or an NVlabs pickle."""
    path = check_file(path)
    bad = [n for n in which if n not in NETWORK_NAMES]
    if bad:
        raise ModelError(f"unknown network name '{bad[0]}' (choose from {', '.join(NETWORK_NAMES)})")
    kind = sniff(path)
    if kind == "safetensors":
        networks, metadata = read_networks(path, which)
        fmt = "stylegan-explorer"
    elif kind == "pickle":
        from .nvlabs import read_nvlabs_pickle

        found = read_nvlabs_pickle(path, which=which)
        networks, fmt = found.networks, f"nvlabs-{found.family}"
        metadata = {"training_set_kwargs": found.training_set_kwargs} if found.training_set_kwargs else {}
    elif kind == "zip":
        raise ModelError(f"unsupported file: {path.name} is a zip archive (a torch.save checkpoint or a dataset), "
                         "not a network pickle or a stylegan-explorer safetensors file")
    else:
        raise ModelError(f"unsupported file: {path.name} is neither a network pickle nor a safetensors file")
    main = next((networks[n] for n in ("G_ema", "G") if n in networks), None) or networks["D"]
    return LoadedModel(networks, fmt, path, model_id(main), metadata)


__all__ = ["LoadedModel", "load", "save_networks", "model_id", "ModelError"]
