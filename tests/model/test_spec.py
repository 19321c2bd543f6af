"""The latent spec: validation, JSON (old recipes load unchanged), and the one spec -> ws function."""

import json

import numpy as np
import pytest
import torch

from model.errors import ModelError
from model.render import render_seed, render_spec, spec_ws
from model.spec import MAX_SEED, Edit, LatentSpec, Mix, W

from .conformance import make_g


@pytest.fixture(scope="module")
def g():
    return make_g(3)


def z_of(seed, g):
    return torch.from_numpy(np.random.RandomState(seed).randn(1, g.z_dim)).float()


def c_of(k, g):
    return torch.eye(g.c_dim)[[k]]


def test_a_seed_spec_is_json_identical_to_the_old_recipe():
    old = {"seed": 9, "psi": 1.0, "cutoff": 4, "class_idx": 2, "noise_mode": "none",
           "mix": {"seed": 3, "first": 0, "last": 3}}
    spec = LatentSpec.from_json(json.loads(json.dumps(old)))
    assert spec == LatentSpec(9, cutoff=4, class_idx=2, noise_mode="none", mix=Mix(3, 0, 3))
    assert spec.to_json() == old


def test_explicit_w_nested_mix_and_edits_round_trip_exactly():
    w = np.random.RandomState(0).randn(6, 32).astype(np.float32)
    inner = LatentSpec(w=W.of(w), psi=0.5)
    spec = LatentSpec(7, psi=0.7, mix=Mix(inner, 2, 4), edits=(Edit("sefa:1", -1.5, 0, 3),))
    again = LatentSpec.from_json(json.loads(json.dumps(spec.to_json())))
    assert again == spec and hash(again) == hash(spec)
    assert np.array_equal(again.mix.source.w.array(), w)
    assert W.of(w) == W.of(w.copy()) and W.of(w) != W.of(w + 1e-7)
    assert inner.label == f"w {W.of(w).digest}" and spec.label == "seed 7"


@pytest.mark.parametrize("doc,message", [
    ({"seed": -1}, "bad seed"),
    ({"seed": MAX_SEED + 1}, "bad seed"),
    ({"seed": True}, "bad seed"),
    ({}, "exactly one of a seed and a w"),
    ({"seed": 1, "w": {"shape": [1, 2], "float32_base64": "AAAAAAAAAAA="}}, "exactly one"),
    ({"seed": 1, "psi": float("nan")}, "bad psi"),
    ({"seed": 1, "psi": 10**400}, "bad psi"),
    ({"seed": 1, "psi": "0.5"}, "bad psi"),
    ({"seed": 1, "cutoff": -2}, "cutoff"),
    ({"seed": 1, "noise_mode": "loud"}, "noise mode"),
    ({"seed": 1, "mix": {"seed": 2, "first": 3, "last": 1}}, "after the last"),
    ({"seed": 1, "mix": [1]}, "bad mix"),
    ({"seed": 1, "edits": [{"direction": "", "strength": 1, "first": 0, "last": 0}]}, "direction id"),
    ({"seed": 1, "edits": {"a": 1}}, "edits must be a list"),
    ({"w": {"shape": [1, 2], "float32_base64": "AAAA"}}, "bytes for shape"),
    ({"w": {"shape": [1, 2], "float32_base64": "not base64!"}}, "not base64"),
    ({"w": {"shape": [1, 1], "float32_base64": "AADAfw=="}}, "non-finite"),  # nan
    ({"w": {"shape": [1000, 1000], "float32_base64": ""}}, "too large"),
    ({"seed": 1, "translate": [0.1]}, "bad translate"),
    ({"seed": 1, "translate": "0,0"}, "bad translate"),
    ({"seed": 1, "translate": [0, float("inf")]}, "bad translate y"),
    ({"seed": 1, "rotate": float("nan")}, "bad rotate"),
    ({"seed": 1, "rotate": 1e7}, "bad rotate"),
])
def test_bad_specs_are_one_line_errors(doc, message):
    with pytest.raises(ModelError, match=message) as e:
        LatentSpec.from_json(doc)
    assert "\n" not in str(e.value)


