"""StyleGAN3 networks through the loaders and tools: NVlabs pickles and our safetensors, `sgx generate / info /
convert`, the w-index layout the explorer shows, and what is refused (one line each)."""

import hashlib
import time

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from explorer.cli import main
from explorer.renderer import model_info
from model import latents
from model.directions import sefa
from model.errors import ModelError
from model.io import load, model_id, save_networks
from model.io.native import read_header
from model.networks import Discriminator
from model.networks_sg3 import Generator
from model.spec import LatentSpec
from tests.train.trainer_data import make_zip, tiny_options
from train.config import ConfigError
from train.loop import prepare

from . import nvlabs_fixture as fx
from .sg3_fixture import R_KWARGS, T_KWARGS, layer_state, make_r, make_t, sg3_pickle

# sha256 of the uint8 images of the T fixture, seeds 0 and 1, psi 1 (spec §7.1)
T_DIGESTS = {0: "608bc723b8eb4e3b37339be2e6d62a113aa89a0ccd9b55d12d663071a8d2a8d8",
             1: "bd88d59a1fe9acca44854f5ab28aeb26a70f3745ab38942793adac2cce1793d1"}


@pytest.fixture(scope="module")
def t_net():
    return make_t()


@pytest.fixture(scope="module")
def t_pickle(t_net, tmp_path_factory):
    return fx.dump(sg3_pickle(t_net), tmp_path_factory.mktemp("sg3") / "sg3t.pkl")


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def refused(pk, tmp_path, message, exact=True):
    path = fx.dump(pk, tmp_path / "bad.pkl")
    with pytest.raises(ModelError) as info:
        load(path)
    text = str(info.value)
    assert "\n" not in text
    assert text == message if exact else text.startswith(message), text


# -- loading -------------------------------------------------------------------------------------------------


def test_pickle_loads_the_same_networks(t_net, t_pickle):
    model = load(t_pickle, which=("G", "D", "G_ema"))
    assert model.format == "nvlabs-stylegan3"
    g = model.networks["G_ema"]
    assert type(g) is Generator and g.family == "stylegan3" and g.config == "t" and g.num_ws == 16
    assert type(model.networks["D"]) is Discriminator
    ours, theirs = t_net.state_dict(), g.state_dict()
    assert list(ours) == list(theirs)
    assert all(torch.equal(ours[k], theirs[k]) for k in ours)
    assert model.model_id == model_id(t_net)


def test_r_pickle_keeps_its_own_filters(tmp_path):
    """The file's radial filters (scipy's Bessel function) differ from our design (torch's) by ulps: accepted,
    and used as stored."""
    r = make_r()
    designed = Generator(**R_KWARGS).state_dict()
    assert not all(torch.equal(designed[k], t) for k, t in r.state_dict().items() if k.endswith("down_filter"))
    g = load(fx.dump(sg3_pickle(r), tmp_path / "sg3r.pkl")).G
    assert g.config == "r"
    assert all(torch.equal(t, r.state_dict()[k]) for k, t in g.state_dict().items())


def test_safetensors_round_trip_of_a_new_net(tmp_path):
    g = Generator(**R_KWARGS).eval()
    save_networks(tmp_path / "r.safetensors", {"G_ema": g})
    assert read_header(tmp_path / "r.safetensors")["networks"]["G_ema"]["class"] == "StyleGAN3Generator"
    loaded = load(tmp_path / "r.safetensors").G
    assert type(loaded) is Generator and loaded.init_kwargs == g.init_kwargs
    assert all(torch.equal(t, g.state_dict()[k]) for k, t in loaded.state_dict().items())


# -- the tools -----------------------------------------------------------------------------------------------


def test_sgx_generate_gives_nvlabs_pixels(t_pickle, tmp_path):
    result = run("generate", "--network", t_pickle, "--seeds", "0-1", "--precision", "exact", "--outdir", tmp_path)
    assert result.exit_code == 0, result.output
    for seed, digest in T_DIGESTS.items():
        pixels = np.asarray(Image.open(tmp_path / f"seed{seed:04d}.png"))
        assert pixels.shape == (32, 32, 3)
        assert hashlib.sha256(pixels.tobytes()).hexdigest() == digest


