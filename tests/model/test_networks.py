"""Structure (names, shapes, counts from spec §2-§3) and behaviour of the networks beyond the C1 vectors."""

import numpy as np
import pytest
import torch

from model.errors import ModelError
from model.networks import Discriminator, Generator

from .conformance import make_g


def on_meta(cls, **kwargs):
    with torch.device("meta"):
        return cls(**kwargs)


def shapes(net):
    return [(k, list(v.shape)) for k, v in net.state_dict().items()]


def n_params(net):
    return sum(v.numel() for k, v in net.state_dict().items() if not k.endswith(("resample_filter", "noise_const",
                                                                                  "w_avg")))


def auto32(c_dim=0):
    """Spec §3.3: what NVlabs train.py --cfg=auto builds for a 32² dataset."""
    g = on_meta(Generator, z_dim=512, c_dim=c_dim, w_dim=512, img_resolution=32, img_channels=3,
                mapping_kwargs=dict(num_layers=2),
                synthesis_kwargs=dict(channel_base=16384, channel_max=512, num_fp16_res=4, conv_clamp=256))
    d = on_meta(Discriminator, c_dim=c_dim, img_resolution=32, img_channels=3, channel_base=16384, num_fp16_res=4,
                conv_clamp=256, epilogue_kwargs=dict(mbstd_group_size=4))
    return g, d


def test_worked_example_generator_order_and_shapes():
    g, _ = auto32()
    s = shapes(g)
    assert len(s) == 75
    layer = ["weight", "noise_strength", "bias", "resample_filter", "noise_const", "affine.weight", "affine.bias"]
    expected = [("synthesis.b4.const", [512, 4, 4]), ("synthesis.b4.resample_filter", [4, 4])]
    expected += [(f"synthesis.b4.conv1.{n}", None) for n in layer]
    expected += [(f"synthesis.b4.torgb.{n}", None) for n in ["weight", "bias", "affine.weight", "affine.bias"]]
    for r in (8, 16, 32):
        expected.append((f"synthesis.b{r}.resample_filter", [4, 4]))
        for conv in ("conv0", "conv1"):
            expected += [(f"synthesis.b{r}.{conv}.{n}", None) for n in layer]
        expected += [(f"synthesis.b{r}.torgb.{n}", None) for n in ["weight", "bias", "affine.weight", "affine.bias"]]
    expected += [("mapping.w_avg", [512])]
    expected += [(f"mapping.fc{i}.{n}", [512, 512] if n == "weight" else [512]) for i in (0, 1) for n in
                 ("weight", "bias")]
    assert [k for k, _ in s] == [k for k, _ in expected]
    got = dict(s)
    for k, shape in expected:
        if shape is not None:
            assert got[k] == shape, k
    assert got["synthesis.b8.conv0.noise_const"] == [8, 8]
    assert got["synthesis.b32.conv1.noise_const"] == [32, 32]
    assert got["synthesis.b4.torgb.weight"] == [3, 512, 1, 1]
    assert n_params(g) == 19_947_539
    assert g.num_ws == 8


def test_worked_example_conditional_mapping():
    g, d = auto32(c_dim=10)
    names = [k for k, _ in shapes(g)]
    i = names.index("mapping.w_avg")
    assert names[i + 1:i + 4] == ["mapping.embed.weight", "mapping.embed.bias", "mapping.fc0.weight"]
    assert dict(shapes(g))["mapping.fc0.weight"] == [512, 1024]
    ds = dict(shapes(d))
    assert ds["mapping.embed.weight"] == [512, 10]
    assert ds["mapping.fc7.weight"] == [512, 512]
    assert ds["b4.out.weight"] == [512, 512]
    dnames = [k for k, _ in shapes(d)]
    assert dnames.index("mapping.fc7.bias") < dnames.index("b4.conv.weight")


def test_worked_example_discriminator():
    _, d = auto32()
    s = shapes(d)
    assert len(s) == 37
    assert n_params(d) == 21_507_073
    names = [k for k, _ in s]
    assert names[:4] == ["b32.resample_filter", "b32.fromrgb.weight", "b32.fromrgb.bias", "b32.fromrgb.resample_filter"]
    assert names[-7:] == ["b4.conv.weight", "b4.conv.bias", "b4.conv.resample_filter", "b4.fc.weight", "b4.fc.bias",
                          "b4.out.weight", "b4.out.bias"]
    got = dict(s)
    assert got["b4.conv.weight"] == [512, 513, 3, 3]
    assert got["b4.fc.weight"] == [512, 8192]
    assert got["b4.out.weight"] == [1, 512]
    assert got["b32.skip.weight"] == [512, 512, 1, 1]
    assert "b16.fromrgb.weight" not in got


def test_reference_sizes_1024():
    g = on_meta(Generator, z_dim=512, c_dim=0, w_dim=512, img_resolution=1024, img_channels=3)
    d = on_meta(Discriminator, c_dim=0, img_resolution=1024, img_channels=3)
    assert n_params(g) == 30_370_060
    assert n_params(d) == 29_012_513
    assert g.num_ws == 18


