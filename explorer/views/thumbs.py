"""Thumbnails by spec: the worker's small RGB arrays as surfaces, plus scaled copies per display size."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pygame

from model.spec import LatentSpec

from .draw import fit, to_surface


class Thumbs:
    """A bounded LRU cache, so paging through thousands of seeds keeps memory flat."""

    def __init__(self, capacity: int = 512):
        self.capacity = capacity
        self._base: OrderedDict[LatentSpec, pygame.Surface] = OrderedDict()
        self._scaled: dict[tuple[LatentSpec, int], pygame.Surface] = {}

    def __contains__(self, spec: LatentSpec) -> bool:
        return spec in self._base

    def put(self, spec: LatentSpec, image: np.ndarray) -> None:
        self._base[spec] = to_surface(image)
        self._base.move_to_end(spec)
        self._scaled = {k: v for k, v in self._scaled.items() if k[0] != spec}
        while len(self._base) > self.capacity:
            old, _ = self._base.popitem(last=False)
            self._scaled = {k: v for k, v in self._scaled.items() if k[0] != old}

    def get(self, spec: LatentSpec, size: int) -> pygame.Surface | None:
        base = self._base.get(spec)
        if base is None:
            return None
        key = (spec, size)
        if key not in self._scaled:
            if len(self._scaled) > 2 * self.capacity:
                self._scaled.clear()
            self._scaled[key] = fit(base, size)
        return self._scaled[key]

    def clear(self) -> None:
        self._base.clear()
        self._scaled.clear()
