"""Write TensorFlow StyleGAN2 pickles without TensorFlow or NVlabs code (TF spec §2.1, §2.5-§2.6, §7.2).

A TF pickle is a tuple (G, D, Gs) of `dnnlib.tflib.network.Network` objects, each pickled as NEWOBJ then BUILD
with a state dict: version, builder kwargs, components (G: mapping and synthesis), builder source and the
variables as (name, numpy array) pairs. The variables here come from our own networks, written out in TF's
names, layouts and creation order: the inverse of model/io/tf.py, written separately, so a round trip checks
both. Dense weights are written as transposed views, so they pickle in Fortran order (numpy's is_fortran flag),
and conv weights as permuted views (numpy 2 at protocol 5 writes those in memory order plus an axis order);
`[]` variables alternate between numpy scalars and 0-d arrays, as both occur in TF files.
"""

from __future__ import annotations

import inspect
import pickle
import types
from pathlib import Path

import numpy as np
from torch import nn

from model.networks import (
    Discriminator,
    DiscriminatorBlock,
    DiscriminatorEpilogue,
    Generator,
    MappingNetwork,
    SynthesisNetwork,
)

from . import nvlabs_fixture as fx

BUILD_SRC = "raise RuntimeError('a TensorFlow build_module_src was executed')\n"
V5_SHAPES = {"input_shapes": [[None, 512], [None, 0]], "output_shapes": [[None, 3, 1024, 1024]],
             "input_names": ["latents_in", "labels_in"], "output_names": ["images_out"]}


class Numpy1Pickler(pickle._Pickler):
    """Spells numpy's pickle helpers as numpy 1.x did (numpy.core.*), as every real TF file does."""

    def save_global(self, obj, name=None):
        module = getattr(obj, "__module__", None) or ""
        if not module.startswith("numpy._core."):
            return super().save_global(obj, name)
        module, name = module.replace("numpy._core.", "numpy.core.", 1), name or obj.__name__
        if self.proto >= 4:
            self.save(module)
            self.save(name)
            self.write(pickle.STACK_GLOBAL)
        else:
            self.write(pickle.GLOBAL + f"{module}\n{name}\n".encode())
        self.memoize(obj)

    dispatch = dict(pickle._Pickler.dispatch)
    dispatch[types.FunctionType] = save_global  # numpy's _frombuffer is a Python function


def dump(obj: object, path: Path, protocol: int = 4, numpy1: bool = False) -> Path:
    with fx.fake_nvlabs_modules(), open(path, "wb") as f:
        (Numpy1Pickler(f, protocol) if numpy1 else pickle.Pickler(f, protocol)).dump(obj)
    return path


def network(name: str, static_kwargs: dict, variables: list, components: dict | None = None, version: int = 4,
            func: str = "", src: str = BUILD_SRC) -> fx.Network:
    state = dict(version=version, name=name, static_kwargs=static_kwargs, components=components or {},
                 build_module_src=src, build_func_name=func or name, variables=variables)
    return fx.Network(**state, **(V5_SHAPES if version >= 5 else {}))


def defaults(*classes: type) -> dict:
    """Our constructors' keyword defaults (later classes win)."""
    out = {}
    for cls in classes:
        out.update({k: p.default for k, p in inspect.signature(cls).parameters.items()
                    if p.default is not inspect.Parameter.empty})
    return out


def g_kwargs(G: Generator) -> dict:
    """Every TF builder keyword, from our Generator's effective keywords."""
    syn = {**defaults(SynthesisNetwork), **G.init_kwargs["synthesis_kwargs"]}
    mapping = {**defaults(MappingNetwork), **G.init_kwargs["mapping_kwargs"]}
    return {"latent_size": G.z_dim, "label_size": G.c_dim, "dlatent_size": G.w_dim,
            "resolution": G.img_resolution, "num_channels": G.img_channels, "fmap_base": syn["channel_base"] // 2,
            "fmap_max": syn["channel_max"], "num_fp16_res": syn["num_fp16_res"], "conv_clamp": syn["conv_clamp"],
            "architecture": syn["architecture"], "resample_kernel": list(syn["resample_filter"]),
            "use_noise": syn["use_noise"], "nonlinearity": syn["activation"], "mapping_layers": mapping["num_layers"],
            "label_fmaps": mapping["embed_features"], "mapping_fmaps": mapping["layer_features"],
            "mapping_nonlinearity": mapping["activation"], "mapping_lrmul": mapping["lr_multiplier"],
            "w_avg_beta": mapping["w_avg_beta"]}


