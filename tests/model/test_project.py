"""Projection on a tiny network: it finds a latent the network can render, keeps W+ no worse than its W start,
repeats itself for a seed, reports progress and stops on request; the losses and the target loader."""

import threading

import numpy as np
import pytest
import torch
from PIL import Image

from model.errors import ModelError
from model.image_prep import load_target
from model.losses import VGG16Features, feature_distance, load_vgg16, ms_ssim
from model.project import Cancelled, Schedule, noise_buffers, project, psnr
from model.render import spec_ws, synthesize
from model.spec import LatentSpec
from tests.model.conformance import make_g

FAST = Schedule(w_samples=1000)  # NVlabs' numbers, but fewer samples for the w statistics


@pytest.fixture(scope="module")
def G():
    return make_g()


@pytest.fixture(scope="module")
def made(G):
    """An image the network makes from a known w (seed 5 at ψ 0.7, so w is the same at every index)."""
    return synthesize(G, spec_ws(G, LatentSpec(5, psi=0.7)))[0]


@pytest.fixture(scope="module")
def fitted(G, made):
    losses = []
    result = project(G, made, "w+", steps=60, schedule=FAST, progress=lambda step: losses.append(step.loss))
    return result, losses


def test_projection_recovers_an_image_the_network_made(G, made, fitted):
    result, losses = fitted
    random_image = synthesize(G, spec_ws(G, LatentSpec(77)))[0]
    assert psnr(result.start.image, made) > psnr(random_image, made) + 12
    assert np.mean(losses[-5:]) < 0.2 * np.mean(losses[:5])
    assert result.w.shape == (G.num_ws, G.w_dim) and result.w.dtype == np.float32
    assert np.array_equal(result.start.w, np.repeat(result.start.w[:1], G.num_ws, axis=0))  # W: one w everywhere
    rendered = synthesize(G, torch.from_numpy(result.w)[None], "const", "exact")[0]
    assert np.array_equal(rendered, result.image)  # the image it reports is what the w renders


def test_w_plus_is_never_worse_than_its_w_start(G, made, fitted):
    result, _ = fitted
    assert result.loss <= result.start.loss and psnr(result.image, made) >= psnr(result.start.image, made) - 0.1
    noise_target = np.random.RandomState(0).randint(0, 256, made.shape).astype(np.uint8)  # nothing fits it well
    hard = project(G, noise_target, "w+", steps=8, schedule=Schedule(w_samples=1000, lr=5.0))
    assert hard.loss <= hard.start.loss


def test_a_seed_repeats_exactly_and_another_differs(G, made):
    runs = [project(G, made, steps=6, seed=s, schedule=FAST, optimize_noise=True) for s in (3, 3, 4)]
    assert np.array_equal(runs[0].w, runs[1].w) and np.array_equal(runs[0].image, runs[1].image)
    assert runs[0].noise.keys() == runs[1].noise.keys()
    assert all(np.array_equal(runs[0].noise[k], runs[1].noise[k]) for k in runs[0].noise)
    assert not np.array_equal(runs[0].w, runs[2].w)


def test_optimised_noise_is_renormalised_and_the_callers_network_is_untouched(G, made):
    before = {k: v.clone() for k, v in noise_buffers(G).items()}
    params = [p.clone() for p in G.parameters()]
    result = project(G, made, steps=5, schedule=FAST, optimize_noise=True)
    assert result.noise.keys() == before.keys()
    for name, value in result.noise.items():
        assert abs(value.mean()) < 1e-4 and abs(value.std() - 1) < 1e-3
        assert not np.allclose(value, before[name].numpy())
    assert all(torch.equal(b, noise_buffers(G)[k]) for k, b in before.items())
    assert all(torch.equal(a, b) for a, b in zip(params, G.parameters(), strict=True))
    assert all(p.grad is None for p in G.parameters())
    assert project(G, made, steps=2, schedule=FAST).noise == {}


def test_progress_reports_every_step_with_an_image_every_few_and_cancel_stops_it(G, made):
    steps, stop = [], threading.Event()

    def progress(step):
        steps.append(step)
        if step.step == 7:
            stop.set()

    with pytest.raises(Cancelled):
        project(G, made, "w+", steps=10, schedule=FAST, progress=progress, cancel=stop.is_set, preview_every=3)
    assert [s.step for s in steps] == list(range(1, 8)) and {s.total for s in steps} == {20}
    assert [s.step for s in steps if s.image is not None] == [3, 6]
    assert steps[2].image.shape == made.shape and steps[2].image.dtype == np.uint8


