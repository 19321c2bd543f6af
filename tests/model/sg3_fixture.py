"""The StyleGAN3 conformance nets of the spec (§7.1), and NVlabs-format pickles of them written without NVlabs code.

T and R generators at 32² with weights drawn from numpy in state-dict order. The R net's radial filters need
scipy's Bessel function to match NVlabs bit for bit (torch's differs by a few ulps), so they are shipped as
data (`sg3_r32_radial_filters.npy`, checked against the spec's filter hash by the tests).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from model.networks import Discriminator
from model.networks_sg3 import Generator

from . import nvlabs_fixture as fx

T_KWARGS = dict(z_dim=16, c_dim=0, w_dim=16, img_resolution=32, img_channels=3, channel_base=256, channel_max=32,
                mapping_kwargs={"num_layers": 2}, magnitude_ema_beta=0.999)
R_KWARGS = dict(T_KWARGS, conv_kernel=1, channel_base=512, channel_max=64, use_radial_filters=True)
RADIAL_FILTERS = Path(__file__).with_name("sg3_r32_radial_filters.npy")
AF_SRC = ("# stand-in for stylegan3 training/networks_stylegan3.py\n"
          "class SynthesisInput(torch.nn.Module):\n    pass\n")


def fill_weights(g: Generator) -> Generator:
    """Spec §7.1 recipe: standard normals in state-dict order (filters skipped), some tensors shifted or scaled."""
    rs = np.random.RandomState(2024)
    torgb_weight = f"synthesis.{g.synthesis.layer_names[-1]}.weight"
    state = {}
    for name, t in g.state_dict().items():
        if name.endswith(("up_filter", "down_filter")):
            continue
        r = rs.standard_normal(size=tuple(t.shape))
        if name.startswith("mapping.fc") and name.endswith(".weight"):
            r = 100 * r
        elif name == "synthesis.input.affine.bias":
            r = np.array([1, 0, 0, 0]) + 0.2 * r
        elif name == "synthesis.input.transform":
            r = np.eye(3) + 0.1 * r
        elif name.endswith("affine.bias"):
            r = 1 + 0.1 * r
        elif name == torgb_weight:
            r = 20 * r
        elif name.endswith("magnitude_ema"):
            r = 1 + r * r
        elif name.endswith(".bias"):
            r = 0.1 * r
        state[name] = torch.as_tensor(np.asarray(r), dtype=torch.float32)
    g.load_state_dict(state, strict=False)
    return g


def make_t() -> Generator:
    return fill_weights(Generator(**T_KWARGS).eval())


def make_r() -> Generator:
    g = fill_weights(Generator(**R_KWARGS).eval())
    radial = iter(torch.from_numpy(np.load(RADIAL_FILTERS, allow_pickle=False)))
    with torch.no_grad():
        for layer in g.synthesis.layers():
            if layer.down_radial:
                layer.down_filter.copy_(next(radial))
    return g


def make_d() -> Discriminator:
    """A discriminator with stylegan3's class defaults (num_fp16_res 4, conv_clamp 256), as its pickles hold."""
    return Discriminator(c_dim=0, img_resolution=32, img_channels=3, channel_base=256, channel_max=32,
                         num_fp16_res=4, conv_clamp=256).eval()


def input_transform(translate: tuple[float, float], rotate: float) -> torch.Tensor:
    """gen_images.py's --translate/--rotate: the inverse of a rotation by `rotate` degrees and a translation."""
    a = rotate / 360 * 2 * np.pi
    m = np.array([[np.cos(a), np.sin(a), translate[0]], [-np.sin(a), np.cos(a), translate[1]], [0, 0, 1]])
    return torch.from_numpy(np.linalg.inv(m)).float()


def _nvlabs_attributes(p: fx.Persistent) -> None:
    """Plain attributes as NVlabs keeps them: sizes as int64 [w, h] arrays, numpy bools, padding as numpy ints,
    the layer name list; recursively."""
    state = p.meta["state"]
    for key in ("size", "in_size", "out_size"):
        if key in state:
            state[key] = np.array([state[key]] * 2, dtype=np.int64)
    for key in ("use_fp16", "down_radial"):
        if key in state:
            state[key] = np.bool_(state[key])
    for child in state["_modules"].values():
        if child is not None:
            _nvlabs_attributes(child)


def persistent_g(g: Generator) -> fx.Persistent:
    """A stylegan3 G or G_ema record: flat keywords (nested dict an EasyDict), NVlabs-style attributes."""
    kwargs = {**g.init_kwargs, "mapping_kwargs": fx.easy(g.init_kwargs["mapping_kwargs"])}
    p = fx.persistent(g, AF_SRC, kwargs)
    _nvlabs_attributes(p)
    synthesis = p.meta["state"]["_modules"]["synthesis"].meta["state"]
    synthesis["layer_names"] = list(g.synthesis.layer_names)
    for name, layer in zip(g.synthesis.layer_names, g.synthesis.layers(), strict=True):
        synthesis["_modules"][name].meta["state"]["padding"] = [np.int64(v) for v in layer.padding]
    return p


def sg3_pickle(g: Generator, d: Discriminator | None = None) -> dict:
    """A stylegan3 snapshot dict (G, D, G_ema, augment_pipe, training_set_kwargs); D leaves the fp16 keywords
    to stylegan3's class defaults, as its writer does."""
    d = d if d is not None else make_d()
    d_kwargs = {k: v for k, v in fx.sg2a_kwargs(d).items() if k not in ("num_fp16_res", "conv_clamp")}
    return {"G": persistent_g(g), "D": fx.persistent(d, fx.SG3_SRC, d_kwargs), "G_ema": persistent_g(g),
            "augment_pipe": None, "training_set_kwargs": dict(fx.TRAINING_SET_KWARGS)}


def layer_state(pk: dict, layer: str, network: str = "G_ema") -> dict:
    """The pickled state of one synthesis layer (or 'input'), to edit before dumping."""
    return pk[network].meta["state"]["_modules"]["synthesis"].meta["state"]["_modules"][layer].meta["state"]
