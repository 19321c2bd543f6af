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
