"""Any image file into the square L/RGB picture a network works at: what `sgx dataset` does to each image, and
how `sgx project` reads its target (so a target is framed exactly like the training data was).

Grayscale sources stay 1-channel, everything else becomes RGB; transparency is composited over a background
(white by default, as the emoji demo data); the square comes from a centre crop, padding, or NVlabs' 2:1 box.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import ModelError

TRANSFORMS = ("center-crop", "center-crop-wide", "pad")
GRAY_MODES = frozenset({"1", "L", "LA", "La", "I", "F", "I;16", "I;16L", "I;16B", "I;16N"})
ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})
WHITE = (255, 255, 255)


def is_gray(image: Image.Image) -> bool:
    """Grayscale sources stay 1-channel; palette images count as colour even if their palette is gray."""
    return image.mode in GRAY_MODES


def has_alpha(image: Image.Image) -> bool:
    return image.mode in ALPHA_MODES or image.info.get("transparency") is not None


def flatten(image: Image.Image, background: tuple[int, int, int]) -> Image.Image:
    """Any Pillow mode -> L (grayscale sources) or RGB, transparency composited over `background`."""
    image = ImageOps.exif_transpose(image)  # phone photos store their rotation in EXIF
    image.load()
    if image.mode.startswith("I"):  # 16-bit (or 32-bit int) gray: scale 0..65535 to 0..255, not clip
        pixels = np.clip(np.asarray(image, dtype=np.float64), 0, 65535)
        return Image.fromarray(np.rint(pixels / 257).astype(np.uint8), "L")
    base = "L" if is_gray(image) else "RGB"
    if not has_alpha(image):
        return image.convert(base)
    with_alpha = image.convert("LA" if base == "L" else "RGBA")
    canvas = Image.new(base, image.size, background_for(base, background))
    canvas.paste(with_alpha.convert(base), mask=with_alpha.getchannel("A"))
    return canvas


def background_for(mode: str, background: tuple[int, int, int]) -> int | tuple[int, int, int]:
    return Image.new("RGB", (1, 1), background).convert(mode).getpixel((0, 0))


def to_square(image: Image.Image, resolution: int, transform: str, background: tuple[int, int, int]) -> Image.Image:
    """An L/RGB image of any shape -> resolution x resolution, as the chosen transform says.

    center-crop: the central square, resized. pad: padded to a square with the background colour, resized.
    center-crop-wide (NVlabs' semantics, for 2:1 data such as LSUN cars): the central 2:1 box, resized to
    resolution x resolution/2 and placed in the middle of a black square.
    """
    w, h = image.size
    if transform == "center-crop":
        side = min(w, h)
        image = image.crop(((w - side) // 2, (h - side) // 2, (w - side) // 2 + side, (h - side) // 2 + side))
    elif transform == "pad":
        side = max(w, h)
        canvas = Image.new(image.mode, (side, side), background_for(image.mode, background))
        canvas.paste(image, ((side - w) // 2, (side - h) // 2))
        image = canvas
    else:  # center-crop-wide
        box_w, box_h = (w, max(1, w // 2)) if w <= 2 * h else (2 * h, h)
        left, top = (w - box_w) // 2, (h - box_h) // 2
        wide = image.crop((left, top, left + box_w, top + box_h))
        wide = wide.resize((resolution, resolution // 2), Image.Resampling.LANCZOS)
        image = Image.new(image.mode, (resolution, resolution), 0)
        image.paste(wide, (0, (resolution - resolution // 2) // 2))
    if image.size != (resolution, resolution):
        image = image.resize((resolution, resolution), Image.Resampling.LANCZOS)
    return image


def open_flat(open_image: Callable[[], Image.Image], background: tuple[int, int, int]) -> Image.Image:
    """The image open_image() opens, flattened; one over Pillow's pixel limit is refused before any decoding."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with open_image() as opened:
            return flatten(opened, background)


def unreadable_reason(error: Exception) -> str:
    """Why an image could not be read, short: Pillow's messages can repeat the full path or span lines."""
    if isinstance(error, (Image.DecompressionBombError, Image.DecompressionBombWarning)):
        return f"over Pillow's limit of {Image.MAX_IMAGE_PIXELS} pixels, a possible decompression bomb"
    if isinstance(error, UnidentifiedImageError):
        return "not an image format Pillow reads"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return (str(error).splitlines() or [type(error).__name__])[0]


def load_target(path: str | Path, resolution: int, channels: int, transform: str = "center-crop",
                background: tuple[int, int, int] = WHITE) -> np.ndarray:
    """An image file -> uint8 [resolution, resolution, channels], framed as `sgx dataset` frames training images.

    Anything unreadable (missing, not an image, truncated, a decompression bomb) is a one-line ModelError.
    """
    path = Path(path)
    try:
        image = open_flat(lambda: Image.open(path), background)
    except Exception as e:  # a corrupt file can raise anything from OSError to SyntaxError
        raise ModelError(f"cannot read {path.name} as an image: {unreadable_reason(e)}") from None
    image = to_square(image, resolution, transform, background).convert("L" if channels == 1 else "RGB")
    pixels = np.asarray(image, dtype=np.uint8)
    return pixels[:, :, None] if pixels.ndim == 2 else pixels
