"""Tests for model/latents.py: seeds, ranges, labels, truncation, style mixing and keyframe paths."""

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from model.errors import ModelError
from model.latents import (
    EASINGS,
    METHODS,
    frame_count,
    interpolate,
    layer_ranges,
    mix_styles,
    num_ws_at,
    one_hot,
    parse_range,
    path_at,
    range_label,
    resolution_of_w_index,
    seed_to_z,
    seeds_to_z,
    truncate,
)
from model.networks import MappingNetwork, SynthesisNetwork
from model.spec import MAX_SEED

RESOLUTIONS = [2**k for k in range(2, 11)]

# ---------------------------------------------------------------------------------------------------------
# Seeds, ranges, labels


def test_seed_to_z_matches_spec_check_values():
    z = seed_to_z(0, 8)
    assert z.shape == (1, 8) and z.dtype == np.float64
    assert z[0, :4].tolist() == [1.764052345967664, 0.4001572083672233, 0.9787379841057392, 2.240893199201458]


def test_seed_bounds_and_types():
    assert seed_to_z(MAX_SEED, 3).shape == (1, 3)
    assert seed_to_z(np.uint32(7), 3).tolist() == seed_to_z(7, 3).tolist()
    for bad in (-1, MAX_SEED + 1, 1.0, "3", True, None):
        with pytest.raises(ModelError, match="^bad seed:"):
            seed_to_z(bad, 3)


def test_seeds_to_z_stacks_rows():
    z = seeds_to_z([5, 0, 5], 6)
    assert z.shape == (3, 6)
    assert np.array_equal(z[1], seed_to_z(0, 6)[0])
    assert np.array_equal(z[0], z[2]) and not np.array_equal(z[0], z[1])
    assert seeds_to_z([], 6).shape == (0, 6)


def test_parse_range_accepts_lists_and_ranges():
    assert parse_range("0-3,42") == [0, 1, 2, 3, 42]
    assert parse_range(" 7 , 2 - 4 ,7") == [7, 2, 3, 4, 7]
    assert parse_range("5-5") == [5]
    assert parse_range("12") == [12]


@pytest.mark.parametrize("text", ["", ",", "1,,2", "a", "-1", "1-", "1--3", "1-2-3", "9-0", "1.5", "²", "0-99999999"])
def test_parse_range_rejects_bad_text(text):
    with pytest.raises(ModelError, match="^bad range:"):
        parse_range(text)


def test_one_hot():
    label = one_hot(1, 3)
    assert label.dtype == np.float32 and label.tolist() == [[0, 1, 0]]
    assert one_hot(np.int64(2), 3).tolist() == [[0, 0, 1]]
    assert one_hot(None, 0).shape == (1, 0)
    assert one_hot(5, 0).shape == (1, 0)  # unconditional: the class is ignored (the caller warns)


@pytest.mark.parametrize("class_idx", [None, 3, -1, True, 1.0])
def test_one_hot_rejects_missing_or_bad_class(class_idx):
    with pytest.raises(ModelError, match="^bad class:"):
        one_hot(class_idx, 3)


# ---------------------------------------------------------------------------------------------------------
# Truncation


def _ws(n=2, num_ws=6, w_dim=5, seed=0):
    return torch.from_numpy(np.random.RandomState(seed).randn(n, num_ws, w_dim).astype(np.float32))


@pytest.mark.parametrize("psi", [0.7, 0.5, -0.3, 1.5])
@pytest.mark.parametrize("cutoff", [None, 0, 2, 6, 9])
def test_truncate_formula_and_cutoff(psi, cutoff):
    ws, w_avg = _ws(), _ws(1, 1, 5, seed=1)[0, 0]
    before = ws.clone()
    out = truncate(ws, w_avg, psi, cutoff)
    assert torch.equal(ws, before), "input modified"
    k = ws.shape[1] if cutoff is None else min(cutoff, ws.shape[1])
    manual = w_avg + psi * (ws - w_avg)
    torch.testing.assert_close(out[:, :k], manual[:, :k], rtol=0, atol=1e-6)
    assert torch.equal(out[:, k:], ws[:, k:])
    if k:
        assert not torch.equal(out[:, :k], ws[:, :k])


def test_truncate_psi_one_is_an_identity_copy():
    ws, w_avg = _ws(), _ws(1, 1, 5, seed=1)[0, 0]
    out = truncate(ws, w_avg, 1.0, None)
    assert torch.equal(out, ws) and out.data_ptr() != ws.data_ptr()
    assert torch.equal(truncate(ws[0], w_avg, 1, 3), ws[0])


def test_truncate_rejects_bad_cutoff():
    with pytest.raises(ModelError, match="^bad truncation cutoff:"):
        truncate(_ws(), torch.zeros(5), 0.5, -1)


