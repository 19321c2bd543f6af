"""`sgx`: the one console command. Model commands live here; `train` and `dataset` come from train/."""

from __future__ import annotations

import os
import sys
from pathlib import Path

# The explorer's render worker shares the cores with the UI loop: there idle OpenMP threads must sleep, or two
# torch threads run slower than one (explorer/renderer.py). libgomp reads this once, when torch loads, so it is set
# before the imports below; training and the other commands keep spinning threads (10-20 % faster training steps here).
if sys.argv[1:2] == ["explore"]:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import click  # noqa: E402

from model.errors import ModelError  # noqa: E402
from model.io.atomic import WriteError  # noqa: E402
from train.cli import dataset_command, metrics_command, train_command  # noqa: E402

from .cli_options import (  # noqa: E402
    BadInput,
    check_class,
    class_option,
    device_option,
    grid_shape,
    load_generator,
    network_option,
    network_path,
    noise_option,
    outdir_option,
    output_folder,
    precision_option,
)
from .directions_cli import directions_command, edit_command  # noqa: E402
from .project_cli import project_command, read_latents, w_option, warn_other_network  # noqa: E402
from .video_cli import video_command  # noqa: E402


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
@click.version_option(package_name="stylegan-explorer", prog_name="sgx")
def main() -> None:
    """StyleGAN Explorer: browse, render and train StyleGAN2 generators.

    Wherever a network file is expected, the word demo names the bundled demo model."""
    from model.fast import tune_allocator

    tune_allocator()  # process-wide, before big tensors exist: renders and training steps re-faulted them otherwise


def parse_pair(text: str, option: str) -> tuple[float, float]:
    """'x,y' -> two floats (range checks are LatentSpec's)."""
    try:
        x, y = (float(v) for v in text.split(","))
    except ValueError:
        raise BadInput(f"bad {option} {text!r:.40}: expected two numbers x,y") from None
    return x, y


@main.command()
@network_option
@click.option("--seeds", default=None, help="Seeds, e.g. 0-9,42.")
@w_option
@click.option("--trunc", "psi", type=float, default=1.0, show_default=True, help="Truncation psi.")
@click.option("--cutoff", type=click.IntRange(min=0), default=None, help="Truncate only the first K w indices.")
@class_option
@noise_option
@outdir_option
@device_option
@precision_option
@click.option("--grid", "make_grid", is_flag=True, help="Also write grid.png with every image.")
@click.option("--translate", default="0,0", show_default=True, help="StyleGAN3: move the input by x,y image widths.")
@click.option("--rotate", type=float, default=0.0, show_default=True, help="StyleGAN3: rotate the input, degrees.")
def generate(network, seeds, w_files, psi, cutoff, class_idx, noise_mode, outdir, device, precision, make_grid,
             translate, rotate):
    """Render seeds (or the latents of --w files) to seedNNNN.png / w-HASH.png (with --precision exact, a seed is
    pixel-equal to NVlabs' generate.py)."""
    from dataclasses import replace

    from model.fast import choose_precision
    from model.latents import parse_seeds
    from model.render import render_spec, spec_transforms
    from model.spec import LatentSpec
    from model.w_file import Latent, noise_maps

    from .images import grid, save_png, spec_metadata, spec_stem

    if (seeds is None) == (w_files is None):
        raise BadInput("give exactly one of --seeds and --w")
    seed_list = parse_seeds(seeds) if seeds is not None else []
    moves = dict(translate=parse_pair(translate, "--translate"), rotate=rotate)
    LatentSpec(0, psi, cutoff, class_idx, noise_mode, **moves)  # every argument checked before any work
    latents = read_latents(w_files, psi, cutoff, noise_mode) if w_files is not None else None
    model, G = load_generator(network, device)
    warn_other_network(latents or [], model.model_id)
    class_idx = check_class(G, class_idx if latents is None else None)
    latents = ([replace(latent, spec=replace(latent.spec, **moves)) for latent in latents] if latents else
               [Latent(LatentSpec(seed, psi, cutoff, class_idx, noise_mode, **moves)) for seed in seed_list])
    spec_transforms(G, [latent.spec for latent in latents])  # a StyleGAN2 net refuses a move before any work
    precision = choose_precision(next(G.parameters()).device, precision)
    output_folder(outdir)
    images = []
    with click.progressbar(latents, label="generating", file=sys.stderr) as bar:
        for latent in bar:
            spec = latent.spec
            with noise_maps(G, latent.noise):  # a projection fitted with its own noise maps renders with them
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
@class_option
@noise_option
@outdir_option
@device_option
@precision_option
def mix(network, rows, cols, styles, psi, class_idx, noise_mode, outdir, device, precision):
    """Style-mixing grid as NVlabs' style_mixing.py: grid.png plus every cell as ROW-COL.png.

    Each cell is a latent spec (row seed, mixed with the column seed over --styles), rendered and annotated like
    `sgx generate`'s images. style_mixing.py maps its seeds in one batch and truncates with its own formula, so
    its pixels can differ from ours by 1 in a few values.
    """
    from model.fast import choose_precision
    from model.latents import parse_range, parse_seeds
    from model.render import render_specs
    from model.spec import LatentSpec, Mix

    from .images import grid, save_png, spec_metadata

    row_seeds, col_seeds, col_styles = parse_seeds(rows), parse_seeds(cols), parse_range(styles)
    first, last = min(col_styles), max(col_styles)
    if sorted(set(col_styles)) != list(range(first, last + 1)):
        raise BadInput(f"--styles {styles} must be one run of w indices, e.g. 0-6")
    model, G = load_generator(network, device)
    if last >= G.num_ws:
        raise BadInput(f"--styles {styles} is out of range: this network has w indices 0-{G.num_ws - 1}")
    class_idx = check_class(G, class_idx)
    precision = choose_precision(next(G.parameters()).device, precision)
    own = {s: LatentSpec(s, psi, None, class_idx, noise_mode) for s in dict.fromkeys(row_seeds + col_seeds)}
    mixed = {(r, col): LatentSpec(r, psi, None, class_idx, noise_mode, Mix(col, first, last))
             for r in row_seeds for col in col_seeds}
    specs = list(own.values()) + list(mixed.values())
    images = render_specs(G, specs, precision)
    image_of = dict(zip(specs, images, strict=True))
    output_folder(outdir)
    context = dict(precision=precision, model_id=model.model_id, model=model.path.name)
    for (r, col), spec in [((s, s), spec) for s, spec in own.items()] + list(mixed.items()):
        save_png(outdir / f"{r}-{col}.png", image_of[spec], spec_metadata(spec, **context))
    cells = [[None] + [image_of[own[col]] for col in col_seeds]]
    cells += [[image_of[own[r]]] + [image_of[mixed[(r, col)]] for col in col_seeds] for r in row_seeds]
    save_png(outdir / "grid.png", grid(cells), dict(context, rows=row_seeds, cols=col_seeds, styles=col_styles,
                                                    psi=psi, class_idx=class_idx, noise_mode=noise_mode))
    click.echo(f"wrote grid.png and {len(mixed) + len(own)} cells to {outdir}")


