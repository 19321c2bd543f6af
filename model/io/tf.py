"""TensorFlow StyleGAN2 pickles (NVlabs `stylegan2`, TF `stylegan2-ada`) -> our Generator / Discriminator.

Such a file is one pickled tuple (G, D, Gs) of tflib `Network` objects; Gs is the EMA generator (our G_ema).
`safe_unpickle` reads each as an inert `TFNetwork` holding a plain dict: the builder's keyword arguments
(`static_kwargs`), sub-networks (`components`: G's `mapping` and `synthesis`), the builder's Python source
(`build_module_src`: kept as a string, never run) and the variables, as numpy arrays under TF scope names.
Here the TF keywords become ours, and each tensor of ours is looked up under its TF name and brought from TF's
layout to ours. Nothing of TF's survives the conversion: the networks are the same as if read from our own file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from ..errors import ModelError
from ..layers import fir_filter
from ..networks import Discriminator, Generator
from .build import build_network, build_on_meta, check_size_keywords
from .nvlabs import check_which, plain
from .safe_unpickle import DEFAULT_LIMITS, Limits, TFNetwork, human_bytes

FORMATS = {4: "tf-stylegan2", 5: "tf-stylegan2-ada"}  # tflib's pickle version: NVlabs stylegan2, TF stylegan2-ada
TF_NAMES = {"G": "G", "D": "D", "G_ema": "Gs"}
STATE_KEYS = ("version", "name", "static_kwargs", "components", "build_module_src", "build_func_name", "variables")

# TF builder keyword -> (default when absent, our keyword(s) as "name" or "group.name").
# TF's width at resolution 2^k is fmap_base / 2^(k-1), ours channel_base / 2^k: channel_base = 2 * fmap_base.
G_KEYWORDS = {
    "latent_size": (512, "z_dim"),
    "label_size": (0, "c_dim"),
    "dlatent_size": (512, "w_dim"),
    "resolution": (1024, "img_resolution"),
    "num_channels": (3, "img_channels"),
    "fmap_base": (16384, "synthesis_kwargs.channel_base"),
    "fmap_max": (512, "synthesis_kwargs.channel_max"),
    "num_fp16_res": (0, "synthesis_kwargs.num_fp16_res"),
    "conv_clamp": (None, "synthesis_kwargs.conv_clamp"),
    "architecture": ("skip", "synthesis_kwargs.architecture"),
    "resample_kernel": ([1, 3, 3, 1], "synthesis_kwargs.resample_filter"),
    "use_noise": (True, "synthesis_kwargs.use_noise"),
    "nonlinearity": ("lrelu", "synthesis_kwargs.activation"),
    "mapping_layers": (8, "mapping_kwargs.num_layers"),
    "label_fmaps": (None, "mapping_kwargs.embed_features"),
    "mapping_fmaps": (None, "mapping_kwargs.layer_features"),
    "mapping_nonlinearity": ("lrelu", "mapping_kwargs.activation"),
    "mapping_lrmul": (0.01, "mapping_kwargs.lr_multiplier"),
    "w_avg_beta": (0.995, "mapping_kwargs.w_avg_beta"),
}
D_KEYWORDS = {
    "label_size": (0, "c_dim"),
    "resolution": (1024, "img_resolution"),
    "num_channels": (3, "img_channels"),
    "architecture": ("resnet", "architecture"),
    "fmap_base": (16384, "channel_base"),
    "fmap_max": (512, "channel_max"),
    "num_fp16_res": (0, "num_fp16_res"),
    "conv_clamp": (None, "conv_clamp"),
    "mapping_fmaps": (None, "cmap_dim", "mapping_kwargs.embed_features", "mapping_kwargs.layer_features"),
    "nonlinearity": ("lrelu", "block_kwargs.activation", "mapping_kwargs.activation", "epilogue_kwargs.activation"),
    "resample_kernel": ([1, 3, 3, 1], "block_kwargs.resample_filter"),
    "freeze_layers": (0, "block_kwargs.freeze_layers"),
    "mapping_layers": (0, "mapping_kwargs.num_layers"),
    "mapping_lrmul": (0.1, "mapping_kwargs.lr_multiplier"),
    "mbstd_group_size": (None, "epilogue_kwargs.mbstd_group_size"),  # None: the whole batch is one group
    "mbstd_num_features": (1, "epilogue_kwargs.mbstd_num_channels"),
}
# Keywords that only matter while training or sampling in TF, not to the weights' meaning. Any other unknown
# keyword (fmap_decay, randomize_noise, resolution_w, ...) may change the maths and is refused.
G_IGNORED = ("truncation_psi", "truncation_cutoff", "style_mixing_prob", "structure", "fused_modconv", "conditioning")
D_IGNORED = ("structure", "conditioning")
NOTED = ("conditioning",)  # ignored, but of unknown effect: said in a warning

# How a TF variable is stored compared with our tensor: (TF shape from our shape, TF values -> our layout).
LAYOUTS: dict[str, tuple[Callable[[list[int]], list[int]], Callable[[torch.Tensor], torch.Tensor]]] = {
    "same": (lambda s: s, lambda t: t),
    # TF dense weights are [in, out]; ours are [out, in].
    "dense": (lambda s: s[::-1], lambda t: t.T),
    # TF conv weights are [kh, kw, in, out]; ours are [out, in, kh, kw].
    "conv": (lambda s: [s[2], s[3], s[1], s[0]], lambda t: t.permute(3, 2, 0, 1)),
    # TF's 2x up-sampling conv is a transposed convolution that mirrors its kernel first; ours does not, so the
    # kernel is stored mirrored in kh and kw.
    "conv_up": (lambda s: [s[2], s[3], s[1], s[0]], lambda t: t.permute(3, 2, 0, 1).flip(2, 3)),
    # TF adds 1 to the style bias at run time; ours holds the 1.
    "plus_one": (lambda s: s, lambda t: t + 1),
    # The learned constant input keeps TF's batch axis: [1, C, 4, 4].
    "batch": (lambda s: [1, *s], lambda t: t[0]),
    # TF's constant noise inputs are [1, 1, r, r].
    "noise": (lambda s: [1, 1, *s], lambda t: t[0, 0]),
}
G_LAYERS = {"conv0": "Conv0_up", "conv1": "Conv1", "torgb": "ToRGB", "skip": "Skip"}
G_PARAMS = {"weight": ("weight", "conv"), "bias": ("bias", "same"), "noise_strength": ("noise_strength", "same"),
            "affine.weight": ("mod_weight", "dense"), "affine.bias": ("mod_bias", "plus_one")}
D_LAYERS = {"fromrgb": "FromRGB", "conv0": "Conv0", "conv1": "Conv1_down", "skip": "Skip", "conv": "Conv",
            "fc": "Dense0"}


@dataclass
class TFNetworks:
    """The requested networks (CPU, fp32, eval mode), the source format and one-line warnings."""

    networks: dict[str, nn.Module]
    format: str  # tf-stylegan2 or tf-stylegan2-ada
    warnings: list[str] = field(default_factory=list)


def is_tf_pickle(top: object) -> bool:
    """NVlabs' own test: a tuple of exactly three TF networks (G, D, Gs)."""
    return type(top) is tuple and len(top) == 3 and all(type(x) is TFNetwork for x in top)


