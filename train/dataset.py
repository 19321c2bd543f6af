"""Image datasets in NVlabs' zip layout: the converter behind `sgx dataset` and the reader the trainer uses.

Layout (the one NVlabs' dataset_tool writes and its training code reads, so both tools share datasets):
``00000/img00000000.png`` ... 1000 images per folder, square, all the same size, 1-channel (L) or 3-channel
(RGB) PNGs, plus ``dataset.json`` = ``{"labels": [["00000/img00000000.png", label], ...]}`` or
``{"labels": null}``. A label is a class index (int) or a list of floats.
"""

from __future__ import annotations

import io
import json
import os
import time
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Protocol

import numpy as np
from PIL import Image

from model.image_prep import TRANSFORMS, open_flat, to_square, unreadable_reason
from model.io.atomic import atomic_write, remove_stale_temps

LABELS_FILE = "dataset.json"
IMAGE_EXTENSIONS = frozenset(ext for ext, fmt in Image.registered_extensions().items() if fmt in Image.OPEN)
SHOW_LISTED = 5  # names listed in a "skipped" or "small" message
KINDS = {"L": "grayscale", "RGB": "colour"}


class DatasetError(ValueError):
    """A user-facing, one-line error about a dataset source, a dataset zip or a conversion option."""


class Source(Protocol):
    """Where images come from: a sorted list of names, optional labels by name, and a way to open each."""

    names: list[str]
    labels: dict[str, object] | None

    def open(self, name: str) -> Image.Image: ...


def is_image_name(name: str) -> bool:
    """Image files by extension; hidden files and macOS zip debris (``__MACOSX/``, ``._x.png``) are not."""
    path = PurePosixPath(name)
    if any(part.startswith((".", "__MACOSX")) for part in path.parts):
        return False
    return path.suffix.lower() in IMAGE_EXTENSIONS


def parse_labels(raw: bytes, where: str) -> dict[str, object] | None:
    """NVlabs' dataset.json -> {relative posix path: label}, or None when it says ``"labels": null``."""
    try:
        labels = json.loads(raw)["labels"]
        return None if labels is None else {str(name).replace("\\", "/"): label for name, label in labels}
    except (ValueError, KeyError, TypeError) as e:
        raise DatasetError(f'bad {LABELS_FILE} in {where}: expected {{"labels": [[path, label], ...]}} ({e})') from None


class FolderSource:
    """Every image file under a folder, recursively, in sorted order of the relative path."""

    def __init__(self, root: Path):
        self.root = root
        self.names = sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                            if p.is_file() and is_image_name(p.relative_to(root).as_posix()))
        labels_path = root / LABELS_FILE
        self.labels = parse_labels(labels_path.read_bytes(), str(root)) if labels_path.is_file() else None

    def open(self, name: str) -> Image.Image:
        return Image.open(self.root / name)


class ZipSource:
    """Every image member of a zip file, in sorted order; the zip stays open for the life of the object."""

    def __init__(self, path: Path):
        try:
            self.zip = zipfile.ZipFile(path)
        except zipfile.BadZipFile:
            raise DatasetError(f"not a zip file: {path}") from None
        members = set(self.zip.namelist())
        self.names = sorted(n for n in members if not n.endswith("/") and is_image_name(n))
        self.labels = parse_labels(self.zip.read(LABELS_FILE), str(path)) if LABELS_FILE in members else None

    def open(self, name: str) -> Image.Image:
        return Image.open(io.BytesIO(self.zip.read(name)))


def open_source(src: Path) -> FolderSource | ZipSource:
    if src.is_dir():
        return FolderSource(src)
    if src.is_file():
        return ZipSource(src)
    raise DatasetError(f"no such folder or zip file: {src}")


def check_resolution(resolution: int) -> None:
    if resolution < 4 or resolution & (resolution - 1):
        raise DatasetError(f"resolution must be a power of two >= 4, got {resolution}")


