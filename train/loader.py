"""Deterministic minibatches of real images, assembled off the training thread.

The order of images is a pure function of (seed, position in the stream): each epoch is a fresh permutation of
the dataset (twice its size with --mirror, the second half x-flipped). So a resumed run continues with exactly
the images it would have seen, and N ranks read disjoint slices of the same global batch that one process
would read in N rounds.
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

CACHE_BYTES = 2 << 30  # decode the whole dataset up front when it fits in this much memory


class RealStream:
    """Global sample order: position p -> (dataset index, flip)."""

    def __init__(self, num_images: int, seed: int, xflip: bool):
        self.num_images, self.seed, self.xflip = num_images, seed, xflip
        self.num_items = num_images * (2 if xflip else 1)
        self._epoch, self._perm = -1, None

    def items(self, start: int, count: int) -> list[tuple[int, bool]]:
        out = []
        for pos in range(start, start + count):
            epoch, offset = divmod(pos, self.num_items)
            if epoch != self._epoch:
                self._epoch = epoch
                self._perm = np.random.default_rng([self.seed, epoch]).permutation(self.num_items)
            item = int(self._perm[offset])
            out.append((item % self.num_images, item >= self.num_images))
        return out


class RealLoader:
    """Yields this rank's part of each global batch as (uint8 [n, C, H, W], float32 [n, label_dim]) tensors.

    Rank r of W takes positions [r*n, (r+1)*n) of every global batch of size W*n, starting at `batch_idx`.
    A background thread fills a small queue; `workers` threads decode images when the dataset is not cached.
    """

    def __init__(self, dataset, batch_size: int, rank: int, num_ranks: int, seed: int, xflip: bool,
                 start_batch: int = 0, workers: int = 2, prefetch: int = 2):
        self.dataset = dataset
        self.per_rank = batch_size // num_ranks
        self.batch_size, self.rank = batch_size, rank
        self.stream = RealStream(len(dataset), seed, xflip)
        self.batch_idx = start_batch
        self.pool = ThreadPoolExecutor(workers) if workers > 0 and getattr(dataset, "images", None) is None else None
        self.queue: queue.Queue = queue.Queue(maxsize=prefetch)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(start_batch,), name="real-loader", daemon=True)
        self.thread.start()

    def _load(self, batch_idx: int) -> tuple[torch.Tensor, torch.Tensor]:
        start = batch_idx * self.batch_size + self.rank * self.per_rank
        items = self.stream.items(start, self.per_rank)
        images = getattr(self.dataset, "images", None)
        if images is not None:
            idx = np.array([i for i, _ in items])
            pixels = images[idx]
            labels = self.dataset.labels[idx]
        else:
            fetch = self.pool.map if self.pool is not None else map
            pairs = list(fetch(lambda it: self.dataset[it[0]], items))
            pixels = np.stack([p for p, _ in pairs])
            labels = np.stack([lab for _, lab in pairs])
        flips = np.array([f for _, f in items])
        if flips.any():
            pixels = pixels.copy()
            pixels[flips] = pixels[flips][..., ::-1]
        return torch.from_numpy(np.ascontiguousarray(pixels)), torch.from_numpy(np.asarray(labels, np.float32))

    def _run(self, batch_idx: int) -> None:
        while not self.stop.is_set():
            try:
                item = self._load(batch_idx)
            except BaseException as e:  # hand the error to the training thread
                item = e
            while not self.stop.is_set():
                try:
                    self.queue.put(item, timeout=0.1)
                    break
                except queue.Full:
                    continue
            if isinstance(item, BaseException):
                return
            batch_idx += 1

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        item = self.queue.get()
        if isinstance(item, BaseException):
            raise item
        self.batch_idx += 1
        return item

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        if self.pool is not None:
            self.pool.shutdown()