def test_translate_and_rotate_are_in_the_json_only_when_set():
    spec = LatentSpec(3, translate=(0.25, -0.5), rotate=-30)
    doc = json.loads(json.dumps(spec.to_json()))
    assert doc["translate"] == [0.25, -0.5] and doc["rotate"] == -30.0 and spec.moves_input
    assert LatentSpec.from_json(doc) == spec
    assert "rotate" not in LatentSpec(3, translate=(0.25, 0)).to_json()
    plain = LatentSpec(3).to_json()
    assert "translate" not in plain and "rotate" not in plain and not LatentSpec(3).moves_input


def test_deeply_nested_mix_sources_are_refused():
    doc = {"seed": 1}
    for _ in range(50):
        doc = {"seed": 1, "mix": {"spec": doc, "first": 0, "last": 0}}
    with pytest.raises(ModelError, match="nested deeper"):
        LatentSpec.from_json(doc)


def test_a_seed_spec_is_nvlabs_mapping_bit_for_bit(g):
    spec = LatentSpec(5, psi=0.6, cutoff=3, class_idx=1)
    with torch.no_grad():
        expected = g.mapping(z_of(5, g), c_of(1, g), truncation_psi=0.6, truncation_cutoff=3)
    assert torch.equal(spec_ws(g, spec), expected)


def test_mix_then_truncate_then_edit(g):
    with torch.no_grad():
        own, src = g.mapping(z_of(5, g), c_of(2, g)), g.mapping(z_of(8, g), c_of(2, g))
    mixed = own.clone()
    mixed[:, 1:3] = src[:, 1:3]
    truncated = g.mapping.w_avg.lerp(mixed, 0.5)
    spec = LatentSpec(5, psi=0.5, class_idx=2, mix=Mix(8, 1, 2))
    assert torch.equal(spec_ws(g, spec), truncated)
    direction = np.zeros(g.w_dim, dtype=np.float32)
    direction[0] = 1.0
    edited = LatentSpec(5, psi=0.5, class_idx=2, mix=Mix(8, 1, 2), edits=(Edit("d", 2.0, 4, 5),))
    ws = spec_ws(g, edited, directions={"d": direction})
    assert torch.equal(ws[:, :4], truncated[:, :4])  # indices outside the edit are untouched
    assert torch.equal(ws[:, 4:, 1:], truncated[:, 4:, 1:])
    assert torch.allclose(ws[:, 4:, 0], truncated[:, 4:, 0] + 2.0)


def test_strength_zero_and_explicit_w_give_the_unedited_pixels(g):
    seed = LatentSpec(4, psi=0.7, class_idx=0)
    zero = LatentSpec(4, psi=0.7, class_idx=0, edits=(Edit("d", 0.0, 0, 5),))
    image = render_seed(g, 4, 0.7, None, 0)
    assert np.array_equal(render_spec(g, seed), image)
    assert np.array_equal(render_spec(g, zero, directions={"d": np.ones(g.w_dim, np.float32)}), image)
    with torch.no_grad():
        untruncated = g.mapping(z_of(4, g), c_of(0, g))
    as_w = LatentSpec(w=W.of(untruncated.numpy()), psi=0.7)
    assert np.array_equal(render_spec(g, as_w), image)


def test_a_pin_as_mix_source_is_rendered_by_its_own_rules(g):
    pin = LatentSpec(11, psi=0.5, class_idx=1)
    spec = LatentSpec(3, class_idx=1, mix=Mix(pin, 0, 2))
    ws = spec_ws(g, spec)
    assert torch.equal(ws[:, :3], spec_ws(g, pin)[:, :3])
    assert torch.equal(ws[:, 3:], spec_ws(g, LatentSpec(3, class_idx=1))[:, 3:])


@pytest.mark.parametrize("spec,directions,message", [
    (LatentSpec(w=W.of(np.zeros([5, 32]))), None, "this network needs"),
    (LatentSpec(1, class_idx=0, edits=(Edit("gone", 1.0, 0, 0),)), None, "unknown direction"),
    (LatentSpec(1, class_idx=0, edits=(Edit("d", 1.0, 0, 0),)), {"d": np.ones(3)}, "shape"),
    (LatentSpec(1, class_idx=0, edits=(Edit("d", 1.0, 0, 9),)), {"d": np.ones(32)}, "w indices"),
    (LatentSpec(1, class_idx=0, mix=Mix(2, 0, 9)), None, "bad w index"),
])
def test_specs_that_do_not_fit_the_network(g, spec, directions, message):
    with pytest.raises(ModelError, match=message):
        spec_ws(g, spec, directions=directions)
