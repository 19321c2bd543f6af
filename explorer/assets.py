"""The bundled files: the pygame_gui theme and the demo model with its card.

They live once, in the checkout's top-level assets/ folder; pyproject.toml installs that folder as the package
`explorer.bundled`, so the same lookup finds them in a wheel and in an editable install.
"""

from importlib import resources
from pathlib import Path


def _folder() -> Path:
    try:
        return Path(resources.files("explorer.bundled"))  # pip unpacks wheels, so this is a real folder
    except ModuleNotFoundError:  # the checkout on sys.path without an install (PYTHONPATH=., editable compat mode)
        return Path(__file__).resolve().parents[1] / "assets"


ASSETS = _folder()
THEME = ASSETS / "theme.json"
DEMO_MODEL = ASSETS / "models" / "emoji64.safetensors"
# Model ids of the demo models shipped before DEMO_MODEL, newest first. Pins are kept per model id, so when a new
# demo model replaces one, its users' pins stay on disk but no longer show; listing the old id here lets the
# explorer say where they are. Add the outgoing id whenever the demo model is replaced.
FORMER_DEMO_IDS = ("1cbeaac96c7c71a6e1c69c35cc80540348db5e2c4c2130c187ea04146c667674",)  # 208.7 kimg, until 2026-12
