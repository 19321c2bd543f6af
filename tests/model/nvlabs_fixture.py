"""Write NVlabs-format network pickles from our own modules, without any NVlabs code (spec §8, last paragraph).

Each module becomes an object whose `__reduce__` names `torch_utils.persistence._reconstruct_persistent_obj`
with the §6.2 meta and a §6.3 state (parameters as nn.Parameter, hook tables as empty OrderedDicts, float
attributes as numpy.float64, nested keyword dicts as a `dnnlib.util.EasyDict` look-alike). The named modules
exist in sys.modules only while `dump` runs, so pickle can write their names; they are removed afterwards.
"""

from __future__ import annotations

import collections
import contextlib
import pickle
import sys
import types
from pathlib import Path

import numpy as np
from torch import nn

SG2A_SRC = ("# stand-in for stylegan2-ada-pytorch training/networks.py\n"
            "class SynthesisBlock(torch.nn.Module):\n    pass\n")
SG3_SRC = ("# stand-in for stylegan3 training/networks_stylegan2.py\n"
           "class SynthesisBlock(torch.nn.Module):\n    def forward(self, fused_modconv_default=True):\n        pass\n")
ALIAS_FREE_SRC = ("# stand-in for stylegan3 training/networks_stylegan3.py\n"
                  "class SynthesisInput(torch.nn.Module):\n    pass\n")
HOOK_TABLES = ("_backward_hooks", "_backward_pre_hooks", "_forward_hooks", "_forward_hooks_with_kwargs",
               "_forward_hooks_always_called", "_forward_pre_hooks", "_forward_pre_hooks_with_kwargs",
               "_state_dict_hooks", "_state_dict_pre_hooks", "_load_state_dict_pre_hooks",
               "_load_state_dict_post_hooks")
TRAINING_SET_KWARGS = {"class_name": "training.dataset.ImageFolderDataset", "path": "data/tiny.zip",
                       "use_labels": False, "max_size": 100, "xflip": False, "resolution": 16}


def _reconstruct_persistent_obj(meta):  # only its name is written; the loader must never call it
    raise AssertionError("the NVlabs persistence stand-in was called")


_reconstruct_persistent_obj.__module__ = "torch_utils.persistence"


class EasyDict(dict):
    """Pickles as dnnlib.util.EasyDict (NEWOBJ + SETITEMS), as NVlabs' nested kwargs do."""


EasyDict.__module__ = "dnnlib.util"


class Network:
    """Pickles as dnnlib.tflib.network.Network: NEWOBJ, then BUILD with the attribute dict as state."""

    def __init__(self, **state):
        self.__dict__.update(state)


Network.__module__ = "dnnlib.tflib.network"


class Persistent:
    """A network module as NVlabs' persistence pickles it; `meta` can be edited before dumping."""

    def __init__(self, meta: dict):
        self.meta = meta

    def __reduce__(self):
        return _reconstruct_persistent_obj, (self.meta,)


@contextlib.contextmanager
def fake_nvlabs_modules():
    """torch_utils.persistence, dnnlib.util and dnnlib.tflib.network, registered only inside the block."""
    attrs = {"torch_utils": {}, "torch_utils.persistence": {"_reconstruct_persistent_obj": _reconstruct_persistent_obj},
             "dnnlib": {}, "dnnlib.util": {"EasyDict": EasyDict}, "dnnlib.tflib": {},
             "dnnlib.tflib.network": {"Network": Network}}
    assert not any(name in sys.modules for name in attrs)
    for name, members in attrs.items():
        module = types.ModuleType(name)
        module.__dict__.update(members)
        sys.modules[name] = module
    try:
        yield
    finally:
        for name in attrs:
            del sys.modules[name]


def dump(obj: object, path: Path, protocol: int = 4) -> Path:
    with fake_nvlabs_modules(), open(path, "wb") as f:
        pickle.dump(obj, f, protocol=protocol)
    return path


def easy(d: dict) -> EasyDict:
    return EasyDict({k: easy(v) if isinstance(v, dict) else v for k, v in d.items()})


