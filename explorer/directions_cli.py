"""`sgx directions` (SeFa or GANSpace directions into an .npz) and `sgx edit` (seeds moved along one of them).

Registered on `sgx` by explorer/cli.py; the options and helpers they share with the other commands are in
explorer/cli_options.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from model.directions import METHODS
from model.spec import MAX_SEED

from .cli_options import (
    BadInput,
    check_class,
    class_option,
    device_option,
    load_generator,
    network_option,
    noise_option,
    outdir_option,
    output_folder,
    precision_option,
)
from .project_cli import read_latents, w_option, warn_other_network

DEFAULT_SAMPLES = 100_000


def w_range(text: str, num_ws: int) -> tuple[int, int]:
    """--layers 'a-b' (or one index) -> (first, last): an edit moves one contiguous run of w indices."""
    from model.latents import parse_range

    indices = parse_range(text)
    if indices != list(range(indices[0], indices[-1] + 1)):
        raise BadInput(f"--layers {text}: give one contiguous range of w indices, like 0-5")
    if indices[-1] >= num_ws:
        raise BadInput(f"--layers {text} is out of range: this network has w indices 0-{num_ws - 1}")
    return indices[0], indices[-1]


def parse_strengths(text: str) -> list[float]:
    from model.spec import check_number

    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        raise BadInput(f"--strengths {text}: use numbers separated by commas, like -3,-1.5,0,1.5,3") from None
    return [check_number(v, "edit strength") for v in values]


@click.command("directions")
@network_option
@click.option("--method", type=click.Choice(METHODS), required=True,
              help="sefa: closed form from the conv layers' style weights; ganspace: PCA of sampled w's.")
@click.option("--num", type=click.IntRange(min=1), default=None, help="Keep the top K directions.  [default: all]")
@click.option("--layers", default=None,
              help="sefa: use the conv layers reading these w indices, a-b.  [default: every conv layer]")
@click.option("--samples", type=click.IntRange(min=2), default=None,
              help=f"ganspace: how many w's to sample.  [default: {DEFAULT_SAMPLES}]")
@click.option("--seed", type=click.IntRange(0, MAX_SEED), default=None, help="ganspace: seed of the z's.  [default: 0]")
@click.option("--class", "class_idx", type=click.IntRange(min=0), default=None,
              help="ganspace on a conditional network: the class to sample.")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="dirs.npz")
@device_option
def directions_command(network, method, num, layers, samples, seed, class_idx, out, device):
    """Find latent directions to edit along (SeFa or GANSpace) and write them to an .npz file."""
    from model.directions import ganspace, save_directions, sefa
    from model.latents import parse_range

    wrong = ([("--layers", layers)] if method == "ganspace" else
             [("--samples", samples), ("--seed", seed), ("--class", class_idx)])
    given = [name for name, value in wrong if value is not None]
    if given:
        raise BadInput(f"{given[0]} does not apply to --method {method}")
    indices = parse_range(layers) if layers is not None else None
    _, G = load_generator(network, device)
    if num is not None and num > G.w_dim:
        raise BadInput(f"--num {num}: this network's w has {G.w_dim} values, so at most {G.w_dim} directions")
    if method == "sefa":
        found = sefa(G, indices, num)
    else:
        class_idx = check_class(G, class_idx)
        samples = samples or DEFAULT_SAMPLES
        with click.progressbar(length=samples, label="sampling w", file=sys.stderr) as bar:
            found = ganspace(G, samples, num, seed or 0, class_idx, progress=lambda done: bar.update(done - bar.pos))
    output_folder(out.parent)
    save_directions(out, found)
    unit = "σ" if method == "ganspace" else "eigenvalue"
    top = ", ".join(f"{v:.3g}" for v in (found.values[:5] ** 0.5 if method == "ganspace" else found.values[:5]))
    click.echo(f"wrote {out}: {len(found.directions)} {method} directions ({found.id(0)} and on), "
               f"first {unit}s {top}")


@click.command("edit")
@network_option
@click.option("--seeds", default=None, help="Seeds, one row each, e.g. 0-3.")
@w_option
@click.option("--directions", "directions_file", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path), help="A file of `sgx directions`.")
@click.option("--component", type=click.IntRange(min=0), required=True, help="Which direction (0 = the first).")
@click.option("--strengths", default="-3,-1.5,0,1.5,3", show_default=True,
              help="One column each; in w units for sefa, in standard deviations for ganspace.")
@click.option("--layers", default=None,
              help="w indices to move, a-b.  [default: sefa: the span of the file's layers; ganspace: all]")
@click.option("--trunc", "psi", type=float, default=1.0, show_default=True, help="Truncation psi (before the edit).")
@class_option
@noise_option
@outdir_option
@device_option
@precision_option
@click.option("--grid", "make_grid", is_flag=True, help="Also write grid.png: a row per seed, a column per strength.")
def edit_command(network, seeds, w_files, directions_file, component, strengths, layers, psi, class_idx, noise_mode,
                 outdir, device, precision, make_grid):
    """Render seeds (or --w latents) moved along one direction to seedNNNN-cK-sS.png (w-HASH-cK-sS.png), each with
    metadata to render it again."""
    from dataclasses import replace

    from model.directions import check_model, edit_vectors, load_directions
    from model.fast import choose_precision
    from model.latents import parse_seeds
    from model.render import render_spec
    from model.spec import Edit, LatentSpec
    from model.w_file import Latent, noise_maps

    from .images import grid, save_png, spec_metadata, spec_stem

    if (seeds is None) == (w_files is None):
        raise BadInput("give exactly one of --seeds and --w")
    seed_list, values = parse_seeds(seeds) if seeds is not None else [], parse_strengths(strengths)
    LatentSpec(0, psi, None, class_idx, noise_mode)  # every argument checked before any work
    latents = read_latents(w_files, psi, None, noise_mode) if w_files is not None else None
    found = load_directions(directions_file)
    direction = found.id(component)
    model, G = load_generator(network, device)
    warn_other_network(latents or [], model.model_id)
    check_model(found, model.model_id, directions_file.name)
    class_idx = check_class(G, class_idx if latents is None else None)
    latents = latents or [Latent(LatentSpec(seed, psi, None, class_idx, noise_mode)) for seed in seed_list]
    if layers is not None:
        first, last = w_range(layers, G.num_ws)
    else:
        first, last = (min(found.layers), max(found.layers)) if found.layers else (0, G.num_ws - 1)
    precision = choose_precision(next(G.parameters()).device, precision)
    vectors = edit_vectors(found)
    context = dict(precision=precision, model_id=model.model_id, model=model.path.name,
                   directions_file=directions_file.name)
    output_folder(outdir)
    rows = []
    with click.progressbar(length=len(latents) * len(values), label="editing", file=sys.stderr) as bar:
        for latent in latents:
            rows.append([])
            for strength in values:
                spec = replace(latent.spec, edits=(Edit(direction, strength, first, last),))
                with noise_maps(G, latent.noise):  # a projection fitted with its own noise maps renders with them
                    img = render_spec(G, spec, precision, vectors)
                save_png(outdir / f"{spec_stem(spec)}-c{component}-s{strength:+g}.png", img,
                         spec_metadata(spec, **context))
                rows[-1].append(img)
                bar.update(1)
    if make_grid:
        save_png(outdir / "grid.png", grid(rows), dict(context, seeds=seed_list, strengths=values, direction=direction,
                                                       first=first, last=last, psi=psi, class_idx=class_idx,
                                                       noise_mode=noise_mode))
    click.echo(f"wrote {len(latents) * len(values)} image(s) of {direction} (w indices {first}-{last}) to {outdir}")
