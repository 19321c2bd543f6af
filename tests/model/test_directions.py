"""SeFa and GANSpace against plain numpy, the directions file, and edits through spec_ws."""

import dataclasses

import numpy as np
import pytest
import torch

from model import directions as dirs
from model.errors import ModelError
from model.io.identity import model_id
from model.render import render_spec, spec_ws
from model.spec import Edit, LatentSpec

from .conformance import make_g


@pytest.fixture(scope="module")
def g():
    return make_g()


@pytest.fixture(scope="module")
def pca(g):
    return dirs.ganspace(g, samples=500, seed=3)


def signed(rows):
    """Rows flipped so their largest-magnitude coordinate is positive: the convention, written out again."""
    rows = np.asarray(rows, dtype=np.float64)
    return np.stack([r if r[np.abs(r).argmax()] > 0 else -r for r in rows])


def normalised_affine_rows(g, w_indices):
    """The conv affines by name: b4.conv1 reads w 0, block 2^k's conv0 and conv1 read 2k-5 and 2k-4."""
    rows = []
    for name, p in g.named_parameters():
        parts = name.split(".")  # synthesis.b8.conv0.affine.weight
        if parts[0] == "synthesis" and parts[2].startswith("conv") and parts[3:] == ["affine", "weight"]:
            k = int(np.log2(int(parts[1][1:])))
            index = 0 if k == 2 else 2 * k - 5 + int(parts[2][-1])
            if index in w_indices:
                rows.append(p.detach().double().numpy())
    a = np.concatenate(rows)
    return a / np.linalg.norm(a, axis=1, keepdims=True)


@pytest.mark.parametrize("layers", [None, [1, 2], [0, 3, 4]])
def test_sefa_equals_the_svd_of_the_stacked_normalised_rows(g, layers):
    found = dirs.sefa(g, layers)
    a = normalised_affine_rows(g, range(g.num_ws) if layers is None else layers)
    _, singular, vt = np.linalg.svd(a)
    k = len(singular)
    assert found.directions.shape == (g.w_dim, g.w_dim) and found.method == "sefa"
    assert np.allclose(found.values[:k], singular ** 2, rtol=1e-9)
    assert np.allclose(found.directions[:k], signed(vt), atol=1e-5)
    assert found.layers == (tuple(range(g.num_ws - 1)) if layers is None else tuple(layers))


def test_sefa_names_the_network_by_its_id_or_the_one_given(g):
    found, given = dirs.sefa(g), dirs.sefa(g, model_id="ab" * 32)  # the explorer passes the id loading computed
    assert found.model_id == model_id(g) and given.model_id == "ab" * 32
    assert np.array_equal(found.directions, given.directions) and found.id(0) != given.id(0)


def test_sefa_layers_must_name_conv_layers(g):
    with pytest.raises(ModelError, match="no conv layer"):
        dirs.sefa(g, [g.num_ws - 1])  # read by the last toRGB only
    with pytest.raises(ModelError, match="not in 0..5"):
        dirs.sefa(g, [0, 6])
    with pytest.raises(ModelError, match="direction count"):
        dirs.sefa(g, num=g.w_dim + 1)


def test_directions_are_unit_orthogonal_sorted_and_signed(g, pca):
    for found in (dirs.sefa(g), pca):
        d = found.directions.astype(np.float64)
        assert np.allclose(d @ d.T, np.eye(len(d)), atol=1e-5)
        assert np.all(np.diff(found.values) <= 0)
        assert np.all(d[np.arange(len(d)), np.abs(d).argmax(axis=1)] > 0)
    assert np.array_equal(dirs.sefa(g, num=3).directions, dirs.sefa(g).directions[:3])


