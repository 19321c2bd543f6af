"""Turning checked tensors into a network, shared by every file format we read.

The network is first built on the meta device (no memory, no random init), so a file cannot make us allocate
anything before its tensors have been checked against the architecture its keywords describe.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from ..errors import ModelError

MAX_RESOLUTION = 1 << 16
MAX_MAPPING_LAYERS = 64


def check_size_keywords(class_name: str, kw: dict) -> None:
    """Keywords that set how many modules exist are bounded before anything is built, even on the meta device."""
    mapping = kw.get("mapping_kwargs") or {}
    if not isinstance(mapping, dict):
        raise ModelError(f"unsupported network: {class_name} mapping_kwargs {mapping!r:.40}")
    res, layers = kw["img_resolution"], mapping.get("num_layers", 8)
    if type(res) is not int or not 4 <= res <= MAX_RESOLUTION:
        raise ModelError(f"unsupported network: {class_name} img_resolution {res!r:.40}")
    if type(layers) is not int or not 0 <= layers <= MAX_MAPPING_LAYERS:
        raise ModelError(f"unsupported network: {class_name} mapping num_layers {layers!r:.40}")


class _ShapesOnly(TorchFunctionMode):
    """Random factories as torch.empty, in-place ops on meta tensors skipped (they have no values to change).

    torch implements the meta versions of these in Python, and the first such call imports sympy and
    torch._dynamo: 1-2 s of a model load. Calls given another device (a few init values made on the CPU) pass.
    """

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        on_meta = kwargs.get("device") in (None, "meta", torch.device("meta"))
        if func in (torch.randn, torch.rand) and on_meta:
            size = args[0] if len(args) == 1 and not isinstance(args[0], int) else args
            return torch.empty(size, dtype=kwargs.get("dtype"), device="meta")
        name = getattr(func, "__name__", "")
        if name.endswith("_") and not name.startswith("_") and args and getattr(args[0], "is_meta", False):
            return args[0]
        return func(*args, **kwargs)


def build_on_meta(name: str, cls: type[nn.Module], kwargs: dict, what: str = "its keywords") -> nn.Module:
    """The network these keywords describe, on the meta device: names and shapes without memory or init."""
    try:
        with torch.device("meta"), _ShapesOnly():
            return cls(**kwargs)
    except ModelError:
        raise
    except (TypeError, ValueError, KeyError, AttributeError, RuntimeError, ZeroDivisionError, OverflowError) as e:
        raise ModelError(f"unsupported network: cannot build {name} from {what} ({e})") from None


def build_network(name: str, cls: type[nn.Module], kwargs: dict, tensors: dict[str, torch.Tensor],
                  extra_check: Callable[[nn.Module], None] | None = None) -> nn.Module:
    """Build on the meta device, check the tensors strictly, then adopt them (no random init, no copy)."""
    net = build_on_meta(name, cls, kwargs)
    check_tensors(net, tensors)
    if extra_check is not None:
        extra_check(net)
    net.load_state_dict(tensors, strict=True, assign=True)
    if any(t.is_meta for t in (*net.parameters(), *net.buffers())):
        raise RuntimeError(f"{cls.__name__} has tensors outside its state dict; they cannot be loaded from a pickle")
    return net.eval().requires_grad_(False)


def check_tensors(net: nn.Module, tensors: dict[str, torch.Tensor]) -> None:
    """Strict name set, shapes, fp32 (§6.6 steps 1-2), then the network checks its fixed filters itself."""
    expected = {k: list(v.shape) for k, v in net.state_dict().items()}
    for key in expected:
        if key not in tensors:
            raise ModelError(f"incompatible weights: missing '{key}'")
    for key in tensors:
        if key not in expected:
            raise ModelError(f"incompatible weights: unexpected '{key}'")
    for key, shape in expected.items():
        t = tensors[key]
        if list(t.shape) != shape:
            raise ModelError(f"incompatible weights: '{key}' has shape {list(t.shape)}, expected {shape}")
        if t.dtype != torch.float32:
            raise ModelError(f"incompatible weights: '{key}' is {str(t.dtype).removeprefix('torch.')}, "
                             "expected float32")
    net.check_filters(tensors)
