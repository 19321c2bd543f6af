"""NVlabs network pickles (stylegan2-ada-pytorch; stylegan3 `--cfg=stylegan2`, `-t` and `-r`) -> our networks.

`safe_unpickle` turns the file into inert records. Here we recognise the code base that wrote them (spec §6.8),
rebuild our constructor keywords from the top-level `_init_kwargs`, flatten each record tree into a state dict
(§6.6) and check it strictly (names, shapes, dtype, filters, plain attributes) against a network of ours built
on the meta device, before any memory is spent on it. Then the checked tensors are loaded as they are.
"""

from __future__ import annotations

import collections
import hashlib
import os
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from ..errors import ModelError
from ..networks import Discriminator, Generator
from ..networks_sg3 import Generator as AliasFreeGenerator
from .build import build_network, check_size_keywords
from .safe_unpickle import DEFAULT_LIMITS, EasyDict, Limits, PersistentObject, TFNetwork, read_pickle

FAMILY_SG2A = "stylegan2-ada"
FAMILY_SG3 = "stylegan3-sg2"
FAMILY_SG3_AF = "stylegan3"  # alias-free T and R generators; their pickles hold a FAMILY_SG3 discriminator
NETWORK_NAMES = ("G", "D", "G_ema")

G_REQUIRED = ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels")
G_POSITIONAL = {FAMILY_SG2A: G_REQUIRED + ("mapping_kwargs", "synthesis_kwargs"),
                FAMILY_SG3: G_REQUIRED + ("mapping_kwargs",), FAMILY_SG3_AF: G_REQUIRED + ("mapping_kwargs",)}
D_REQUIRED = ("c_dim", "img_resolution", "img_channels")
D_POSITIONAL = D_REQUIRED + ("architecture", "channel_base", "channel_max", "num_fp16_res", "conv_clamp", "cmap_dim",
                             "block_kwargs", "mapping_kwargs", "epilogue_kwargs")
SG3_FP16_DEFAULTS = {"num_fp16_res": 4, "conv_clamp": 256}  # stylegan3's class defaults differ from SG2A's
SG3_W_AVG_BETA = 0.998
# Plain attributes of the pickled modules that must agree with the network built from the keywords (§6.6 step 3);
# for StyleGAN3 also its derived schedule: layer names, sizes, sampling rates, cutoffs, filters and padding.
CROSS_CHECKED = ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels", "num_ws", "use_fp16", "conv_clamp")
SG3_CROSS_CHECKED = ("layer_names", "channels", "size", "sampling_rate", "bandwidth", "is_torgb",
                     "is_critically_sampled", "in_channels", "out_channels", "in_size", "out_size", "in_sampling_rate",
                     "out_sampling_rate", "tmp_sampling_rate", "in_cutoff", "out_cutoff", "in_half_width",
                     "out_half_width", "conv_kernel", "up_factor", "up_taps", "down_factor", "down_taps", "down_radial",
                     "padding")


@dataclass
class NvlabsNetworks:
    """The requested networks (CPU, fp32, eval mode) and what the pickle says about them."""

    networks: dict[str, nn.Module]
    family: str
    kwargs: dict[str, dict]
    training_set_kwargs: dict | None = None
    module_src_sha256: dict[str, str] = field(default_factory=dict)  # class name -> sha256 hex of its module_src
    # (where G's and D's sources differ but share class names, as in stylegan3, G's)


def read_nvlabs_pickle(path: str | os.PathLike, which: tuple[str, ...] = ("G_ema",),
                       limits: Limits = DEFAULT_LIMITS) -> NvlabsNetworks:
    """Load the named networks (default G_ema only; building an unused D wastes time and memory)."""
    check_which(which)
    return nvlabs_networks(read_pickle(path, limits), which, limits)


def check_which(which: tuple[str, ...]) -> None:
    """At least one network asked for, each by one of NVlabs' names."""
    bad = [n for n in which if n not in NETWORK_NAMES]
    if bad or not which:
        shown = f"unknown network name '{bad[0]}'" if bad else "no network requested"
        raise ModelError(f"{shown} (choose from {', '.join(NETWORK_NAMES)})")