def d_kwargs(D: Discriminator) -> dict:
    """Every TF builder keyword, from our Discriminator's (whose mapping uses cmap_dim-wide layers)."""
    kw = {**defaults(Discriminator), **D.init_kwargs}
    block = {**defaults(DiscriminatorBlock), **kw["block_kwargs"]}
    epilogue = {**defaults(DiscriminatorEpilogue), **kw["epilogue_kwargs"]}
    mapping = {**defaults(MappingNetwork), **kw["mapping_kwargs"]}
    return {"label_size": D.c_dim, "resolution": D.img_resolution, "num_channels": D.img_channels,
            "architecture": kw["architecture"], "fmap_base": kw["channel_base"] // 2, "fmap_max": kw["channel_max"],
            "num_fp16_res": kw["num_fp16_res"], "conv_clamp": kw["conv_clamp"], "mapping_fmaps": kw["cmap_dim"],
            "nonlinearity": block["activation"], "resample_kernel": list(block["resample_filter"]),
            "freeze_layers": block["freeze_layers"], "mapping_layers": mapping["num_layers"],
            "mapping_lrmul": mapping["lr_multiplier"], "mbstd_group_size": epilogue["mbstd_group_size"],
            "mbstd_num_features": epilogue["mbstd_num_channels"]}


def _values(net: nn.Module) -> dict[str, np.ndarray]:
    return {k: t.detach().numpy() for k, t in net.state_dict().items()}


def _conv(w: np.ndarray, up: bool = False) -> np.ndarray:
    """Ours [out, in, kh, kw] -> TF [kh, kw, in, out]; TF's up-sampling conv keeps its kernel mirrored."""
    tf = w.transpose(2, 3, 1, 0)
    return tf[::-1, ::-1] if up else tf


def _zero_d(value: np.ndarray, as_scalar: bool) -> np.ndarray | np.float32:
    return np.float32(value) if as_scalar else value


def g_variables(G: Generator) -> tuple[list, list, list]:
    """(G's own, mapping, synthesis) variable lists in TF's names, layouts and order."""
    sd = _values(G)
    own = [("dlatent_avg", sd["mapping.w_avg"]), ("lod", np.float32(0))]
    mapping = []
    if G.c_dim:
        mapping += [("LabelEmbed/weight", sd["mapping.embed.weight"].T), ("LabelEmbed/bias", sd["mapping.embed.bias"])]
    for i in range(G.mapping.num_layers):
        mapping += [(f"Dense{i}/weight", sd[f"mapping.fc{i}.weight"].T), (f"Dense{i}/bias", sd[f"mapping.fc{i}.bias"])]
    noise, layers = [], []
    for block in G.synthesis.blocks():
        r = block.resolution
        names = [("conv0", "Conv0_up"), ("conv1", "Conv" if r == 4 else "Conv1"), ("torgb", "ToRGB")]
        for ours, theirs in names:
            if not hasattr(block, ours):
                continue
            p, scope = f"synthesis.b{r}.{ours}.", f"{r}x{r}/{theirs}/"
            layers += [(scope + "weight", _conv(sd[p + "weight"], up=ours == "conv0")),
                       (scope + "mod_weight", sd[p + "affine.weight"].T),
                       (scope + "mod_bias", sd[p + "affine.bias"] - np.float32(1))]
            if p + "noise_strength" in sd:
                layers.append((scope + "noise_strength", _zero_d(sd[p + "noise_strength"], ours == "conv0")))
                noise.append((f"noise{len(noise)}", sd[p + "noise_const"][None, None]))
            layers.append((scope + "bias", sd[p + "bias"]))
        if hasattr(block, "skip"):
            layers.append((f"{r}x{r}/Skip/weight", _conv(sd[f"synthesis.b{r}.skip.weight"], up=True)))
    const = [("4x4/Const/const", sd["synthesis.b4.const"][None])]
    return own, mapping, noise + const + layers


