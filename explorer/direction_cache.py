"""The explorer's store of latent directions per model: `<data dir>/directions/<model id>-<method>-<digest>.npz`.

GANSpace runs and loaded direction files are kept there, so a pin, PNG or keyframe with an edit along them renders
again after a restart: the render worker reads the store when it opens a model, `sgx video` when keyframes name a
direction that is not SeFa.
"""

from __future__ import annotations

from pathlib import Path

from model.directions import Directions, check_model, load_directions, save_directions
from model.errors import ModelError

from .pins import data_dir


def store() -> Path:
    return data_dir() / "directions"


def kept(model_id: str) -> tuple[list[Directions], list[str]]:
    """Every set kept for this model, and a one-line problem for each file that does not load or belong to it."""
    sets, problems = [], []
    for path in sorted(store().glob(f"{model_id}-*.npz")):
        try:
            found = load_directions(path)
            check_model(found, model_id, path.name)
            sets.append(found)
        except ModelError as e:
            problems.append(str(e))
    return sets, problems


def keep(model_id: str, found: Directions) -> str:
    """Save a set where the next open finds it; a failure is only a warning (the set works until quit)."""
    path = store() / f"{model_id}-{found.method}-{found.digest}.npz"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        save_directions(path, found)
    except OSError as e:
        return f"could not keep the directions for next time ({e}): edits along them will not render then"
    return ""
