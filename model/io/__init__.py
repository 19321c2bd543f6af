"""`load(path)`: one entry point for every network file we accept, returning the networks and metadata.

Formats: our safetensors checkpoints (data only) and NVlabs network pickles (PyTorch, and TensorFlow StyleGAN2
converted on the fly), read by a restricted unpickler that never executes code from the file. Anything else is
refused with a one-line ModelError.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
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
    warnings: list[str] = field(default_factory=list)  # one line each, for `sgx info` and the explorer's status

    @property
    def G(self) -> nn.Module:  # noqa: N802 - NVlabs' name
        """The generator to render with: G_ema when loaded, else G."""
        return self.networks["G_ema"] if "G_ema" in self.networks else self.networks["G"]

    @property
    def name(self) -> str:
        return self.path.stem


# Pickle protocols 2-5 start with PROTO (0x80) and the protocol number; protocol 0/1 pickles have no PROTO and
# start with an ordinary opcode, of which a network pickle's first is one of these (MARK, EMPTY_DICT, ...).
PICKLE_PROTOCOLS = range(2, 6)
OLD_PICKLE_FIRST_OPCODES = b"(}]),cN"
MAX_SAFETENSORS_HEADER = 100 << 20  # the safetensors library's own limit


def _is_safetensors(f, size: int) -> bool:
    """A little-endian u64 header length that fits the file, followed by a JSON object of that length."""
    f.seek(0)
    head = f.read(8)
    if len(head) < 8:
        return False
    n = int.from_bytes(head, "little")
    if not 2 <= n <= min(size - 8, MAX_SAFETENSORS_HEADER):
        return False
    try:
        return isinstance(json.loads(f.read(n)), dict)
    except (ValueError, RecursionError):  # JSONDecodeError and bad UTF-8 are ValueErrors
        return False


def sniff(path: Path) -> str:
    """Tell the file kind from its content, not its extension.

    safetensors is tried first and only claimed for a header that parses: its 8-byte length may start with any
    byte, including 0x80 (a header of 128 mod 256 bytes), so a leading 0x80 alone does not make a pickle.
    """
    size = path.stat().st_size
    with open(path, "rb") as f:
        if _is_safetensors(f, size):
            return "safetensors"
        f.seek(0)
        head = f.read(2)
    if head[:1] == b"\x80":
        return "pickle" if len(head) == 2 and head[1] in PICKLE_PROTOCOLS else "unknown"
    if head[:1] and head[:1] in OLD_PICKLE_FIRST_OPCODES:
        return "pickle"
    if head == b"PK":
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
    """Load the named networks (default G_ema) from our safetensors format or an NVlabs (PyTorch or TF) pickle."""
    path = check_file(path)
    bad = [n for n in which if n not in NETWORK_NAMES]
    if bad:
        raise ModelError(f"unknown network name '{bad[0]}' (choose from {', '.join(NETWORK_NAMES)})")
    kind = sniff(path)
    notes: list[str] = []
    if kind == "safetensors":
        networks, metadata = read_networks(path, which)
        fmt = "stylegan-explorer"
    elif kind == "pickle":
        from .nvlabs import nvlabs_networks
        from .safe_unpickle import read_pickle
        from .tf import convert_tf_pickle, is_tf_pickle

        top = read_pickle(path)
        if is_tf_pickle(top):
            converted = convert_tf_pickle(top, which)
            networks, fmt, metadata, notes = converted.networks, converted.format, {}, converted.warnings
        else:
            found = nvlabs_networks(top, which)
            networks, fmt = found.networks, f"nvlabs-{found.family}"
            metadata = {"training_set_kwargs": found.training_set_kwargs} if found.training_set_kwargs else {}
    elif kind == "zip":
        raise ModelError(f"unsupported file: {path.name} is a zip archive (a torch.save checkpoint or a dataset), "
                         "not a network pickle or a stylegan-explorer safetensors file")
    else:
        raise ModelError(f"unsupported file: {path.name} is neither a network pickle nor a safetensors file")
    main = next((networks[n] for n in ("G_ema", "G") if n in networks), None) or networks["D"]
    return LoadedModel(networks, fmt, path, model_id(main), metadata, notes + nonfinite_warnings(networks))


def nonfinite_warnings(networks: dict[str, nn.Module]) -> list[str]:
    """A network with NaN or Inf weights loads fine and renders black or garbage: say so instead of staying silent."""
    bad = [f"{name}.{key}" for name, net in networks.items() for key, t in net.state_dict().items()
           if t.is_floating_point() and not bool(torch.isfinite(t).all())]
    if not bad:
        return []
    return [f"the network holds non-finite values (NaN or Inf) in {len(bad)} tensor(s), first {bad[0]}: "
            "its images will be black or broken"]


__all__ = ["LoadedModel", "load", "save_networks", "model_id", "ModelError"]
