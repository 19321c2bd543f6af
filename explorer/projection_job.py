"""The explorer's projection job, run on the render worker (explorer/renderer.py starts and stops it): an image
file becomes a latent of the open model (model/project.py), one optimisation step at a time, with the interactive
renders served between the steps so the window stays live.

The settings are fixed, chosen on the demo model (64², one torch thread as the worker has: ~50 ms a step on a
quiet 2-core CPU, so ~20 s in all) with 3 images the model made and 3 emoji, none of them benchmarks/project.py's
reported targets. Median PSNR, made / emoji: W 400 steps 31.1 / 21.1 dB, W+ 200 + 200 steps 34.6 / 23.0 dB.
- W+ (a w per w index, starting from the W result, kept only if it beats that start): closer at the same cost.
  Direction edits still do what they do to seeds (SeFa 1 turns a bust into a smiley), moving the image about
  70 % as far as the same edit of the W result;
- STEPS per phase, W then W+;
- w only, against the network's own constant noise maps: a pin holds a LatentSpec, which has no noise maps, and
  renders with those maps (noise mode const), the ones the fit was made with.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from model.image_prep import load_target
from model.project import Cancelled, Step, project
from model.spec import LatentSpec, W

SPACE = "w+"
STEPS = 200  # per phase: W, then W+
SEED = 0  # of the sampled ws and the w noise: the same file gives the same pin
PREVIEW_EVERY = 5  # steps between the reconstructions shown (and progress reports)


def run(G, path: str | Path, class_idx: int | None, precision: str, post: Callable[..., None],
        stop: Callable[[], bool], serve_waiting: Callable[[], None]) -> None:
    """Project the image at `path` into G's latent space (class `class_idx`).

    `post(**fields)` sends a 'projection' result: state 'running' with the step, total, loss and images [target,
    current image] every PREVIEW_EVERY steps; then 'done' with specs [the pin's spec], or 'cancelled' once
    `stop()` says so. `serve_waiting()` runs between the steps. An unreadable file raises a one-line ModelError.
    """
    target = load_target(path, G.img_resolution, G.img_channels)
    total = STEPS * (2 if SPACE == "w+" else 1)
    post(state="running", total=total, images=[target])

    def progress(step: Step) -> None:
        if step.image is not None:
            post(state="running", step=step.step, total=total, loss=step.loss, images=[target, step.image])
        serve_waiting()

    try:
        result = project(G, target, SPACE, STEPS, SEED, precision=precision, class_idx=class_idx,
                         progress=progress, cancel=stop, preview_every=PREVIEW_EVERY)
    except Cancelled:
        post(state="cancelled")
        return
    post(state="done", step=total, total=total, loss=result.loss, images=[target, result.image],
         specs=[LatentSpec(w=W.of(result.w), class_idx=class_idx)])
