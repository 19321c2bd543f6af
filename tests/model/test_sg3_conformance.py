"""StyleGAN3 spec §7.1 vectors at level C1 (bit-exact fp32 on the CPU), and the derived schedule of §4."""

import hashlib

import numpy as np
import pytest
import torch

from model.networks_sg3 import Generator

from .conformance import check_image
from .sg3_fixture import T_KWARGS, input_transform, make_r, make_t

FILTERS = ("up_filter", "down_filter")

# cfg, seed, psi, cutoff, rot, mean, mean abs, img[0,:,0,0], sum(u8), sha256(u8)   -- spec §7.1 table
VECTORS = [
    ("T", 0, 1, None, False, -0.1789794, 0.9821772, (-1.742437, 0.931095, 0.268364), 418291,
     "608bc723b8eb4e3b37339be2e6d62a113aa89a0ccd9b55d12d663071a8d2a8d8"),
    ("T", 1, 1, None, False, -0.2202509, 0.5592602, (-1.159015, 0.442373, 0.060589), 327219,
     "bd88d59a1fe9acca44854f5ab28aeb26a70f3745ab38942793adac2cce1793d1"),
    ("T", 0, 0.7, None, False, -0.0653983, 0.7099776, (-1.153752, 0.804546, 0.168668), 387194,
     "addf5427aac4616846e07acb1e569fe34a9281931c0201447e8e1ca26428dcbe"),
    ("T", 1, 0.7, None, False, -0.0242461, 0.5342190, (-0.837836, 0.566973, 0.202985), 382287,
     "7ef2809d916be29d29d3a4b523131ef5ee400402cd3c768c40871f7bb202ae7e"),
    ("T", 0, 0.5, 4, False, -0.1713513, 0.9770261, (-1.729020, 0.930726, 0.276848), 418991,
     "67bbb1c3327ddde33f1fe7dafbf0fcc4994c976853e45f61866b6d371846b6db"),
    ("T", 1, 0.5, 4, False, -0.2213833, 0.5601628, (-1.171029, 0.445030, 0.061628), 327206,
     "2f2ea33663445b02e2556b3a411fa7e0575f75e9589355543982a88f11cfe083"),
    ("T", 0, 1, None, True, -0.1789475, 0.9811656, (-1.747962, 0.933079, 0.267251), 418191,
     "92757f0327dd7367530a69fa8323da2cee1aa13bdf81197e056b70d96a19a24e"),
    ("R", 0, 1, None, False, 0.2047106, 0.4292420, (-0.147259, -0.189645, 0.951636), 471968,
     "65360243b3029dfd38a9cc75dfbfec2a00f8009ed2a41ba23a9e80f7fdd60475"),
    ("R", 1, 1, None, False, -0.0463272, 0.0768701, (-0.042634, -0.141681, 0.046531), 372747,
     "fd7a25e736798a15a1619ab2cf4fb022815be2d612ff8defcc7f1f21277039c4"),
    ("R", 0, 0.7, None, False, 0.3009050, 0.5253636, (-0.337365, 0.114006, 1.127801), 493282,
     "fe4befd2229f764aece391ac1fe9a3d5338e6e1b7ad7a50c55fc1844a714eadf"),
    ("R", 1, 0.7, None, False, -0.0209539, 0.2265416, (-0.309947, -0.058912, 0.307269), 383716,
     "c18f1947c81589ec05ddc57c91a8aa150493d411c360bca01938da4e0f01310e"),
    ("R", 0, 0.5, 4, False, 0.2038975, 0.4281596, (-0.146059, -0.189959, 0.949516), 471464,
     "1dd27cb07b939e417c4603fe097a305a596a3dec55ba2b12bf4126a6f1c6fc32"),
    ("R", 1, 0.5, 4, False, -0.0467088, 0.0775413, (-0.042795, -0.143815, 0.047462), 372959,
     "d1d9a92034d87c6af0b0ee9887ed7486638ca591f0141075816b053bf2773102"),
    ("R", 0, 1, None, True, 0.2045577, 0.4289712, (-0.146936, -0.189813, 0.951048), 471791,
     "c5c3dd6100bb825c1d8ac6135911c171a095383b93149b626541cf19a06af5bf"),
]
NETS = {"T": make_t(), "R": make_r()}


def sha256(tensors) -> str:
    return hashlib.sha256(b"".join(t.numpy().tobytes() for t in tensors)).hexdigest()


@pytest.mark.parametrize("cfg, tensors, params, weights, filters", [
    ("T", 114, 79_076, "15362ebb996ed4fe82f2044be4a89ebc23eb4f1c024923e3d408e07349866752",
     "398ca87ef391c27e6b9fb25a0c2d922a2f89cecb5a24e82aed2999748fc1fe38"),
    ("R", 114, 48_241, "3b998a9654e85343cb93e162def4054b5730cb067642eff8e9cc31e879a26834",
     "9321e3bbf5dab328180bc9c2acf5e2972a4f410b2d3e02d48ead7adcfe619e48"),
])
def test_fixture_nets_match_the_spec(cfg, tensors, params, weights, filters):
    """Names, order and shapes of the state dict (the weight hash depends on all three) and the filters."""
    state = NETS[cfg].state_dict()
    assert len(state) == tensors
    assert sum(p.numel() for p in NETS[cfg].parameters()) == params
    assert sha256(t for k, t in state.items() if not k.endswith(FILTERS)) == weights
    assert sha256(t for k, t in state.items() if k.endswith(FILTERS)) == filters


