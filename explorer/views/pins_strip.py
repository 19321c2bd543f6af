"""The pins strip: click to recall, × to remove, drag to reorder, double-click to rename, wheel to scroll."""

from __future__ import annotations

import pygame
from pygame import Rect

from ..actions import Action, MovePin, PromptRename, Recall, RemovePin
from ..state import Pin
from .draw import ACCENT, DIM, LINE, LINE_TEXT, PANEL, TEXT, TILE, WARN, text
from .thumbs import Thumbs

THUMB = 72
GAP = 14
DRAG_PX = 6
DOUBLE_CLICK_S = 0.4


class PinsStrip:
    def __init__(self) -> None:
        self.rect = Rect(0, 0, 0, 0)
        self.offset = 0  # first visible pin
        self._press: tuple[int, tuple[int, int]] | None = None  # (pin index, position) of a held button
        self._drag_to: int | None = None
        self._last_click: tuple[int, float] = (-1, -1.0)

    def set_rect(self, rect: Rect) -> None:
        self.rect = Rect(rect)

    @property
    def pressed(self) -> bool:
        """A button went down on a pin and is still held (a click or a drag in progress)."""
        return self._press is not None

    @property
    def visible(self) -> int:
        return max(1, (self.rect.width - GAP) // (THUMB + GAP))

    def pin_rect(self, i: int) -> Rect:
        return Rect(self.rect.left + GAP + (i - self.offset) * (THUMB + GAP), self.rect.top + 24, THUMB, THUMB)

    def close_rect(self, i: int) -> Rect:
        r = self.pin_rect(i)
        return Rect(r.right - 18, r.top, 18, 18)

    def index_at(self, pos: tuple[int, int], count: int) -> int | None:
        for i in range(self.offset, min(count, self.offset + self.visible)):
            if self.pin_rect(i).inflate(GAP, 20).collidepoint(pos):
                return i
        return None

    def slot_at(self, x: int, count: int) -> int:
        """Where a dragged pin would land."""
        slot = self.offset + round((x - self.rect.left - GAP - THUMB / 2) / (THUMB + GAP))
        return min(max(slot, 0), count - 1)

    def handle(self, event: pygame.event.Event, count: int, now: float) -> Action | None:
        """Recall, RemovePin, PromptRename or MovePin, or None; clicks outside the pins are ignored."""
        if event.type == pygame.MOUSEWHEEL:
            self.offset = min(max(self.offset - event.y, 0), max(count - self.visible, 0))
            return None
        if event.type == pygame.MOUSEBUTTONDOWN and event.button == 1:
            i = self.index_at(event.pos, count)
            self._press = (i, event.pos) if i is not None else None
            self._drag_to = None
            return None
        if event.type == pygame.MOUSEMOTION and self._press is not None:
            i, start = self._press
            if self._drag_to is not None or abs(event.pos[0] - start[0]) + abs(event.pos[1] - start[1]) > DRAG_PX:
                self._drag_to = self.slot_at(event.pos[0], count)
            return None
        if event.type == pygame.MOUSEBUTTONUP and event.button == 1 and self._press is not None:
            (i, _), drag_to = self._press, self._drag_to
            self._press = self._drag_to = None
            if i >= count:
                return None
            if drag_to is not None:
                return MovePin(i, drag_to) if drag_to != i else None
            if self.close_rect(i).collidepoint(event.pos):
                return RemovePin(i)
            last_i, last_t = self._last_click
            self._last_click = (i, now)
            if last_i == i and now - last_t < DOUBLE_CLICK_S:
                return PromptRename(i)
            return Recall(i)
        return None

    def draw(self, surface: pygame.Surface, pins: list[Pin], thumbs: Thumbs, current: int | None,
             hover: tuple[int, int], former_pins: str = "") -> None:
        """`former_pins`: where the pins of an earlier demo model are kept, said while the strip is empty."""
        pygame.draw.rect(surface, PANEL, self.rect)
        pygame.draw.line(surface, LINE, self.rect.topleft, self.rect.topright)
        title = f"Pins ({len(pins)})" if pins else "Pins — press P to pin the current image"
        r = text(surface, title, (self.rect.left + GAP, self.rect.top + 4), 13, DIM)
        if pins:
            text(surface, "click to recall  ·  drag to reorder  ·  double-click to rename  ·  × to remove",
                 (r.right + 16, r.top), 12, LINE_TEXT, max_width=self.rect.right - r.right - 28)
        elif former_pins:
            y, width = self.rect.top + 24 + THUMB // 2, self.rect.width - 2 * GAP
            text(surface, "Your pins of the earlier demo model are not shown: this model would draw other pictures "
                 "from them.", (self.rect.left + GAP, y - 10), 12, TEXT, anchor="midleft", max_width=width)
            text(surface, f"They are kept in {former_pins}", (self.rect.left + GAP, y + 10), 12, DIM,
                 anchor="midleft", max_width=width)
        self.offset = min(self.offset, max(len(pins) - self.visible, 0))
        hovered = self.index_at(hover, len(pins))
        for i in range(self.offset, min(len(pins), self.offset + self.visible)):
            r = self.pin_rect(i)
            image = thumbs.get(pins[i].spec, THUMB)
            if image is None:
                pygame.draw.rect(surface, TILE, r, border_radius=3)
            else:
                surface.blit(image, r)
            if i == current:
                pygame.draw.rect(surface, ACCENT, r.inflate(6, 6), 3, border_radius=4)
            text(surface, pins[i].name, (r.centerx, r.bottom + 3), 12, TEXT if i == current else DIM,
                 anchor="midtop", max_width=THUMB + GAP - 2)
            if i == hovered and self._drag_to is None:
                c = self.close_rect(i)
                pygame.draw.rect(surface, (20, 20, 24), c, border_radius=3)
                text(surface, "×", c.center, 15, WARN, anchor="center")
        if self._drag_to is not None and self._press is not None:
            r = self.pin_rect(self._drag_to)
            x = r.left - GAP // 2 if self._drag_to <= self._press[0] else r.right + GAP // 2
            pygame.draw.line(surface, ACCENT, (x, self.rect.top + 20), (x, self.rect.top + 24 + THUMB), 3)
        if self.offset > 0:
            text(surface, "‹", (self.rect.left + 3, self.rect.top + 24 + THUMB // 2), 20, DIM, anchor="midleft")
        if self.offset + self.visible < len(pins):
            text(surface, "›", (self.rect.right - 3, self.rect.top + 24 + THUMB // 2), 20, DIM, anchor="midright")