@pytest.mark.parametrize("psi, cutoff", [(0.7, None), (0.5, 2), (0.3, 4), (-0.2, None), (1, None)])
def test_truncate_is_bit_identical_to_mapping(psi, cutoff):
    torch.manual_seed(0)
    mapping = MappingNetwork(z_dim=8, c_dim=0, w_dim=8, num_ws=6, num_layers=2)
    mapping.w_avg.copy_(torch.randn(8))
    z = torch.randn(3, 8)
    with torch.no_grad():
        expected = mapping(z, None, truncation_psi=psi, truncation_cutoff=cutoff)
        got = truncate(mapping(z, None), mapping.w_avg, psi, cutoff)
    assert torch.equal(got, expected)


# ---------------------------------------------------------------------------------------------------------
# w-index ownership and style mixing


def _conv_owners(img_resolution):
    """Owner resolution of each w index, read off the real synthesis network's blocks (spec §4.8)."""
    net = SynthesisNetwork(w_dim=2, img_resolution=img_resolution, img_channels=1, channel_base=2 * img_resolution,
                           channel_max=2, use_noise=False)
    owners, w_idx = [], 0
    for res, block in zip(net.block_resolutions, net.blocks(), strict=True):
        owners += [res] * block.num_conv
        w_idx += block.num_conv
    owners += [net.block_resolutions[-1]] * (net.num_ws - w_idx)  # the last ToRGB's own index
    return owners


@pytest.mark.parametrize("img_resolution", RESOLUTIONS)
def test_w_index_owner_follows_the_network(img_resolution):
    owners = _conv_owners(img_resolution)
    assert len(owners) == num_ws_at(img_resolution)
    assert [resolution_of_w_index(i, img_resolution) for i in range(len(owners))] == owners


@pytest.mark.parametrize("img_resolution", RESOLUTIONS)
def test_layer_ranges_partition_the_w_indices(img_resolution):
    ranges = layer_ranges(img_resolution)
    num_ws = num_ws_at(img_resolution)
    assert list(ranges) == [n for n in ("coarse", "middle", "fine") if n in ranges]
    assert [i for r in ranges.values() for i in r] == list(range(num_ws))
    assert all(len(r) > 0 for r in ranges.values())
    assert num_ws - 1 in ranges["fine"]  # the top layers are always 'fine'
    owner = {i: resolution_of_w_index(i, img_resolution) for i in range(num_ws)}
    if img_resolution >= 64:  # the paper's bands, unchanged
        assert {owner[i] for i in ranges["coarse"]} == {4, 8}
        assert {owner[i] for i in ranges["middle"]} == {16, 32}
        assert min(owner[i] for i in ranges["fine"]) == 64


def test_layer_ranges_at_1024_and_labels():
    ranges = layer_ranges(1024)
    assert sum(len(r) for r in ranges.values()) == 18
    # spec §5.5: indices 0-6 are b4..b32, i.e. coarse + middle.
    assert list(ranges["coarse"]) + list(ranges["middle"]) == list(range(7))
    assert {k: range_label(r, 1024) for k, r in ranges.items()} == {
        "coarse": "4²–8²", "middle": "16²–32²", "fine": "64²–1024²"}
    assert range_label(range(17, 18), 1024) == "1024²"


def test_small_nets_keep_a_fine_band():
    assert set(layer_ranges(32)) == {"coarse", "middle", "fine"}
    assert range_label(layer_ranges(32)["fine"], 32) == "32²"
    assert set(layer_ranges(16)) == {"coarse", "fine"}


@pytest.mark.parametrize("bad", [0, 3, 12, 48, 4.0, True])
def test_bad_resolution(bad):
    with pytest.raises(ModelError, match="^bad resolution:"):
        layer_ranges(bad)


def test_bad_w_index():
    for bad in (-1, 6, 1.0):
        with pytest.raises(ModelError, match="^bad w index:"):
            resolution_of_w_index(bad, 16)
    with pytest.raises(ModelError, match="^bad w index:"):
        range_label(range(0), 16)


@pytest.mark.parametrize("as_numpy", [False, True])
def test_mix_styles_takes_listed_rows_from_the_source(as_numpy):
    dst, src = _ws(3, 6, 4, seed=1), _ws(1, 6, 4, seed=2)[0]
    if as_numpy:
        dst, src = dst.numpy(), src.numpy()
    before = dst.copy() if as_numpy else dst.clone()
    out = mix_styles(dst, src, [0, 2, 3])
    assert type(out) is type(dst) and out.shape == dst.shape
    for n in range(3):
        for i in range(6):
            expected = src[i] if i in (0, 2, 3) else dst[n, i]
            assert np.array_equal(np.asarray(out[n, i]), np.asarray(expected))
    assert np.array_equal(np.asarray(dst), np.asarray(before)), "input modified"
    assert np.array_equal(np.asarray(mix_styles(dst, src, [])), np.asarray(dst))


