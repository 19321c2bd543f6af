"""The projection view: while an image file is projected into the latent space, the main area shows it beside
the current reconstruction, the step and the loss, and a Cancel button."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pygame
import pygame_gui
from pygame import Rect
from pygame_gui.elements import UIButton

from ..actions import Action, CancelProjection
from .draw import ACCENT, DIM, LINE, TEXT, TILE, fit, text, to_surface

GAP = 24
ABOVE = 40  # the title
BELOW = 130  # captions, the progress line and bar, the button


@dataclass
class Projecting:
    """A projection on its way, as the UI knows it from the worker's 'projection' results."""

    name: str  # the pin it becomes: the file's stem
    stamp: int  # of the renderer request: results of another (cancelled, replaced) request are ignored
    step: int = 0
    total: int = 0
    loss: float | None = None
    target: np.ndarray | None = None  # uint8 [H, W, C], as fitted to the model
    image: np.ndarray | None = None  # the latest reconstruction

    def update(self, step: int, total: int, loss: float, images: list[np.ndarray]) -> None:
        """A progress report: no loss before the first step; images are [target] or [target, reconstruction]."""
        self.step, self.total = step, total
        self.loss = loss if step else None
        self.target = images[0]
        if len(images) > 1:
            self.image = images[1]


class ProjectionView:
    def __init__(self, manager: pygame_gui.UIManager):
        self.manager = manager
        self.cancel: UIButton | None = None
        self._scaled: dict[str, tuple[np.ndarray, int, bool, pygame.Surface]] = {}

    def frame(self, rect: Rect) -> tuple[Rect, Rect]:
        """The target's and the reconstruction's squares, side by side, the whole view centred in `rect`."""
        side = max(min((rect.width - 3 * GAP) // 2, rect.height - ABOVE - BELOW - 2 * GAP), 16)
        top = rect.top + max((rect.height - ABOVE - BELOW - side) // 2, 0) + ABOVE
        left = Rect(rect.centerx - side - GAP // 2, top, side, side)
        return left, left.move(side + GAP, 0)

    def sync(self, job: Projecting | None, rect: Rect) -> None:
        """The Cancel button exists while a projection runs, under the pictures."""
        if job is None:
            if self.cancel is not None:
                self.cancel.kill()
                self.cancel, self._scaled = None, {}
            return
        at = Rect(0, 0, 120, 30)
        at.midtop = (rect.centerx, self.frame(rect)[0].bottom + 96)
        if self.cancel is None:
            self.cancel = UIButton(at, "Cancel", self.manager, tool_tip_text="Stop the projection (Esc)")
        elif self.cancel.rect.topleft != at.topleft:
            self.cancel.set_position(at.topleft)

    def handle(self, event: pygame.event.Event) -> Action | None:
        if event.type == pygame_gui.UI_BUTTON_PRESSED and self.cancel is not None and event.ui_element is self.cancel:
            return CancelProjection()
        return None

    def draw(self, surface: pygame.Surface, rect: Rect, job: Projecting, nearest: bool) -> None:
        left, right = self.frame(rect)
        text(surface, f"Projecting “{job.name}”", (rect.centerx, left.top - ABOVE + 8), 16, TEXT, anchor="midtop",
             max_width=rect.width - 24)
        for key, image, square, caption in (("target", job.target, left, "target"),
                                            ("image", job.image, right, "reconstruction")):
            if image is None:
                pygame.draw.rect(surface, TILE, square, border_radius=4)
                text(surface, "reading…" if key == "target" else "starting…", square.center, 16, DIM,
                     anchor="center")
            else:
                surface.blit(self._scale(key, image, square.width, nearest), square)
            text(surface, caption, (square.centerx, square.bottom + 8), 14, DIM, anchor="midtop")
        done = job.step / job.total if job.total else 0.0
        loss = f"   ·   loss {job.loss:.4f}" if job.loss is not None else ""
        text(surface, f"step {job.step} / {job.total or '…'}{loss}", (rect.centerx, left.bottom + 40), 15, TEXT,
             anchor="midtop")
        bar = Rect(left.left, left.bottom + 70, right.right - left.left, 6)
        pygame.draw.rect(surface, LINE, bar, border_radius=3)
        pygame.draw.rect(surface, ACCENT, Rect(bar.left, bar.top, round(bar.width * done), bar.height),
                         border_radius=3)

    def _scale(self, key: str, image: np.ndarray, side: int, nearest: bool) -> pygame.Surface:
        """The image at `side` px, converted and scaled only when it, the size or the scaling changed."""
        cached = self._scaled.get(key)
        if cached is None or cached[0] is not image or cached[1:3] != (side, nearest):
            cached = (image, side, nearest, fit(to_surface(image), side, nearest))
            self._scaled[key] = cached
        return cached[3]
