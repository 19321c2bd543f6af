"""Keyframes and latent paths of interpolation videos (model/video.py) on a tiny network."""

import weakref

import numpy as np
import pytest
import torch

from model import latents
from model.errors import ModelError
from model.render import input_transform, render_spec, spec_ws, synthesize
from model.spec import LatentSpec, Mix, W
from model.video import CUBIC_MARGIN, latent_path, path_frames, upscale
from tests.model.conformance import make_g
from tests.model.sg3_fixture import make_t


@pytest.fixture(scope="module")
def G():
    return make_g()


def test_explicit_w_is_truncated_like_the_mapping(G):
    w = np.random.RandomState(1).randn(6, 32).astype(np.float32)
    ws = spec_ws(G, LatentSpec(w=W.of(w), psi=0.5, cutoff=2))[0].numpy()
    w_avg = G.mapping.w_avg.numpy()
    np.testing.assert_allclose(ws[:2], w_avg + (w[:2] - w_avg) * 0.5, rtol=1e-6, atol=1e-6)
    assert np.array_equal(ws[2:], w[2:])


@pytest.mark.parametrize("interpolation", ["w-lerp", "w-cubic", "z-slerp"])
@pytest.mark.parametrize("loop", [False, True])
def test_path_passes_through_every_keyframe(G, interpolation, loop):
    keys = [LatentSpec(1, psi=0.7), LatentSpec(5, psi=0.5, cutoff=3, mix=Mix(2, 0, 1)), LatentSpec(9, mix=Mix(4, 5, 5))]
    path = latent_path(G, keys, interpolation, 5, loop=loop)
    assert path.count == latents.frame_count(3, 5, loop) == (15 if loop else 11)
    ws, transform = path_frames(G, path, 0, path.count)
    assert transform is None  # no keyframe moves the input
    assert ws.shape == (path.count, G.num_ws, G.w_dim)
    for i, key in enumerate(keys):
        expected = spec_ws(G, key)[0]
        if interpolation == "z-slerp":  # mapped in a batch: equal up to float rounding
            torch.testing.assert_close(ws[5 * i], expected, rtol=1e-5, atol=1e-5)
        else:
            assert torch.equal(ws[5 * i], expected)
    assert not torch.equal(ws[1], ws[0]) and not torch.equal(ws[1], ws[5])
    chunked = torch.cat([path_frames(G, path, a, min(a + 4, path.count))[0] for a in range(0, path.count, 4)])
    torch.testing.assert_close(chunked, ws, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("interpolation", ["w-lerp", "w-cubic", "z-slerp"])
@pytest.mark.parametrize("loop", [False, True])
def test_long_path_keeps_a_window_of_keys_and_gives_the_whole_paths_values(G, interpolation, loop):
    """Memory must not grow with the keyframes: only a window of keys' latents lives at once, yet bit-exact."""
    count = 2 * CUBIC_MARGIN + 12
    keys = [LatentSpec(i, psi=0.5 + i % 3 / 4, cutoff=i % 4 or None, mix=Mix(i + 100, 1, 2) if i % 5 == 0 else None)
            for i in range(count)]
    path = latent_path(G, keys, interpolation, 2, loop=loop)
    whole = {name: np.stack([path.key_values(i)[name] for i in range(count)]) for name in path.methods}
    t = np.arange(path.count) / 2
    alive, compute = [], path.key_values

    def tracked(i):
        values = compute(i)
        alive.extend(weakref.ref(value) for value in values.values())
        return values

    path.key_values = tracked
    most = 0  # keys whose values are alive at once
    for start in range(0, path.count, 5):
        values = path.at(start, min(start + 5, path.count))
        most = max(most, sum(ref() is not None for ref in alive) // len(path.methods))
        for name, method in path.methods.items():
            assert np.array_equal(values[name], latents.path_at(whole[name], t[start:start + 5], method, loop=loop))
    assert most <= (2 * CUBIC_MARGIN if interpolation == "w-cubic" else 0) + 5 < count


def test_upscale_is_bicubic_and_identity_at_scale_1():
    frames = np.random.RandomState(0).randint(0, 256, [2, 8, 8, 3]).astype(np.uint8)
    assert upscale(frames, 1) is frames
    big = upscale(frames, 2)
    assert big.shape == (2, 16, 16, 3) and big.dtype == np.uint8
    flat = np.full([1, 4, 4, 3], 77, np.uint8)
    assert np.array_equal(upscale(flat, 3), np.full([1, 12, 12, 3], 77, np.uint8))


@pytest.fixture(scope="module")
def T():
    return make_t()


@pytest.mark.parametrize("interpolation", ["w-lerp", "w-cubic", "z-slerp"])
def test_a_stylegan3_path_moves_the_input_through_every_keyframe(T, interpolation):
    keys = [LatentSpec(1, rotate=30.0), LatentSpec(2, translate=(0.1, -0.2), rotate=-20.0), LatentSpec(3, rotate=5.0)]
    path = latent_path(T, keys, interpolation, 4)
    ws, transform = path_frames(T, path, 0, path.count)
    assert transform.shape == (path.count, 3, 3)
    for i, key in enumerate(keys):  # a keyframe's frame is the pin's image
        frame = synthesize(T, ws[4 * i:4 * i + 1], "const", "exact", transform[4 * i:4 * i + 1])[0]
        if interpolation == "z-slerp":  # mapped in a batch: ws equal up to float rounding, so compare loosely
            assert np.abs(frame.astype(int) - render_spec(T, key).astype(int)).max() <= 1
        else:
            assert np.array_equal(frame, render_spec(T, key))
    if interpolation == "w-lerp":  # halfway between keys 0 and 1: half the move, as NVlabs builds a transform
        torch.testing.assert_close(transform[2], input_transform((0.05, -0.1), 5.0))
    assert not torch.equal(transform[1], transform[0]) and not torch.equal(transform[1], transform[4])


def test_the_input_turns_the_short_way_round(T):
    path = latent_path(T, [LatentSpec(1, rotate=170.0), LatentSpec(1, rotate=-170.0)], "w-lerp", 2)
    _, transform = path_frames(T, path, 0, path.count)
    torch.testing.assert_close(transform[1], input_transform((0.0, 0.0), 180.0))  # through 180°, not 0°


def test_a_stylegan2_path_refuses_a_moved_input_before_any_frame(G):
    with pytest.raises(ModelError, match="StyleGAN3"):
        latent_path(G, [LatentSpec(1), LatentSpec(2, rotate=10.0)], "w-lerp", 4)


@pytest.mark.parametrize("interpolation", ["w-lerp", "w-cubic"])
def test_a_looping_path_closes_the_short_way_round(T, interpolation):
    """0 -> 120 -> 240 (= -120) -> back to 0 turns +120° each step: a full turn per lap, never back by 240°."""
    keys = [LatentSpec(1, rotate=0.0), LatentSpec(2, rotate=120.0), LatentSpec(3, rotate=-120.0)]
    path = latent_path(T, keys, interpolation, 8, loop=True)
    whole = path_frames(T, path, 0, path.count)[1]
    angles = torch.rad2deg(torch.atan2(whole[:, 1, 0], whole[:, 0, 0])).numpy()  # the input's rotation per frame
    steps = (np.diff(np.append(angles, angles[:1])) + 180) % 360 - 180
    assert np.all(steps > 0) and abs(steps.sum() - 360) < 1e-3  # every frame, the closing one too, turns forward
    for start in range(0, path.count, 5):  # ranges of frames equal the whole path's
        torch.testing.assert_close(path_frames(T, path, start, min(start + 5, path.count))[1],
                                   whole[start:start + 5])
