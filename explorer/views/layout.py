"""Where each region of the window goes, as a pure function of the window size."""

from __future__ import annotations

from dataclasses import dataclass

from pygame import Rect

PANEL_WIDTH = 304
DIRECTIONS_WIDTH = 264
STATUS_HEIGHT = 28
PINS_HEIGHT = 124
MIN_SIZE = (960, 660)


@dataclass(frozen=True)
class Layout:
    main: Rect  # the seed grid or the large view
    panel: Rect  # controls, right
    directions: Rect  # the directions panel, left of the controls
    pins: Rect  # the pins strip, under the main area
    status: Rect  # the bottom line


def layout(size: tuple[int, int]) -> Layout:
    w, h = max(size[0], 1), max(size[1], 1)
    panel_w = min(PANEL_WIDTH, w // 2)
    status = Rect(0, h - STATUS_HEIGHT, w, STATUS_HEIGHT)
    body_h = max(status.top, 0)
    pins_h = min(PINS_HEIGHT, body_h // 3)
    dirs_w = min(DIRECTIONS_WIDTH, (w - panel_w) // 3)
    panel = Rect(w - panel_w, 0, panel_w, body_h)
    directions = Rect(panel.left - dirs_w, 0, dirs_w, body_h)
    main = Rect(0, 0, directions.left, body_h - pins_h)
    pins = Rect(0, main.bottom, directions.left, pins_h)
    return Layout(main, panel, directions, pins, status)