def convert_tf_pickle(top: tuple, which: tuple[str, ...] = ("G_ema",), limits: Limits = DEFAULT_LIMITS) -> TFNetworks:
    """Turn an unpickled (G, D, Gs) tuple into our networks; only those in `which` are built."""
    check_which(which)
    nets = dict(zip(("G", "D", "G_ema"), top, strict=True))
    states = {name: _state(net, TF_NAMES[name], limits) for name, net in nets.items()}
    for name, state in states.items():
        _check_version(state["version"], TF_NAMES[name])
    g_kwargs = plain(states["G"]["static_kwargs"], limits.max_depth, "G kwargs")
    if g_kwargs != plain(states["G_ema"]["static_kwargs"], limits.max_depth, "Gs kwargs"):
        raise ModelError("unsupported pickle: G and Gs were built with different TensorFlow kwargs")
    result = TFNetworks({}, FORMATS[states["G_ema"]["version"]])
    for name in which:
        result.networks[name] = _convert(name, nets[name], states[name]["static_kwargs"], limits, result.warnings)
    return result


def _convert(name: str, net: TFNetwork, static_kwargs: dict, limits: Limits, warnings: list[str]) -> nn.Module:
    """One network: its TF keywords become ours, then each tensor of ours comes from its TF variable."""
    tf_name, is_d = TF_NAMES[name], name == "D"
    tf_kwargs = plain(static_kwargs, limits.max_depth, f"{tf_name} kwargs")
    variables = _variables(net, tf_name, limits)
    _check_convertible(variables, tf_kwargs.get("label_size"), ("" if is_d else "mapping/") + "LabelEmbed/weight")
    table, ignored = (D_KEYWORDS, D_IGNORED) if is_d else (G_KEYWORDS, G_IGNORED)
    kwargs = _our_kwargs(tf_kwargs, table, ignored, tf_name, warnings)
    cls = Discriminator if is_d else Generator
    check_size_keywords(cls.__name__, kwargs)
    tensors = {}
    for key, shape in _meta_shapes(name, cls, kwargs).items():
        found = (_d_variable if is_d else _g_variable)(key)
        tensors[key] = fir_filter() if found is None else _tensor(variables, *found, shape)
    return build_network(name, cls, kwargs, tensors)