def test_sgx_convert_keeps_identity_and_pixels(t_pickle, tmp_path):
    out = tmp_path / "sg3t.safetensors"
    assert run("convert", t_pickle, out, "--networks", "G_ema").exit_code == 0
    assert load(out).model_id == load(t_pickle).model_id
    result = run("generate", "--network", out, "--seeds", "0", "--precision", "exact", "--outdir", tmp_path)
    assert result.exit_code == 0, result.output
    pixels = np.asarray(Image.open(tmp_path / "seed0000.png"))
    assert hashlib.sha256(pixels.tobytes()).hexdigest() == T_DIGESTS[0]


def test_sgx_info_lists_the_layers(t_net, t_pickle):
    result = run("info", t_pickle)
    assert result.exit_code == 0, result.output
    assert "nvlabs-stylegan3" in result.output and "StyleGAN3-T (alias-free)" in result.output
    assert "32 x 32, 3 channel(s)" in result.output and "num_ws 16" in result.output
    rows = [line.split() for line in result.output.splitlines()]
    names = [r[0] for r in rows if r and (r[0] == "input" or r[0][:1] == "L" and r[0][1:2].isdigit())]
    assert names == ["input", *t_net.synthesis.layer_names]
    torgb = next(r for r in rows if r and r[0] == "L14_32_3")
    assert torgb[1:4] == ["32", "3", "32"] and torgb[5:7] == ["1/1", "15"]


def test_train_refuses_to_resume_from_stylegan3(t_pickle, tmp_path):
    data = make_zip(tmp_path / "data.zip")
    with pytest.raises(ConfigError, match=r"^--resume sg3t\.pkl: training StyleGAN3 \(alias-free\) networks is not "
                                          "supported; resume from a StyleGAN2 network$"):
        prepare(tiny_options(data, tmp_path / "runs", resume=str(t_pickle)), log=lambda message: None)


# -- the network-family seam -----------------------------------------------------------------------------------


def test_w_indices_by_the_detail_they_shape(t_net):
    """Index 0 (the input) and layer i (index i + 1) shape detail up to their cutoff f_c; here 2·f_c = 4·2^(i/4),
    named by the nearest power of two (ties up)."""
    assert t_net.w_resolutions == (4, 4, 4, 8, 8, 8, 8, 16, 16, 16, 16, 32, 32, 32, 32, 32)
    assert latents.layer_ranges(t_net) == {"coarse": range(0, 7), "middle": range(7, 11), "fine": range(11, 16)}
    info = model_info(t_net, "sg3t", "id", "cpu exact")
    assert [(b.name, b.first, b.last, b.label) for b in info.bands] == [
        ("coarse", 0, 6, "4²–8²"), ("middle", 7, 10, "16²"), ("fine", 11, 15, "32²")]
    assert info.num_ws == len(info.index_labels) == 16
    with pytest.raises(ModelError, match="^bad w index: 16 is not in 0..15$"):
        latents.resolution_of_w_index(16, t_net)


def test_sefa_reads_the_conv_layers(t_net):
    d = sefa(t_net)
    assert d.layers == tuple(range(1, 15))  # not the input's transform (0) nor ToRGB (15)
    assert d.directions.shape[1] == 16


