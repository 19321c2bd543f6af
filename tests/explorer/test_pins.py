"""Pins on disk: per model id, atomic, round-trip; a corrupt file is moved aside, never lost."""

import json

import pytest

import explorer.pins
from explorer.pins import ENV_VAR, former_demo_pins, load_pins, load_settings, pins_path, save_pins, save_settings
from explorer.state import Pin
from model.spec import LatentSpec, Mix

MODEL = "0f" * 32


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    return tmp_path


def test_round_trip_per_model(data_dir):
    pins = [Pin("smile", LatentSpec(4, 0.7, None, None, "const")),
            Pin("mixed ✓", LatentSpec(9, 1.0, 4, 2, "none", Mix(3, 0, 3)))]
    save_pins(MODEL, pins)
    assert pins_path(MODEL).parent == data_dir / "pins"
    assert load_pins(MODEL) == (pins, None)
    assert load_pins("1" * 64) == ([], None)
    save_pins(MODEL, pins[1:])
    assert load_pins(MODEL) == (pins[1:], None)
    assert [p.name for p in (data_dir / "pins").iterdir()] == [f"{MODEL}.json"]  # no temp files left


@pytest.mark.parametrize("content", [b"{not json", b"\xff\xfe", json.dumps({"format": "other"}).encode(),
                                     pytest.param(b"[" * 100_000, id="deeply-nested"),
                                     pytest.param(b'{"format": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
                                                  id="deeply-nested-field")])
def test_corrupt_file_is_moved_aside_with_a_warning(data_dir, content):
    path = pins_path(MODEL)
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    pins, warning = load_pins(MODEL)  # deep nesting is a RecursionError inside json: caught like the rest
    assert pins == [] and "moved to" in warning
    moved = list(path.parent.glob(f"{MODEL}.json.corrupt-*"))
    assert not path.exists() and len(moved) == 1 and moved[0].read_bytes() == content
    assert load_pins(MODEL) == ([], None)  # the next launch starts clean


def test_one_bad_pin_keeps_the_others_and_the_original_is_copied_aside(data_dir):
    good = [Pin("a", LatentSpec(1)), Pin("c", LatentSpec(3, 0.5))]
    items = [{"name": "a", **good[0].spec.to_json()}, {"name": "b", "seed": -3},
             {"name": "c", **good[1].spec.to_json()}, {"name": "d", "seed": 4, "psi": 10**400}, "junk"]
    content = json.dumps({"format": "stylegan-explorer-pins/1", "model_id": MODEL, "pins": items}).encode()
    path = pins_path(MODEL)
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    pins, warning = load_pins(MODEL)
    assert pins == good
    assert "3 of 5 pins" in warning and "pin 2 “b”: bad seed: -3" in warning and "pin 4 “d”: bad psi" in warning
    assert "pin 5: no name" in warning
    copied = list(path.parent.glob(f"{MODEL}.json.corrupt-*"))
    assert len(copied) == 1 and copied[0].read_bytes() == content and str(copied[0]) in warning
    assert load_pins(MODEL) == (good, None)  # the file now holds the good pins: no warning at every launch


def test_a_backup_never_overwrites_an_earlier_one(data_dir, monkeypatch):
    monkeypatch.setattr("time.strftime", lambda *args: "20250101-000000")  # two failures in the same second
    path = pins_path(MODEL)
    path.parent.mkdir(parents=True)
    for content in (b"first", b"second"):
        path.write_bytes(content)
        assert "moved to" in load_pins(MODEL)[1]
    assert sorted(p.read_bytes() for p in path.parent.glob("*.corrupt-*")) == [b"first", b"second"]


def test_a_file_of_another_model_is_not_taken(data_dir):
    save_pins(MODEL, [Pin("a", LatentSpec(1))])
    other = "2" * 64
    pins_path(MODEL).rename(pins_path(other))
    pins, warning = load_pins(other)
    assert pins == [] and "another model" in warning


def test_bad_model_id_is_refused():
    with pytest.raises(ValueError):
        pins_path("../../etc/passwd")


def test_settings_default_to_empty_and_round_trip(data_dir):
    assert load_settings() == ({}, None)
    save_settings({"save_dir": "/x"})
    assert load_settings() == ({"save_dir": "/x"}, None)


@pytest.mark.parametrize("content", [b"[", pytest.param(b"[" * 100_000, id="deeply-nested"), b'{"save_dir": 5}',
                                     b"[]", b"\xff"])
def test_unreadable_settings_are_moved_aside_with_a_warning(data_dir, content):
    (data_dir / "settings.json").write_bytes(content)
    settings, warning = load_settings()
    assert settings == {} and "moved to" in warning and "defaults" in warning
    moved = list(data_dir.glob("settings.json.corrupt-*"))
    assert len(moved) == 1 and moved[0].read_bytes() == content
    assert load_settings() == ({}, None)


def test_pins_of_an_earlier_demo_model_are_found_only_for_the_demo(data_dir, monkeypatch):
    demo, older, oldest = data_dir / "demo.safetensors", "1a" * 32, "2b" * 32
    monkeypatch.setattr(explorer.pins, "DEMO_MODEL", demo)
    monkeypatch.setattr(explorer.pins, "FORMER_DEMO_IDS", (older, oldest))
    assert former_demo_pins(demo) is None  # none kept
    save_pins(oldest, [Pin("old", LatentSpec(1))])
    assert former_demo_pins(demo) == pins_path(oldest)
    save_pins(older, [Pin("newer", LatentSpec(2))])
    assert former_demo_pins(str(demo)) == pins_path(older)  # the newest former demo first
    assert former_demo_pins(data_dir / "mine.safetensors") is None and former_demo_pins("") is None