def persistent(module: nn.Module, src: str = SG2A_SRC, init_kwargs: dict | None = None) -> Persistent:
    """The §6.2 meta of a module tree; only the top level gets constructor keywords, as in real files."""
    state = {"training": module.training,
             "_parameters": collections.OrderedDict(
                 (k, None if p is None else nn.Parameter(p.detach().clone())) for k, p in module._parameters.items()),
             "_buffers": collections.OrderedDict(
                 (k, None if b is None else b.detach().clone()) for k, b in module._buffers.items()),
             "_non_persistent_buffers_set": set(),
             "_modules": collections.OrderedDict(
                 (k, None if m is None else persistent(m, src)) for k, m in module._modules.items()),
             "_is_full_backward_hook": None,
             "_init_args": (),
             "_init_kwargs": init_kwargs if init_kwargs is not None else {}}
    state.update({k: collections.OrderedDict() for k in HOOK_TABLES})
    for key, value in vars(module).items():
        if not key.startswith("_") and key not in state and (value is None or type(value) in (bool, int, str, float)):
            state[key] = np.float64(value) if type(value) is float else value
    return Persistent({"type": "class", "version": 6, "module_src": src, "class_name": type(module).__name__,
                       "state": state})


def sg2a_kwargs(net: nn.Module) -> dict:
    """SG2A top-level `_init_kwargs`: a plain dict whose nested dicts are EasyDicts."""
    return {k: easy(v) if isinstance(v, dict) else v for k, v in net.init_kwargs.items()}


def sg3_kwargs(net: nn.Module, omit: tuple[str, ...] = ("num_fp16_res", "conv_clamp")) -> dict:
    """stylegan3 `--cfg=stylegan2` G keywords: synthesis keys flat, `omit`ted ones left to the class defaults."""
    kw = dict(net.init_kwargs)
    flat = {k: v for k, v in kw.pop("synthesis_kwargs").items() if k not in omit}
    mapping = {k: v for k, v in kw["mapping_kwargs"].items() if k != "w_avg_beta"}
    return {**kw, "mapping_kwargs": easy(mapping), **flat, "fused_modconv_default": "inference_only"}


def sg2a_pickle(G: nn.Module, D: nn.Module, G_ema: nn.Module) -> dict:  # noqa: N803 - NVlabs' names
    """A stylegan2-ada-pytorch snapshot dict, keys in its order."""
    return {"training_set_kwargs": dict(TRAINING_SET_KWARGS),
            "G": persistent(G, SG2A_SRC, sg2a_kwargs(G)),
            "D": persistent(D, SG2A_SRC, sg2a_kwargs(D)),
            "G_ema": persistent(G_ema, SG2A_SRC, sg2a_kwargs(G_ema)),
            "augment_pipe": None}


def sg3_pickle(G: nn.Module, D: nn.Module, G_ema: nn.Module, g_src: str = SG3_SRC) -> dict:  # noqa: N803
    """A stylegan3 snapshot dict (G, D, G_ema, augment_pipe, training_set_kwargs) with flat G keywords.

    D keeps its nested dicts but leaves num_fp16_res and conv_clamp to the SG3 class defaults.
    """
    d_kwargs = {k: v for k, v in sg2a_kwargs(D).items() if k not in ("num_fp16_res", "conv_clamp")}
    return {"G": persistent(G, g_src, sg3_kwargs(G)),
            "D": persistent(D, SG3_SRC, d_kwargs),
            "G_ema": persistent(G_ema, g_src, sg3_kwargs(G_ema)),
            "augment_pipe": None,
            "training_set_kwargs": dict(TRAINING_SET_KWARGS)}


def tf_pickle() -> tuple:
    """A TensorFlow StyleGAN2 (G, D, Gs) triple with one float32 variable each (to be refused)."""
    def net(name):
        return Network(version=4, name=name, static_kwargs=easy({"resolution": 16}), components=easy({}),
                       build_module_src="def G_main(): pass\n", build_func_name=f"{name}_main",
                       variables=[("dlatent_avg", np.zeros(4, np.float32))])
    return net("G"), net("D"), net("Gs")