def test_the_explorer_worker_opens_and_renders_it(t_pickle, tmp_path, monkeypatch):
    for key, value in (("SDL_VIDEODRIVER", "dummy"), ("SDL_AUDIODRIVER", "dummy"), ("PYGAME_HIDE_SUPPORT_PROMPT", "1")):
        monkeypatch.setenv(key, value)
    import pygame

    from explorer.pins import ENV_VAR
    from explorer.renderer import RENDER_EVENT, Renderer

    def wait(count: int) -> list:
        got, end = [], time.perf_counter() + 60
        while len(got) < count:
            assert time.perf_counter() < end, [r.kind for r in got]
            event = pygame.event.wait(100)
            if event.type == RENDER_EVENT:
                got.append(event.result)
        return got

    monkeypatch.setenv(ENV_VAR, str(tmp_path / "data"))
    pygame.init()
    pygame.event.clear()
    renderer = Renderer("cpu", "exact")
    try:
        renderer.open(t_pickle)
        opened, directions = wait(2)
        assert opened.kind == "model" and opened.info.num_ws == 16 and len(opened.info.bands) == 3
        assert directions.kind == "directions" and directions.sets[0].name == "SeFa"
        renderer.render(LatentSpec(1))
        [image] = wait(1)
        assert hashlib.sha256(image.images[0].tobytes()).hexdigest() == T_DIGESTS[1]
    finally:
        renderer.close()
        pygame.quit()


# -- refused ---------------------------------------------------------------------------------------------------


def test_unknown_keyword(t_net, tmp_path):
    pk = sg3_pickle(t_net)
    pk["G_ema"].meta["state"]["_init_kwargs"]["sampling_mode"] = "x"
    refused(pk, tmp_path, "unsupported network: unknown StyleGAN3 keyword 'sampling_mode'")


def test_keywords_that_size_the_network_are_bounded(t_net, tmp_path):
    pk = sg3_pickle(t_net)
    pk["G_ema"].meta["state"]["_init_kwargs"]["filter_size"] = 10 ** 6
    refused(pk, tmp_path, "unsupported network: StyleGAN3 filter_size 1000000 (expected an integer in 1..64)")


def test_shapes_follow_the_keywords(t_net, tmp_path):
    pk = sg3_pickle(t_net)
    pk["G_ema"].meta["state"]["_init_kwargs"]["conv_kernel"] = 1
    refused(pk, tmp_path, "incompatible weights: 'synthesis.L0_36_32.weight' has shape [32, 32, 3, 3], "
                          "expected [32, 32, 1, 1]")


def test_filters_must_be_the_designed_low_pass(t_net, tmp_path):
    pk = sg3_pickle(t_net)
    layer_state(pk, "L0_36_32")["_buffers"]["up_filter"] = torch.full([12], 1 / 12)
    refused(pk, tmp_path, "incompatible weights: 'synthesis.L0_36_32.up_filter' is not the low-pass filter its "
                          "layer's schedule designs")


@pytest.mark.parametrize("layer, attr, value, message", [
    ("L3_36_32", "padding", [np.int64(8), np.int64(8), np.int64(9), np.int64(8)],
     "'synthesis.L3_36_32' has padding=list, expected [9, 8, 9, 8]"),
    ("L5_52_27", "up_factor", 2, "'synthesis.L5_52_27' has up_factor=2, expected 4"),
    ("input", "size", np.array([36, 52]), "'synthesis.input' has size=ndarray, expected 36"),
    ("L12_52_8", "is_critically_sampled", np.bool_(False), "'synthesis.L12_52_8' has is_critically_sampled=False, "
                                                            "expected True"),
])
def test_schedule_attributes_are_cross_checked(t_net, tmp_path, layer, attr, value, message):
    pk = sg3_pickle(t_net)
    layer_state(pk, layer)[attr] = value
    refused(pk, tmp_path, f"incompatible weights: {message}")


def test_layer_names_are_cross_checked(tmp_path):
    """A file whose layer list names other sizes than its keywords' schedule gives is refused."""
    g = Generator(**T_KWARGS).eval()
    pk = sg3_pickle(g)
    pk["G_ema"].meta["state"]["_modules"]["synthesis"].meta["state"]["layer_names"][0] = "L0_52_32"
    refused(pk, tmp_path, "incompatible weights: 'synthesis' has layer_names=list, expected "
                          f"{g.synthesis.layer_names}")
