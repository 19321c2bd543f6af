"""Crash-safe file writing for run directories: whole files by temp-file + rename, logs by whole-line appends.

A run can be killed at any moment (Ctrl+C twice, SIGKILL). Files replaced through `atomic_write` are either old
or new, never half-written. Logs (`log.txt`, `*.jsonl`) grow by one `os.write` of a complete line per record;
`read_jsonl` ignores a torn last line should the system die inside that write. A failed write (disk full) is
raised as model.io.atomic's WriteError naming the file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin

from model.io.atomic import atomic_write, write_error

PNG_META_KEY = "stylegan-explorer"


def write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def append_line(path: str | os.PathLike, line: str) -> None:
    """Append one complete line with a single write call (O_APPEND), so records never interleave or tear."""
    data = (line.rstrip("\n") + "\n").encode("utf-8")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
    except OSError as e:  # os.write's error names no file
        raise write_error(e, path) from e


def read_jsonl(path: str | os.PathLike) -> list[dict]:
    """The complete records of a .jsonl file (a torn or unreadable line is skipped)."""
    path = Path(path)
    if not path.is_file():
        return []
    records = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def rewrite_jsonl(path: str | os.PathLike, records: list[dict]) -> None:
    write_text(path, "".join(json.dumps(r) + "\n" for r in records))


def save_grid_png(path: str | os.PathLike, images: np.ndarray, grid_w: int, metadata: dict | None = None) -> None:
    """uint8 [N, H, W, C] -> a PNG with rows of `grid_w` images (empty cells black) and JSON metadata (iTXt)."""
    n, h, w, c = images.shape
    grid_h = -(-n // grid_w)
    canvas = np.zeros((grid_h * h, grid_w * w, c), dtype=np.uint8)
    for i in range(n):
        y, x = divmod(i, grid_w)
        canvas[y * h:(y + 1) * h, x * w:(x + 1) * w] = images[i]
    image = Image.fromarray(canvas[:, :, 0] if c == 1 else canvas)
    info = PngImagePlugin.PngInfo()
    if metadata is not None:
        info.add_itxt(PNG_META_KEY, json.dumps(metadata, sort_keys=True))
    atomic_write(path, lambda tmp: image.save(tmp, format="PNG", pnginfo=info))
