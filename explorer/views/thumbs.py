"""Thumbnails by recipe: the worker's small RGB arrays as surfaces, plus scaled copies per display size."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pygame

from ..state import Recipe
from .draw import fit, to_surface


class Thumbs:
    """A bounded LRU cache, so paging through thousands of seeds keeps memory flat."""

    def __init__(self, capacity: int = 512):
        self.capacity = capacity
        self._base: OrderedDict[Recipe, pygame.Surface] = OrderedDict()
        self._scaled: dict[tuple[Recipe, int], pygame.Surface] = {}

    def __contains__(self, recipe: Recipe) -> bool:
        return recipe in self._base

    def put(self, recipe: Recipe, image: np.ndarray) -> None:
        self._base[recipe] = to_surface(image)
        self._base.move_to_end(recipe)
        self._scaled = {k: v for k, v in self._scaled.items() if k[0] != recipe}
        while len(self._base) > self.capacity:
            old, _ = self._base.popitem(last=False)
            self._scaled = {k: v for k, v in self._scaled.items() if k[0] != old}

    def get(self, recipe: Recipe, size: int) -> pygame.Surface | None:
        base = self._base.get(recipe)
        if base is None:
            return None
        key = (recipe, size)
        if key not in self._scaled:
            if len(self._scaled) > 2 * self.capacity:
                self._scaled.clear()
            self._scaled[key] = fit(base, size)
        return self._scaled[key]

    def clear(self) -> None:
        self._base.clear()
        self._scaled.clear()
