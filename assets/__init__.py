"""Package data only: pyproject.toml installs this folder as `explorer.bundled`, so that a wheel carries the theme
and the demo model while the checkout keeps a single copy here. explorer/assets.py finds the files."""
