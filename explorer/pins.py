"""Pins and settings on disk: one JSON file per model id in the user data directory, written atomically.

A pins file that cannot be read is moved aside (never deleted: it may be the user's only copy) and the app starts
with no pins and a warning. `SGX_DATA_DIR` overrides the directory (tests, portable installs).
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import platformdirs

from model.io.atomic import atomic_write

from .state import Pin, Recipe

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
           "pins": [{"name": p.name, **p.recipe.to_json()} for p in pins]}
    text = json.dumps(doc, indent=1, ensure_ascii=False)
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def load_pins(model_id: str) -> tuple[list[Pin], str | None]:
    """(pins, warning). No file = no pins; an unreadable one is renamed to `*.corrupt-<time>` and reported."""
    path = pins_path(model_id)
    if not path.exists():
        return [], None
    try:
        return _parse(json.loads(path.read_text(encoding="utf-8")), model_id), None
    except (ValueError, OSError, UnicodeError) as e:  # JSONDecodeError is a ValueError
        aside = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
        try:
            os.replace(path, aside)
        except OSError as move_error:
            return [], f"Could not read the pins file {path} ({e}) nor move it aside ({move_error})."
        return [], f"The pins file could not be read ({e}); it was moved to {aside} and pins start empty."


def _parse(doc, model_id: str) -> list[Pin]:
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ValueError(f"not a {FORMAT} file")
    if doc.get("model_id") != model_id:
        raise ValueError("it belongs to another model")
    if not isinstance(doc.get("pins"), list):
        raise ValueError("no pin list")
    pins = []
    for i, item in enumerate(doc["pins"]):
        try:
            name = item.get("name") if isinstance(item, dict) else None
            if not isinstance(name, str) or not name.strip():
                raise ValueError("no name")
            pins.append(Pin(name, Recipe.from_json(item)))
        except ValueError as e:
            raise ValueError(f"pin {i + 1}: {e}") from None
    return pins


def settings_path() -> Path:
    return data_dir() / "settings.json"


def load_settings() -> dict:
    """Small user preferences (the save folder); anything unreadable just means defaults."""
    try:
        doc = json.loads(settings_path().read_text(encoding="utf-8"))
    except (ValueError, OSError, UnicodeError):
        return {}
    return doc if isinstance(doc, dict) else {}


def save_settings(settings: dict) -> None:
    path = settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(settings, indent=1)
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
