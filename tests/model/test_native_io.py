"""Our safetensors checkpoint format and the `load` entry point."""

import json
import os

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from model.errors import ModelError
from model.io import load, model_id, save_networks
from model.io import native as native_mod
from model.io.native import read_header

from .conformance import make_d, make_g


@pytest.fixture(scope="module")
def nets():
    return {"G": make_g(3), "D": make_d(3), "G_ema": make_g(3)}


def render(g, seed=0):
    z = torch.from_numpy(np.random.RandomState(seed).randn(2, 32))
    c = torch.eye(3)[[1, 2]]
    with torch.no_grad():
        return g(z, c, truncation_psi=0.7, noise_mode="const")


def test_round_trip_reproduces_images_and_id(tmp_path, nets):
    path = tmp_path / "net.safetensors"
    save_networks(path, nets, {"kimg": 12})
    loaded = load(path)
    assert list(loaded.networks) == ["G_ema"]
    assert loaded.format == "stylegan-explorer" and loaded.metadata == {"kimg": 12}
    assert torch.equal(render(loaded.G), render(nets["G_ema"]))
    assert loaded.model_id == model_id(nets["G_ema"])
    all3 = load(path, which=("G", "D", "G_ema"))
    x = render(nets["G"])
    c = torch.eye(3)[[0, 1]]
    assert torch.equal(all3.networks["D"](x, c), nets["D"](x, c))
    assert not any(p.requires_grad for p in all3.G.parameters())


def test_model_id_depends_on_values_only(nets):
    g = make_g(3)
    assert model_id(g) == model_id(nets["G_ema"])
    with torch.no_grad():
        g.mapping.fc0.bias[0] += 1e-3
    assert model_id(g) != model_id(nets["G_ema"])


def test_save_is_atomic_and_keeps_existing_file(tmp_path, nets, monkeypatch):
    path = tmp_path / "net.safetensors"
    save_networks(path, {"G_ema": nets["G_ema"]})
    before = path.read_bytes()

    def failing_save(tensors, filename, metadata=None):
        with open(filename, "wb") as f:
            f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(native_mod, "save_file", failing_save)
    with pytest.raises(OSError):
        save_networks(path, nets)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["net.safetensors"]


def test_missing_network_and_bad_names(tmp_path, nets):
    path = tmp_path / "g.safetensors"
    save_networks(path, {"G_ema": nets["G_ema"]})
    with pytest.raises(ModelError, match="has no network 'D'"):
        load(path, which=("D",))
    with pytest.raises(ModelError, match="unknown network name 'X'"):
        load(path, which=("X",))


def test_header_mismatch_is_incompatible_weights(tmp_path, nets):
    path = tmp_path / "g.safetensors"
    save_networks(path, {"G_ema": nets["G_ema"]})
    header = read_header(path)
    header["networks"]["G_ema"]["init_kwargs"]["w_dim"] = 16
    tensors = {k: v.contiguous() for k, v in nets["G_ema"].state_dict().items()}
    save_file({f"G_ema.{k}": v for k, v in tensors.items()}, str(path),
              metadata={"stylegan-explorer": json.dumps(header)})
    with pytest.raises(ModelError, match="incompatible weights: '.*' has shape"):
        load(path)


@pytest.mark.parametrize("content,message", [
    (b"", "neither a network pickle nor a safetensors"),
    (os.urandom(4096), "neither a network pickle nor a safetensors|corrupt|unsupported"),
    (b"PK\x03\x04" + b"\0" * 100, "zip archive"),
])
def test_garbage_files_give_one_line_errors(tmp_path, content, message):
    path = tmp_path / "bad.bin"
    path.write_bytes(content)
    with pytest.raises(ModelError, match=message) as e:
        load(path)
    assert "\n" not in str(e.value)


def test_truncated_and_foreign_safetensors(tmp_path, nets):
    path = tmp_path / "g.safetensors"
    save_networks(path, {"G_ema": nets["G_ema"]})
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError, match="corrupt file"):
        load(path)
    save_file({"x": torch.zeros(3)}, str(path))
    with pytest.raises(ModelError, match="without stylegan-explorer metadata"):
        load(path)


def test_missing_file(tmp_path):
    with pytest.raises(ModelError, match="file not found"):
        load(tmp_path / "nope.pkl")
    with pytest.raises(ModelError, match="not a regular file"):
        load(tmp_path)
