"""The status bar: model, resolution, device, last render time, UI fps; plus short-lived toasts."""

from __future__ import annotations

import pygame
from pygame import Rect

from .draw import ACCENT, DIM, LINE, PANEL, TEXT, text

TOAST_SECONDS = 3.0
TITLE = "StyleGAN Explorer"  # the window caption, and the status line before a model is open


class StatusBar:
    def __init__(self) -> None:
        self.toast = ""
        self._toast_until = 0.0

    def show(self, message: str, now: float) -> None:
        self.toast, self._toast_until = message, now + TOAST_SECONDS

    def draw(self, surface: pygame.Surface, rect: Rect, left: str, right: str, now: float) -> None:
        pygame.draw.rect(surface, PANEL, rect)
        pygame.draw.line(surface, LINE, rect.topleft, rect.topright)
        y = rect.centery
        right_rect = text(surface, right, (rect.right - 12, y), 13, DIM, anchor="midright")
        if now < self._toast_until:
            left_rect = text(surface, self.toast, (rect.left + 12, y), 13, ACCENT, anchor="midleft", bold=True,
                             max_width=right_rect.left - rect.left - 36)
            text(surface, left, (left_rect.right + 24, y), 13, TEXT, anchor="midleft",
                 max_width=max(right_rect.left - left_rect.right - 36, 0))
        else:
            text(surface, left, (rect.left + 12, y), 13, TEXT, anchor="midleft",
                 max_width=right_rect.left - rect.left - 24)
