"""StyleGAN3's input transform as part of a latent spec: rendered as NVlabs' gen_images.py --translate/--rotate,
per image in a batch, on both paths, without touching the shared network; `sgx generate --translate --rotate`."""

import hashlib

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from explorer.cli import main
from explorer.images import read_png_metadata
from model.errors import ModelError
from model.io import save_networks
from model.networks_sg3 import Generator
from model.render import render_spec, render_specs
from model.spec import LatentSpec

from .conformance import make_g
from .sg3_fixture import make_r, make_t

MOVED = LatentSpec(0, translate=(0.1, -0.2), rotate=30)  # the spec §7.1 "rot" rows: seed 0, psi 1
ROT_DIGESTS = {"T": "92757f0327dd7367530a69fa8323da2cee1aa13bdf81197e056b70d96a19a24e",
               "R": "c5c3dd6100bb825c1d8ac6135911c171a095383b93149b626541cf19a06af5bf"}
NETS = {"T": make_t(), "R": make_r()}


def digest(img: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(img).tobytes()).hexdigest()


@pytest.mark.parametrize("cfg", ["T", "R"])
def test_a_moved_spec_gives_nvlabs_pixels_alone_and_in_a_batch(cfg):
    g = NETS[cfg]
    stored = g.synthesis.input.transform.clone()
    plain = render_spec(g, LatentSpec(0), "exact")
    assert digest(render_spec(g, MOVED, "exact")) == ROT_DIGESTS[cfg]
    batch = render_specs(g, [LatentSpec(0), MOVED, LatentSpec(0, translate=(0.3, 0))], "exact")
    assert digest(batch[1]) == ROT_DIGESTS[cfg] and np.array_equal(batch[0], plain)
    assert not np.array_equal(batch[2], plain)
    assert torch.equal(g.synthesis.input.transform, stored)  # the network itself never moved


def test_the_fast_path_moves_the_input_too():
    g = NETS["T"]
    exact, fast = render_spec(g, MOVED, "exact").astype(float), render_spec(g, MOVED, "bf16").astype(float)
    assert 10 * np.log10(255.0 ** 2 / ((exact - fast) ** 2).mean()) >= 40


def test_a_translation_moves_the_content_by_image_widths():
    """Translate (0.25, 0) shifts a 64² image 16 pixels to the right, (0, 0.25) 16 down (away from the borders)."""
    torch.manual_seed(0)
    g = Generator(16, 0, 16, 64, 3, channel_base=1024, channel_max=32).eval()
    plain, right, down = (render_spec(g, LatentSpec(1, translate=t), "fp32").astype(float).mean(axis=2)
                          for t in ((0, 0), (0.25, 0), (0, 0.25)))
    for moved, axis in ((right, 1), (down, 0)):
        errors = {s: np.abs(np.roll(plain, s, axis)[20:44, 20:44] - moved[20:44, 20:44]).mean() for s in range(-20, 21)}
        assert min(errors, key=errors.get) == 16 and errors[16] < 0.1 * errors[0]


def test_stylegan2_refuses_a_move_in_one_line():
    with pytest.raises(ModelError, match="^translate and rotate need a StyleGAN3 network; this one is StyleGAN2$"):
        render_spec(make_g(0), LatentSpec(0, rotate=5), "exact")


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_sgx_generate_translate_and_rotate(tmp_path):
    net, sg2 = tmp_path / "t.safetensors", tmp_path / "g.safetensors"
    save_networks(net, {"G_ema": NETS["T"]})
    save_networks(sg2, {"G_ema": make_g(0)})
    result = run("generate", "--network", net, "--seeds", "0", "--translate", "0.1,-0.2", "--rotate", "30",
                 "--precision", "exact", "--outdir", tmp_path)
    assert result.exit_code == 0, result.output
    assert digest(np.asarray(Image.open(tmp_path / "seed0000.png"))) == ROT_DIGESTS["T"]
    meta = read_png_metadata(tmp_path / "seed0000.png")
    assert LatentSpec.from_json(meta) == MOVED
    for args, message in ((["--network", net, "--translate", "0.1"], "Error: bad --translate '0.1': expected two"),
                          (["--network", net, "--rotate", "nan"], "Error: bad rotate: nan"),
                          (["--network", sg2, "--rotate", "5"], "Error: translate and rotate need a StyleGAN3")):
        result = run("generate", *args, "--seeds", "1", "--outdir", tmp_path / "bad")
        assert result.exit_code == 2 and result.output.startswith(message), result.output
    assert not (tmp_path / "bad").exists()