def _state(net: TFNetwork, where: str, limits: Limits) -> dict:
    """A network's state dict, with the keys and value types every tflib version 4/5 file has."""
    state = net.state
    if type(state) is not dict or not all(type(k) is str for k in state):
        raise ModelError(f"corrupt pickle: TensorFlow network '{where}' has no state")
    missing = [k for k in STATE_KEYS if k not in state]
    if missing:
        raise ModelError(f"corrupt pickle: TensorFlow network '{where}' lacks '{missing[0]}'")
    types_ok = (type(state["version"]) is int and type(state["name"]) is str
                and isinstance(state["static_kwargs"], dict) and isinstance(state["components"], dict)
                and type(state["build_module_src"]) is str and type(state["build_func_name"]) is str
                and type(state["variables"]) in (list, tuple))
    if not types_ok:
        raise ModelError(f"corrupt pickle: TensorFlow network '{where}' has a malformed state")
    if len(state["build_module_src"]) > limits.max_module_src_bytes:
        raise ModelError(f"file too large: build_module_src of '{where}' is over "
                         f"{human_bytes(limits.max_module_src_bytes)}")
    return state


def _check_version(version: int, where: str) -> None:
    if version < 4:
        raise ModelError(f"unsupported network: TensorFlow pickle version {version} in '{where}' is StyleGAN1 or "
                         "older (only StyleGAN2 files, versions 4 and 5, can be converted)")
    if version not in FORMATS:
        raise ModelError(f"unsupported network: TensorFlow pickle version {version} in '{where}' (expected 4 or 5)")


def _our_kwargs(tf_kwargs: dict, table: dict, ignored: tuple[str, ...], where: str, warnings: list[str]) -> dict:
    """Our constructor keywords, every one spelled out: TF defaults differ from ours (e.g. D's mapping lr 0.1)."""
    for key in tf_kwargs:
        if key not in table and key not in ignored:
            raise ModelError(f"unsupported network: unknown TensorFlow kwarg '{key}' in '{where}'")
        if key in NOTED:
            warnings.append(f"TensorFlow kwarg '{key}' of {where} ignored")
    kwargs: dict = {}
    for key, (default, *targets) in table.items():
        value = tf_kwargs.get(key, default)
        if key == "fmap_base":
            if type(value) is not int:
                raise ModelError(f"unsupported network: TensorFlow kwarg fmap_base={value!r:.40} in '{where}'")
            value *= 2
        if key == "w_avg_beta" and value is None:  # TF: no decay given means w_avg never moves
            value = 1
        for target in targets:
            group, _, name = target.rpartition(".")
            (kwargs.setdefault(group, {}) if group else kwargs)[name] = value
    return kwargs


def _variables(net: TFNetwork, where: str, limits: Limits) -> dict[str, object]:
    """All variables of a network and its components under flattened names ('mapping/Dense0/weight')."""
    found: dict[str, object] = {}

    def walk(net: TFNetwork, prefix: str, depth: int) -> None:
        if depth > limits.max_depth:
            raise ModelError(f"unsupported pickle: TensorFlow network '{where}' nested deeper than "
                             f"{limits.max_depth} levels")
        state = _state(net, where + "/" + prefix.rstrip("/") if prefix else where, limits)
        for item in state["variables"]:
            if type(item) not in (tuple, list) or len(item) != 2 or type(item[0]) is not str:
                raise ModelError(f"corrupt pickle: TensorFlow network '{where}' has a malformed variable list")
            name = prefix + item[0]
            if name in found:
                raise ModelError(f"corrupt pickle: TensorFlow variable '{name}' of '{where}' appears twice")
            found[name] = item[1]
        for key, child in state["components"].items():
            if type(key) is not str or type(child) is not TFNetwork:
                raise ModelError(f"corrupt pickle: TensorFlow network '{where}' has a malformed component")
            walk(child, prefix + key + "/", depth + 1)

    walk(net, "", 1)
    return found


