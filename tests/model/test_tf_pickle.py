"""TensorFlow StyleGAN2 pickles: converted without TensorFlow and without running code from the file.

Fixtures are written by tf_fixture from our own tiny networks (round trip to equal tensors and pixels) and from
the TF spec §7.2 recipe (conformance vectors computed with NVlabs' converter); refusals are one-line ModelErrors.
"""

import codecs
import pickle

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from explorer.cli import main
from model.errors import ModelError
from model.io import load, model_id
from model.io.safe_unpickle import read_pickle
from model.networks import Generator
from model.render import render_seed

from . import tf_fixture as tfx
from .conformance import G_KWARGS, check_image, fill_weights, make_d, make_g

ALL = ("G", "D", "G_ema")


class Raw:
    """Pickles as exactly `fn(*args)`: for crafting hostile streams."""

    def __init__(self, fn, args):
        self.reduced = (fn, args)

    def __reduce__(self):
        return self.reduced


def ours(c_dim=0):
    """(G, D, G_ema) with distinct G and G_ema weights, so a mix-up between Gs and G would show."""
    g = Generator(c_dim=c_dim, **G_KWARGS).eval()
    fill_weights(g, 5)
    return g, make_d(c_dim), make_g(c_dim)


def refused(path, message, **kwargs):
    with pytest.raises(ModelError) as info:
        load(path, **kwargs)
    text = str(info.value)
    assert "\n" not in text
    assert text.startswith(message), text
    return text


def write(tmp_path, nets, name="tf.pkl", **kwargs):
    return tfx.dump(nets, tmp_path / name, **kwargs)


def tf_vars(net, component=None):
    """The (name, value) list of a fixture network or of one of its components, to edit in place."""
    return (net.components[component] if component else net).variables


def d_logits(D, c_dim):
    x = torch.from_numpy(np.random.RandomState(99).randn(4, 3, 16, 16).astype(np.float32))
    c = torch.eye(3)[[0, 1, 2, 0]] if c_dim else None
    with torch.no_grad():
        return D(x, c, force_fp32=True)


# -- TF spec §7.2 conformance vectors ------------------------------------------------------------------------

# c, seed, mean(img), mean abs, img[0,:,0,0], sum(u8), sha256(u8)
SPEC_IMAGES = [
    (0, 0, 0.2730924, 0.6601295, (-0.307642, 0.451131, -0.044382), 122668,
     "9648cd59c32e1d04aa12cf01ffb8dd263f5aa59c405410c6bf2278c5a6c61002"),
    (0, 1, 0.3086044, 0.6744579, (-0.329720, 0.504037, 0.128960), 126778,
     "3e695a7968dabe90b5b85ffbd07410516e29e2026c42270ac890c0ff843712a3"),
    (3, 0, 0.0402733, 0.2757049, (0.131955, 0.280650, -0.311236), 101867,
     "c9b62a0d869c93f884eabc397ef2a6e98dbfc42e2eee1062a3cf42a09834998c"),
    (3, 1, 0.0458433, 0.2726724, (0.089484, 0.253488, -0.327951), 102408,
     "0e7efb2abb6a47427026be8d70191174ff6a2991dab34d6514602c04adee88d0"),
]
SPEC_LOGITS = {0: [0.829357, 0.675786, 0.776009, 0.678770], 3: [3.650028, 0.340022, 0.397931, 3.725502]}


@pytest.fixture(scope="module")
def spec_models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("spec")
    return {c: load(tfx.dump(tfx.spec_nets(c), folder / f"c{c}.pkl"), which=ALL) for c in (0, 3)}


@pytest.mark.parametrize("vector", SPEC_IMAGES, ids=lambda v: f"c{v[0]}-seed{v[1]}")
def test_spec_images_of_the_converted_gs(spec_models, vector):
    c, seed, mean, mean_abs, first, total, digest = vector
    G = spec_models[c].G
    z = torch.from_numpy(np.random.RandomState(seed).randn(1, 16))
    with torch.no_grad():
        img = G(z, torch.eye(3)[[1]] if c else None, noise_mode="const", force_fp32=True)
    check_image(img, mean, mean_abs, first, total, digest)


