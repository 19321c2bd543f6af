"""`sgx project`: find the latent of a picture (model/project.py) and write it to proj.npz (model/w_file.py), which
`sgx generate --w`, `sgx edit --w` and `sgx video --w` take. Registered on `sgx` by explorer/cli.py."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import numpy as np

from model.spec import MAX_SEED

from .cli_options import (
    BadInput,
    check_class,
    class_option,
    device_option,
    network_option,
    output_folder,
    precision_option,
)

VIDEO_HEIGHT = 256  # the progress video is scaled up (nearest neighbour) to at least this height
PREVIEW_EVERY = 5


w_option = click.option("--w", "w_files", default=None, metavar="FILE.npz[,FILE.npz...]",
                        help="Latents from files of `sgx project` (proj.npz), or .npz files whose 'w' is "
                             "[K, num_ws, w_dim] (NVlabs' projector output).")


def read_latents(w_files: str, psi: float = 1.0, cutoff: int | None = None, noise_mode: str = "const") -> list:
    """--w a.npz,b.npz -> their latents (model.w_file.Latent) in order, with the command's truncation and noise
    mode; read before the network loads, so a bad file fails fast."""
    from dataclasses import replace

    from model.w_file import read_w_file

    return [replace(latent, spec=replace(latent.spec, psi=psi, cutoff=cutoff, noise_mode=noise_mode))
            for part in w_files.split(",") for latent in read_w_file(Path(part.strip()))]


def warn_other_network(latents: list, model_id: str) -> None:
    """A --w latent fitted to another network still renders, but not as the image it was fitted to: say so."""
    from model.io.identity import short_id

    for other in dict.fromkeys(latent.model_id for latent in latents if latent.model_id not in (None, model_id)):
        click.echo(f"warning: a --w latent was fitted to network {short_id(other)}, not this one "
                   f"({short_id(model_id)}): its images will not match what it was fitted to", err=True)


def load_networks(network: str, device: str, with_d: bool):
    """The file's G_ema, and its D when asked for (our training snapshots and NVlabs pickles hold one)."""
    from model.io import load
    from model.render import pick_device

    dev = pick_device(device)
    model = load(network, which=("G_ema", "D") if with_d else ("G_ema",))
    D = model.networks.get("D")
    return model, model.G.to(dev), None if D is None else D.to(dev)


def video_frame(target: np.ndarray, image: np.ndarray) -> np.ndarray:
    """target | current image, RGB, scaled up by an integer factor to at least VIDEO_HEIGHT pixels high."""
    frame = np.concatenate([target, image], axis=1)
    frame = np.repeat(frame, 3, axis=2) if frame.shape[2] == 1 else frame
    scale = max(1, -(-VIDEO_HEIGHT // frame.shape[0]))
    return np.ascontiguousarray(frame.repeat(scale, axis=0).repeat(scale, axis=1))


@click.command("project")
@network_option
@click.option("--target", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The picture to find: any image Pillow reads, centre-cropped and resized as `sgx dataset` does.")
@click.option("--space", type=click.Choice(["w", "w+"]), default="w", show_default=True,
              help="w: one w for all layers (edits behave best); w+: one per w index, from the w result (fits more).")
@click.option("--steps", type=click.IntRange(min=1), default=500, show_default=True,
              help="Optimisation steps (per phase: w+ runs a w phase first).")
@click.option("--seed", type=click.IntRange(0, MAX_SEED), default=0, show_default=True,
              help="Seed of the sampled ws and of the w noise: the same seed gives the same result.")
@click.option("--noise/--no-noise", default=False, show_default=True,
              help="Also fit the noise maps (kept in the .npz for generate and edit; pins and videos use the "
                   "network's own).")
@click.option("--vgg", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="torchvision's ImageNet VGG16 weights (vgg16-397923af.pth) for an LPIPS-style feature term.")
@click.option("--d-features", "d_features", is_flag=True,
              help="Add a term on the network's own discriminator features (the file must hold D): 2.5x slower, "
                   "and no better on the benchmark.")
@class_option
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="proj.npz")
@click.option("--save-video", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="progress.mp4 or .gif: the target beside the current image every few steps.")
@device_option
@precision_option
def project_command(network, target, space, steps, seed, noise, vgg, d_features, class_idx, out, save_video, device,
                    precision):
    """Project an image into the network's latent space and write its w (and spec) to an .npz."""
    import dataclasses

    from model.image_prep import load_target
    from model.io.atomic import atomic_write
    from model.losses import D_WEIGHT, VGG_WEIGHT, LossWeights, load_vgg16
    from model.project import project, psnr
    from model.spec import LatentSpec, W
    from model.w_file import save_projection

    if out.suffix.lower() != ".npz":
        raise BadInput(f"--out must be an .npz file, got {out.name}")
    if save_video is not None and save_video.suffix.lower() not in (".mp4", ".gif"):
        raise BadInput(f"--save-video must end in .mp4 or .gif, got {save_video.name}")
    vgg_net = load_vgg16(vgg) if vgg is not None else None
    model, G, D = load_networks(network, device, d_features)
    class_idx = check_class(G, class_idx)
    pixels = load_target(target, G.img_resolution, G.img_channels)
    weights = LossWeights(d=D_WEIGHT if d_features else 0.0, vgg=VGG_WEIGHT if vgg_net is not None else 0.0)
    output_folder(out.parent)
    if save_video is not None:
        output_folder(save_video.parent)

    def run(video_path: str | None):
        writer = None
        if video_path is not None:
            from .export import GifWriter, Mp4Writer

            h, w = video_frame(pixels, pixels).shape[:2]
            writer = (GifWriter(Path(video_path), w, h, 10) if save_video.suffix.lower() == ".gif"
                      else Mp4Writer(Path(video_path), w, h, 10, 18))
        total = steps * (2 if space == "w+" else 1)
        try:
            with click.progressbar(length=total, label=f"projecting {target.name}", file=sys.stderr,
                                   item_show_func=lambda loss: loss) as bar:
                def report(step):
                    bar.update(step.step - bar.pos, f"loss {step.loss:.4f}")
                    if writer is not None and step.image is not None:
                        writer.write(video_frame(pixels, step.image)[None])

                result = project(G, pixels, space, steps, seed, noise, weights, D, vgg_net, precision, class_idx,
                                 progress=report, preview_every=PREVIEW_EVERY)
            while writer is not None and not writer.finish_step():
                pass
        except BaseException:
            if writer is not None:
                writer.abort()
            raise
        return result

    result = atomic_write(save_video, run) if save_video is not None else run(None)
    spec = LatentSpec(w=W.of(result.w), class_idx=class_idx)
    info = dict(model_id=model.model_id, model=model.path.name, target=target.name, space=space, steps=steps,
                seed=seed, noise=noise, loss_weights=dataclasses.asdict(weights), loss=result.loss)
    save_projection(out, spec, result.noise, info)
    click.echo(f"wrote {out} ({space}, {steps} steps, loss {result.loss:.4f}, PSNR {psnr(result.image, pixels):.2f} dB"
               f"{', with noise maps' if noise else ''})")
