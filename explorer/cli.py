"""`sgx`: the one console command. Model commands live here; `train` and `dataset` come from train/."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from model.errors import ModelError
from model.io.atomic import WriteError
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
from .video_cli import video_command


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

    from .images import grid, save_png, spec_metadata, spec_stem

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
            meta = spec_metadata(spec, precision=precision, model_id=model.model_id, model=model.path.name)
            save_png(outdir / f"{spec_stem(spec)}.png", img, meta)
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
main.add_command(video_command)
