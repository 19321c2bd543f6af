"""Pins and settings on disk: one JSON file per model id in the user data directory, written atomically.

A pins or settings file that cannot be read is moved aside (never deleted: it may be the user's only copy) and the
app starts with defaults and a warning; bad pins in a readable file are dropped with a warning, the rest kept.
`SGX_DATA_DIR` overrides the directory (tests, portable installs).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path

import platformdirs

from model.io.atomic import atomic_write
from model.spec import LatentSpec

from .assets import DEMO_MODEL, FORMER_DEMO_IDS
from .state import Pin

ENV_VAR = "SGX_DATA_DIR"
FORMAT = "stylegan-explorer-pins/1"


def data_dir() -> Path:
    return Path(os.environ.get(ENV_VAR) or platformdirs.user_data_dir("stylegan-explorer"))


def pins_path(model_id: str) -> Path:
    if not re.fullmatch(r"[0-9a-zA-Z_-]{1,128}", model_id):
        raise ValueError(f"bad model id {model_id!r}")
    return data_dir() / "pins" / f"{model_id}.json"


def save_pins(model_id: str, pins: list[Pin]) -> None:
    path = pins_path(model_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"format": FORMAT, "model_id": model_id,
           "pins": [{"name": p.name, **p.spec.to_json()} for p in pins]}
    text = json.dumps(doc, indent=1, ensure_ascii=False)
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def load_pins(model_id: str) -> tuple[list[Pin], str | None]:
    """(pins, warning). No file = no pins. An unreadable file is moved aside; one with some bad pins keeps the good
    ones: the original is copied aside and the file rewritten without the bad ones, so the next launch is clean."""
    path = pins_path(model_id)
    if not path.exists():
        return [], None
    try:
        pins, bad = _parse(json.loads(path.read_text(encoding="utf-8")), model_id)
    except Exception as e:  # noqa: BLE001 - whatever breaks (even RecursionError), the model must stay usable
        return [], _move_aside(path, e, "pins file", "pins start empty")
    if not bad:
        return pins, None
    listed = "; ".join(bad[:3]) + ("; …" if len(bad) > 3 else "")
    problems = f"{len(bad)} of {len(bad) + len(pins)} pins could not be read ({listed})"
    try:
        aside = _aside_name(path)
        shutil.copy2(path, aside)
        save_pins(model_id, pins)
    except OSError as e:
        return pins, f"{problems}, and the pins file {path} could not be backed up ({e}): it is left as it was."
    return pins, f"{problems}; the original file was copied to {aside} and the other pins kept."


def former_demo_pins(model_path: str | Path) -> Path | None:
    """The pins file of the newest earlier demo model, when `model_path` is the demo and such a file exists.

    A replaced demo model draws other pictures from the same seeds, so its pins are not carried over; but a user
    who upgraded should learn where they went rather than find the strip empty."""
    if not model_path or Path(model_path).resolve() != DEMO_MODEL.resolve():
        return None
    return next((path for path in map(pins_path, FORMER_DEMO_IDS) if path.exists()), None)


def _parse(doc, model_id: str) -> tuple[list[Pin], list[str]]:
    """(good pins, one line per bad pin); a ValueError if the file as a whole is not ours."""
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ValueError(f"not a {FORMAT} file")
    if doc.get("model_id") != model_id:
        raise ValueError("it belongs to another model")
    if not isinstance(doc.get("pins"), list):
        raise ValueError("no pin list")
    pins, bad = [], []
    for i, item in enumerate(doc["pins"]):
        name = item.get("name") if isinstance(item, dict) else None
        try:
            if not isinstance(name, str) or not name.strip():
                raise ValueError("no name")
            pins.append(Pin(name, LatentSpec.from_json(item)))
        except Exception as e:  # noqa: BLE001 - one bad pin must not hide the others
            label = f"pin {i + 1}" + (f" “{name[:40]}”" if isinstance(name, str) and name.strip() else "")
            bad.append(f"{label}: {_reason(e)[:80]}")
    return pins, bad


def _reason(e: BaseException) -> str:
    return str(e) or type(e).__name__


def _aside_name(path: Path) -> Path:
    """`<name>.corrupt-<time>`, numbered if taken: an earlier backup is never overwritten."""
    base = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
    aside, n = base, 2
    while aside.exists():
        aside, n = base.with_name(f"{base.name}-{n}"), n + 1
    return aside


def _move_aside(path: Path, error: BaseException, what: str, fallback: str) -> str:
    """Rename an unreadable file out of the way (never delete it: it may be the user's only copy); the warning."""
    try:
        aside = _aside_name(path)
        os.replace(path, aside)
    except OSError as move_error:
        return f"Could not read the {what} {path} ({_reason(error)}) nor move it aside ({move_error})."
    return f"The {what} could not be read ({_reason(error)}); it was moved to {aside} and {fallback}."


def settings_path() -> Path:
    return data_dir() / "settings.json"


def load_settings() -> tuple[dict, str | None]:
    """(settings, warning): small user preferences (the save folder). No file = defaults; an unreadable one is
    moved aside like a pins file, so the user learns why their choice was forgotten."""
    path = settings_path()
    if not path.exists():
        return {}, None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(doc, dict) or not isinstance(doc.get("save_dir", ""), str):
            raise ValueError("not a settings object")
    except Exception as e:  # noqa: BLE001 - as for pins: any failure means defaults, never a crash
        return {}, _move_aside(path, e, "settings file", "defaults are used")
    return doc, None


def save_settings(settings: dict) -> None:
    path = settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(settings, indent=1)
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