@pytest.mark.parametrize("c", [0, 3])
def test_spec_discriminator_logits_kwargs_and_counts(spec_models, c):
    model = spec_models[c]
    assert model.format == "tf-stylegan2"
    assert d_logits(model.networks["D"], c).flatten().tolist() == pytest.approx(SPEC_LOGITS[c], abs=1e-6)
    counts = {name: sum(not k.endswith("resample_filter") for k in net.state_dict())
              for name, net in model.networks.items()}
    assert counts == {"G": 48 + c // 3 * 2, "D": 18 + c // 3 * 2, "G_ema": 48 + c // 3 * 2}
    g_kw, d_kw = model.G.init_kwargs, model.networks["D"].init_kwargs
    syn = g_kw["synthesis_kwargs"]
    assert (syn["channel_base"], syn["channel_max"], syn["num_fp16_res"], syn["conv_clamp"], syn["architecture"]) \
        == (64, 16, 0, None, "skip")
    assert (g_kw["mapping_kwargs"]["num_layers"], g_kw["mapping_kwargs"]["w_avg_beta"]) == (2, 0.995)
    assert d_kw["epilogue_kwargs"]["mbstd_group_size"] == 2
    assert (d_kw["mapping_kwargs"]["num_layers"], d_kw["mapping_kwargs"]["lr_multiplier"]) == (0, 0.1)


def test_spec_up_sampling_kernel_is_mirrored(spec_models):
    tf_w = dict(tf_vars(tfx.spec_nets(0)[2], "synthesis"))["8x8/Conv0_up/weight"]
    expected_tf = [[0.923208, -0.629104, -0.546187], [-0.549993, 0.755008, -0.236010],
                   [-0.257078, 0.723918, -1.530915]]
    assert tf_w[:, :, 0, 0].tolist() == pytest.approx(np.array(expected_tf), abs=1e-6)
    ours_w = spec_models[0].G.synthesis.b8.conv0.weight[0, 0]
    assert torch.equal(ours_w, torch.from_numpy(tf_w[::-1, ::-1, 0, 0].copy()))


# -- round trip from our own networks -----------------------------------------------------------------------


@pytest.mark.parametrize("protocol, numpy1, version, c_dim", [
    (2, True, 4, 0), (4, True, 4, 0), (4, True, 5, 3), (4, False, 5, 3), (5, False, 4, 0), (5, True, 5, 3)])
def test_round_trip_gives_equal_weights_and_pixels(tmp_path, protocol, numpy1, version, c_dim):
    G, D, G_ema = ours(c_dim)
    path = write(tmp_path, tfx.tf_pickle(G, D, G_ema, version), protocol=protocol, numpy1=numpy1)
    data = path.read_bytes()
    assert (b"numpy.core." in data, b"numpy._core." in data) == (numpy1, not numpy1)
    model = load(path, which=ALL)
    assert model.format == {4: "tf-stylegan2", 5: "tf-stylegan2-ada"}[version]
    assert model.model_id == model_id(G_ema) and model.warnings == []
    for name, ref in zip(ALL, (G, D, G_ema), strict=True):
        got, want = model.networks[name].state_dict(), ref.state_dict()
        assert list(got) == list(want)
        assert all(torch.equal(got[k], want[k]) for k in want), name
        assert not model.networks[name].training
    for seed in (0, 7):
        args = dict(seed=seed, psi=0.7, class_idx=1 if c_dim else None, precision="exact")
        assert np.array_equal(render_seed(model.G, **args), render_seed(G_ema, **args))
    assert torch.equal(d_logits(model.networks["D"], c_dim), d_logits(D, c_dim))


def test_fixture_covers_scalars_zero_d_arrays_and_fortran_order(tmp_path):
    """Real files hold [] variables as numpy scalars or 0-d arrays; both must arrive as they were written."""
    path = write(tmp_path, tfx.tf_pickle(*ours()))
    synthesis = dict(read_pickle(path)[2].state["components"]["synthesis"].state["variables"])
    assert type(synthesis["8x8/Conv0_up/noise_strength"]) is np.float32
    assert type(synthesis["8x8/Conv1/noise_strength"]) is np.ndarray
    assert synthesis["8x8/Conv1/noise_strength"].shape == ()
    mod_weight = synthesis["8x8/Conv1/mod_weight"]
    assert mod_weight.flags.f_contiguous and not mod_weight.flags.c_contiguous
    assert load(path).model_id == model_id(make_g(0))


def test_g_ema_alone_by_default_and_networks_independent(tmp_path):
    G, D, G_ema = ours()
    path = write(tmp_path, tfx.tf_pickle(G, D, G_ema))
    assert list(load(path).networks) == ["G_ema"]
    model = load(path, which=ALL)
    ptrs = [t.data_ptr() for net in model.networks.values() for t in net.state_dict().values()]
    assert len(set(ptrs)) == len(ptrs)


def test_build_module_src_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    src = f"open({str(marker)!r}, 'w').write('ran')\nraise SystemExit\n"
    path = write(tmp_path, tfx.tf_pickle(*ours(), src=src))
    assert src.encode() in path.read_bytes()
    assert load(path, which=ALL).model_id == model_id(make_g(0))
    assert not marker.exists()


def test_ignored_and_none_kwargs(tmp_path):
    nets = tfx.tf_pickle(*ours())
    for g in (nets[0], nets[2]):
        g.static_kwargs.update(truncation_psi=0.5, structure="fixed", fused_modconv=True, conditioning="x",
                               w_avg_beta=None)
    model = load(write(tmp_path, nets))
    assert model.G.init_kwargs["mapping_kwargs"]["w_avg_beta"] == 1
    assert model.warnings == ["TensorFlow kwarg 'conditioning' of Gs ignored"]


# -- sgx -----------------------------------------------------------------------------------------------------


def test_sgx_info_convert_and_generate(tmp_path):
    G, D, G_ema = ours(3)
    src = write(tmp_path, tfx.tf_pickle(G, D, G_ema, version=5))
    runner = CliRunner()
    result = runner.invoke(main, ["info", str(src)])
    assert result.exit_code == 0, result.output
    assert "format      tf-stylegan2-ada" in result.output
    out = tmp_path / "converted.safetensors"
    result = runner.invoke(main, ["convert", str(src), str(out)])
    assert result.exit_code == 0, result.output
    converted = load(out, which=ALL)
    assert converted.model_id == load(src).model_id == model_id(G_ema)
    assert converted.metadata["source_format"] == "tf-stylegan2-ada"
    assert all(torch.equal(a, b) for a, b in zip(converted.networks["D"].state_dict().values(),
                                                 D.state_dict().values(), strict=True))
    result = runner.invoke(main, ["generate", "--network", str(src), "--seeds", "3", "--class", "2",
                                  "--precision", "exact", "--outdir", str(tmp_path / "png")])
    assert result.exit_code == 0, result.output
    pixels = np.asarray(Image.open(tmp_path / "png" / "seed0003.png"))
    assert np.array_equal(pixels, render_seed(G_ema, 3, class_idx=2, precision="exact"))


def test_sgx_refusal_is_one_line(tmp_path):
    nets = tfx.tf_pickle(*ours())
    nets[1].version = 3
    result = CliRunner().invoke(main, ["info", str(write(tmp_path, nets))])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "TensorFlow pickle version 3" in lines[0], result.output


# -- refused files -------------------------------------------------------------------------------------------


def set_all_g(nets, key, value):
    for g in (nets[0], nets[2]):
        setattr(g, key, value)


def concat_labels(nets):
    for g in (nets[0], nets[2]):
        mapping = tf_vars(g, "mapping")
        mapping[:2] = [("LabelConcat/weight", np.zeros((3, 32), np.float32))]


def drop(component, name):
    def change(nets):
        for g in (nets[0], nets[2]):
            variables = tf_vars(g, component)
            variables[:] = [(n, v) for n, v in variables if n != name]
    return change


def replace(component, name, value):
    def change(nets):
        for g in (nets[0], nets[2]):
            variables = tf_vars(g, component)
            variables[:] = [(n, value if n == name else v) for n, v in variables]
    return change


def add_kwarg(key, value):
    def change(nets):
        for g in (nets[0], nets[2]):
            g.static_kwargs[key] = value
    return change


@pytest.mark.parametrize("c_dim, change, message", [
    (0, lambda n: set_all_g(n, "version", 3),
     "unsupported network: TensorFlow pickle version 3 in 'G' is StyleGAN1 or older"),
    (0, lambda n: setattr(n[1], "version", 6), "unsupported network: TensorFlow pickle version 6 in 'D' (expected 4"),
    (0, add_kwarg("fmap_decay", 1.0), "unsupported network: unknown TensorFlow kwarg 'fmap_decay' in 'G'"),
    (0, add_kwarg("randomize_noise", True), "unsupported network: unknown TensorFlow kwarg 'randomize_noise'"),
    (0, lambda n: n[0].static_kwargs.update(resolution=32),
     "unsupported pickle: G and Gs were built with different TensorFlow kwargs"),
    (3, concat_labels, "unsupported network: conditional network of the original TensorFlow StyleGAN2"),
    (0, lambda n: tf_vars(n[2], "synthesis").append(("ToRGB_lod1/weight", np.zeros((1, 1, 32, 3), np.float32))),
     "unsupported network: TensorFlow StyleGAN2 config A-D"),
    (0, drop("synthesis", "8x8/Conv1/bias"), "incompatible weights: TF variable 'synthesis/8x8/Conv1/bias' missing"),
    (0, drop(None, "dlatent_avg"), "incompatible weights: TF variable 'dlatent_avg' missing"),
    (0, replace("mapping", "Dense0/weight", np.zeros((32, 33), np.float32)),
     "incompatible weights: TF variable 'mapping/Dense0/weight' has shape [32, 33], expected [32, 32]"),
    (0, replace("synthesis", "4x4/Const/const", np.zeros((2, 32, 4, 4), np.float32)),
     "incompatible weights: TF variable 'synthesis/4x4/Const/const' has shape [2, 32, 4, 4], expected [1, 32, 4, 4]"),
    (0, replace("synthesis", "noise0", np.zeros((1, 1, 4, 4), np.int32)),
     "incompatible weights: TF variable 'synthesis/noise0' is not a floating-point array"),
    (0, replace("synthesis", "noise0", [[0.0]]),
     "incompatible weights: TF variable 'synthesis/noise0' is not a floating-point array"),
    (0, lambda n: tf_vars(n[2]).append(("dlatent_avg", np.zeros(32, np.float32))),
     "corrupt pickle: TensorFlow variable 'dlatent_avg' of 'Gs' appears twice"),
    (0, lambda n: delattr(n[1], "variables"), "corrupt pickle: TensorFlow network 'D' lacks 'variables'"),
    (0, lambda n: setattr(n[2].components["mapping"], "static_kwargs", None),
     "corrupt pickle: TensorFlow network 'Gs/mapping' has a malformed state"),
    (0, lambda n: n[2].components.update(mapping=n[2]), "unsupported pickle: TensorFlow network 'Gs' nested deeper"),
    (0, lambda n: n[2].components.update(mapping="x"),
     "corrupt pickle: TensorFlow network 'Gs' has a malformed component"),
    (0, add_kwarg("resolution", 10**9), "unsupported network: Generator img_resolution 1000000000"),
])
def test_unconvertible_or_broken_files_refused(tmp_path, c_dim, change, message):
    nets = tfx.tf_pickle(*ours(c_dim), version=5 if c_dim else 4)
    change(nets)
    refused(write(tmp_path, nets), message, which=ALL)


def test_conditional_discriminator_without_label_embedding_refused(tmp_path):
    """Original TF StyleGAN2 conditional D's have no LabelEmbed (their Output is label_size wide)."""
    nets = tfx.tf_pickle(*ours(3), version=5)
    nets[1].variables = [(n, v) for n, v in nets[1].variables if not n.startswith("LabelEmbed/")]
    path = write(tmp_path, nets)
    refused(path, "unsupported network: conditional network of the original TensorFlow StyleGAN2", which=("D",))
    assert load(path).G.c_dim == 3  # its G_ema alone still converts


def test_hostile_value_inside_a_tf_network_refused_without_side_effect(tmp_path):
    marker = tmp_path / "pwned"
    nets = tfx.tf_pickle(*ours())
    nets[2].build_module_src = Raw(eval, (f"open({str(marker)!r}, 'w').close()",))
    refused(write(tmp_path, nets), "unsafe pickle: global 'builtins.eval' is not allowed")
    assert not marker.exists()


@pytest.mark.parametrize("obj, message", [
    (Raw(codecs.encode, ("abc", "rot13")), "unsupported pickle: _codecs.encode is allowed only to spell bytes"),
    (Raw(np._core.multiarray._reconstruct, (np.ndarray, (5,), b"b")),
     "corrupt pickle: unexpected numpy array constructor arguments"),
])
def test_numpy_and_codecs_helpers_only_as_numpy_uses_them(tmp_path, obj, message):
    path = tmp_path / "x.pkl"
    path.write_bytes(pickle.dumps(obj, protocol=2))
    with pytest.raises(ModelError, match=message):
        read_pickle(path)
