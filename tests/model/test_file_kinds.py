"""Telling network files apart by content, and refusing malformed or suspicious ones with one line."""

import json
import pickle

import pytest
import torch
from safetensors.torch import save_file

from model.errors import ModelError
from model.io import load, save_networks, sniff
from model.io.native import HEADER_KEY, TRAINING_STATE_KEY

from .conformance import make_g


@pytest.fixture(scope="module")
def g():
    return make_g(0)


def header_length(path) -> int:
    return int.from_bytes(path.read_bytes()[:8], "little")


def test_our_checkpoints_load_whatever_their_header_length(tmp_path, g):
    """safetensors pads its header to 8 bytes, so 32 residues mod 256 exist; 128 starts the file with 0x80."""
    seen = {}
    for n in range(400):
        path = tmp_path / f"g{n}.safetensors"
        save_networks(path, {"G_ema": g}, {"note": "x" * n})
        residue = header_length(path) % 256
        if residue in seen:
            path.unlink()
            continue
        seen[residue] = (path, n)
        if len(seen) == 32:
            break
    assert sorted(seen) == list(range(0, 256, 8))
    assert seen[128][0].read_bytes()[:1] == b"\x80"
    for residue, (path, n) in seen.items():
        assert sniff(path) == "safetensors", residue
        loaded = load(path)
        assert loaded.format == "stylegan-explorer" and loaded.metadata == {"note": "x" * n}


@pytest.mark.parametrize("protocol", range(0, 6))
def test_pickles_of_every_protocol_are_pickles(tmp_path, protocol):
    path = tmp_path / "x.pkl"
    path.write_bytes(pickle.dumps({"G": None, "D": None}, protocol=protocol))
    assert sniff(path) == "pickle"


@pytest.mark.parametrize("content,kind", [
    (b"\x80\x0e" + b"\0" * 64, "unknown"),  # PROTO with an impossible protocol
    (b"\x80", "unknown"),
    ((64).to_bytes(8, "little") + b"{}", "unknown"),  # header length beyond the file: truncated
    ((2).to_bytes(8, "little") + b"[]", "unknown"),  # a header that is not a JSON object
    (b"PK\x03\x04" + b"\0" * 60, "zip"),
    (b"", "unknown"),
])
def test_other_content(tmp_path, content, kind):
    path = tmp_path / "x.bin"
    path.write_bytes(content)
    assert sniff(path) == kind


def write_header(path, header) -> None:
    g = make_g(0)
    tensors = {f"G_ema.{k}": v.contiguous() for k, v in g.state_dict().items()}
    save_file(tensors, str(path), metadata={HEADER_KEY: json.dumps(header)})


@pytest.mark.parametrize("header,message", [
    ([1, 2], "malformed header"),
    ("text", "malformed header"),
    ({"format": "stylegan-explorer/1"}, "no 'networks'"),
    ({"format": "stylegan-explorer/1", "networks": []}, "no 'networks'"),
    ({"format": "stylegan-explorer/1", "networks": {"G_ema": "Generator"}}, "not an object"),
    ({"format": "stylegan-explorer/1", "networks": {"G_ema": {"class": 3, "init_kwargs": {}}}}, "class name"),
    ({"format": "stylegan-explorer/1", "networks": {"G_ema": {"class": "Generator", "init_kwargs": []}}},
     "constructor keywords"),
    ({"format": "stylegan-explorer/1", "networks": {"G_ema": {"class": "Generator", "init_kwargs": {}}},
      "metadata": "x"}, "'metadata'"),
    ({"format": "stylegan-explorer/1", "networks": {"G_ema": {"class": "Generator", "init_kwargs": {
        "z_dim": 8, "w_dim": 8, "c_dim": 0, "img_resolution": 16, "img_channels": 3, "mapping_kwargs": "x"}}}},
     "mapping_kwargs"),
    ({"format": "stylegan-explorer/1", "networks": {"G_ema": {"class": "Generator", "init_kwargs": {
        "z_dim": 8, "w_dim": 8, "c_dim": 0, "img_resolution": 16, "img_channels": 3, "synthesis_kwargs": "x"}}}},
     "cannot build"),
])
def test_malformed_headers_are_one_line_errors(tmp_path, header, message):
    path = tmp_path / "bad.safetensors"
    write_header(path, header)
    with pytest.raises(ModelError, match=message) as e:
        load(path)
    assert "\n" not in str(e.value)


def test_a_training_state_file_is_recognised(tmp_path):
    path = tmp_path / "training-state-0000001000.safetensors"
    save_file({"x": torch.zeros(2)}, str(path), metadata={TRAINING_STATE_KEY: json.dumps({"cur_nimg": 1000})})
    with pytest.raises(ModelError, match="training-state file.*--resume"):
        load(path)


def test_non_finite_weights_are_reported(tmp_path, g):
    path = tmp_path / "g.safetensors"
    save_networks(path, {"G_ema": g})
    assert load(path).warnings == []
    broken = make_g(0)
    with torch.no_grad():
        broken.mapping.fc0.weight[0, 0] = float("nan")
        broken.synthesis.b4.conv1.weight[0, 0, 0, 0] = float("inf")
    save_networks(path, {"G_ema": broken})
    (warning,) = load(path).warnings
    assert "non-finite" in warning and "2 tensor(s)" in warning and "G_ema.synthesis.b4.conv1.weight" in warning
