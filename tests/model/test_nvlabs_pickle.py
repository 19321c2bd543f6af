"""NVlabs network pickles: fixtures written from our own modules load bit-exactly (C1: CPU, force_fp32, const
noise, same batch); hostile or broken files are refused with one-line ModelErrors and no side effects."""

import collections
import hashlib
import io
import os
import pickle
import struct
import sys

import numpy as np
import pytest
import torch
from torch import nn

from model.errors import ModelError
from model.io.nvlabs import FAMILY_SG2A, FAMILY_SG3, read_nvlabs_pickle
from model.io.safe_unpickle import STORAGE_MAGIC, EasyDict, Limits, TFNetwork, read_pickle
from model.networks import Discriminator, Generator

from . import nvlabs_fixture as fx
from .conformance import D_KWARGS, G_KWARGS, fill_weights, make_d, make_g

ALL = ("G", "D", "G_ema")


# -- helpers -------------------------------------------------------------------------------------------------


class Raw:
    """Pickles as exactly `fn(*args)` (plus a BUILD with `state` if given): for crafting hostile streams."""

    def __init__(self, fn, args, *state):
        self.reduced = (fn, args, *state)

    def __reduce__(self):
        return self.reduced


def nets(c_dim=0):
    """Distinct G and G_ema weights, so a mix-up between them would show."""
    g = Generator(c_dim=c_dim, **G_KWARGS).eval()
    fill_weights(g, 5)
    return g, make_d(c_dim), make_g(c_dim)


def sub(p, path):
    """The fixture record at a dotted module path."""
    for key in path.split(".") if path else []:
        p = p.meta["state"]["_modules"][key]
    return p.meta["state"]


