"""Click commands of the trainer side; explorer/cli.py registers them in the `sgx` group."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from PIL import ImageColor

from .dataset import TRANSFORMS, DatasetError, check_resolution, open_source, skipped_text, write_dataset

EMOJI_SOURCE = "emoji"


class BadInput(click.ClickException):
    """A one-line error about the user's input, exit code 2 like click's usage errors."""

    exit_code = 2


def parse_color(value: str) -> tuple[int, int, int]:
    try:
        return ImageColor.getrgb(value)[:3]
    except ValueError:
        raise BadInput(f"unknown colour {value!r}: use a name (white) or hex (#ffffff)") from None


@click.command("dataset", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("src")
@click.argument("dest", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--resolution", type=int, required=True, help="Output side in pixels: a power of two >= 4.")
@click.option("--transform", type=click.Choice(TRANSFORMS), default="center-crop", show_default=True,
              help="How non-square images become square.")
@click.option("--max-images", type=click.IntRange(min=1), default=None, help="Stop after this many images.")
@click.option("--background", default="white", show_default=True,
              help="Colour behind transparent pixels and around padded images (name or #rrggbb).")
def dataset_command(src, dest, resolution, transform, max_images, background):
    """Convert images into a training dataset zip in NVlabs' layout.

    SRC is a folder (searched recursively, in sorted path order) or a zip of images, with optional
    NVlabs-style labels in its dataset.json; the literal SRC `emoji` builds the emoji-faces demo set
    (845 face emoji from Debian's fonts-noto-color-emoji and unicode-data; write ./emoji for a folder
    of that name). DEST is the .zip to write: 00000/img00000000.png, ... (1000 per folder) and
    dataset.json, readable by NVlabs' training code too.

    Grayscale sources (L, LA, 16-bit) give 1-channel PNGs; everything else (RGB, RGBA, palette, CMYK)
    gives RGB. A mix of grayscale and colour sources is an error: convert them first. Transparency is
    composited on --background. Transforms: center-crop takes the central square; pad pads to a square
    with --background; center-crop-wide takes the central 2:1 box and letterboxes it on black, as NVlabs
    does. Files that cannot be read are skipped and listed.

    Example: sgx dataset emoji emoji64.zip --resolution 64
    """
    color = parse_color(background)
    if dest.suffix.lower() != ".zip":
        raise BadInput(f"DEST must be a .zip file, got {dest}")
    if Path(src).exists() and Path(src).resolve() == dest.resolve():
        raise BadInput("SRC and DEST are the same file")
    try:
        check_resolution(resolution)
        if src == EMOJI_SOURCE:
            from .emoji import EmojiSource

            source = EmojiSource(resolution)
        else:
            source = open_source(Path(src))

        def progress(names):
            if not sys.stderr.isatty():  # logs and pipes get the summary line only
                yield from names
                return
            with click.progressbar(names, label="converting", file=sys.stderr) as bar:
                yield from bar

        summary = write_dataset(source, dest, resolution, transform, color, max_images, progress)
    except DatasetError as e:
        raise BadInput(str(e)) from None
    except OSError as e:
        raise BadInput(f"{e.strerror or e}: {e.filename}" if e.filename else str(e)) from None
    if summary.skipped:
        click.echo(f"skipped {len(summary.skipped)} unreadable image(s): {skipped_text(summary.skipped)}", err=True)
    kind = "RGB" if summary.channels == 3 else "grayscale"
    labels = "with labels" if summary.labelled else "no labels"
    click.echo(f"wrote {summary.count} images ({summary.resolution}x{summary.resolution} {kind}, {labels}) to {dest}")