def test_mix_styles_rejects_bad_indices_and_shapes():
    dst = _ws(1, 6, 4)
    with pytest.raises(ModelError, match="^bad w index:"):
        mix_styles(dst, dst, [0, 6])
    with pytest.raises(ModelError, match="^bad w index:"):
        mix_styles(dst, dst, [-1])
    with pytest.raises(ModelError, match="^bad w shape:"):
        mix_styles(dst, _ws(1, 8, 4), [0])


# ---------------------------------------------------------------------------------------------------------
# Keyframe paths


def _keys(k=4, shape=(3, 5), seed=0, dtype=np.float64):
    return np.random.RandomState(seed).randn(k, *shape).astype(dtype)


@pytest.mark.parametrize("loop", [False, True])
@pytest.mark.parametrize("num_keys, n", [(1, 1), (1, 4), (2, 1), (3, 5), (5, 2)])
def test_frame_counts(num_keys, n, loop):
    frames = interpolate(_keys(num_keys), n, loop=loop)
    expected = num_keys * n if loop else (num_keys - 1) * n + 1
    assert frames.shape == (expected, 3, 5) == (frame_count(num_keys, n, loop), 3, 5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("loop", [False, True])
@pytest.mark.parametrize("easing", list(EASINGS))
@pytest.mark.parametrize("method", METHODS)
def test_keyframes_are_hit_exactly(method, easing, loop, dtype):
    keys = _keys(4, (2, 6), dtype=dtype)
    keys[1, 0, 0] = -0.0
    n = 7
    frames = interpolate(keys, n, method, easing, loop)
    assert frames.dtype == dtype
    for i in range(4):
        assert frames[i * n].tobytes() == keys[i].tobytes()
        assert path_at(keys, i, method, easing, loop).tobytes() == keys[i].tobytes()
    if not loop:
        assert frames[-1].tobytes() == keys[-1].tobytes()


@pytest.mark.parametrize("loop", [False, True])
@pytest.mark.parametrize("method", METHODS)
def test_path_at_agrees_with_interpolate(method, loop):
    keys, n = _keys(3), 4
    frames = interpolate(keys, n, method, "ease-in-out", loop)
    t = np.arange(len(frames)) / n
    np.testing.assert_allclose(path_at(keys, t, method, "ease-in-out", loop), frames, rtol=0, atol=1e-12)
    assert path_at(keys, 0.5, method, loop=loop).shape == (3, 5)


def test_path_at_wraps_when_looping_and_checks_range_otherwise():
    keys = _keys(3)
    for method in METHODS:
        assert np.array_equal(path_at(keys, 3.0, method, loop=True), keys[0])
        np.testing.assert_allclose(path_at(keys, -0.25, method, loop=True), path_at(keys, 2.75, method, loop=True),
                                   rtol=0, atol=1e-12)
    for bad in (-0.1, 2.01, np.nan, [0.5, np.inf]):
        with pytest.raises(ModelError, match="^bad path position:"):
            path_at(keys, bad)


def test_lerp_and_slerp_midpoints():
    a, b = np.array([1.0, 0.0, 0.0]), np.array([0.0, 2.0, 0.0])
    keys = np.stack([a, b])
    np.testing.assert_allclose(path_at(keys, 0.5, "lerp"), (a + b) / 2, atol=1e-15)
    u, v = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    np.testing.assert_allclose(path_at(np.stack([u, v]), 0.5, "slerp"), [0.5**0.5, 0.5**0.5], atol=1e-15)


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.float64, (2, 4), elements=st.floats(-10, 10)), st.floats(0, 1))
def test_slerp_keeps_unit_norm_and_constant_angular_speed(vectors, t):
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    assume(np.all(norms > 1e-3))
    a, b = vectors / norms
    assume(a @ b > -0.99)  # (near-)opposite vectors have no unique arc
    point = path_at(np.stack([a, b]), t, "slerp")
    assert abs(np.linalg.norm(point) - 1) < 1e-9
    angle = np.arccos(np.clip(a @ b, -1, 1))
    if angle > 1e-3:
        assert abs(np.arccos(np.clip(a @ point, -1, 1)) - t * angle) < 1e-6


@pytest.mark.parametrize("loop", [False, True])
@pytest.mark.parametrize("easing", list(EASINGS))
@pytest.mark.parametrize("method", METHODS)
def test_identical_and_degenerate_keys_give_no_nan(method, easing, loop):
    same = np.repeat(_keys(1), 3, axis=0)
    frames = interpolate(same, 5, method, easing, loop)
    assert np.all(np.isfinite(frames))
    np.testing.assert_allclose(frames, np.broadcast_to(same[0], frames.shape), rtol=0, atol=1e-12)
    v = np.array([[1.0, 2.0, 3.0]])
    for keys in (np.concatenate([v, -v, 0 * v]), np.zeros([3, 3])):
        assert np.all(np.isfinite(interpolate(keys, 5, method, easing, loop)))