def write_bytes(tmp_path, data, name="x.pkl"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def refused(path, message, reader=read_pickle, exact=False, **kwargs):
    with pytest.raises(ModelError) as info:
        reader(path, **kwargs)
    text = str(info.value)
    assert "\n" not in text
    assert text == message if exact else text.startswith(message), text
    return text


def images(G, c_dim):
    z = torch.from_numpy(np.random.RandomState(0).randn(2, 32))
    c = torch.eye(c_dim)[[1, 2]] if c_dim else None
    with torch.no_grad():
        return G(z, c, truncation_psi=0.7, noise_mode="const", force_fp32=True)


def call_global(module, name, *args):
    """A protocol-2 stream that looks up module.name and calls it with args."""
    body = pickle.dumps(args, protocol=2)[2:-1]
    return b"\x80\x02c" + module.encode() + b"\n" + name.encode() + b"\n" + body + b"R."


def assert_same_state(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert [n for n, _ in a.named_buffers()] == [n for n, _ in b.named_buffers()]


# -- loading -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("protocol, c_dim", [(3, 3), (4, 0), (5, 3)])
def test_g_ema_loads_bit_exact(tmp_path, protocol, c_dim):
    G, D, G_ema = nets(c_dim)
    path = fx.dump(fx.sg2a_pickle(G, D, G_ema), tmp_path / "net.pkl", protocol)
    found = read_nvlabs_pickle(path)
    assert list(found.networks) == ["G_ema"]
    assert found.family == FAMILY_SG2A
    loaded = found.networks["G_ema"]
    assert torch.equal(images(loaded, c_dim), images(G_ema, c_dim))
    assert_same_state(loaded, G_ema)
    assert not loaded.training and not any(p.requires_grad for p in loaded.parameters())
    kwargs = found.kwargs["G_ema"]
    assert kwargs == G_ema.init_kwargs
    assert type(kwargs["mapping_kwargs"]) is dict and type(kwargs["synthesis_kwargs"]) is dict
    assert found.training_set_kwargs == fx.TRAINING_SET_KWARGS


def test_g_d_and_g_ema_on_request(tmp_path):
    G, D, G_ema = nets(c_dim=3)
    path = fx.dump(fx.sg2a_pickle(G, D, G_ema), tmp_path / "net.pkl")
    found = read_nvlabs_pickle(path, which=ALL)
    assert set(found.networks) == set(ALL)
    for name, ref in zip(ALL, (G, D, G_ema), strict=True):
        assert_same_state(found.networks[name], ref)
        assert found.kwargs[name] == ref.init_kwargs
    assert torch.equal(images(found.networks["G"], 3), images(G, 3))
    x = torch.from_numpy(np.random.RandomState(99).randn(4, 3, 16, 16).astype(np.float32))
    c = torch.eye(3)[[0, 1, 2, 0]]
    assert torch.equal(found.networks["D"](x, c, force_fp32=True), D(x, c, force_fp32=True))


def test_networks_never_share_tensors(tmp_path):
    G, D, G_ema = nets()
    pk = fx.sg2a_pickle(G, D, G_ema)
    pk["G"] = pk["G_ema"]  # one record under two names: the loaded networks must still be independent
    found = read_nvlabs_pickle(fx.dump(pk, tmp_path / "net.pkl"), which=ALL)
    ptrs = [t.data_ptr() for name in ("G", "G_ema") for t in found.networks[name].state_dict().values()]
    assert len(set(ptrs)) == len(ptrs)
    assert_same_state(found.networks["G"], G_ema)


def test_full_converter_keyword_set_loads(tmp_path):
    """TF-converted SG2A files spell out every keyword (spec §9): same network, same state."""
    mapping = dict(num_layers=2, embed_features=32, layer_features=32, activation="lrelu", lr_multiplier=0.01,
                   w_avg_beta=0.995)
    synthesis = dict(G_KWARGS["synthesis_kwargs"], resample_filter=[1, 3, 3, 1], use_noise=True, activation="lrelu")
    G = Generator(c_dim=3, **dict(G_KWARGS, mapping_kwargs=mapping, synthesis_kwargs=synthesis)).eval()
    fill_weights(G, 13)
    found = read_nvlabs_pickle(fx.dump(fx.sg2a_pickle(G, make_d(3), G), tmp_path / "net.pkl", 3))
    assert found.kwargs["G_ema"] == G.init_kwargs
    assert_same_state(found.networks["G_ema"], G)


def test_freeze_d_weights_stored_as_buffers_load(tmp_path):
    D = Discriminator(c_dim=0, **D_KWARGS, block_kwargs=dict(freeze_layers=2)).eval()
    fill_weights(D, 7)
    assert "b16.fromrgb.weight" in dict(D.named_buffers())
    path = fx.dump(fx.sg2a_pickle(make_g(), D, make_g()), tmp_path / "net.pkl")
    loaded = read_nvlabs_pickle(path, which=("D",)).networks["D"]
    assert_same_state(loaded, D)


def test_module_src_hashes_per_class(tmp_path):
    G, D, G_ema = nets()
    found = read_nvlabs_pickle(fx.dump(fx.sg2a_pickle(G, D, G_ema), tmp_path / "net.pkl"))
    assert set(found.module_src_sha256) == {type(m).__name__ for m in G_ema.modules()}
    assert set(found.module_src_sha256.values()) == {hashlib.sha256(fx.SG2A_SRC.encode()).hexdigest()}


def test_nvlabs_modules_never_imported(tmp_path):
    path = fx.dump(fx.sg2a_pickle(*nets()), tmp_path / "net.pkl")
    assert not {"torch_utils", "dnnlib"} & set(sys.modules)
    read_nvlabs_pickle(path, which=ALL)
    assert not [m for m in sys.modules if m.split(".")[0] in ("torch_utils", "dnnlib")]


def sg3_nets(num_fp16_res=4):
    synthesis = dict(G_KWARGS["synthesis_kwargs"], num_fp16_res=num_fp16_res, conv_clamp=256)
    G = Generator(c_dim=0, **dict(G_KWARGS, synthesis_kwargs=synthesis,
                                  mapping_kwargs=dict(num_layers=2, w_avg_beta=0.998))).eval()
    fill_weights(G, 11)
    D = Discriminator(c_dim=0, **dict(D_KWARGS, num_fp16_res=4, conv_clamp=256)).eval()
    fill_weights(D, 12)
    return G, D


def test_stylegan3_sg2_flat_kwargs_get_sg3_defaults(tmp_path):
    G, D = sg3_nets()
    pk = fx.sg3_pickle(G, D, G)
    assert "num_fp16_res" not in sub(pk["G_ema"], "")["_init_kwargs"]
    found = read_nvlabs_pickle(fx.dump(pk, tmp_path / "sg3.pkl"), which=ALL)
    assert found.family == FAMILY_SG3
    assert found.kwargs["G_ema"] == G.init_kwargs  # num_fp16_res 4, conv_clamp 256, w_avg_beta 0.998 restored
    assert found.kwargs["D"] == D.init_kwargs
    assert torch.equal(images(found.networks["G_ema"], 0), images(G, 0))
    assert_same_state(found.networks["D"], D)


def test_sg3_defaults_are_cross_checked_against_block_attributes(tmp_path):
    G, D = sg3_nets(num_fp16_res=0)  # the file omits num_fp16_res, so the loader assumes 4: must not pass
    path = fx.dump(fx.sg3_pickle(G, D, G), tmp_path / "sg3.pkl")
    refused(path, "incompatible weights: 'synthesis.b8' has use_fp16=False, expected True", read_nvlabs_pickle,
            exact=True)


# -- refused networks ----------------------------------------------------------------------------------------


def test_alias_free_source_is_read_as_stylegan3(tmp_path):
    """A StyleGAN2 generator whose source says alias-free is read with StyleGAN3's keywords, and refused."""
    G, D = sg3_nets()
    path = fx.dump(fx.sg3_pickle(G, D, G, g_src=fx.ALIAS_FREE_SRC), tmp_path / "sg3t.pkl")
    refused(path, "unsupported network: unknown StyleGAN3 keyword 'architecture'", read_nvlabs_pickle, exact=True)
    assert read_nvlabs_pickle(path, which=("D",)).family == FAMILY_SG3  # its D is the sg2 one


def test_alias_free_tensor_names_are_read_as_stylegan3(tmp_path):
    G, D = sg3_nets()
    pk = fx.sg3_pickle(G, D, G)
    sub(pk["G_ema"], "synthesis")["_modules"]["input"] = fx.persistent(nn.Linear(2, 2), fx.SG3_SRC)
    path = fx.dump(pk, tmp_path / "sg3t.pkl")
    refused(path, "unsupported network: unknown StyleGAN3 keyword 'architecture'", read_nvlabs_pickle, exact=True)


def test_tensorflow_pickle_refused(tmp_path):
    path = fx.dump(fx.tf_pickle(), tmp_path / "tf.pkl")
    raw = read_pickle(path)
    assert all(type(n) is TFNetwork for n in raw)
    assert raw[2].state["variables"][0][1].dtype == np.float32
    refused(path, "unsupported network: TensorFlow StyleGAN2 pickle", read_nvlabs_pickle)


@pytest.mark.parametrize("top, message", [
    ([1, 2, 3], "unsupported pickle: found a list of 3 items, expected a dict with 'G', 'D' and 'G_ema'"),
    ({"foo": 1}, "unsupported pickle: found a dict with keys ['foo'], expected a dict with 'G', 'D' and 'G_ema'"),
    ({"G": None, "D": None}, "unsupported pickle: no network 'G_ema' in a dict with keys ['G', 'D']"),
    ({"G_ema": None}, "unsupported pickle: 'G_ema' is None, expected an NVlabs Generator"),
    ({"G_ema": {"a": 1}}, "unsupported pickle: 'G_ema' is a dict with keys ['a'], expected an NVlabs Generator"),
])
def test_unsupported_top_level_named(tmp_path, top, message):
    refused(fx.dump(top, tmp_path / "x.pkl"), message, read_nvlabs_pickle, exact=True)


def test_discriminator_in_place_of_generator_refused(tmp_path):
    G, D, G_ema = nets()
    pk = fx.sg2a_pickle(G, D, G_ema)
    pk["G_ema"] = pk["D"]
    refused(fx.dump(pk, tmp_path / "x.pkl"), "unsupported pickle: 'G_ema' is a 'Discriminator' object",
            read_nvlabs_pickle)


def test_unknown_network_name(tmp_path):
    path = fx.dump(fx.sg2a_pickle(*nets()), tmp_path / "net.pkl")
    refused(path, "unknown network name 'Gs'", read_nvlabs_pickle, which=("Gs",))


def edit(tmp_path, change):
    """An SG2A fixture with one change applied to its G_ema record (a fixture Persistent)."""
    pk = fx.sg2a_pickle(*nets())
    change(pk["G_ema"])
    return fx.dump(pk, tmp_path / "edited.pkl")


def set_tensor(path, kind, name, value):
    return lambda g: sub(g, path)[kind].__setitem__(name, value)


@pytest.mark.parametrize("change, message", [
    (lambda g: sub(g, "synthesis.b8.conv0")["_parameters"].pop("weight"),
     "incompatible weights: missing 'synthesis.b8.conv0.weight'"),
    (set_tensor("mapping", "_buffers", "extra", torch.zeros(2)), "incompatible weights: unexpected 'mapping.extra'"),
    (set_tensor("mapping.fc0", "_parameters", "weight", torch.zeros(32, 33)),
     "incompatible weights: 'mapping.fc0.weight' has shape [32, 33], expected [32, 32]"),
    (set_tensor("mapping.fc0", "_parameters", "bias", torch.zeros(32, dtype=torch.float16)),
     "incompatible weights: 'mapping.fc0.bias' is float16, expected float32"),
    (set_tensor("synthesis.b8", "_buffers", "resample_filter", torch.full([4, 4], 1 / 16)),
     "incompatible weights: 'synthesis.b8.resample_filter' is not the [1, 3, 3, 1] resample filter"),
    (lambda g: sub(g, "").__setitem__("num_ws", 7), "incompatible weights: 'Generator' has num_ws=7, expected 6"),
    (lambda g: sub(g, "synthesis.b16.conv1").__setitem__("conv_clamp", None),
     "incompatible weights: 'synthesis.b16.conv1' has conv_clamp=None, expected 256"),
    (lambda g: sub(g, "").__setitem__("z_dim", torch.zeros(3)),
     "incompatible weights: 'Generator' has z_dim=Tensor, expected 32"),
    (lambda g: sub(g, "synthesis")["_modules"]["b4"].meta.__setitem__("class_name", "Foo"),
     "incompatible weights: 'synthesis.b4' is a Foo, expected a SynthesisBlock"),
    (lambda g: sub(g, "")["_forward_hooks"].__setitem__(1, "hook"),
     "unsupported pickle: 'Generator' has registered hooks (_forward_hooks)"),
    (lambda g: sub(g, "")["_init_kwargs"].__setitem__("foo", 1),
     "unsupported network: unknown Generator keyword 'foo'"),
    (lambda g: sub(g, "")["_init_kwargs"].pop("w_dim"), "unsupported network: Generator keywords lack 'w_dim'"),
    (lambda g: sub(g, "")["_init_kwargs"]["mapping_kwargs"].__setitem__("num_layers", 10**9),
     "unsupported network: Generator mapping num_layers 1000000000"),
    (lambda g: sub(g, "")["_init_kwargs"]["synthesis_kwargs"].__setitem__("architecture", "fancy"),
     "unsupported network: architecture 'fancy'"),
    (lambda g: sub(g, "")["_init_kwargs"].__setitem__("z_dim", torch.zeros(1)),
     "unsupported network: Generator keywords holds a value of type Tensor"),
    (lambda g: sub(g, "mapping")["_modules"].__setitem__("fc0", "not a module"),
     "unsupported network: 'mapping.fc0' is a str, not an NVlabs network module"),
])
def test_incompatible_or_altered_networks_refused(tmp_path, change, message):
    refused(edit(tmp_path, change), message, read_nvlabs_pickle, exact=True)


# -- hostile pickles -----------------------------------------------------------------------------------------

FORBIDDEN = [
    ("os", "system"), ("posix", "system"), ("subprocess", "Popen"), ("builtins", "eval"), ("builtins", "exec"),
    ("builtins", "getattr"), ("builtins", "__import__"), ("builtins", "open"), ("copyreg", "_reconstructor"),
    ("pickle", "loads"), ("torch", "load"), ("torch._utils", "_rebuild_tensor_v3"),
    ("torch._utils", "_rebuild_from_type_v2"), ("torch.storage", "UntypedStorage"), ("torch", "FloatStorage"),
    ("torch.nn.modules.linear", "Linear"), ("collections", "Counter"), ("numpy", "load"),
    ("torch_utils.persistence", "persistent_class"), ("dnnlib.util", "call_func_by_name"),
    ("numpy.core.multiarray", "_reconstructor"), ("torch_utils.persistence ", "_reconstruct_persistent_obj"),
]


@pytest.mark.parametrize("module, name", FORBIDDEN)
def test_forbidden_globals_refused_without_side_effect(tmp_path, module, name):
    marker = tmp_path / "pwned"
    path = write_bytes(tmp_path, call_global(module, name, f"touch {marker}"))
    refused(path, f"unsafe pickle: global '{module}.{name}' is not allowed", exact=True)
    assert not marker.exists()


def test_os_system_reduce_from_a_real_object_refused(tmp_path):
    marker = tmp_path / "pwned"
    evil = Raw(os.system, (f"touch {marker}",))
    path = write_bytes(tmp_path, pickle.dumps({"G_ema": evil}, protocol=4))
    refused(path, "unsafe pickle: global 'posix.system' is not allowed", read_nvlabs_pickle, exact=True)
    assert not marker.exists()


def test_eval_hidden_inside_network_keywords_refused(tmp_path):
    marker = tmp_path / "pwned"
    evil = Raw(eval, (f"open({str(marker)!r}, 'w').close()",))
    path = edit(tmp_path, lambda g: sub(g, "")["_init_kwargs"].__setitem__("z_dim", evil))
    refused(path, "unsafe pickle: global 'builtins.eval' is not allowed", read_nvlabs_pickle, exact=True)
    assert not marker.exists()


def test_inst_opcode_goes_through_the_allow_list(tmp_path):
    marker = tmp_path / "pwned"
    path = write_bytes(tmp_path, b"(S'touch " + str(marker).encode() + b"'\nios\nsystem\n.")
    refused(path, "unsafe pickle: global 'os.system' is not allowed", exact=True)
    assert not marker.exists()


def test_torch_module_object_refused(tmp_path):
    path = write_bytes(tmp_path, pickle.dumps({"G_ema": nn.Linear(2, 2)}, protocol=4))
    refused(path, "unsafe pickle: global 'torch.nn.modules.linear.Linear' is not allowed", exact=True)


def test_persistent_id_in_outer_pickle_refused(tmp_path):
    class PidPickler(pickle.Pickler):
        def persistent_id(self, obj):
            return "storage-0" if obj == "shared" else None

    buf = io.BytesIO()
    PidPickler(buf, protocol=4).dump({"G_ema": "shared"})
    refused(write_bytes(tmp_path, buf.getvalue()), "unsafe pickle: persistent id", read_nvlabs_pickle)


def test_extension_codes_refused(tmp_path):
    refused(write_bytes(tmp_path, b"\x80\x02\x82\x01."), "unsafe pickle: extension codes are not allowed")


def test_build_on_a_tensor_refused(tmp_path):
    typed = torch.arange(4.0)._typed_storage()  # what plain pickling of a tensor writes
    evil = Raw(torch._utils._rebuild_tensor_v2, (typed, 0, (4,), (1,), False, collections.OrderedDict()),
               (typed, 0, (1 << 40,), (1,)))
    path = write_bytes(tmp_path, pickle.dumps(evil, protocol=4))
    refused(path, "unsafe pickle: setting the state of Tensor objects is not allowed", exact=True)


def test_build_on_an_ordered_dict_refused(tmp_path):
    path = write_bytes(tmp_path, pickle.dumps(Raw(collections.OrderedDict, (), {"a": 1}), protocol=4))
    refused(path, "unsafe pickle: setting the state of OrderedDict objects is not allowed", exact=True)


def test_easydict_tolerates_build_merging(tmp_path):
    via_reduce = Raw(fx.EasyDict, (), {"a": 1})
    via_newobj = fx.EasyDict()
    vars(via_newobj)["b"] = 2  # an attribute: NEWOBJ, then BUILD with {"b": 2}
    loaded = read_pickle(fx.dump([via_reduce, via_newobj, fx.easy({"c": {"d": 3}})], tmp_path / "e.pkl", 4))
    assert [type(x) for x in loaded] == [EasyDict] * 3
    assert loaded == [{"a": 1}, {"b": 2}, {"c": {"d": 3}}]
    assert type(loaded[2]["c"]) is EasyDict


def test_wrong_persistence_version_refused(tmp_path):
    path = edit(tmp_path, lambda g: g.meta.__setitem__("version", 5))
    refused(path, "unsupported pickle: persistence version 5 (expected 6)", read_nvlabs_pickle, exact=True)


@pytest.mark.parametrize("key, value, message", [
    ("type", "function", "unsupported pickle: persistent object of a type other than 'class'"),
    ("module_src", b"bytes", "corrupt pickle: persistent object 'SynthesisNetwork' has a bad module_src or state"),
    ("class_name", "os.system", "corrupt pickle: persistent object with a bad class name"),
    ("extra", 1, "corrupt pickle: persistent object meta has unexpected keys"),
])
def test_bad_persistence_meta_refused(tmp_path, key, value, message):
    path = edit(tmp_path, lambda g: g.meta["state"]["_modules"]["synthesis"].meta.__setitem__(key, value))
    refused(path, message, read_nvlabs_pickle, exact=True)


# -- storages and tensors ------------------------------------------------------------------------------------

REF = object()


def blob(values=(0.0, 1.0, 2.0, 3.0, 4.0, 5.0), storage=torch.FloatStorage, little_endian=True, view=None,
         count=None, trailing=b"", magic=STORAGE_MAGIC, keys=("k0",)):
    """A legacy torch.save storage blob (spec §6.5), with knobs to break each part."""
    class StoragePickler(pickle.Pickler):
        def persistent_id(self, obj):
            return ("storage", storage, "k0", "cpu", len(values), view) if obj is REF else None

    ref = io.BytesIO()
    StoragePickler(ref, protocol=2).dump(REF)
    sys_info = {"protocol_version": 1001, "little_endian": little_endian, "type_sizes": {"short": 2, "int": 4,
                                                                                          "long": 8}}
    data = struct.pack(f"<{len(values)}f", *values)
    n = len(values) if count is None else count
    return b"".join([pickle.dumps(magic, 2), pickle.dumps(1001, 2), pickle.dumps(sys_info, 2), ref.getvalue(),
                     pickle.dumps(list(keys), 2), struct.pack("<q", n), data, trailing])


def tensor(blob_bytes, offset=0, size=(2, 3), stride=(3, 1), hooks=None):
    storage = Raw(torch.storage._load_from_bytes, (blob_bytes,))
    return Raw(torch._utils._rebuild_tensor_v2,
               (storage, offset, size, stride, False, hooks if hooks is not None else collections.OrderedDict()))


def test_handmade_blob_reads_back(tmp_path):
    t = read_pickle(write_bytes(tmp_path, pickle.dumps(tensor(blob(), offset=1, size=(2, 2), stride=(1, 2)), 4)))
    assert torch.equal(t, torch.tensor([[1.0, 3.0], [2.0, 4.0]]))
    assert t.is_contiguous()


def test_tensors_sharing_a_storage_do_not_alias(tmp_path):
    shared = Raw(torch.storage._load_from_bytes, (blob(),))
    a, b = (Raw(torch._utils._rebuild_tensor_v2, (shared, 0, (6,), (1,), False, collections.OrderedDict()))
            for _ in range(2))
    ta, tb = read_pickle(write_bytes(tmp_path, pickle.dumps([a, b], 4)))
    ta.add_(1)
    assert torch.equal(tb, torch.arange(6.0))


@pytest.mark.parametrize("kwargs, message", [
    (dict(size=(7,), stride=(1,)), "corrupt pickle: tensor exceeds its storage"),
    (dict(offset=6, size=(1,), stride=(1,)), "corrupt pickle: tensor exceeds its storage"),
    (dict(size=(4,), stride=(2,)), "corrupt pickle: tensor exceeds its storage"),
    (dict(offset=7, size=(0,), stride=(1,)), "corrupt pickle: tensor exceeds its storage"),
    (dict(size=(6,), stride=(-1,)), "corrupt pickle: negative or non-integer tensor size, stride or offset"),
    (dict(offset=-1, size=(1,), stride=(1,)), "corrupt pickle: negative or non-integer tensor size, stride or offset"),
    (dict(size=(2.0,), stride=(1,)), "corrupt pickle: negative or non-integer tensor size, stride or offset"),
    (dict(size=(6,), stride=(1, 1)), "corrupt pickle: bad tensor size or stride"),
    (dict(size=(1,), stride=(1,), hooks=collections.OrderedDict(h=1)),
     "unsupported pickle: tensor with backward hooks"),
])
def test_bad_tensor_geometry_refused(tmp_path, kwargs, message):
    refused(write_bytes(tmp_path, pickle.dumps(tensor(blob(), **kwargs), 4)), message, exact=True)


@pytest.mark.parametrize("blob_bytes, message", [
    (blob(trailing=b"\0"), "corrupt pickle: trailing bytes in a storage blob"),
    (blob(little_endian=False), "unsupported pickle: big-endian storage data"),
    (blob(view=("k1", 0, 6)), "unsupported pickle: storage view in a storage blob"),
    (blob(count=5), "corrupt pickle: storage blob holds 5 elements, expected 6"),
    (blob()[:-4], "corrupt pickle: storage blob is truncated"),
    (blob()[:20], "corrupt pickle: storage blob is truncated"),
    (blob(magic=1234), "corrupt pickle: storage blob has a bad magic number or version"),
    (blob(keys=("k0", "k1")), "corrupt pickle: storage blob does not hold exactly one storage"),
    (blob(storage=torch.UntypedStorage),
     "unsafe pickle: global 'torch.storage.UntypedStorage' is not allowed in a storage blob"),
    (call_global("os", "system", "true") + blob()[len(pickle.dumps(STORAGE_MAGIC, 2)):],
     "unsafe pickle: global 'os.system' is not allowed in a storage blob"),
])
def test_bad_storage_blobs_refused(tmp_path, blob_bytes, message):
    refused(write_bytes(tmp_path, pickle.dumps(tensor(blob_bytes), 4)), message, exact=True)


def test_parameter_of_a_non_tensor_refused(tmp_path):
    evil = Raw(torch._utils._rebuild_parameter, ("not a tensor", False, collections.OrderedDict()))
    refused(write_bytes(tmp_path, pickle.dumps(evil, 4)), "corrupt pickle: bad parameter", exact=True)


# -- numpy ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", [3, 4, 5])
def test_numpy_arrays_and_scalars_round_trip(tmp_path, protocol):
    values = [np.arange(6, dtype=np.float32).reshape(2, 3), np.array([True, False]), np.arange(3, dtype=np.int64),
              np.float64(np.sqrt(2)), np.int32(-7), np.asfortranarray(np.arange(6.0).reshape(2, 3))]
    loaded = read_pickle(write_bytes(tmp_path, pickle.dumps(values, protocol)))
    for got, want in zip(loaded, values, strict=True):
        assert type(got) is type(want) and got.dtype == want.dtype
        assert np.array_equal(got, want)


@pytest.mark.parametrize("value, message", [
    (np.array(["a", "b"]), "unsupported pickle: numpy dtype 'U1'"),
    (np.array([1, None], dtype=object), "unsupported pickle: numpy dtype 'O8'"),
    (np.zeros(2, dtype=[("a", "<f4")]), "unsupported pickle: numpy dtype 'V4'"),
    (np.arange(3, dtype=">f4"), "unsupported pickle: big-endian numpy data"),
    (np.ma.masked_array([1.0]), "unsafe pickle: global 'numpy.ma.core._mareconstruct' is not allowed"),
    (Raw(np.float64(1).__reduce__()[0], (np.dtype("f8"), b"\0" * 4)), "unsupported pickle: bad numpy scalar"),
])
def test_unsafe_numpy_data_refused(tmp_path, value, message):
    refused(write_bytes(tmp_path, pickle.dumps(value, 4)), message)


# -- limits, depth, corruption -------------------------------------------------------------------------------


def test_file_size_checked_before_parsing(tmp_path):
    path = write_bytes(tmp_path, b"\x80\x04" + bytes(range(256)) * 8)
    refused(path, "file too large: 2 KiB > 1 KiB limit", limits=Limits(max_file_bytes=1024), exact=True)
    refused(path, "corrupt pickle:")


@pytest.mark.parametrize("limits, message", [
    (Limits(max_tensor_bytes=1000), "file too large: more than 1000 B of tensor data"),
    (Limits(max_tensors=10), "file too large: more than 10 tensors"),
    (Limits(max_module_src_bytes=10), "file too large: module_src of "),
    (Limits(max_depth=4), "unsupported pickle: module tree deeper than 4 levels"),
])
def test_configured_limits_refuse(tmp_path, limits, message):
    path = fx.dump(fx.sg2a_pickle(*nets()), tmp_path / "net.pkl")
    refused(path, message, read_nvlabs_pickle, limits=limits)
    assert read_nvlabs_pickle(path, limits=Limits(max_depth=5)).networks  # the reference tree is 5 deep


def test_deep_module_chain_refused(tmp_path):
    G, D, G_ema = nets()
    pk = fx.sg2a_pickle(G, D, G_ema)
    state = sub(pk["G_ema"], "mapping.fc0")
    for _ in range(20):
        child = fx.persistent(nn.Module())
        state["_modules"]["deeper"] = child
        state = child.meta["state"]
    refused(fx.dump(pk, tmp_path / "deep.pkl"), "unsupported pickle: module tree deeper than 16 levels",
            read_nvlabs_pickle, exact=True)


def _bin_str(s):
    data = s.encode()
    return b"X" + struct.pack("<I", len(data)) + data


def test_module_cycle_refused(tmp_path):
    """A record placed inside its own _modules after creation (SETITEM through the memo)."""
    state = b"}(" + _bin_str("_parameters") + b"}" + _bin_str("_buffers") + b"}" + _bin_str("_modules") + b"}q\x05u"
    meta = (b"}(" + _bin_str("type") + _bin_str("class") + _bin_str("version") + b"K\x06" + _bin_str("module_src")
            + _bin_str(fx.SG2A_SRC) + _bin_str("class_name") + _bin_str("Generator") + _bin_str("state") + state + b"u")
    record = b"ctorch_utils.persistence\n_reconstruct_persistent_obj\n" + meta + b"\x85Rq\x06"
    data = b"\x80\x02}q\x00" + _bin_str("G_ema") + record + b"s" + b"h\x05" + _bin_str("self") + b"h\x06s0."
    top = read_pickle(write_bytes(tmp_path, data))
    assert top["G_ema"].state["_modules"]["self"] is top["G_ema"]
    refused(write_bytes(tmp_path, data), "unsupported pickle: module tree deeper than 16 levels", read_nvlabs_pickle,
            exact=True)


def test_deeply_nested_and_self_containing_keywords_refused(tmp_path):
    deep = []
    for _ in range(40):
        deep = [deep]
    loop = []
    loop.append(loop)
    for value in (deep, loop):
        path = edit(tmp_path, lambda g, v=value: sub(g, "")["_init_kwargs"]["synthesis_kwargs"].__setitem__("x", v))
        refused(path, "unsupported pickle: Generator keywords nested too deeply", read_nvlabs_pickle, exact=True)


def test_truncated_empty_and_trailing_files_refused(tmp_path):
    data = fx.dump(fx.sg2a_pickle(*nets()), tmp_path / "net.pkl").read_bytes()
    for cut in (len(data) // 2, len(data) - 1, 100, 1):
        refused(write_bytes(tmp_path, data[:cut]), "corrupt pickle:", read_nvlabs_pickle)
    refused(write_bytes(tmp_path, b""), "corrupt pickle: the file is truncated", exact=True)
    refused(write_bytes(tmp_path, data + b"\0"), "corrupt pickle: trailing bytes after the end of the pickle",
            exact=True)


@pytest.mark.parametrize("seed", range(12))
def test_random_bytes_refused_cleanly(tmp_path, seed):
    rs = np.random.RandomState(seed)
    head = [b"", b"\x80\x02", b"\x80\x04", b"\x80\x05"][seed % 4]
    data = head + rs.bytes(rs.randint(1, 400))
    with pytest.raises(ModelError) as info:
        read_nvlabs_pickle(write_bytes(tmp_path, data))
    assert "\n" not in str(info.value)
    assert str(info.value).startswith(("corrupt pickle:", "unsafe pickle:", "unsupported pickle:"))


def test_missing_file_and_directory(tmp_path):
    refused(tmp_path / "nope.pkl", "file not found:")
    refused(tmp_path, "not a regular file:")