def nvlabs_networks(top: object, which: tuple[str, ...] = ("G_ema",),
                    limits: Limits = DEFAULT_LIMITS) -> NvlabsNetworks:
    """The same from an already unpickled file (`load` unpickles once, then tells TensorFlow pickles apart)."""
    check_which(which)
    records = _network_records(top, which)
    flat = {name: _flatten(rec, limits.max_depth) for name, rec in records.items()}
    families = {name: _family(rec, flat[name][0]) for name, rec in records.items()}
    if len({f.removesuffix("-sg2") for f in families.values()}) > 1:  # stylegan3's two families share a file
        raise ModelError(f"unsupported pickle: its networks come from different code bases ({families})")
    hashes: dict[str, dict[str, str]] = {}  # per family: stylegan3's two source files share class names
    for name, (_, modules) in flat.items():
        _hash_sources(modules, hashes.setdefault(families[name], {}))
    family = next((families[n] for n in ("G_ema", "G") if n in families), families.get("D"))
    merged = {k: v for f in hashes.values() for k, v in f.items()} | hashes[family]
    result = NvlabsNetworks({}, family, {}, module_src_sha256=merged)
    used: set[int] = set()
    for name, rec in records.items():
        kwargs = _constructor_kwargs(rec, families[name], limits.max_depth)
        tensors, modules = flat[name]
        result.kwargs[name] = kwargs
        alias_free = families[name] == FAMILY_SG3_AF and name != "D"
        cls = Discriminator if name == "D" else AliasFreeGenerator if alias_free else Generator
        attrs = CROSS_CHECKED + SG3_CROSS_CHECKED if alias_free else CROSS_CHECKED
        result.networks[name] = build_network(name, cls, kwargs, _unshared(tensors, used),
                                              lambda net, m=modules, a=attrs: _check_modules(net, m, a))
    tsk = top.get("training_set_kwargs")
    if isinstance(tsk, dict):
        result.training_set_kwargs = plain(tsk, limits.max_depth, "training_set_kwargs")
    return result


def _unshared(tensors: dict[str, torch.Tensor], used: set[int]) -> dict[str, torch.Tensor]:
    """Copies of tensors that another entry already uses (a file may point two names at one tensor)."""
    out = {}
    for key, t in tensors.items():
        out[key] = t.clone() if id(t) in used else t
        used.add(id(out[key]))
    return out


def _describe(obj: object) -> str:
    """A short, one-line description of something found where a network was expected."""
    if type(obj) is PersistentObject:
        return f"a '{obj.class_name}' object"
    if type(obj) is TFNetwork:
        return "a TensorFlow network"
    if isinstance(obj, dict):
        keys = [repr(k[:40]) for k in obj if type(k) is str][:8]
        return f"a dict with keys [{', '.join(keys)}]" if keys else "a dict without string keys"
    if isinstance(obj, (list, tuple)):
        return f"a {type(obj).__name__} of {len(obj)} items"
    return "None" if obj is None else f"a {type(obj).__name__}"


def _network_records(top: object, which: tuple[str, ...]) -> dict[str, PersistentObject]:
    if type(top) is tuple and len(top) == 3 and all(type(x) is TFNetwork for x in top):
        raise ModelError("unsupported network: TensorFlow StyleGAN2 pickle, not a PyTorch one "
                         "(model.io.load converts it)")
    if type(top) is not dict or not any(n in top for n in NETWORK_NAMES):
        raise ModelError(f"unsupported pickle: found {_describe(top)}, expected a dict with 'G', 'D' and 'G_ema'")
    records = {}
    for name in which:
        if name not in top:
            raise ModelError(f"unsupported pickle: no network '{name}' in {_describe(top)}")
        rec = top[name]
        expected = "Discriminator" if name == "D" else "Generator"
        if type(rec) is not PersistentObject or rec.class_name != expected:
            raise ModelError(f"unsupported pickle: '{name}' is {_describe(rec)}, expected an NVlabs {expected}")
        records[name] = rec
    return records