def archive_name(index: int) -> str:
    return f"{index // 1000:05d}/img{index:08d}.png"


def member(name: str) -> zipfile.ZipInfo:
    """A zip entry with a fixed date, so the same images always give a byte-identical zip."""
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.external_attr = 0o644 << 16  # rw-r--r-- when unzipped
    return info


def listed(items: list[tuple[str, str]]) -> str:
    """The first few (name, why) pairs for a one-line message: `a.png (1x1), b.png (2x3), ... (4 more)`."""
    more = f", ... ({len(items) - SHOW_LISTED} more)" if len(items) > SHOW_LISTED else ""
    return ", ".join(f"{name} ({why})" for name, why in items[:SHOW_LISTED]) + more


@dataclass
class Summary:
    """What a conversion wrote, which inputs it could not read and which it had to enlarge a lot.

    `skipped` pairs each name with the reason, `small` with its size."""

    count: int
    resolution: int
    channels: int
    labelled: bool
    skipped: list[tuple[str, str]] = field(default_factory=list)
    small: list[tuple[str, str]] = field(default_factory=list)


def write_dataset(source: Source, dest: Path, resolution: int, transform: str = "center-crop",
                  background: tuple[int, int, int] = (255, 255, 255), max_images: int | None = None,
                  progress: Callable[[Iterable[str]], Iterable[str]] = iter) -> Summary:
    """Convert every readable image of `source` into a dataset zip at `dest`, written atomically.

    Files that fail to decode, or whose size passes Pillow's decompression-bomb limit, are skipped and listed
    in the summary with the reason; images whose shorter side is below half the resolution are listed too.
    Grayscale sources give 1-channel PNGs, colour sources RGB; a mix of both is an error, as is an empty
    result. `progress` wraps the name iterator (e.g. a click progress bar).
    """
    started = time.time()
    check_resolution(resolution)
    if transform not in TRANSFORMS:
        raise DatasetError(f"unknown transform {transform!r}: use one of {', '.join(TRANSFORMS)}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(dest.parent, older_than=started)  # left by a conversion that was killed
    return atomic_write(dest, lambda tmp: convert_into(source, tmp, resolution, transform, background, max_images,
                                                       progress))


def convert_into(source: Source, tmp: str, resolution: int, transform: str, background: tuple[int, int, int],
                 max_images: int | None, progress: Callable[[Iterable[str]], Iterable[str]]) -> Summary:
    skipped, small, labels = [], [], []
    first: tuple[str, str] | None = None  # name and mode of the first image: every other must match its mode
    count = 0
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as out:
        for name in progress(source.names):
            if max_images is not None and count >= max_images:
                break
            if source.labels is not None and name not in source.labels:
                raise DatasetError(f"{name} has no label in {LABELS_FILE}")
            try:
                image = open_flat(lambda name=name: source.open(name), background)
            except Exception as e:  # a corrupt file can raise anything from OSError to SyntaxError
                skipped.append((name, unreadable_reason(e)))
                continue
            first = first or (name, image.mode)
            if image.mode != first[1]:
                raise DatasetError(f"mixed channel counts: {name} is {KINDS[image.mode]} but {first[0]} is "
                                   f"{KINDS[first[1]]} (convert them all to one first)")
            if min(image.size) < resolution / 2:
                small.append((name, f"{image.width}x{image.height}"))
            image = to_square(image, resolution, transform, background)
            buffer = io.BytesIO()
            image.save(buffer, format="PNG")
            out.writestr(member(archive_name(count)), buffer.getvalue())
            if source.labels is not None:
                labels.append([archive_name(count), source.labels[name]])
            count += 1
        if count == 0:
            found = f": {len(skipped)} unreadable ({listed(skipped)})" if skipped else ""
            raise DatasetError(f"no readable images in the source{found}")
        out.writestr(member(LABELS_FILE), json.dumps({"labels": labels if source.labels is not None else None}))
    return Summary(count, resolution, 1 if first[1] == "L" else 3, source.labels is not None, skipped, small)


def decode_png(data: bytes, name: str) -> np.ndarray:
    """A dataset PNG -> uint8 [C, H, W], C = 1 or 3."""
    with Image.open(io.BytesIO(data)) as image:
        mode, pixels = image.mode, np.asarray(image)
    if mode not in ("L", "RGB"):
        raise DatasetError(f"{name} is {mode}: dataset images are 8-bit L or RGB")
    return (pixels[:, :, None] if pixels.ndim == 2 else pixels).transpose(2, 0, 1)


class ImageZipDataset:
    """A dataset zip for training: item i is (uint8 [C, H, W] image, float32 [label_dim] label).

    Class-index labels become one-hot vectors (label_dim = largest index + 1), as in NVlabs' reader; with no
    labels, label_dim is 0. With `cache` (the default: our datasets are small) every image is decoded once
    into one uint8 array [N, C, H, W]. Flipping is the trainer's business.
    """

    def __init__(self, path: str | os.PathLike, cache: bool = True):
        self.path = Path(path)
        self._zip: zipfile.ZipFile | None = None
        self._zip_pid: int | None = None
        try:
            with zipfile.ZipFile(self.path) as zf:
                members = set(zf.namelist())
                self.names = sorted(n for n in members if not n.endswith("/") and is_image_name(n))
                if not self.names:
                    raise DatasetError(f"no images in dataset {self.path}")
                raw = parse_labels(zf.read(LABELS_FILE), str(self.path)) if LABELS_FILE in members else None
                first = decode_png(zf.read(self.names[0]), self.names[0])
                self.shape = first.shape
                self.images = None
                if cache:  # filled in place: no second copy of the dataset at peak
                    self.images = np.empty((len(self.names), *self.shape), dtype=np.uint8)
                    for i, name in enumerate(self.names):
                        self.images[i] = self._read(zf, name)
        except zipfile.BadZipFile:
            raise DatasetError(f"not a zip file: {self.path}") from None
        self.channels, self.resolution, width = self.shape
        if self.resolution != width or self.resolution < 4 or self.resolution & (self.resolution - 1):
            raise DatasetError(f"dataset images must be square with a power-of-two side, got {width}x{self.resolution}")
        self.labels = self._label_array(raw)
        self.label_dim = self.labels.shape[1]

    def _read(self, zf: zipfile.ZipFile, name: str) -> np.ndarray:
        pixels = decode_png(zf.read(name), name)
        if pixels.shape != self.shape:
            raise DatasetError(f"{name} in {self.path} is {pixels.shape} (C, H, W); the first image is {self.shape}")
        return pixels

    def _label_array(self, raw: dict[str, object] | None) -> np.ndarray:
        if raw is None:
            return np.zeros((len(self.names), 0), dtype=np.float32)
        missing = [n for n in self.names if n not in raw]
        if missing:
            raise DatasetError(f"{missing[0]} has no label in {LABELS_FILE} of {self.path}")
        try:
            values = np.array([raw[n] for n in self.names])
        except ValueError:
            values = np.array([])
        if values.ndim == 1 and np.issubdtype(values.dtype, np.integer) and values.min() >= 0:
            return np.eye(int(values.max()) + 1, dtype=np.float32)[values]
        if values.ndim == 2 and np.issubdtype(values.dtype, np.number):
            return values.astype(np.float32)
        raise DatasetError(f"labels in {self.path} must be class indices >= 0 or equal-length lists of numbers")

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        if self.images is not None:
            return self.images[index], self.labels[index]
        if self._zip is None or self._zip_pid != os.getpid():  # one handle per process (DataLoader workers)
            self._zip, self._zip_pid = zipfile.ZipFile(self.path), os.getpid()
        return self._read(self._zip, self.names[index]), self.labels[index]

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_zip": None, "_zip_pid": None}
