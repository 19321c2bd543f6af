"""`sgx video`: an interpolation video through keyframes (seeds, an .npz of w's, the explorer's pins), or a sweep
along one latent direction, to mp4 or GIF."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from model.spec import NOISE_MODES

from .cli_options import BadInput, check_class, device_option, load_generator, network_option, precision_option
from .project_cli import read_latents, w_option, warn_other_network


def parse_scale(size: str | None, resolution: int) -> int:
    """--size '2x' (an upscale) or '512' (pixels, a multiple of the model resolution) -> integer scale."""
    if size is None:
        return 1
    text = size.strip().lower()
    factor = text[:-1] if text.endswith("x") else None
    digits = factor if factor is not None else text
    if not digits.isascii() or not digits.isdigit() or int(digits) == 0:
        raise BadInput(f"--size {size}: use an upscale like 2x or a size in pixels like {2 * resolution}")
    if factor is not None:
        return int(factor)
    if int(digits) % resolution:
        raise BadInput(f"--size {size}: must be a multiple of the model resolution {resolution}")
    return int(digits) // resolution


@click.command("video")
@network_option
@click.option("--seeds", default=None, help="Keyframes: seeds in order, e.g. 1,5,9.")
@click.option("--pins", "use_pins", is_flag=True, help="Keyframes: the explorer's pins for this network, in order.")
@w_option
@click.option("--frames", type=click.IntRange(min=1), default=60, show_default=True, help="Frames per transition.")
@click.option("--fps", type=click.IntRange(1, 240), default=30, show_default=True)
@click.option("--interp", type=click.Choice(["cubic", "lerp", "slerp"]), default="cubic", show_default=True,
              help="cubic: spline through the w's; lerp: straight lines in w; slerp: great circles in z (seeds).")
@click.option("--easing", default="linear", show_default=True, help="linear, ease-in, ease-out or ease-in-out.")
@click.option("--loop", is_flag=True, help="Seamless loop: the last frame leads back into the first.")
@click.option("--trunc", "psi", type=float, default=None, help="Truncation psi for --seeds / --w.  [default: 1]")
@click.option("--cutoff", type=click.IntRange(min=0), default=None, help="Truncate only the first K w indices.")
@click.option("--class", "class_idx", type=click.IntRange(min=0), default=None, help="Class for --seeds.")
@click.option("--noise-mode", type=click.Choice(NOISE_MODES), default=None,
              help="[default: const, or the one all --pins share]")
@click.option("--size", default=None, help="An upscale like 2x, or pixels (a multiple of the model resolution).")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="x.mp4 or x.gif.")
@click.option("--crf", type=click.IntRange(0, 51), default=18, show_default=True, help="H.264 quality, lower = better.")
@click.option("--direction", default=None, metavar="FILE:K",
              help="Sweep one image along component K of an `sgx directions` file instead (looped).")
@click.option("--strengths", default="-3:3", show_default=True, help="With --direction: the sweep's ends A:B.")
@click.option("--layers", default=None, help="With --direction: the w indices to move, a-b.  [default: as sgx edit]")
@device_option
@precision_option
@click.option("--batch", type=click.IntRange(min=1), default=4, show_default=True, help="Frames per render batch.")
def video_command(network, seeds, use_pins, w_files, frames, fps, interp, easing, loop, psi, cutoff, class_idx,
                  noise_mode, size, out, crf, direction, strengths, layers, device, precision, batch):
    """Render an interpolation video through keyframes to mp4 (H.264) or GIF.

    Pins with direction edits are resolved from SeFa (recomputed, it is deterministic) and the explorer's cached
    directions of this network; --direction FILE:K instead moves one seed or w from strength A to B and back.
    """
    from model.latents import parse_seeds
    from model.spec import LatentSpec

    from .export import Exporter, ExportSettings

    given = [name for name, on in (("--seeds", seeds is not None), ("--pins", use_pins), ("--w", w_files)) if on]
    if len(given) != 1:
        raise BadInput(f"give exactly one of --seeds, --pins and --w (got {' and '.join(given) or 'none'})")
    interpolation = {"cubic": "w-cubic", "lerp": "w-lerp", "slerp": "z-slerp"}[interp]
    truncation = dict(psi=1.0 if psi is None else psi, cutoff=cutoff)
    latents = []
    if seeds is not None:
        keys = [LatentSpec(s, class_idx=class_idx, **truncation) for s in parse_seeds(seeds)]
    elif w_files is not None:
        latents = read_latents(w_files, **truncation)
        if any(latent.noise for latent in latents):
            click.echo("warning: the projections' own noise maps are not used in videos: frames use the network's",
                       err=True)
        keys = [latent.spec for latent in latents]
    else:
        keys = [LatentSpec(0), LatentSpec(0)]  # placeholders so the settings can be checked before loading
    sweep = parse_sweep(direction, strengths) if direction is not None else None
    if sweep is not None and (use_pins or len(keys) != 1):
        raise BadInput("--direction sweeps one image: give one seed (--seeds 7) or a --w file with one w")
    settings = ExportSettings(keys * 2 if sweep else keys, str(out), frames, fps, interpolation, easing,
                              loop or sweep is not None, format="", noise_mode=noise_mode or "const", crf=crf,
                              precision=precision)
    settings.check()
    model, G = load_generator(network, device)
    warn_other_network(latents, model.model_id)
    if use_pins:
        from .pins import former_demo_pins, load_pins

        if psi is not None or cutoff is not None or class_idx is not None:
            click.echo("warning: --trunc, --cutoff and --class are ignored with --pins: each pin has its own",
                       err=True)
        pins, warning = load_pins(model.model_id)
        if warning:
            click.echo(f"warning: {warning}", err=True)
        if len(pins) < 2:
            former = former_demo_pins(model.path) if not pins else None
            kept = f" (your pins of the earlier demo model are kept in {former})" if former else ""
            raise BadInput(f"--pins needs at least 2 pins for this network (model id {model.model_id[:12]}), "
                           f"found {len(pins)}: pin some in `sgx explore`{kept}")
        settings.keyframes = [pin.spec for pin in pins]
        modes = {pin.spec.noise_mode for pin in pins}
        if noise_mode is None and len(modes) == 1:
            settings.noise_mode = modes.pop()
    elif w_files is not None and class_idx is not None:
        click.echo("warning: --class is ignored with --w: a w already holds its class", err=True)
    else:
        check_class(G, class_idx)
    if sweep is not None:
        settings.keyframes, directions = sweep_keys(sweep, keys[0], layers, G, model.model_id)
    else:
        directions = known_directions(G, model.model_id, settings.keyframes)
    settings.scale = parse_scale(size, G.img_resolution)
    out.parent.mkdir(parents=True, exist_ok=True)
    exporter = Exporter(G, settings, batch=batch, directions=directions)
    with click.progressbar(length=exporter.total, label=f"rendering {out.name}", file=sys.stderr) as bar:
        exporter.run(lambda _: bar.update(exporter.rendered - bar.pos))
    px = G.img_resolution * settings.scale
    click.echo(f"wrote {out} ({exporter.total} frames, {px}x{px}, {fps} fps)")


def parse_sweep(direction: str, strengths: str) -> tuple[Path, int, float, float]:
    """'dirs.npz:3' and '-3:3' -> (file, component, start, end), checked before the network is loaded."""
    from model.spec import check_number

    path, _, k = direction.rpartition(":")
    if not path or not k.isdigit():
        raise BadInput(f"--direction {direction}: use FILE:K, e.g. dirs.npz:0")
    if not Path(path).is_file():
        raise BadInput(f"--direction {direction}: no such file {path}")
    try:
        start, end = (float(v) for v in strengths.split(":"))
    except ValueError:
        raise BadInput(f"--strengths {strengths}: use A:B, e.g. -3:3") from None
    return Path(path), int(k), check_number(start, "strength"), check_number(end, "strength")


def sweep_keys(sweep: tuple[Path, int, float, float], base, layers: str | None, G, model_id: str):
    """The two keyframes of a sweep (the base edited at A, then at B; looped, so it comes back) and the vectors."""
    from dataclasses import replace

    from model.directions import check_model, edit_vectors, load_directions
    from model.spec import Edit

    from .directions_cli import w_range

    path, k, start, end = sweep
    found = load_directions(path)
    check_model(found, model_id, path.name)
    if layers is not None:
        first, last = w_range(layers, G.num_ws)
    else:
        first, last = (min(found.layers), max(found.layers)) if found.layers else (0, G.num_ws - 1)
    keys = [replace(base, edits=(Edit(found.id(k), strength, first, last),)) for strength in (start, end)]
    return keys, edit_vectors(found)


def known_directions(G, model_id: str, keys: list) -> dict:
    """The vectors of every direction the keyframes' edits name: SeFa of this network, and the explorer's cache."""
    from model.directions import edit_vectors, sefa

    from . import direction_cache

    wanted = {edit.direction for key in keys for edit in key.edits}
    if not wanted:
        return {}
    found = edit_vectors(sefa(G)) if any(d.startswith("sefa-") for d in wanted) else {}
    for kept in direction_cache.kept(model_id)[0]:
        found.update(edit_vectors(kept))
    missing = sorted(wanted - set(found))
    if missing:
        raise BadInput(f"unknown direction '{missing[0]}' in the keyframes' edits: neither this network's SeFa nor "
                       f"in the explorer's cache ({direction_cache.store()})")
    return found
