"""The spec §8 conformance nets: tiny G and D with weights drawn from numpy in state-dict order."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch

from model.networks import Discriminator, Generator

G_KWARGS = dict(z_dim=32, w_dim=32, img_resolution=16, img_channels=3,
                mapping_kwargs=dict(num_layers=2),
                synthesis_kwargs=dict(channel_base=256, channel_max=32, num_fp16_res=0, conv_clamp=256,
                                      architecture="skip"))
D_KWARGS = dict(img_resolution=16, img_channels=3, architecture="resnet", channel_base=256, channel_max=32,
                num_fp16_res=0, conv_clamp=256, epilogue_kwargs=dict(mbstd_group_size=2))


def fill_weights(net: torch.nn.Module, seed: int) -> None:
    """Spec §8 recipe: standard normals in state-dict order, some tensors rescaled."""
    rs = np.random.RandomState(seed)
    state = {}
    for name, t in net.state_dict().items():
        if name.endswith("resample_filter"):
            continue
        r = rs.standard_normal(size=tuple(t.shape))
        if name.startswith("mapping.fc") and name.endswith(".weight"):
            r = r * 100
        elif name.endswith("affine.bias"):
            r = 1 + 0.1 * r
        elif name.endswith((".torgb.weight", ".torgb.bias")):
            r = r * 0.1
        elif name.endswith("noise_strength"):
            r = r * 0.1
        state[name] = torch.as_tensor(np.asarray(r), dtype=torch.float32)
    net.load_state_dict(state, strict=False)


def make_g(c_dim: int = 0) -> Generator:
    g = Generator(c_dim=c_dim, **G_KWARGS).eval()
    fill_weights(g, 2024)
    return g


def make_d(c_dim: int = 0) -> Discriminator:
    d = Discriminator(c_dim=c_dim, **D_KWARGS).eval()
    fill_weights(d, 7)
    return d


def check_image(img: torch.Tensor, mean: float, mean_abs: float, first: tuple, total: int, digest: str) -> None:
    """A spec vector row: float statistics to 1e-6, then the uint8 image (§5.4 conversion) by sum and sha256."""
    values = img.double().numpy()
    assert values.mean() == pytest.approx(mean, abs=1e-6)
    assert np.abs(values).mean() == pytest.approx(mean_abs, abs=1e-6)
    assert values[0, :, 0, 0] == pytest.approx(first, abs=1e-6)
    u8 = (img.permute(0, 2, 3, 1) * 127.5 + 128).clamp(0, 255).to(torch.uint8).numpy()
    assert int(u8.sum(dtype=np.int64)) == total
    assert hashlib.sha256(u8.tobytes()).hexdigest() == digest