def _check_convertible(variables: dict[str, object], c_dim: object, embed: str) -> None:
    """Refuse the TF networks that have no counterpart of ours, by the variables only they have."""
    if any("ToRGB_lod" in n or "FromRGB_lod" in n for n in variables):
        raise ModelError("unsupported network: TensorFlow StyleGAN2 config A-D (progressive-growing layout); "
                         "only configs E and F can be converted")
    if any(n.endswith("LabelConcat/weight") for n in variables) or (c_dim and embed not in variables):
        raise ModelError("unsupported network: conditional network of the original TensorFlow StyleGAN2 (labels "
                         "concatenated to the latents); only stylegan2-ada's label embedding can be converted")


def _meta_shapes(name: str, cls: type[nn.Module], kwargs: dict) -> dict[str, list[int]]:
    """Our tensor names and shapes for these keywords, from a network built on the meta device (no memory)."""
    net = build_on_meta(name, cls, kwargs, "its TensorFlow kwargs")
    return {key: list(t.shape) for key, t in net.state_dict().items()}


def _g_variable(key: str) -> tuple[str, str] | None:
    """The TF variable and layout of one of our Generator tensors (None: not stored, the fixed FIR filter)."""
    parts = key.split(".")
    if parts[-1] == "resample_filter":
        return None
    if key == "mapping.w_avg":
        return "dlatent_avg", "same"
    if parts[0] == "mapping":  # mapping.embed.weight, mapping.fc3.bias
        layer = "LabelEmbed" if parts[1] == "embed" else "Dense" + parts[1].removeprefix("fc")
        return f"mapping/{layer}/{parts[2]}", "dense" if parts[2] == "weight" else "same"
    res = int(parts[1].removeprefix("b"))  # synthesis.b{res}.{const | layer.param}
    if parts[2] == "const":
        return f"synthesis/{res}x{res}/Const/const", "batch"
    layer, param = parts[2], ".".join(parts[3:])
    if param == "noise_const":  # TF numbers noise inputs by layer: the 4x4 conv 0, at 2^k conv0 2k-5, conv1 2k-4
        k = res.bit_length() - 1
        index = 0 if res == 4 else 2 * k - 5 + (layer == "conv1")
        return f"synthesis/noise{index}", "noise"
    tf_layer = "Conv" if res == 4 and layer == "conv1" else G_LAYERS[layer]
    tf_param, layout = G_PARAMS[param]
    if layout == "conv" and layer in ("conv0", "skip"):  # the 2x up-sampling layers
        layout = "conv_up"
    return f"synthesis/{res}x{res}/{tf_layer}/{tf_param}", layout


def _d_variable(key: str) -> tuple[str, str] | None:
    """The TF variable and layout of one of our Discriminator tensors (None: the fixed FIR filter)."""
    parts = key.split(".")
    param = parts[-1]
    if param == "resample_filter":
        return None
    if parts[0] == "mapping":  # mapping.embed.weight, mapping.fc3.bias
        layer = "LabelEmbed" if parts[1] == "embed" else "Mapping" + parts[1].removeprefix("fc")
        return f"{layer}/{param}", "dense" if param == "weight" else "same"
    layer = parts[1]  # b{res}.{layer}.{param}; the 4x4 epilogue's output layer has no resolution in TF
    if layer == "out":
        return f"Output/{param}", "dense" if param == "weight" else "same"
    res = int(parts[0].removeprefix("b"))
    layout = "same" if param == "bias" else "dense" if layer == "fc" else "conv"  # D's down-sampling is not mirrored
    return f"{res}x{res}/{D_LAYERS[layer]}/{param}", layout


def _tensor(variables: dict[str, object], tf_name: str, layout: str, shape: list[int]) -> torch.Tensor:
    """One TF variable in our layout, as a contiguous fp32 tensor of its own."""
    if tf_name not in variables:
        raise ModelError(f"incompatible weights: TF variable '{tf_name}' missing")
    value = variables[tf_name]
    if not isinstance(value, (np.ndarray, np.generic)) or value.dtype.kind != "f":
        raise ModelError(f"incompatible weights: TF variable '{tf_name}' is not a floating-point array")
    tf_shape, to_ours = LAYOUTS[layout]
    if list(value.shape) != tf_shape(shape):
        raise ModelError(f"incompatible weights: TF variable '{tf_name}' has shape {list(value.shape)}, "
                         f"expected {tf_shape(shape)}")
    return to_ours(torch.from_numpy(np.array(value, dtype=np.float32))).contiguous()
