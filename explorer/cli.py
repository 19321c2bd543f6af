"""`sgx`: the one console command. Model commands live here; `train` and `dataset` come from train/."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from model.errors import ModelError
from model.io.atomic import WriteError
from model.spec import NOISE_MODES
from train.cli import dataset_command, train_command

from .assets import DEMO_MODEL
from .cli_options import (
    BadInput,
    check_class,
    device_option,
    grid_shape,
    load_generator,
    network_option,
    noise_option,
    outdir_option,
    output_folder,
    precision_option,
)
from .directions_cli import directions_command, edit_command


class SgxGroup(click.Group):
    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ModelError as e:
            raise BadInput(str(e)) from None
        except WriteError as e:  # disk full, read-only folder: not the user's input, so exit code 1
            raise click.ClickException(str(e)) from None
        except OSError as e:
            raise BadInput(f"{e.strerror or e}: {e.filename}" if e.filename else str(e)) from None


@click.group(cls=SgxGroup, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """StyleGAN Explorer: browse, render and train StyleGAN2 generators."""


@main.command()
@network_option
@click.option("--seeds", required=True, help="Seeds, e.g. 0-9,42.")
@click.option("--trunc", "psi", type=float, default=1.0, show_default=True, help="Truncation psi.")
@click.option("--cutoff", type=click.IntRange(min=0), default=None, help="Truncate only the first K w indices.")
@click.option("--class", "class_idx", type=click.IntRange(min=0), default=None, help="Class of a conditional net.")
@noise_option
@outdir_option
@device_option
@precision_option
@click.option("--grid", "make_grid", is_flag=True, help="Also write grid.png with every image.")
def generate(network, seeds, psi, cutoff, class_idx, noise_mode, outdir, device, precision, make_grid):
    """Render seeds to seedNNNN.png (with --precision exact, pixel-equal to NVlabs' generate.py)."""
    from model.fast import choose_precision
    from model.latents import parse_seeds
    from model.render import render_spec
    from model.spec import LatentSpec

    from .images import grid, save_png, spec_metadata

    seed_list = parse_seeds(seeds)
    LatentSpec(0, psi, cutoff, class_idx, noise_mode)  # every argument checked before any work
    model, G = load_generator(network, device)
    class_idx = check_class(G, class_idx)
    precision = choose_precision(next(G.parameters()).device, precision)
    output_folder(outdir)
    images = []
    with click.progressbar(seed_list, label="generating", file=sys.stderr) as bar:
        for seed in bar:
            spec = LatentSpec(seed, psi, cutoff, class_idx, noise_mode)
            img = render_spec(G, spec, precision)
            save_png(outdir / f"seed{seed:04d}.png", img, spec_metadata(spec, precision=precision,
                                                                         model_id=model.model_id,
                                                                         model=model.path.name))
            images.append(img)
    if make_grid:
        rows, cols = grid_shape(len(images))
        cells = [images[r * cols:(r + 1) * cols] for r in range(rows)]
        save_png(outdir / "grid.png", grid(cells), dict(seeds=seed_list, psi=psi, cutoff=cutoff,
                                                        class_idx=class_idx, noise_mode=noise_mode,
                                                        precision=precision, model_id=model.model_id,
                                                        model=model.path.name))
    click.echo(f"wrote {len(images)} image(s) to {outdir}")


@main.command()
@network_option
@click.option("--rows", required=True, help="Row seeds: they give the layers not listed in --styles.")
@click.option("--cols", required=True, help="Column seeds: they give the layers listed in --styles.")
@click.option("--styles", default="0-6", show_default=True, help="w indices taken from the column seed.")
@click.option("--trunc", "psi", type=float, default=1.0, show_default=True)
@click.option("--class", "class_idx", type=click.IntRange(min=0), default=None)
@noise_option
@outdir_option
@device_option
@precision_option
def mix(network, rows, cols, styles, psi, class_idx, noise_mode, outdir, device, precision):
    """Style-mixing grid as NVlabs' style_mixing.py: grid.png plus every cell as ROW-COL.png."""
    from model.fast import choose_precision
    from model.latents import parse_range, parse_seeds
    from model.render import style_mix

    from .images import grid, save_png

    row_seeds, col_seeds, col_styles = parse_seeds(rows), parse_seeds(cols), parse_range(styles)
    model, G = load_generator(network, device)
    if max(col_styles) >= G.num_ws:
        raise BadInput(f"--styles {styles} is out of range: this network has w indices 0-{G.num_ws - 1}")
    class_idx = check_class(G, class_idx)
    precision = choose_precision(next(G.parameters()).device, precision)
    own, mixed = style_mix(G, row_seeds, col_seeds, col_styles, psi, class_idx, noise_mode, precision)
    seeds = list(own)
    output_folder(outdir)
    meta = dict(psi=psi, class_idx=class_idx, noise_mode=noise_mode, precision=precision, model_id=model.model_id,
                model=model.path.name, styles=col_styles)
    for s in seeds:
        save_png(outdir / f"{s}-{s}.png", own[s], dict(meta, row=s, col=s))
    for (r, col), img in mixed.items():
        save_png(outdir / f"{r}-{col}.png", img, dict(meta, row=r, col=col))
    cells = [[None] + [own[col] for col in col_seeds]]
    cells += [[own[r]] + [mixed[(r, col)] for col in col_seeds] for r in row_seeds]
    save_png(outdir / "grid.png", grid(cells), dict(meta, rows=row_seeds, cols=col_seeds))
    click.echo(f"wrote grid.png and {len(mixed) + len(seeds)} cells to {outdir}")


@main.command()
@click.argument("path")
def info(path):
    """Describe a network file: format, shapes, layers, parameters."""
    from model.io import load

    model = load(path)
    for warning in model.warnings:
        click.echo(f"warning: {warning}", err=True)
    G = model.G
    syn = G.init_kwargs["synthesis_kwargs"]
    rows = [("file", str(model.path)), ("format", model.format), ("model id", model.model_id),
            ("resolution", f"{G.img_resolution} x {G.img_resolution}, {G.img_channels} channel(s)"),
            ("latents", f"z_dim {G.z_dim}, w_dim {G.w_dim}, c_dim {G.c_dim}, num_ws {G.num_ws}"),
            ("mapping", f"{G.mapping.num_layers} layers"),
            ("synthesis", f"{syn.get('architecture', 'skip')}, channel_base {syn.get('channel_base', 32768)}, "
                          f"channel_max {syn.get('channel_max', 512)}, conv_clamp {syn.get('conv_clamp')}"),
            ("parameters", f"{sum(p.numel() for p in G.parameters()):,}")]
    for k, v in rows:
        click.echo(f"{k:<12}{v}")
    click.echo(f"\n{'block':<8}{'res':>6}{'channels':>10}  {'w indices':<12}{'fp16 on cuda':<14}")
    w_idx = 0
    for block in G.synthesis.blocks():
        used = block.num_conv + block.num_torgb
        ch = block.conv1.weight.shape[0]
        click.echo(f"b{block.resolution:<7}{block.resolution:>6}{ch:>10}  {f'{w_idx}-{w_idx + used - 1}':<12}"
                   f"{'yes' if block.use_fp16 else 'no':<14}")
        w_idx += block.num_conv


@main.command()
@click.argument("src")
@click.argument("dest", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--networks", "names", default="G,D,G_ema", show_default=True,
              help="Which networks to keep (G_ema alone is enough to render).")
def convert(src, dest, names):
    """Convert an NVlabs pickle (or our file) into our data-only safetensors format."""
    from model.io import load, save_networks

    which = tuple(n.strip() for n in names.split(",") if n.strip())
    if dest.suffix.lower() != ".safetensors":
        raise BadInput(f"DEST must be a .safetensors file, got {dest.name}")
    if Path(src).resolve() == dest.resolve():
        raise BadInput("SRC and DEST are the same file")
    model = load(src, which=which)
    for warning in model.warnings:
        click.echo(f"warning: {warning}", err=True)
    output_folder(dest.parent)
    save_networks(dest, model.networks, dict(model.metadata, source=Path(src).name, source_format=model.format))
    click.echo(f"wrote {dest} ({', '.join(which)}; model id {model.model_id[:12]})")


def read_w_keyframes(path: Path) -> list:
    """The rows of key 'w' [K, num_ws, w_dim] of an .npz (NVlabs projector output), without ever unpickling."""
    import zipfile

    import numpy as np

    try:
        data = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
        raise BadInput(f"--w {path.name} is not a readable .npz file ({str(e).splitlines()[0]})") from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise BadInput(f"--w {path.name} is an .npy array, not an .npz with key 'w'")
    with data:
        if "w" not in data.files:
            raise BadInput(f"--w {path.name} has no array 'w' (it has: {', '.join(data.files) or 'nothing'})")
        try:
            w = data["w"]
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:  # e.g. an object array (needs unpickling)
            raise BadInput(f"--w {path.name}: 'w' is not a readable plain array ({str(e).splitlines()[0]})") from None
    if w.ndim != 3 or not np.issubdtype(w.dtype, np.floating):
        raise BadInput(f"--w {path.name}: 'w' must be a float array [K, num_ws, w_dim], got {w.dtype} "
                       f"{list(w.shape)}")
    return list(w)


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


@main.command()
@network_option
@click.option("--seeds", default=None, help="Keyframes: seeds in order, e.g. 1,5,9.")
@click.option("--pins", "use_pins", is_flag=True, help="Keyframes: the explorer's pins for this network, in order.")
@click.option("--w", "w_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Keyframes: an .npz whose 'w' is [K, num_ws, w_dim] (NVlabs projector output).")
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
@device_option
@precision_option
@click.option("--batch", type=click.IntRange(min=1), default=4, show_default=True, help="Frames per render batch.")
def video(network, seeds, use_pins, w_file, frames, fps, interp, easing, loop, psi, cutoff, class_idx, noise_mode,
          size, out, crf, device, precision, batch):
    """Render an interpolation video through keyframes to mp4 (H.264) or GIF."""
    from model.latents import parse_seeds
    from model.spec import LatentSpec, W

    from .export import Exporter, ExportSettings

    given = [name for name, on in (("--seeds", seeds is not None), ("--pins", use_pins), ("--w", w_file)) if on]
    if len(given) != 1:
        raise BadInput(f"give exactly one of --seeds, --pins and --w (got {' and '.join(given) or 'none'})")
    interpolation = {"cubic": "w-cubic", "lerp": "w-lerp", "slerp": "z-slerp"}[interp]
    truncation = dict(psi=1.0 if psi is None else psi, cutoff=cutoff)
    if seeds is not None:
        keys = [LatentSpec(s, class_idx=class_idx, **truncation) for s in parse_seeds(seeds)]
    elif w_file is not None:
        keys = [LatentSpec(w=W.of(w), **truncation) for w in read_w_keyframes(w_file)]
    else:
        keys = [LatentSpec(0), LatentSpec(0)]  # placeholders so the settings can be checked before loading
    settings = ExportSettings(keys, str(out), frames, fps, interpolation, easing, loop, format="",
                              noise_mode=noise_mode or "const", crf=crf, precision=precision)
    settings.check()
    model, G = load_generator(network, device)
    if use_pins:
        from .pins import load_pins

        if psi is not None or cutoff is not None or class_idx is not None:
            click.echo("warning: --trunc, --cutoff and --class are ignored with --pins: each pin has its own",
                       err=True)
        pins, warning = load_pins(model.model_id)
        if warning:
            click.echo(f"warning: {warning}", err=True)
        if len(pins) < 2:
            raise BadInput(f"--pins needs at least 2 pins for this network (model id {model.model_id[:12]}), "
                           f"found {len(pins)}: pin some in `sgx explore`")
        settings.keyframes = [pin.spec for pin in pins]
        modes = {pin.spec.noise_mode for pin in pins}
        if noise_mode is None and len(modes) == 1:
            settings.noise_mode = modes.pop()
    elif w_file is not None and class_idx is not None:
        click.echo("warning: --class is ignored with --w: a w already holds its class", err=True)
    else:
        check_class(G, class_idx)
    settings.scale = parse_scale(size, G.img_resolution)
    out.parent.mkdir(parents=True, exist_ok=True)
    exporter = Exporter(G, settings, batch=batch)
    with click.progressbar(length=exporter.total, label=f"rendering {out.name}", file=sys.stderr) as bar:
        exporter.run(lambda _: bar.update(exporter.rendered - bar.pos))
    px = G.img_resolution * settings.scale
    click.echo(f"wrote {out} ({exporter.total} frames, {px}x{px}, {fps} fps)")


NO_DISPLAY = ("no display to open a window on (no X11 or Wayland display found): run it on a desktop, "
              "or headless under a virtual screen with `xvfb-run -a sgx explore`")


def check_display(pygame) -> None:
    """Refuse to start without a screen: with no X11 or Wayland display SDL falls back to its invisible
    'offscreen' driver and the window would run forever where nobody can see it. Tests ask for the
    'dummy' driver explicitly through SDL_VIDEODRIVER, and that stays allowed."""
    asked = [d.strip() for d in os.environ.get("SDL_VIDEODRIVER", "").lower().split(",") if d.strip()]
    if sys.platform.startswith("linux") and not asked and not (os.environ.get("DISPLAY")
                                                               or os.environ.get("WAYLAND_DISPLAY")):
        raise BadInput(NO_DISPLAY)  # decided before SDL probes (and prints its own errors about) each driver
    try:
        pygame.display.init()
    except pygame.error as e:
        raise BadInput(f"cannot open a window: {e}") from None
    driver = pygame.display.get_driver()
    if driver in ("offscreen", "dummy") and driver not in asked:
        pygame.display.quit()
        raise BadInput(NO_DISPLAY)


@main.command()
@click.argument("network", required=False)
@device_option
@precision_option
def explore(network, device, precision):
    """Open the explorer window on NETWORK (default: the bundled demo model)."""
    from model.io import check_file
    from model.render import pick_device

    if network is None:
        if not DEMO_MODEL.is_file():
            raise BadInput(f"no NETWORK given and the bundled demo model is not there ({DEMO_MODEL}); "
                           "run `sgx explore PATH` with a .safetensors or NVlabs .pkl network file")
        network = DEMO_MODEL
    try:
        check_file(network)
        pick_device(device)
    except ModelError as e:
        raise BadInput(str(e)) from None
    import pygame

    from .app import App

    check_display(pygame)
    try:
        app = App(network, device=device, precision=precision)
    except pygame.error as e:
        raise BadInput(f"cannot open a window: {e}") from None
    app.run()


main.add_command(dataset_command)
main.add_command(train_command)

main.add_command(directions_command)
main.add_command(edit_command)
