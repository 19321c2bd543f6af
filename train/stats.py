"""Per-tick statistics with NVlabs' names and format: every reported value counts, a tick gives num/mean/std.

Values are accumulated on their own device (no host sync per report) as float64 [count, sum, sum of squares], and
summed over ranks when a tick closes, so rank 0 writes the statistics of the whole global batch.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

Reducer = Callable[[torch.Tensor], torch.Tensor]


class StatsCollector:
    """`report(name, values)` during a tick; `finish()` returns {name: {num, mean, std}} and starts a new tick."""

    def __init__(self) -> None:
        self._acc: dict[str, torch.Tensor] = {}

    def report(self, name: str, value: torch.Tensor | float) -> None:
        t = value.detach() if isinstance(value, torch.Tensor) else torch.tensor(value, dtype=torch.float64)
        t = t.flatten().to(torch.float64)
        moments = torch.stack([torch.tensor(t.numel(), dtype=torch.float64, device=t.device), t.sum(),
                               t.square().sum()])
        if name in self._acc:
            self._acc[name] += moments.to(self._acc[name].device)
        else:
            self._acc[name] = moments

    def finish(self, reduce: Reducer | None = None) -> dict[str, dict[str, float]]:
        names = sorted(self._acc)
        self._acc, acc = {}, self._acc
        if not names:
            return {}
        table = torch.stack([acc[n].cpu() for n in names])
        if reduce is not None:
            table = reduce(table)
        out = {}
        for name, (num, total, squares) in zip(names, table.tolist(), strict=True):
            mean = total / num if num else 0.0
            var = max(squares / num - mean * mean, 0.0) if num else 0.0
            out[name] = dict(num=num, mean=mean, std=math.sqrt(var))
        return out


class SignAverage:
    """Running mean of sign(D(real)) between ADA updates: the overfitting signal r_t of the ADA paper."""

    def __init__(self) -> None:
        self.total = 0.0
        self.count = 0.0

    def add(self, signs: torch.Tensor) -> None:
        self.total += float(signs.detach().sum())
        self.count += signs.numel()

    def take(self, reduce: Reducer | None = None) -> float | None:
        pair = torch.tensor([self.total, self.count], dtype=torch.float64)
        if reduce is not None:
            pair = reduce(pair)
        self.total = self.count = 0.0
        total, count = pair.tolist()
        return total / count if count else None
