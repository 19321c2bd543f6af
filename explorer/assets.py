"""The bundled files: the checkout's top-level assets/ folder (theme, demo model and its card)."""

from pathlib import Path

ASSETS = Path(__file__).resolve().parents[1] / "assets"
THEME = ASSETS / "theme.json"
DEMO_MODEL = ASSETS / "models" / "emoji64.safetensors"
