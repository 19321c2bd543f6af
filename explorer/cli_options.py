"""What every `sgx` model command shares: the one-line error type, the common options, loading a generator and
preparing an output folder. A module of its own so that command modules can import it without a cycle."""

from __future__ import annotations

import math
import time
from pathlib import Path

import click

from model.spec import NOISE_MODES, PRECISIONS

from .assets import DEMO_MODEL

STARTED = time.time()  # temp files of ours older than this are leftovers of a killed run


class BadInput(click.ClickException):
    """A one-line error about the user's input; exit code 2 like click's own usage errors."""

    exit_code = 2



def load_generator(network: str, device: str):
    """Load a file's G_ema onto the chosen device; returns (LoadedModel, G)."""
    from model.io import load
    from model.render import pick_device

    dev = pick_device(device)
    model = load(network)
    return model, model.G.to(dev)


def check_class(G, class_idx: int | None) -> int | None:
    """Fail before any work if a conditional net has no valid class; drop a class an unconditional net ignores."""
    from model.latents import one_hot

    if G.c_dim == 0 and class_idx is not None:
        click.echo("warning: --class is ignored: the network is unconditional", err=True)
        return None
    one_hot(class_idx, G.c_dim)
    return class_idx


def output_folder(folder: Path) -> Path:
    """Create the folder we are about to write into and clear our temp files that killed runs left there."""
    from model.io.atomic import remove_stale_temps

    folder.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(folder, older_than=STARTED)
    return folder


def grid_shape(n: int) -> tuple[int, int]:
    cols = math.ceil(math.sqrt(n))
    return math.ceil(n / cols), cols


def network_path(ctx: click.Context | None, param: click.Parameter | None, value: str | None) -> str | Path | None:
    """The one place that reads a network argument: the word `demo` names the bundled demo model (a file
    called demo in the current folder is ./demo); anything else is a path, checked when it is loaded."""
    if value != "demo":
        return value
    if not DEMO_MODEL.is_file():
        raise BadInput(f"the bundled demo model is not there ({DEMO_MODEL}): give a network file instead, "
                       "a .safetensors or an NVlabs .pkl")
    return DEMO_MODEL


network_option = click.option("--network", required=True, metavar="PATH", callback=network_path,
                              help="Network file: our .safetensors or an NVlabs .pkl; demo: the bundled model.")
device_option = click.option("--device", default="auto", show_default=True,
                             help="auto (cuda, then mps, then cpu), cpu, cuda or mps.")
class_option = click.option("--class", "class_idx", type=click.IntRange(min=0), default=None,
                            help="Class of a conditional net.")
noise_option = click.option("--noise-mode", type=click.Choice(NOISE_MODES), default="const", show_default=True)
precision_option = click.option(
    "--precision", type=click.Choice(PRECISIONS), default="auto", show_default=True,
    help="exact: NVlabs' fp32 operations, pixel-equal to their generate.py on the CPU; auto: the fast path "
    "(bf16 on CPUs where it pays, fp16 on CUDA, fp32 otherwise), a few levels off at most.")
outdir_option = click.option("--outdir", type=click.Path(file_okay=False, path_type=Path), default=Path("out"),
                             show_default=True)