def d_variables(D: Discriminator) -> list:
    """D's variable list in TF's names, layouts and order."""
    sd = _values(D)
    out = []
    if D.c_dim:
        out += [("LabelEmbed/weight", sd["mapping.embed.weight"].T), ("LabelEmbed/bias", sd["mapping.embed.bias"])]
        for i in range(D.mapping.num_layers):
            out += [(f"Mapping{i}/weight", sd[f"mapping.fc{i}.weight"].T),
                    (f"Mapping{i}/bias", sd[f"mapping.fc{i}.bias"])]
    for r in [*D.block_resolutions, 4]:
        names = [("fromrgb", "FromRGB"), ("conv0", "Conv0"), ("conv1", "Conv1_down"), ("skip", "Skip"),
                 ("conv", "Conv"), ("fc", "Dense0")]
        for ours, theirs in names:
            key = f"b{r}.{ours}."
            if key + "weight" not in sd:
                continue
            w = sd[key + "weight"]
            out.append((f"{r}x{r}/{theirs}/weight", w.T if w.ndim == 2 else _conv(w)))
            if key + "bias" in sd:
                out.append((f"{r}x{r}/{theirs}/bias", sd[key + "bias"]))
    return out + [("Output/weight", sd["b4.out.weight"].T), ("Output/bias", sd["b4.out.bias"])]


def tf_generator(name: str, kwargs: dict, own: list, mapping: list, synthesis: list, version: int = 4,
                 src: str = BUILD_SRC) -> fx.Network:
    components = {"mapping": network(f"{name}_mapping", {}, mapping, version=version, func="G_mapping", src=src),
                  "synthesis": network(f"{name}_synthesis", {}, synthesis, version=version,
                                       func="G_synthesis_stylegan2" if version == 4 else "G_synthesis", src=src)}
    return network(name, kwargs, own, components, version, "G_main", src)


def tf_pickle(G: Generator, D: Discriminator, Gs: Generator, version: int = 4, src: str = BUILD_SRC) -> tuple:
    """(G, D, Gs) of our networks as a TF StyleGAN2 (version 4) or TF stylegan2-ada (version 5) file holds them."""
    d_func = "D_stylegan2" if version == 4 else "D_main"
    return (tf_generator("G", g_kwargs(G), *g_variables(G), version=version, src=src),
            network("D", d_kwargs(D), d_variables(D), version=version, func=d_func, src=src),
            tf_generator("Gs", g_kwargs(Gs), *g_variables(Gs), version=version, src=src))


# -- TF spec §7.2: a TF-format fixture drawn directly in TF layout, with conformance vectors ------------------


def spec_nets(c: int) -> tuple:
    """(G, D, Gs) of TF spec §7.2: kwargs as the TF builders get them, variables drawn in TF order."""
    g_kw = {"num_channels": 3, "resolution": 16, "label_size": c, "fmap_base": 32, "fmap_max": 16,
            "latent_size": 16, "dlatent_size": 16, "mapping_layers": 2}
    d_kw = {"num_channels": 3, "resolution": 16, "label_size": c, "fmap_base": 32, "fmap_max": 16,
            "mbstd_group_size": 2}
    # Only the names and shapes of these templates are used: the same layers as the TF builders make.
    g = Generator(z_dim=16, c_dim=c, w_dim=16, img_resolution=16, img_channels=3, mapping_kwargs={"num_layers": 2},
                  synthesis_kwargs={"channel_base": 64, "channel_max": 16})
    d = Discriminator(c_dim=c, img_resolution=16, img_channels=3, channel_base=64, channel_max=16,
                      mapping_kwargs={"num_layers": 0})
    rs = np.random.RandomState(2024)  # one stream over G's own, then mapping, then synthesis variables
    own, mapping, synthesis = g_variables(g)
    own, mapping, synthesis = _drawn(rs, own, False), _drawn(rs, mapping, True), _drawn(rs, synthesis, False)
    d_vars = _drawn(np.random.RandomState(7), d_variables(d), in_mapping=False)
    gs = tf_generator("Gs", g_kw, own, mapping, synthesis)
    return tf_generator("G", g_kw, own, mapping, synthesis), network("D", d_kw, d_vars, func="D_stylegan2"), gs


def _drawn(rs: np.random.RandomState, variables: list, in_mapping: bool) -> list:
    """§7.2 values: standard normals; mapping Dense weights x100, style biases and noise strengths x0.1, the rest
    of ToRGB x0.1."""
    out = []
    for name, value in variables:
        r = rs.standard_normal(size=np.shape(value))
        if in_mapping and name.startswith("Dense") and name.endswith("/weight"):
            r = r * 100
        elif name.endswith(("/mod_bias", "/noise_strength")) or "/ToRGB/" in name:
            r = r * 0.1
        out.append((name, np.asarray(r, dtype=np.float32)))
    return out