def test_ganspace_equals_a_direct_pca_of_the_same_ws(g, pca):
    z = torch.from_numpy(np.random.RandomState(3).randn(500, g.z_dim)).float()
    with torch.no_grad():
        w = g.mapping(z, None)[:, 0].double().numpy()
    values, vectors = np.linalg.eigh(np.cov(w, rowvar=False))
    order = np.argsort(values)[::-1]
    assert np.allclose(pca.values, values[order], rtol=1e-8)
    assert np.allclose(pca.directions, signed(vectors[:, order].T), atol=1e-5)
    assert (pca.samples, pca.seed, pca.class_idx, pca.layers) == (500, 3, None, ())


def test_ganspace_streams_the_same_result_in_any_batch_size(g, pca):
    done = []
    small = dirs.ganspace(g, samples=500, seed=3, batch=7, progress=done.append)
    assert done == list(range(7, 500, 7)) + [500]
    assert np.allclose(small.values, pca.values, rtol=1e-9)
    assert np.allclose(small.directions, pca.directions, atol=1e-6)
    assert not np.allclose(dirs.ganspace(g, samples=500, seed=4).values, pca.values, rtol=1e-3)


def test_ganspace_of_a_conditional_net_needs_a_class():
    cond = make_g(3)
    with pytest.raises(ModelError, match="conditional"):
        dirs.ganspace(cond, samples=10)
    assert dirs.ganspace(cond, samples=10, class_idx=2).class_idx == 2


def test_same_network_and_options_write_identical_bytes(g, tmp_path):
    for make in (lambda: dirs.sefa(g, [0, 1, 2], 8), lambda: dirs.ganspace(g, samples=300, num=8, batch=64)):
        dirs.save_directions(tmp_path / "a.npz", make())
        dirs.save_directions(tmp_path / "b.npz", make())
        assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()


def test_file_round_trip_keeps_everything(g, pca, tmp_path):
    cond = make_g(3)
    for found in (dirs.sefa(g, [2, 3]), pca, dirs.ganspace(cond, samples=20, num=2, class_idx=1)):
        dirs.save_directions(tmp_path / "d.npz", found)
        again = dirs.load_directions(tmp_path / "d.npz")
        assert np.array_equal(again.directions, found.directions) and np.array_equal(again.values, found.values)
        assert (again.method, again.layers, again.model_id, again.samples, again.seed, again.class_idx) == (
            found.method, found.layers, found.model_id, found.samples, found.seed, found.class_idx)
        assert again.id(1) == found.id(1)
    assert pca.id(4) == f"ganspace-{pca.digest}:4" and len(pca.digest) == 12 and pca.model_id == model_id(g)
    assert dirs.ganspace(g, samples=500, seed=3, num=5).digest != pca.digest


def test_edit_vectors_are_unit_for_sefa_and_sigma_long_for_ganspace(g, pca):
    sefa = dirs.sefa(g)
    vectors = dirs.edit_vectors(sefa)
    assert list(vectors) == [sefa.id(k) for k in range(g.w_dim)]
    assert np.array_equal(vectors[sefa.id(2)], sefa.directions[2])
    lengths = [np.linalg.norm(v) for v in dirs.edit_vectors(pca).values()]
    assert np.allclose(lengths, np.sqrt(pca.values), rtol=1e-5)


def test_strength_zero_renders_the_unedited_image_bit_exactly(g, pca):
    vectors = dirs.edit_vectors(pca)
    plain = LatentSpec(5, psi=0.7)
    zero = LatentSpec(5, psi=0.7, edits=(Edit(pca.id(0), 0.0, 0, g.num_ws - 1),))
    assert np.array_equal(render_spec(g, zero, directions=vectors), render_spec(g, plain))
    moved = LatentSpec(5, psi=0.7, edits=(Edit(pca.id(0), 3.0, 0, g.num_ws - 1),))
    assert not np.array_equal(render_spec(g, moved, directions=vectors), render_spec(g, plain))


