"""The help overlay: every key and mouse action in one table (the README shows the same table)."""

from __future__ import annotations

import pygame
from pygame import Rect

from .draw import ACCENT, DIM, LINE, PANEL, TEXT, font, text, wrap

KEYS = (
    ("arrow keys", "move through the seeds (large view: previous / next seed)"),
    ("PgUp, PgDn", "previous / next page of seeds"),
    ("mouse wheel", "scroll the seeds one row per notch (large view: previous / next seed);"
                    " over the controls, scroll them"),
    ("Space", "random seed"),
    ("Enter, click", "open the selected seed in the large view"),
    ("N", "large view: crisp (nearest-neighbour) or smooth scaling; crisp for models up to 128²"),
    ("G", "go to a seed"),
    ("P", "pin the current image"),
    ("Delete, Backspace", "unpin the current image"),
    ("click / drag / × on a pin", "recall / reorder / remove it; double-click or F2 renames"),
    ("S", "save the current image as a PNG that records how to render it again"),
    ("E", "export a video through the pins"),
    ("O, drop a file", "open a network file (a dropped image is projected into a pin)"),
    ("directions panel", "move along SeFa / GANSpace directions over a w range; P pins the edited image"),
    ("Ctrl+Z, Cmd+Z", "undo (sliders, edits, pins)"),
    ("F1, H", "this help"),
    ("Esc", "back / close / quit"),
)


def draw_help(surface: pygame.Surface) -> Rect:
    """The keys and what they do, in a box as wide as the window allows; long descriptions wrap."""
    shade = pygame.Surface(surface.get_size(), pygame.SRCALPHA)
    shade.fill((0, 0, 0, 170))
    surface.blit(shade, (0, 0))
    row, line, key_w = 28, 19, 230
    box = Rect(0, 0, min(surface.get_width() - 40, 1000), 0)
    actions = [wrap(action, box.width - key_w - 56, font(15)) for _, action in KEYS]
    box.height = 90 + row * len(KEYS) + line * sum(len(lines) - 1 for lines in actions)
    box.center = surface.get_rect().center
    pygame.draw.rect(surface, PANEL, box, border_radius=8)
    pygame.draw.rect(surface, LINE, box, 1, border_radius=8)
    text(surface, "Keyboard and mouse", (box.left + 28, box.top + 20), 20, TEXT, bold=True)
    y = box.top + 64
    for (key, _), lines in zip(KEYS, actions, strict=True):
        text(surface, key, (box.left + 28, y), 15, ACCENT, bold=True)
        for i, part in enumerate(lines):
            text(surface, part, (box.left + 28 + key_w, y + i * line), 15, TEXT)
        y += row + line * (len(lines) - 1)
    text(surface, "press any key to close", (box.centerx, box.bottom - 24), 13, DIM, anchor="midtop")
    return box