@pytest.mark.parametrize("res,num_ws", [(4, 2), (8, 4), (16, 6), (64, 10), (256, 14), (1024, 18)])
@pytest.mark.parametrize("arch", ["skip", "orig", "resnet"])
def test_num_ws_and_variant_names(res, num_ws, arch):
    g = on_meta(Generator, z_dim=8, c_dim=0, w_dim=8, img_resolution=res, img_channels=1,
                synthesis_kwargs=dict(architecture=arch, channel_base=2 ** 14, channel_max=16))
    assert g.num_ws == num_ws
    names = set(g.state_dict())
    torgbs = {k.split(".")[1] for k in names if ".torgb." in k}
    skips = {k.split(".")[1] for k in names if ".skip." in k}
    assert torgbs == ({f"b{2 ** i}" for i in range(2, res.bit_length())} if arch == "skip" else {f"b{res}"})
    assert skips == ({f"b{2 ** i}" for i in range(3, res.bit_length())} if arch == "resnet" else set())
    assert dict(shapes(g))[f"synthesis.b{res}.torgb.weight"][0] == 1


@pytest.mark.parametrize("arch", ["skip", "orig", "resnet"])
def test_architectures_run_and_fused_matches_nonfused(arch):
    torch.manual_seed(0)
    g = Generator(z_dim=16, c_dim=0, w_dim=16, img_resolution=16, img_channels=3,
                  synthesis_kwargs=dict(architecture=arch, channel_base=128, channel_max=16, conv_clamp=256)).eval()
    d = Discriminator(c_dim=0, img_resolution=16, img_channels=3, architecture=arch, channel_base=128,
                      channel_max=16).eval()
    z = torch.randn(4, 16)
    with torch.no_grad():
        fused = g(z, None, noise_mode="const", fused_modconv=True)
        plain = g(z, None, noise_mode="const", fused_modconv=False)
        logits = d(fused, None)
    assert fused.shape == (4, 3, 16, 16) and logits.shape == (4, 1)
    assert torch.isfinite(logits).all()
    # Spec C2: two correct modconv formulations agree to float tolerance, not bit for bit.
    assert torch.allclose(fused, plain, atol=1e-5 * max(1, fused.abs().max().item()))


def test_noise_modes():
    g = make_g()
    z = torch.from_numpy(np.random.RandomState(3).randn(2, 32))
    with torch.no_grad():
        const = g(z, None, noise_mode="const")
        torch.manual_seed(1)
        rand1 = g(z, None, noise_mode="random")
        torch.manual_seed(1)
        rand2 = g(z, None, noise_mode="random")
        none = g(z, None, noise_mode="none")
    assert torch.equal(rand1, rand2)
    assert not torch.equal(const, rand1) and not torch.equal(const, none)


def test_w_avg_updates_only_on_request():
    g = make_g()
    before = g.mapping.w_avg.clone()
    z = torch.randn(4, 32)
    g.mapping(z, None)
    assert torch.equal(g.mapping.w_avg, before)
    ws = g.mapping(z, None, update_emas=True)
    expected = ws[:, 0].mean(0).lerp(before, 0.995)
    assert torch.allclose(g.mapping.w_avg, expected)


def test_freeze_layers_become_buffers():
    d = Discriminator(c_dim=0, img_resolution=16, img_channels=3, channel_base=64, channel_max=16,
                      block_kwargs=dict(freeze_layers=5))
    buffers = dict(d.named_buffers())
    params = dict(d.named_parameters())
    # layers in order: b16.fromrgb, b16.conv0, b16.conv1, b16.skip, b8.conv0 (5 frozen), b8.conv1 trainable
    for name in ["b16.fromrgb.weight", "b16.fromrgb.bias", "b16.skip.weight", "b8.conv0.weight"]:
        assert name in buffers and name not in params
    assert "b8.conv1.weight" in params
    plain = Discriminator(c_dim=0, img_resolution=16, img_channels=3, channel_base=64, channel_max=16)
    assert set(plain.state_dict()) == set(d.state_dict())  # same names; frozen ones move to the buffer slots


@pytest.mark.parametrize("kwargs,message", [
    (dict(img_resolution=48), "not a power of two"),
    (dict(img_resolution=2), "not a power of two"),
    (dict(synthesis_kwargs=dict(architecture="fancy")), "architecture 'fancy'"),
    (dict(synthesis_kwargs=dict(resample_filter=[1, 2, 1])), "resample filter"),
    (dict(mapping_kwargs=dict(activation="tanh")), "activation 'tanh'"),
])
def test_unsupported_configs_raise_one_line(kwargs, message):
    args = dict(z_dim=8, c_dim=0, w_dim=8, img_resolution=16, img_channels=3) | kwargs
    with pytest.raises(ModelError, match=message):
        on_meta(Generator, **args)


def test_init_kwargs_rebuild_identical_structure():
    g = make_g(3)
    g2 = on_meta(Generator, **g.init_kwargs)
    assert shapes(g) == shapes(g2)
    d = Discriminator(c_dim=2, img_resolution=8, img_channels=1, channel_base=64, channel_max=16)
    assert shapes(on_meta(Discriminator, **d.init_kwargs)) == shapes(d)