def test_an_edit_of_w_indices_a_to_b_leaves_the_others_alone(g):
    sefa = dirs.sefa(g)
    vectors = dirs.edit_vectors(sefa)
    before = spec_ws(g, LatentSpec(8))
    after = spec_ws(g, LatentSpec(8, edits=(Edit(sefa.id(1), -2.5, 1, 3),)), directions=vectors)
    assert torch.equal(after[:, [0, 4, 5]], before[:, [0, 4, 5]])
    expected = before[:, 1:4] - 2.5 * torch.from_numpy(sefa.directions[1])
    assert torch.allclose(after[:, 1:4], expected, atol=1e-6) and not torch.equal(after[:, 1:4], before[:, 1:4])


def test_check_model_refuses_directions_of_other_weights(g, pca):
    dirs.check_model(pca, model_id(g))
    with pytest.raises(ModelError, match=f"made for model id {pca.model_id[:12]}, not this network"):
        dirs.check_model(pca, "f" * 64)


def rewrite(path, target, **changes):
    """A copy of the directions file at `path` with some arrays replaced (None removes one)."""
    with np.load(path) as data:
        arrays = {key: data[key] for key in data.files}
    arrays.update(changes)
    np.savez(target, **{k: v for k, v in arrays.items() if v is not None})


@pytest.mark.parametrize("changes,message", [
    (dict(directions=None), "no 'directions'"),
    (dict(version=np.int64(2)), "format version 2"),
    (dict(method=np.str_("ica")), "unknown method 'ica'"),
    (dict(method=np.float32(1)), "'method' is float32"),
    (dict(model_id=np.str_("abc")), "model_id"),
    (dict(directions=np.ones([4, 32], np.float32)), "not unit"),
    (dict(directions=np.full([4, 32], np.nan, np.float32)), "not finite"),
    (dict(directions=np.eye(4, 32, dtype=np.float32)[None]), "'directions' is float32 [1, 4, 32]"),
    (dict(directions=np.eye(33, 32, dtype=np.float32)), "is not [K, w_dim]"),
    (dict(values=np.ones(3)), "do not match"),
    (dict(values=-np.ones(4)), "negative"),
    (dict(samples=np.int64(-1)), "negative"),
    (dict(layers=np.array(["0"])), "'layers' is <U1"),
    (dict(layers=np.array([object()], dtype=object)), "not a readable .npz"),
])
def test_bad_files_give_one_line(g, tmp_path, changes, message):
    dirs.save_directions(tmp_path / "good.npz", dirs.ganspace(g, samples=50, num=4))
    rewrite(tmp_path / "good.npz", tmp_path / "bad.npz", **changes)
    with pytest.raises(ModelError, match="bad directions file bad.npz") as error:
        dirs.load_directions(tmp_path / "bad.npz")
    assert message in str(error.value) and "\n" not in str(error.value)


def test_files_that_are_not_directions_files(g, tmp_path, monkeypatch):
    (tmp_path / "text.npz").write_text("hello")
    np.save(tmp_path / "array.npy", np.eye(3))
    for name in ("text.npz", "array.npy", "missing.npz"):
        with pytest.raises(ModelError, match=f"bad directions file {name}: not a readable .npz"):
            dirs.load_directions(tmp_path / name)
    dirs.save_directions(tmp_path / "good.npz", dirs.sefa(g))
    monkeypatch.setattr(dirs, "MAX_FILE_BYTES", 1000)
    with pytest.raises(ModelError, match="larger than"):
        dirs.load_directions(tmp_path / "good.npz")


def test_sefa_ids_survive_a_recomputation_that_rounds_differently(g):
    """The explorer recomputes SeFa on open (one thread) and `sgx video --pins` again (two): same ids either way."""
    found = dirs.sefa(g)
    nudged = dataclasses.replace(found, directions=found.directions + np.float32(1e-7), values=found.values * 1.001)
    assert nudged.id(3) == found.id(3)
    assert dirs.sefa(g, layers=[0, 1]).id(3) != found.id(3)  # other layers, another set