def test_cubic_reproduces_straight_lines():
    direction, start = np.array([[1.0, -2.0]]), np.array([[0.5, 3.0]])
    keys = start + np.arange(5.0)[:, None, None] * direction
    t = np.linspace(0, 4, 33)
    np.testing.assert_allclose(path_at(keys, t, "cubic"), start + t[:, None, None] * direction, atol=1e-12)
    two = _keys(2)
    np.testing.assert_allclose(interpolate(two, 9, "cubic"), interpolate(two, 9, "lerp"), atol=1e-12)


def _bend(frames, index):
    """Size of the second difference at ``index`` (wrapping): ~h² on a smooth path, ~h at a kink."""
    return np.linalg.norm(frames[(index + 1) % len(frames)] - 2 * frames[index] + frames[index - 1])


def test_loop_closes_smoothly():
    keys, n = _keys(4, (6,), seed=3), 200
    frames = interpolate(keys, n, "cubic", loop=True)
    neighbours = [_bend(frames, i) for i in (-2, -1, 1, 2)]
    assert max(neighbours) > 0
    np.testing.assert_allclose(_bend(frames, 0), neighbours, rtol=0.05)
    kinked = interpolate(keys, n, "lerp", loop=True)  # the same check fails on a path with a corner
    assert _bend(kinked, 0) > 10 * max(_bend(kinked, i) for i in (-2, -1, 1, 2))
    # The seam is an ordinary knot: rotating the keys rotates the frames.
    rotated = interpolate(np.roll(keys, -1, axis=0), n, "cubic", loop=True)
    np.testing.assert_allclose(rotated, np.roll(frames, -n, axis=0), atol=1e-12)
    # The step across the seam matches its neighbours' steps.
    steps = np.linalg.norm(np.diff(np.concatenate([frames[-2:], frames[:2]]), axis=0), axis=1)
    np.testing.assert_allclose(steps, steps[1], rtol=0.01)


@pytest.mark.parametrize("loop", [False, True])
def test_cubic_is_c2_at_knots(loop):
    keys, n = _keys(5, (4,), seed=4), 400
    frames = interpolate(keys, n, "cubic", loop=loop)
    accel = np.diff(frames, 2, axis=0) * n * n  # second derivative at frames 1..F-2
    for knot in range(1, 4):
        left, right = accel[knot * n - 2], accel[knot * n]  # frames knot*n - 1 and knot*n + 1
        assert np.linalg.norm(right - left) < 0.05 * np.linalg.norm(accel, axis=1).max()


def test_easing_slows_down_at_keys():
    keys, n = _keys(3, (4,)), 20
    linear = np.linalg.norm(np.diff(interpolate(keys, n, "lerp"), axis=0), axis=1)
    eased = np.linalg.norm(np.diff(interpolate(keys, n, "lerp", "ease-in-out"), axis=0), axis=1)
    np.testing.assert_allclose(linear[:n], linear[0])  # constant speed within a transition
    assert eased[0] < 0.1 * eased[n // 2] and eased[n - 1] < 0.1 * eased[n // 2]


@pytest.mark.parametrize("name", list(EASINGS))
def test_easings_map_unit_interval_monotonically(name):
    u = np.linspace(0, 1, 101)
    e = EASINGS[name](u)
    assert e[0] == 0 and e[-1] == 1 and np.all(np.diff(e) > 0)


def test_integer_keys_give_float64():
    frames = interpolate(np.array([[0, 0], [2, 4]]), 2)
    assert frames.dtype == np.float64 and frames[1].tolist() == [1.0, 2.0]


@pytest.mark.parametrize("keys, n, method, easing, prefix", [
    (np.zeros([0, 3]), 2, "lerp", "linear", "bad keyframes:"),
    (np.zeros([3]), 2, "lerp", "linear", "bad keyframes:"),
    (np.array([[0.0, np.nan]]), 2, "lerp", "linear", "bad keyframes:"),
    (np.zeros([2, 3]), 0, "lerp", "linear", "bad frame count:"),
    (np.zeros([2, 3]), 2.0, "lerp", "linear", "bad frame count:"),
    (np.zeros([2, 3]), 2, "spline", "linear", "bad interpolation:"),
    (np.zeros([2, 3]), 2, "lerp", "bounce", "bad interpolation:"),
])
def test_interpolate_rejects_bad_arguments(keys, n, method, easing, prefix):
    with pytest.raises(ModelError, match=f"^{prefix}"):
        interpolate(keys, n, method, easing)
