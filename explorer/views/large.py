"""The large view: the current image at model resolution, scaled to fit, with a caption saying what it is."""

from __future__ import annotations

import numpy as np
import pygame
from pygame import Rect

from model.spec import LatentSpec

from .draw import DIM, TEXT, TILE, WARN, fit, text, to_surface

CAPTION = 44


class LargeView:
    def __init__(self) -> None:
        self.image: np.ndarray | None = None  # uint8 [H, W, C] exactly as rendered, for saving
        self.spec: LatentSpec | None = None
        self.stamp = 0
        self._surface: pygame.Surface | None = None
        self._scaled: pygame.Surface | None = None
        self._scaled_nearest = False

    def set_image(self, image: np.ndarray, spec: LatentSpec, stamp: int) -> None:
        self.image, self.spec, self.stamp = image, spec, stamp
        self._surface, self._scaled = to_surface(image), None

    def clear(self) -> None:
        self.image = self.spec = self._surface = self._scaled = None
        self.stamp = 0

    def image_rect(self, rect: Rect) -> Rect:
        side = max(min(rect.width - 32, rect.height - CAPTION - 24), 16)
        return Rect(rect.centerx - side // 2, rect.top + 16, side, side)

    def draw(self, surface: pygame.Surface, rect: Rect, caption: str, pending: bool, nearest: bool) -> None:
        """`nearest` upscales with crisp pixels (small models), else smoothly."""
        r = self.image_rect(rect)
        if self._surface is None:
            pygame.draw.rect(surface, TILE, r, border_radius=4)
            text(surface, "rendering…", r.center, 16, DIM, anchor="center")
        else:
            if self._scaled is None or self._scaled.get_width() != r.width or self._scaled_nearest != nearest:
                self._scaled, self._scaled_nearest = fit(self._surface, r.width, nearest), nearest
            surface.blit(self._scaled, r)
        text(surface, caption, (rect.centerx, r.bottom + 12), 16, TEXT, anchor="midtop", max_width=rect.width - 24)
        if pending:
            text(surface, "rendering…", (r.right - 8, r.top + 6), 13, WARN, anchor="topright")