def _flatten(rec: PersistentObject, max_depth: int) -> tuple[dict[str, torch.Tensor], dict[str, PersistentObject]]:
    """State-dict names -> tensors in reference order (§6.6), and module path -> record for the cross-checks."""
    tensors: dict[str, torch.Tensor] = {}
    modules: dict[str, PersistentObject] = {}

    def walk(rec: PersistentObject, path: str, depth: int) -> None:
        if depth > max_depth:
            raise ModelError(f"unsupported pickle: module tree deeper than {max_depth} levels")
        state = rec.state
        where = path or rec.class_name
        _check_no_hooks(state, where)
        modules[path] = rec
        skip = state.get("_non_persistent_buffers_set", set())
        groups = [state.get("_parameters"), state.get("_buffers"), state.get("_modules")]
        if not isinstance(skip, (set, frozenset)) or not all(isinstance(g, dict) for g in groups):
            raise ModelError(f"corrupt pickle: '{where}' lacks its parameter, buffer or module tables")
        for table in groups[:2]:
            for key, t in table.items():
                if t is None or key in skip:
                    continue
                name = path + "." + key if path else key
                if type(key) is not str or type(t) is not torch.Tensor or name in tensors:
                    raise ModelError(f"corrupt pickle: bad or duplicate tensor entry in '{where}'")
                tensors[name] = t
        for key, child in groups[2].items():
            if child is None:
                continue
            child_path = path + "." + key if path else key
            if type(key) is not str or type(child) is not PersistentObject:
                raise ModelError(f"unsupported network: '{child_path}' is {_describe(child)}, "
                                 "not an NVlabs network module")
            walk(child, child_path, depth + 1)

    walk(rec, "", 1)
    return tensors, modules


def _check_no_hooks(state: dict, where: str) -> None:
    for key, value in state.items():
        if type(key) is str and "hook" in key and not (value is None or type(value) is bool or
                                                       (isinstance(value, dict) and not value)):
            raise ModelError(f"unsupported pickle: '{where}' has registered hooks ({key})")


def _family(rec: PersistentObject, tensor_names: dict) -> str:
    """Which code base wrote the network, from its source text (never run) and tensor names (§6.8)."""
    src = rec.module_src
    if "SynthesisInput" in src or "filtered_lrelu" in src or any(n.startswith("synthesis.input.")
                                                                  for n in tensor_names):
        return FAMILY_SG3_AF
    if "fused_modconv_default" in src:
        return FAMILY_SG3
    if "class SynthesisBlock" in src:
        return FAMILY_SG2A
    raise ModelError(f"unsupported network: '{rec.class_name}' does not come from stylegan2-ada-pytorch or "
                     "stylegan3 (unrecognised module_src)")


def _hash_sources(modules: dict[str, PersistentObject], hashes: dict[str, str]) -> None:
    for rec in modules.values():
        digest = hashlib.sha256(rec.module_src.encode("utf-8", "surrogatepass")).hexdigest()
        if hashes.setdefault(rec.class_name, digest) != digest:
            raise ModelError(f"unsupported pickle: class '{rec.class_name}' comes with two different sources")


def plain(x: object, depth: int, where: str) -> object:
    """EasyDicts, tuples and numpy scalars -> JSON-able dicts, lists and Python numbers (bounded depth)."""
    if depth < 0:
        raise ModelError(f"unsupported pickle: {where} nested too deeply")
    if x is None or type(x) in (bool, int, float, str):
        return x
    if isinstance(x, np.generic) and x.dtype.kind in "biuf":
        return x.item()
    if type(x) in (list, tuple):
        return [plain(v, depth - 1, where) for v in x]
    if type(x) in (dict, EasyDict, collections.OrderedDict):
        if not all(type(k) is str for k in x):
            raise ModelError(f"unsupported network: {where} has non-string keys")
        return {k: plain(v, depth - 1, where) for k, v in x.items()}
    raise ModelError(f"unsupported network: {where} holds a value of type {type(x).__name__}")


