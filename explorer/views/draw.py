"""Shared drawing helpers: the palette (matching theme.json), fonts, text and image scaling."""

from __future__ import annotations

import os
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np
import pygame

BG = (24, 26, 30)
PANEL = (34, 37, 43)
TILE = (44, 48, 55)
LINE = (58, 63, 72)
TEXT = (222, 226, 232)
DIM = (140, 148, 160)
LINE_TEXT = (100, 107, 118)  # hints: readable, quieter than DIM
ACCENT = (82, 148, 230)
WARN = (236, 170, 70)


@cache
def font(size: int, bold: bool = False) -> pygame.font.Font:
    """pygame_gui's bundled Noto Sans, so our own text matches the widgets (and has ψ, ², –)."""
    name = "NotoSans-Bold.ttf" if bold else "NotoSans-Regular.ttf"
    with resources.as_file(resources.files("pygame_gui.data") / name) as path:
        return pygame.font.Font(str(path), size)


def text(surface: pygame.Surface, s: str, pos: tuple[int, int], size: int = 14, colour=TEXT, bold: bool = False,
         anchor: str = "topleft", max_width: int = 0) -> pygame.Rect:
    """Draw one line; `max_width` elides the end with '…' rather than overflowing."""
    f = font(size, bold)
    if max_width and f.size(s)[0] > max_width:
        while s and f.size(s + "…")[0] > max_width:
            s = s[:-1]
        s += "…"
    image = f.render(s, True, colour)
    rect = image.get_rect(**{anchor: pos})
    surface.blit(image, rect)
    return rect


def to_surface(image: np.ndarray) -> pygame.Surface:
    """uint8 [H, W, 1 or 3] -> a display-format surface."""
    if image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    h, w = image.shape[:2]
    surface = pygame.image.frombuffer(np.ascontiguousarray(image).tobytes(), (w, h), "RGB")
    return surface.convert() if pygame.display.get_surface() is not None else surface


def fit(surface: pygame.Surface, size: int, nearest: bool = False) -> pygame.Surface:
    """Scale a square image to `size` px: smoothly (GAN images are photos), or with crisp pixels when `nearest`
    (a 64² image blown up smoothly is a blur)."""
    if surface.get_width() == size:
        return surface
    scale = pygame.transform.scale if nearest else pygame.transform.smoothscale
    return scale(surface, (size, size))


def home_relative(path: str) -> str:
    home = str(Path.home())
    return "~" + path[len(home):] if path == home or path.startswith(home + os.sep) else path


def wrap(s: str, width: int, f: pygame.font.Font) -> list[str]:
    """Words into lines no wider than `width` (a word wider than that gets a line of its own)."""
    lines = [""]
    for word in s.split():
        line = f"{lines[-1]} {word}".strip()
        if f.size(line)[0] <= width or not lines[-1]:
            lines[-1] = line
        else:
            lines.append(word)
    return lines


def elide_left(path: str, width: int, f: pygame.font.Font) -> str:
    """Keep the end of a path (the informative part) within `width` pixels."""
    if f.size(path)[0] <= width:
        return path
    while path and f.size("…" + path)[0] > width:
        path = path[1:]
    return "…" + path


def elide_middle(name: str, width: int, f: pygame.font.Font) -> str:
    """Keep both ends of a name (how it starts, and its number or suffix) within `width` pixels."""
    if f.size(name)[0] <= width:
        return name
    head, tail = name[:len(name) // 2], name[len(name) // 2:]
    while (head or tail) and f.size(head + "…" + tail)[0] > width:
        if len(head) > len(tail):
            head = head[:-1]
        else:
            tail = tail[1:]
    return head + "…" + tail