def test_bad_arguments_are_one_line_model_errors(G, made):
    with pytest.raises(ModelError, match="this network makes uint8 \\[16, 16, 3\\]"):
        project(G, made[:8], steps=1)
    with pytest.raises(ModelError, match="unknown latent space"):
        project(G, made, "z", steps=1)


def test_schedule_follows_nvlabs_numbers():
    s = Schedule()
    lr0, noise0 = s.at(0.0)
    assert lr0 == 0 and noise0 == pytest.approx(0.05)
    assert s.at(0.05)[0] == pytest.approx(0.1) and s.at(0.5)[0] == pytest.approx(0.1)
    assert s.at(0.875)[0] == pytest.approx(0.05) and s.at(0.375)[1] == pytest.approx(0.05 * 0.25)
    assert s.at(0.8)[1] == 0


def test_ms_ssim_is_one_for_equal_images_and_falls_with_noise():
    gen = torch.Generator().manual_seed(0)
    x = torch.rand([1, 3, 64, 64], generator=gen) * 2 - 1
    noisy = [x + s * torch.randn(x.shape, generator=gen) for s in (0.05, 0.2, 0.8)]
    values = [float(ms_ssim(x, x))] + [float(ms_ssim(n, x)) for n in noisy]
    assert values[0] == pytest.approx(1, abs=1e-5) and values == sorted(values, reverse=True)
    assert float(ms_ssim(x[:, :, :16, :16], noisy[0][:, :, :16, :16])) < 1  # small images use fewer scales


def test_vgg16_weights_load_by_torchvisions_names_and_anything_else_is_refused(tmp_path):
    net = VGG16Features()
    state = {f"features.{k}": v for k, v in net.features.state_dict().items()}
    state["classifier.0.weight"] = torch.zeros(2, 2)  # torchvision's file holds the classifier too
    torch.save(state, tmp_path / "vgg16.pth")
    loaded = load_vgg16(tmp_path / "vgg16.pth")
    img = torch.rand([1, 3, 16, 16]) * 2 - 1
    feats = loaded(img)
    assert [f.shape[1] for f in feats] == [64, 128, 256, 512, 512]
    assert float(feature_distance(feats, feats)) == 0 and float(feature_distance(feats, loaded(-img))) > 0
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), tmp_path / "script.pt")
    (tmp_path / "text.pth").write_text("not weights")
    del state["features.28.weight"]
    torch.save(state, tmp_path / "short.pth")
    for name, message in (("script.pt", "script.pt as VGG16 weights: it is a TorchScript program"),
                          ("text.pth", "cannot read text.pth as VGG16 weights"),
                          ("short.pth", "features.28.weight is missing")):
        with pytest.raises(ModelError, match=message) as error:
            load_vgg16(tmp_path / name)
        assert "\n" not in str(error.value)


def test_targets_are_framed_like_the_dataset_and_bad_files_are_one_line(tmp_path):
    rgba = np.zeros((40, 60, 4), dtype=np.uint8)
    rgba[:, 10:50] = (200, 0, 0, 255)  # an opaque red square in the middle of a transparent strip
    Image.fromarray(rgba).save(tmp_path / "a.png")
    target = load_target(tmp_path / "a.png", 16, 3)
    assert target.shape == (16, 16, 3) and target.dtype == np.uint8
    assert tuple(target[8, 8]) == (200, 0, 0)  # the centre crop is the red square, resized
    gray = load_target(tmp_path / "a.png", 8, 1)
    assert gray.shape == (8, 8, 1)
    Image.fromarray(np.full((8, 8), 77, dtype=np.uint8)).save(tmp_path / "g.png")
    assert np.array_equal(load_target(tmp_path / "g.png", 8, 3), np.full((8, 8, 3), 77, dtype=np.uint8))
    (tmp_path / "text.png").write_text("hello")
    (tmp_path / "cut.png").write_bytes((tmp_path / "a.png").read_bytes()[:60])
    for name in ("text.png", "cut.png", "missing.png"):
        with pytest.raises(ModelError, match=f"cannot read {name} as an image") as error:
            load_target(tmp_path / name, 16, 3)
        assert "\n" not in str(error.value)