@main.command()
@click.argument("path", callback=network_path)
def info(path):
    """Describe a network file: format, shapes, layers, parameters."""
    from model.io import load

    model = load(path)
    for warning in model.warnings:
        click.echo(f"warning: {warning}", err=True)
    G = model.G
    sg3 = G.family == "stylegan3"
    rows = [("file", str(model.path)), ("format", model.format), ("model id", model.model_id),
            ("family", f"StyleGAN3-{G.config.upper()} (alias-free)" if sg3 else "StyleGAN2"),
            ("resolution", f"{G.img_resolution} x {G.img_resolution}, {G.img_channels} channel(s)"),
            ("latents", f"z_dim {G.z_dim}, w_dim {G.w_dim}, c_dim {G.c_dim}, num_ws {G.num_ws}"),
            ("mapping", f"{G.mapping.num_layers} layers"),
            ("synthesis", _sg3_summary(G) if sg3 else _sg2_summary(G)),
            ("parameters", f"{sum(p.numel() for p in G.parameters()):,}")]
    for k, v in rows:
        click.echo(f"{k:<12}{v}")
    click.echo("")
    for line in _sg3_layers(G) if sg3 else _sg2_blocks(G):
        click.echo(line)


def _sg2_summary(G) -> str:
    syn = G.init_kwargs["synthesis_kwargs"]
    return (f"{syn.get('architecture', 'skip')}, channel_base {syn.get('channel_base', 32768)}, "
            f"channel_max {syn.get('channel_max', 512)}, conv_clamp {syn.get('conv_clamp')}")


def _sg2_blocks(G) -> list[str]:
    """One row per block: its resolution, channels and the w indices it reads (its ToRGB shares the next one)."""
    lines = [f"{'block':<8}{'res':>6}{'channels':>10}  {'w indices':<12}{'fp16 on cuda':<14}"]
    w_idx = 0
    for block in G.synthesis.blocks():
        used = block.num_conv + block.num_torgb
        ch = block.conv1.weight.shape[0]
        lines.append(f"b{block.resolution:<7}{block.resolution:>6}{ch:>10}  {f'{w_idx}-{w_idx + used - 1}':<12}"
                     f"{'yes' if block.use_fp16 else 'no':<14}")
        w_idx += block.num_conv
    return lines


def _sg3_summary(G) -> str:
    first = G.synthesis.layers()[0]
    filters = "radial" if first.down_radial else "separable"
    return (f"{G.synthesis.num_layers} layers + ToRGB, {first.conv_kernel}x{first.conv_kernel} convs, "
            f"{filters} filters, conv_clamp {first.conv_clamp}")


def _sg3_layers(G) -> list[str]:
    """One row per layer (the input reads w 0, layer i reads w i + 1): size with margins, sampling rate, cutoff."""
    syn = G.synthesis
    lines = [f"{'layer':<12}{'size':>6}{'channels':>10}{'rate':>7}{'cutoff':>9}  {'up/down':<9}{'w index':<9}"
             "fp16 on cuda",
             f"{'input':<12}{syn.input.size:>6}{syn.input.channels:>10}{syn.input.sampling_rate:>7}"
             f"{syn.input.bandwidth:>9.2f}  {'':<9}{0:<9}no"]
    for w_idx, (name, layer) in enumerate(zip(syn.layer_names, syn.layers(), strict=True), start=1):
        lines.append(f"{name:<12}{layer.out_size:>6}{layer.out_channels:>10}{layer.out_sampling_rate:>7}"
                     f"{layer.out_cutoff:>9.2f}  {f'{layer.up_factor}/{layer.down_factor}':<9}{w_idx:<9}"
                     f"{'yes' if layer.use_fp16 else 'no'}")
    return lines


@main.command()
@click.argument("src", callback=network_path)
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
@click.argument("network", default="demo", callback=network_path)
@device_option
@precision_option
def explore(network, device, precision):
    """Open the explorer window on NETWORK (default: demo, the bundled demo model)."""
    from model.io import check_file
    from model.render import pick_device

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
main.add_command(metrics_command)

main.add_command(directions_command)
main.add_command(edit_command)
main.add_command(video_command)
main.add_command(project_command)
