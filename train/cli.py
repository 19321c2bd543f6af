"""Click commands of the trainer side; explorer/cli.py registers them in the `sgx` group."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from PIL import ImageColor

from model.io.atomic import WriteError

from .dataset import TRANSFORMS, DatasetError, check_resolution, listed, open_source, write_dataset

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
    does. Files that cannot be read are skipped and listed with the reason, as are images over Pillow's
    decompression-bomb pixel limit (refused before decoding); images with a side below half the
    resolution are listed as a warning.

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
    except WriteError as e:  # disk full, read-only folder: not the user's input, exit code 1
        raise click.ClickException(str(e)) from None
    except OSError as e:
        raise BadInput(f"{e.strerror or e}: {e.filename}" if e.filename else str(e)) from None
    if summary.skipped:
        click.echo(f"skipped {len(summary.skipped)} unreadable image(s): {listed(summary.skipped)}", err=True)
    if summary.small:
        click.echo(f"warning: {len(summary.small)} image(s) smaller than half the resolution (a side below "
                   f"{resolution // 2} px) were enlarged: {listed(summary.small)}", err=True)
    kind = "RGB" if summary.channels == 3 else "grayscale"
    labels = "with labels" if summary.labelled else "no labels"
    click.echo(f"wrote {summary.count} images ({summary.resolution}x{summary.resolution} {kind}, {labels}) to {dest}")


@click.command("train", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--data", metavar="ZIP", help="Dataset zip from `sgx dataset` (optional with --resume auto).")
@click.option("--outdir", required=True, type=click.Path(file_okay=False), help="Where run directories go.")
@click.option("--cfg", type=click.Choice(["auto", "stylegan2", "paper256", "paper512", "paper1024", "cifar"]),
              default="auto", show_default=True, help="NVlabs' base configuration.")
@click.option("--gpus", type=click.IntRange(min=1), default=1, show_default=True,
              help="Processes to train with (one per GPU; on a CPU-only machine, CPU processes with gloo).")
@click.option("--kimg", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Training length in thousands of real images shown [default: from --cfg].")
@click.option("--batch", type=click.IntRange(min=1), default=None, help="Global minibatch [default: from --cfg].")
@click.option("--batch-gpu", type=click.IntRange(min=1), default=None,
              help="Images per process per round (gradient accumulation below --batch / --gpus).")
@click.option("--gamma", type=click.FloatRange(min=0), default=None,
              help="R1 weight [default: from --cfg; auto's 0.0002*res^2/batch is too weak for small networks "
                   "on small datasets, where D wins and G collapses: try 10]. Applies to a resumed run too.")
@click.option("--mirror/--no-mirror", default=False, show_default=True, help="Add x-flipped copies of the images.")
@click.option("--cond/--no-cond", default=False, show_default=True, help="Train on the dataset's labels.")
@click.option("--aug", type=click.Choice(["ada", "noaug", "fixed"]), default="ada", show_default=True,
              help="Augmentation: adaptive (ADA), none, or fixed probability --p.")
@click.option("--p", type=click.FloatRange(0, 1), default=None, help="Augmentation probability for --aug fixed.")
@click.option("--target", type=click.FloatRange(0, 1), default=0.6, show_default=True,
              help="ADA target for E[sign(D(real))].")
@click.option("--ada-kimg", type=click.FloatRange(min=0, min_open=True), default=None,
              help="ADA speed: kimg for p to move by 1 at most [default: 500; 100 from a --resume network]. "
              "Applies to a resumed run too.")
@click.option("--augpipe", type=click.Choice(["blit", "geom", "color", "filter", "noise", "cutout", "bg", "bgc",
                                              "bgcf", "bgcfn", "bgcfnc"]),
              default="bgc", show_default=True, help="Augmentation pipeline.")
@click.option("--snap", type=click.IntRange(min=1), default=None,
              help="Snapshot (network, images, metrics, training state) every this many ticks [default: 50]. "
              "Applies to a resumed run too.")
@click.option("--tick", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Progress line every this many kimg [default: 4]. Applies to a resumed run too.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Random seed.")
@click.option("--device", default="auto", show_default=True, help="auto (cuda, then mps, then cpu), cpu, cuda, mps.")
@click.option("--precision", type=click.Choice(["auto", "exact", "fp32", "bf16", "fp16"]), default=None,
              help="[default: auto; a resumed run keeps its own] auto: fp16 on CUDA; on the CPU bf16 where it "
              "pays (AMX, AMD's AVX512-BF16, or a quick probe says so), else fp32. fp32/bf16/fp16 use the fast ops "
              "(measure with benchmarks/train.py); exact: NVlabs' op order, slower. Regularisers always run in fp32.")
@click.option("--workers", type=click.IntRange(min=0), default=2, show_default=True,
              help="Image-decoding threads (the batch is assembled off the training thread either way).")
@click.option("--metrics", type=click.Choice(["swd", "none"]), default="swd", show_default=True,
              help="Metric at every snapshot (SWD needs no downloads).")
@click.option("--swd-images", type=click.IntRange(min=16), default=2048, show_default=True,
              help="Images per SWD (and FID) evaluation (capped at the dataset size).")
@click.option("--fid-weights", type=click.Path(dir_okay=False), default=None,
              help="pytorch-fid's pt_inception-2015-12-05-6726825d.pth: FID at every snapshot too, on --swd-images "
              "images (slow on a CPU: about a second per image on two cores).")
@click.option("--resume", metavar="auto|PATH", default=None,
              help="auto: continue the newest run in --outdir exactly where it stopped; a run directory: "
              "continue that run; a network file (ours or an NVlabs .pkl): start from its weights.")
@click.option("--cbase", type=click.IntRange(min=1), default=None, help="Channel base (capacity) override.")
@click.option("--cmax", type=click.IntRange(min=1), default=None, help="Channel maximum override.")
@click.option("--map", "map_layers", type=click.IntRange(min=1), default=None, help="Mapping depth override.")
@click.option("--glr", type=click.FloatRange(min=0, min_open=True), default=None,
              help="G learning rate override. Applies to a resumed run too.")
@click.option("--dlr", type=click.FloatRange(min=0, min_open=True), default=None,
              help="D learning rate override. Applies to a resumed run too.")
def train_command(data, outdir, cfg, gpus, kimg, batch, batch_gpu, gamma, mirror, cond, aug, p, target, ada_kimg,
                  augpipe, snap, tick, seed, device, precision, workers, metrics, swd_images, fid_weights, resume,
                  cbase, cmax, map_layers, glr, dlr):
    """Train a StyleGAN2-ADA generator on a dataset zip, on the CPU or GPUs.

    Each run gets OUTDIR/NNNNN-desc/ with training_options.json, log.txt, stats.jsonl, reals.png,
    fakes*.png, network-snapshot-*.safetensors (open them in `sgx explore` / `sgx generate`),
    metric-swd.jsonl, metric-fid.jsonl (with --fid-weights) and training-state files. Ctrl+C writes a
    final snapshot; --resume auto continues exactly where the run stopped. For several GPUs use --gpus N
    or torchrun --nproc_per_node=N.

    \b
    Example (the 64x64 demo on a CPU):
      sgx train --data emoji64.zip --outdir runs --mirror --batch 32 --cbase 4096 --cmax 256 --gamma 10
    """
    from model.errors import ModelError

    from .config import ConfigError, TrainOptions
    from .loop import train
    from .state import StateError

    opts = TrainOptions(data=data, outdir=outdir, cfg=cfg, gpus=gpus, kimg=kimg, batch=batch, batch_gpu=batch_gpu,
                        gamma=gamma, mirror=mirror, cond=cond, aug=aug, p=p, target=target, ada_kimg=ada_kimg,
                        augpipe=augpipe, snap=snap, tick=tick, seed=seed, device=device, precision=precision,
                        workers=workers, metrics=metrics, swd_images=swd_images, fid_weights=fid_weights,
                        resume=resume, cbase=cbase, cmax=cmax, map=map_layers, glr=glr, dlr=dlr)
    if resume not in (None, "auto") and not Path(resume).exists():
        raise BadInput(f"--resume {resume}: no such file or directory (use auto, a run directory or a network file)")
    if fid_weights is not None and not Path(fid_weights).is_file():
        raise BadInput(f"--fid-weights {fid_weights}: no such file (pytorch-fid's FID Inception state dict)")
    if data is not None and not Path(data).is_file():
        raise BadInput(f"--data {data}: no such file (make one with `sgx dataset`)")
    try:
        run_dir = train(opts, log=click.echo)
    except (ConfigError, DatasetError, ModelError, StateError) as e:
        raise BadInput(str(e)) from None
    except WriteError as e:  # disk full, read-only folder: not the user's input, exit code 1
        raise click.ClickException(str(e)) from None
    except OSError as e:
        raise BadInput(f"{e.strerror or e}: {e.filename}" if e.filename else str(e)) from None
    except KeyboardInterrupt:
        click.echo("aborted without a final snapshot; --resume auto continues from the last one", err=True)
        sys.exit(130)
    click.echo(f"run directory: {run_dir}")


@click.command("metrics", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("networks", nargs=-1, required=True)
@click.option("--data", metavar="ZIP", type=click.Path(dir_okay=False),
              help="Dataset zip [default: the one the network was trained on, if its file names it and it exists].")
@click.option("--metrics", "names", type=click.Choice(["swd", "fid", "swd,fid"]), default="swd", show_default=True,
              help="What to measure (FID needs --fid-weights).")
@click.option("--draws", type=click.IntRange(min=1), default=5, show_default=True,
              help="Measurements per network, each with fresh generated images: the mean and its standard error.")
@click.option("--num", type=click.IntRange(min=16), default=2048, show_default=True,
              help="Real and generated images per draw (capped at the dataset size), as the trainer's --swd-images.")
@click.option("--fid-weights", type=click.Path(dir_okay=False), default=None,
              help="pytorch-fid's pt_inception-2015-12-05-6726825d.pth, a local file.")
@click.option("--device", default="auto", show_default=True, help="auto (cuda, then mps, then cpu), cpu, cuda, mps.")
def metrics_command(networks, data, names, draws, num, fid_weights, device):
    """Measure finished networks (NVlabs' calc_metrics.py): pick the best snapshot of a run.

    NETWORKS are network files (ours or NVlabs pickles) or run directories, which stand for all their
    snapshots. The trainer measures each snapshot once; late in a run the snapshots differ by less than
    one draw's noise, so here each is measured --draws times with fresh generated images. The table gives
    the mean ± its standard error per network (draw 0 repeats the trainer's number), then the lowest.

    \b
    Example: sgx metrics runs/00000-mydata-auto1 --draws 5
    """
    from model.errors import ModelError
    from model.render import pick_device

    from .calc_metrics import Scorer, cell, network_files, table_header, table_row, training_data
    from .config import ConfigError

    if fid_weights is not None and not Path(fid_weights).is_file():
        raise BadInput(f"--fid-weights {fid_weights}: no such file (pytorch-fid's FID Inception state dict)")
    if data is not None and not Path(data).is_file():
        raise BadInput(f"--data {data}: no such file (make one with `sgx dataset`)")
    try:
        files = network_files(networks)
        dev = pick_device(device)
        if data is None:
            from model.io import load

            data = training_data(load(files[0]).metadata)
            if data is None:
                raise ConfigError(f"{files[0].name} does not name a dataset that is here: give --data")
        scorer = Scorer(data, names.split(","), num, fid_weights)
        for path in files:
            scorer.load(path)
        click.echo(f"{len(files)} network(s), {draws} draw(s) of {scorer.metrics[0].num} images against {data}")
        scores = []
        for path in files:
            score = scorer(path, draws, dev)
            if not scores:
                click.echo(table_header(score))
            scores.append(score)
            click.echo(table_row(score))
    except (ConfigError, DatasetError, ModelError) as e:
        raise BadInput(str(e)) from None
    except OSError as e:
        raise BadInput(f"{e.strerror or e}: {e.filename}" if e.filename else str(e)) from None
    if len(scores) > 1:
        key = scores[0].keys()[0]
        best = min(scores, key=lambda s: s.mean(key))
        click.echo(f"lowest {key}: {best.path.name} ({cell(best, key).strip()})")

