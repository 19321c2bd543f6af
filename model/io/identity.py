"""A model's identity: a hash over its tensors, so pins and image metadata refer to exact weights.

It depends only on names, shapes and values (fp32, little-endian), never on the file format: a pickle
and its converted safetensors file have the same id.
"""

from __future__ import annotations

import hashlib

from torch import nn


def model_id(net: nn.Module) -> str:
    """sha256 (hex) over every state-dict entry: name, shape, then the fp32 little-endian bytes."""
    h = hashlib.sha256()
    for name, t in net.state_dict().items():
        h.update(f"{name}:{list(t.shape)}\n".encode())
        h.update(t.detach().cpu().float().contiguous().numpy().astype("<f4", copy=False).tobytes())
    return h.hexdigest()


def short_id(full_id: str) -> str:
    """The first 12 hex digits: enough to tell models apart in file names and captions."""
    return full_id[:12]