def _constructor_kwargs(rec: PersistentObject, family: str, max_depth: int) -> dict:
    """The pickle's `_init_args`/`_init_kwargs` as keywords of our classes, SG3 defaults made explicit."""
    is_d = rec.class_name == "Discriminator"
    positional = D_POSITIONAL if is_d else G_POSITIONAL[family]
    args, kwargs = rec.state.get("_init_args", ()), rec.state.get("_init_kwargs", {})
    if type(args) not in (tuple, list) or not isinstance(kwargs, dict) or len(args) > len(positional):
        raise ModelError(f"unsupported network: bad constructor arguments for {rec.class_name}")
    merged = dict(zip(positional, args, strict=False))
    if any(k in merged for k in kwargs):
        raise ModelError(f"unsupported network: a {rec.class_name} argument is given twice")
    merged.update(kwargs)
    kw = plain(merged, max_depth, f"{rec.class_name} keywords")
    required = D_REQUIRED if is_d else G_REQUIRED
    missing = [k for k in required if k not in kw]
    if missing:
        raise ModelError(f"unsupported network: {rec.class_name} keywords lack '{missing[0]}'")
    if family == FAMILY_SG3_AF and not is_d:  # flat, like FAMILY_SG3; the class checks and bounds the keywords
        if type(kw.setdefault("mapping_kwargs", {})) is not dict:
            raise ModelError(f"unsupported network: {rec.class_name} keyword 'mapping_kwargs' is not a dict")
        check_size_keywords(rec.class_name, kw)
        return kw
    if not is_d and family == FAMILY_SG3:  # flat synthesis keywords (§6.3)
        kw.pop("fused_modconv_default", None)
        top = {k: kw.pop(k) for k in G_REQUIRED}
        top["mapping_kwargs"] = kw.pop("mapping_kwargs", {})
        top["synthesis_kwargs"] = kw
        kw = top
    unknown = [k for k in kw if k not in positional + ("synthesis_kwargs",)]
    if unknown:
        raise ModelError(f"unsupported network: unknown {rec.class_name} keyword '{unknown[0]}'")
    nested = ("block_kwargs", "mapping_kwargs", "epilogue_kwargs") if is_d else ("mapping_kwargs", "synthesis_kwargs")
    for key in nested:
        kw.setdefault(key, {})
        if type(kw[key]) is not dict:
            raise ModelError(f"unsupported network: {rec.class_name} keyword '{key}' is not a dict")
    if family == FAMILY_SG3:
        for key, value in SG3_FP16_DEFAULTS.items():
            (kw if is_d else kw["synthesis_kwargs"]).setdefault(key, value)
        if not is_d:
            kw["mapping_kwargs"].setdefault("w_avg_beta", SG3_W_AVG_BETA)
    check_size_keywords(rec.class_name, kw)
    return kw


def _check_modules(net: nn.Module, modules: dict[str, PersistentObject], attrs: tuple[str, ...]) -> None:
    """Same class at every path, and plain attributes that agree with the keywords (§6.6 step 3)."""
    ours = dict(net.named_modules())
    for path, rec in modules.items():
        module = ours.get(path)
        if module is None:
            raise ModelError(f"incompatible weights: unexpected module '{path}'")
        where = path or rec.class_name
        if type(module).__name__ != rec.class_name:
            raise ModelError(f"incompatible weights: '{where}' is a {rec.class_name}, "
                             f"expected a {type(module).__name__}")
        for attr in attrs:
            if attr in rec.state and hasattr(module, attr):
                got, want = rec.state[attr], getattr(module, attr)
                if not _same(got, want):
                    simple = got is None or type(got) in (bool, int, float, str) or isinstance(got, np.generic)
                    shown = got if simple else type(got).__name__
                    raise ModelError(f"incompatible weights: '{where}' has {attr}={shown}, expected {want}")


def _same(got: object, want: object) -> bool:
    """A pickled attribute equals ours: numbers (floats to 1e-9), numpy scalars, and short lists or arrays of
    them or of strings; a scalar of ours stands for each entry (StyleGAN3 keeps square sizes as [w, h] arrays)."""
    if got is None or want is None:
        return got is want
    if type(got) not in (bool, int, float, str, list, tuple) and not isinstance(got, np.generic | np.ndarray):
        return False
    try:
        got, want = np.asarray(got), np.asarray(want)
    except (ValueError, TypeError):  # ragged nesting
        return False
    if got.dtype.kind not in "biufU" or want.dtype.kind not in "biufU" or got.size > 1024 or \
            (got.dtype.kind == "U") != (want.dtype.kind == "U") or (want.ndim and want.shape != got.shape):
        return False
    if got.dtype.kind == "U":
        return bool(np.array_equal(got, want))
    return bool(np.allclose(got.astype(np.float64), np.broadcast_to(want, got.shape).astype(np.float64), rtol=1e-9,
                            atol=0))
