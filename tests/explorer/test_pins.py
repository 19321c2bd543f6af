"""Pins on disk: per model id, atomic, round-trip; a corrupt file is moved aside, never lost."""

import json

import pytest

from explorer.pins import ENV_VAR, load_pins, load_settings, pins_path, save_pins, save_settings
from explorer.state import Mix, Pin, Recipe

MODEL = "0f" * 32


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    return tmp_path


def test_round_trip_per_model(data_dir):
    pins = [Pin("smile", Recipe(4, 0.7, None, None, "const")),
            Pin("mixed ✓", Recipe(9, 1.0, 4, 2, "none", Mix(3, 0, 3)))]
    save_pins(MODEL, pins)
    assert pins_path(MODEL).parent == data_dir / "pins"
    assert load_pins(MODEL) == (pins, None)
    assert load_pins("1" * 64) == ([], None)
    save_pins(MODEL, pins[1:])
    assert load_pins(MODEL) == (pins[1:], None)
    assert [p.name for p in (data_dir / "pins").iterdir()] == [f"{MODEL}.json"]  # no temp files left


@pytest.mark.parametrize("content", [b"{not json", b"\xff\xfe", json.dumps({"format": "other"}).encode(),
                                     json.dumps({"format": "stylegan-explorer-pins/1", "model_id": MODEL,
                                                 "pins": [{"name": "x", "seed": -3}]}).encode()])
def test_corrupt_file_is_moved_aside_with_a_warning(data_dir, content):
    path = pins_path(MODEL)
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    pins, warning = load_pins(MODEL)
    assert pins == [] and "moved to" in warning
    moved = list(path.parent.glob(f"{MODEL}.json.corrupt-*"))
    assert not path.exists() and len(moved) == 1 and moved[0].read_bytes() == content


def test_a_file_of_another_model_is_not_taken(data_dir):
    save_pins(MODEL, [Pin("a", Recipe(1))])
    other = "2" * 64
    pins_path(MODEL).rename(pins_path(other))
    pins, warning = load_pins(other)
    assert pins == [] and "another model" in warning


def test_bad_model_id_is_refused():
    with pytest.raises(ValueError):
        pins_path("../../etc/passwd")


def test_settings_default_to_empty_and_round_trip(data_dir):
    assert load_settings() == {}
    save_settings({"save_dir": "/x"})
    assert load_settings() == {"save_dir": "/x"}
    (data_dir / "settings.json").write_text("[")
    assert load_settings() == {}