def test_separable_filters_are_designed_exactly():
    """numpy's sinc and Kaiser window reproduce scipy's firwin bit for bit; only the radial filters differ."""
    up = Generator(**T_KWARGS).synthesis.L0_36_32.up_filter
    assert up[:6].tolist() == pytest.approx([0.0007919021, 0.010018318, 0.038949523, 0.092412792, 0.15652561,
                                             0.20130186], rel=1e-7)
    assert torch.equal(up, up.flip(0))
    fresh = {k: t for k, t in Generator(**T_KWARGS).state_dict().items() if k.endswith(FILTERS)}
    assert all(torch.equal(t, NETS["T"].state_dict()[k]) for k, t in fresh.items())


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: f"{v[0]}-s{v[1]}-psi{v[2]}-cut{v[3]}{'-rot' * v[4]}")
def test_generator_c1(vector):
    cfg, seed, psi, cutoff, rot, mean, mean_abs, first, total, digest = vector
    g = NETS[cfg]
    stored = g.synthesis.input.transform.clone()
    if rot:
        g.synthesis.input.transform.copy_(input_transform((0.1, -0.2), 30))
    z = torch.from_numpy(np.random.RandomState(seed).randn(1, 16))
    try:
        with torch.no_grad():
            img = g(z, torch.zeros([1, 0]), truncation_psi=psi, truncation_cutoff=cutoff)
    finally:
        g.synthesis.input.transform.copy_(stored)
    check_image(img, mean, mean_abs, first, total, digest)


def _table(g: Generator) -> list[str]:
    return [f"{name}:{la.up_factor}/{la.down_factor}:{la.padding[0]},{la.padding[1]}{'r' * la.down_radial}"
            for name, la in zip(g.synthesis.layer_names, g.synthesis.layers(), strict=True)]


def test_schedule_of_the_fixture_nets():
    """Spec §4.2's worked tables: names (size, channels), resampling factors, padding, radial down filters."""
    t = _table(NETS["T"])
    assert t[:5] == [f"L{i}_36_32:2/2:9,8" for i in range(5)]
    assert t[5:] == ["L5_52_27:4/2:-6,-9", "L6_52_23:2/2:9,8", "L7_52_19:2/2:9,8", "L8_52_16:2/2:9,8",
                     "L9_52_13:2/2:9,8", "L10_52_11:2/2:9,8", "L11_52_10:2/2:9,8", "L12_52_8:2/2:9,8",
                     "L13_32_8:2/2:-11,-12", "L14_32_3:1/1:0,0"]
    r = _table(NETS["R"])
    assert r[:5] == [f"L{i}_36_64:2/2:11,10r" for i in range(5)]
    assert r[5:] == ["L5_52_54:4/2:-2,-5r", "L6_52_45:2/2:11,10r", "L7_52_38:2/2:11,10r", "L8_52_32:2/2:11,10r",
                     "L9_52_27:2/2:11,10r", "L10_52_23:2/2:11,10r", "L11_52_19:2/2:11,10r", "L12_52_16:2/2:11,10",
                     "L13_32_16:2/2:-9,-10", "L14_32_3:1/1:0,0"]
    assert NETS["T"].num_ws == NETS["R"].num_ws == 16


@pytest.mark.parametrize("cfg, kwargs, params", [
    ("T", dict(channel_base=32768, channel_max=512), 21_787_855),
    ("R", dict(channel_base=65536, channel_max=1024, conv_kernel=1, use_radial_filters=True), 14_567_839),
])
def test_schedule_at_1024(cfg, kwargs, params):
    with torch.device("meta"):
        g = Generator(z_dim=512, c_dim=0, w_dim=512, img_resolution=1024, img_channels=3, **kwargs)
    assert sum(p.numel() for p in g.synthesis.parameters()) == params
    fp16 = [n for n, layer in zip(g.synthesis.layer_names, g.synthesis.layers(), strict=True) if layer.use_fp16]
    assert fp16 == g.synthesis.layer_names[5:]
    table = _table(g)
    if cfg == "T":
        assert [n.split(":")[0] for n in table] == [
            "L0_36_512", "L1_36_512", "L2_52_512", "L3_52_512", "L4_84_512", "L5_148_512", "L6_148_512",
            "L7_276_323", "L8_276_203", "L9_532_128", "L10_1044_81", "L11_1044_51", "L12_1044_32", "L13_1024_32",
            "L14_1024_3"]
        assert [n.split(":", 1)[1] for n in table] == [
            "2/2:9,8", "2/2:9,8", "4/2:-6,-9", "2/2:9,8", "4/2:-6,-9", "4/2:-6,-9", "2/2:9,8", "4/2:-6,-9",
            "2/2:9,8", "4/2:-6,-9", "4/2:-6,-9", "2/2:9,8", "2/2:9,8", "2/2:-11,-12", "1/1:0,0"]
    else:
        assert [int(n.split(":")[0].split("_")[2]) for n in table] == [1024] * 7 + [645, 406, 256, 161, 102, 64,
                                                                                     64, 3]
        pads = [n.split(":")[2] for n in table]
        assert pads[:2] == ["11,10r"] * 2 and pads[2] == "-2,-5r" and pads[12] == "11,10" and pads[13] == "-9,-10"
