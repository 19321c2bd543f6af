"""The seed browser: a page of thumbnails of consecutive seeds, the selected one outlined."""

from __future__ import annotations

import pygame
from pygame import Rect

from ..state import Explorer
from .draw import ACCENT, DIM, LINE, TEXT, TILE, text
from .thumbs import Thumbs

GAP = 14
LABEL = 20
MIN_TILE, MAX_TILE = 120, 200


class GridView:
    def __init__(self) -> None:
        self.rect = Rect(0, 0, 0, 0)
        self.tile = MIN_TILE
        self.cols = self.rows = 1

    def set_rect(self, rect: Rect) -> tuple[int, int]:
        """Fit as many tiles of MIN_TILE..MAX_TILE as the area holds; returns (cols, rows)."""
        self.rect = Rect(rect)
        inner = max(rect.width - GAP, 1)
        self.cols = max(1, inner // (MIN_TILE + GAP))
        self.tile = min(MAX_TILE, max(inner // self.cols - GAP, 16))
        self.rows = max(1, (rect.height - GAP) // (self.tile + LABEL + GAP))
        return self.cols, self.rows

    def tile_rect(self, index: int) -> Rect:
        width = self.cols * (self.tile + GAP) - GAP
        left = self.rect.left + (self.rect.width - width) // 2
        height = self.rows * (self.tile + LABEL + GAP) - GAP
        top = self.rect.top + max((self.rect.height - height) // 2, GAP // 2)
        row, col = divmod(index, self.cols)
        return Rect(left + col * (self.tile + GAP), top + row * (self.tile + LABEL + GAP), self.tile, self.tile)

    def hit(self, pos: tuple[int, int], state: Explorer) -> int | None:
        """The seed under pos, if any."""
        for i, seed in enumerate(state.page_seeds()):
            if self.tile_rect(i).inflate(4, LABEL * 2).collidepoint(pos):
                return seed
        return None

    def draw(self, surface: pygame.Surface, state: Explorer, thumbs: Thumbs, hover: tuple[int, int]) -> None:
        for i, seed in enumerate(state.page_seeds()):
            r = self.tile_rect(i)
            image = thumbs.get(state.spec(seed), self.tile)
            if image is None:
                pygame.draw.rect(surface, TILE, r, border_radius=4)
            else:
                surface.blit(image, r)
            selected = seed == state.seed
            if selected:
                pygame.draw.rect(surface, ACCENT, r.inflate(6, 6), 3, border_radius=5)
            elif r.collidepoint(hover):
                pygame.draw.rect(surface, LINE, r.inflate(4, 4), 2, border_radius=5)
            text(surface, f"{seed}", (r.centerx, r.bottom + 3), 13, TEXT if selected else DIM, anchor="midtop")
