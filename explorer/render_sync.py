"""Keeps the renderer in step with the state: each frame asks for what the state shows and is not on its way
(`reconcile`), and each result lands in its view: a model becomes a new `Explorer`, its directions sets go to the
directions panel, images to the thumbnails or the large view (and to a PNG the user is waiting for), export and
GANSpace progress to their dialog and panel, a projection's to the projection view and its end to a pin, errors
to a message.

Requests are remembered per channel, so an unchanged state asks for nothing; the renderer keeps only the newest
request per channel, so a changing one never queues up.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pygame

from model.spec import LatentSpec

from .images import save_png, spec_metadata, spec_stem
from .pins import former_demo_pins, load_pins, save_pins
from .renderer import Result
from .state import Explorer
from .views.pins_strip import THUMB
from .views.projection import Projecting
from .views.status import TITLE

if TYPE_CHECKING:
    from .app import App

EXPORT_ENDS = {"done": "done: {}", "cancelled": "cancelled: nothing was written", "failed": "failed"}
IMAGE_RESULTS = ("image", "thumbs")  # results that only reach our own views (large, grid, pins), never a widget
ERROR_TITLES = {"load": "Could not load the directions", "ganspace": "GANSpace failed",
                "project": "Could not project the image"}


class RenderSync:
    def __init__(self, app: App):
        self.app = app
        self.loading: str | None = None  # the name of the file on its way
        self.open_stamp = self.model_stamp = 0
        self.requested: dict[str, object] = {}  # per channel: the spec or set of specs last asked for
        self.image_asked = False  # a large image was asked for since the App last looked (take_image_asked)
        self.render_ms: float | None = None  # per image, of the last image or thumbnail batch (status bar)
        self.image_ms: float | None = None  # of the last large image (a batch-1 render, slower per image)
        self.save_pending: LatentSpec | None = None  # S pressed before that image was rendered
        self.saved_pins: tuple = ()
        self.export_status = ""
        self.ganspace_progress: float | None = None  # None: no GANSpace running
        self.projection: Projecting | None = None  # None: no projection running

    def open(self, path: str | os.PathLike) -> None:
        self.loading = Path(path).name
        self.open_stamp = self.app.renderer.open(path)

    def project(self, path: str | os.PathLike) -> None:
        """Project an image file for the current class; it becomes a pin named after the file."""
        stamp = self.app.renderer.project(path, self.app.state.controls.class_idx)
        self.projection = Projecting(Path(path).stem, stamp)

    def cancel_projection(self) -> bool:
        """Stop the running projection (its later results are ignored); False if none was running."""
        if self.projection is None:
            return False
        self.app.renderer.cancel_projection()
        self.projection = None
        return True

    # -- state -> requests ---------------------------------------------------------------------------------------

    def reconcile(self) -> None:
        """Ask for what the state shows and is neither here nor on its way; write the pins when they changed."""
        app, s = self.app, self.app.state
        if s.mode == "large" or self.save_pending is not None:
            want = self.save_pending or s.spec()
            if self.requested.get("image") != want:
                app.renderer.render(want)
                self.requested["image"] = want
                self.image_asked = True
        size = max(app.grid.tile, THUMB)
        if s.mode == "grid":
            self.request_thumbs("grid", [s.spec(seed) for seed in s.page_seeds()], size)
        self.request_thumbs("pins", [p.spec for p in s.pins], size)
        if tuple(s.pins) != self.saved_pins:
            self.saved_pins = tuple(s.pins)
            try:
                save_pins(s.model.model_id, s.pins)
            except OSError as e:
                app.dialogs.error("Could not save the pins", f"{e.strerror or e}: {e.filename}")

    def take_image_asked(self) -> bool:
        asked, self.image_asked = self.image_asked, False
        return asked

    def request_thumbs(self, channel: str, specs: list[LatentSpec], size: int) -> None:
        """Ask only for missing thumbnails, and only if they are not already on their way."""
        missing = list(dict.fromkeys(r for r in specs if r not in self.app.thumbs))
        if missing and not set(missing) <= self.requested.get(channel, set()):
            self.app.renderer.thumbs(channel, missing, size)
            self.requested[channel] = set(missing)

    def save(self) -> None:
        """S: the large view's image if it shows the current spec, else the image once it is rendered."""
        spec, large = self.app.state.spec(), self.app.large
        if large.spec == spec and large.image is not None:
            self.write_png(spec, large.image)
        else:
            self.save_pending = spec

    # -- results -> views ----------------------------------------------------------------------------------------

    def on_result(self, result: Result) -> None:
        app = self.app
        if result.kind == "model":
            if result.stamp == self.open_stamp:
                self.on_model(result)
        elif result.kind == "error":
            self.on_error(result)
        elif result.kind == "export":
            self.on_export(result)
        elif result.stamp < self.model_stamp or app.state is None:
            return  # rendered with the previous model
        elif result.kind == "directions":
            app.state.add_direction_sets(result.sets, show=result.channel == "load")
            if result.message:
                app.dialogs.error("Directions", result.message)
        elif result.kind == "ganspace":
            self.on_ganspace(result)
        elif result.kind == "projection":
            self.on_projection(result)
        elif result.kind == "image":
            self.render_ms = self.image_ms = result.ms
            if result.stamp > app.large.stamp:
                app.large.set_image(result.images[0], result.specs[0], result.stamp)
            if self.save_pending == result.specs[0]:
                self.save_pending = None
                self.write_png(result.specs[0], result.images[0])
        elif result.kind == "thumbs":
            self.render_ms = result.ms
            for spec, image in zip(result.specs, result.images, strict=True):
                app.thumbs.put(spec, image)

    def on_model(self, result: Result) -> None:
        app, info = self.app, result.info
        self.loading = None
        self.model_stamp = result.stamp
        pins, warning = load_pins(info.model_id)
        former = former_demo_pins(info.path) if not pins else None
        app.state = Explorer(info, pins=pins, former_pins=str(former or ""))
        self.saved_pins = tuple(pins)
        app.thumbs.clear()
        app.large.clear()
        self.requested.clear()
        self.save_pending = None
        self.ganspace_progress = None
        self.projection = None
        app.dialogs.close_export()
        pygame.display.set_caption(f"{info.name} — {TITLE}")
        app.relayout()
        app.rebuild_panel()
        if warning:
            app.dialogs.error("Pins", warning)
        if result.message:  # e.g. non-finite weights: the images would come out black without a word
            app.status.show(f"warning: {result.message}", time.monotonic())

    def on_error(self, result: Result) -> None:
        error = self.app.dialogs.error
        if result.channel == "open":
            if result.stamp == self.open_stamp:
                self.loading = None
                self.requested.clear()  # renders dropped while the file was loading are asked for again
            error("Could not open the file", result.message)
        elif result.channel == "export":
            self.on_export(Result("export", result.stamp, state="failed"))
            error("Export failed", result.message)
        else:
            if result.channel == "image":
                self.requested.pop("image", None)
                self.save_pending = None
            if result.channel == "ganspace":
                self.ganspace_progress = None
            if result.channel == "project" and self.projection is not None and self.projection.stamp == result.stamp:
                self.projection = None
            error(ERROR_TITLES.get(result.channel, "Render failed"), result.message)

    def on_ganspace(self, result: Result) -> None:
        self.ganspace_progress = result.progress if result.state == "running" else None
        if result.state == "done":
            self.app.state.add_direction_sets(result.sets, show=True)
            self.app.status.show(f"GANSpace: {result.sets[0].count} directions", time.monotonic())
            if result.message:
                self.app.dialogs.error("Directions", result.message)

    def on_projection(self, result: Result) -> None:
        """Progress to the projection view; at the end the w becomes a pin, shown in the large view."""
        job, s = self.projection, self.app.state
        if job is None or result.stamp != job.stamp:
            return  # cancelled, or replaced by a newer image
        if result.state == "running":
            job.update(result.step, result.total, result.loss, result.images)
            return
        self.projection = None
        if result.state == "done":
            pin = s.pin(result.specs[0], job.name)
            s.recall(s.pins.index(pin))
            s.mode = "large"
            self.app.status.show(f"pinned “{pin.name}”: projected, loss {result.loss:.4f}", time.monotonic())

    def on_export(self, result: Result) -> None:
        end = EXPORT_ENDS.get(result.state)
        self.export_status = end.format(result.output) if end else f"{100 * result.progress:.0f}%"
        self.app.dialogs.export_progress(result.progress, self.export_status, running=end is None)
        if result.state == "done":
            self.app.status.show(f"exported {Path(result.output).name}", time.monotonic())

    def write_png(self, spec: LatentSpec, image) -> None:
        """Same name pattern and metadata as `sgx generate`; never overwrites an earlier save."""
        app, info = self.app, self.app.state.model
        folder = app.save_dir
        meta = spec_metadata(spec, precision=app.renderer.precision, model_id=info.model_id,
                             model=Path(info.path).name)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path, n = folder / f"{spec_stem(spec)}.png", 1
            while path.exists():
                path, n = folder / f"{spec_stem(spec)}-{n}.png", n + 1
            save_png(path, image, meta)
        except OSError as e:
            app.dialogs.error("Could not save", f"{e.strerror or e}: {e.filename or folder}")
            return
        app.status.show(f"saved {path.name} in {folder}", time.monotonic())
