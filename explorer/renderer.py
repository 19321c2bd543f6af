"""The render worker: the one place the explorer touches torch.

One daemon thread loads the network and owns it on the best device. The UI hands it stamped requests and never
waits: each channel ('open', 'image', 'grid', 'pins') holds only its newest request, so a burst of slider moves
collapses into the render in flight plus the last one (latest wins). Grid thumbnails render in small batches and
an export steps one chunk at a time, so a new interactive request is served after at most one batch or chunk; GANSpace
and a projection serve one between their sampling batches or optimisation steps.
Results go back to the pygame loop as `RENDER_EVENT`s (pygame.event.post is thread-safe) carrying finished uint8
arrays, so the UI thread only blits. Stale results are dropped: thumbnails of a superseded request, and anything
requested before another file was opened (if that file fails to load, the UI asks again). An image of a
superseded request is still posted, being newer than what is on screen: that keeps a slider drag live when
renders are slower than mouse moves.

The worker also holds the open model's latent directions as {direction id: vector} for the edits in the specs:
SeFa, computed on open, plus every set cached for this model id in `<data dir>/directions/` (GANSpace runs and
loaded files are cached there), so a pinned edit renders again after a restart. The UI only sees `DirectionSet`s.

torch uses one thread here (on 2 cores a second one made slider renders at most 20% faster but made the UI drop
4-12% of its frames), so the UI loop keeps a core. Thumbnails nobody is changing (no drag or paging: no two requests
of a channel within CHANGING_S) use two threads in batches of 4 where idle OpenMP threads sleep (OMP_WAIT_POLICY=
PASSIVE): up to 1.8x the images per second, a batch no longer than 2 on one thread. Spinning OpenMP threads beside
the UI on a busy machine made two threads 2x slower than one (benchmarks/first_page.py): there it stays at one.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
import traceback
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pygame
import torch

from model import fast, latents
from model.directions import Directions, check_model, edit_vectors, ganspace, load_directions, sefa
from model.errors import ModelError
from model.io import load
from model.render import as_rgb, pick_device, render_specs, shrink
from model.spec import LatentSpec, check_precision

from . import direction_cache, projection_job
from .export import Exporter, ExportSettings
from .model_info import Band, DirectionSet, ModelInfo

RENDER_EVENT = pygame.event.custom_type()
PRIORITY = ("open", "load", "image", "pins", "grid", "ganspace", "project")  # then 'export' steps
INTERACTIVE = ("image", "pins", "grid")  # what GANSpace and projection let through between their batches / steps
NAMES = {"sefa": "SeFa", "ganspace": "GANSpace"}
UNITS = {"sefa": "w", "ganspace": "σ"}
CHANGING_S = 0.5  # the user is changing what a channel shows while its requests come closer than this
SLEEPING_OMP = os.environ.get("OMP_WAIT_POLICY", "").upper() == "PASSIVE"  # libgomp reads it when torch loads


class _Cancelled(Exception):
    pass


@dataclass
class Result:
    """What one RENDER_EVENT carries (`event.result`)."""

    kind: str  # 'model', 'directions', 'image', 'thumbs', 'export', 'ganspace', 'projection' or 'error'
    stamp: int
    channel: str = ""
    specs: list[LatentSpec] = field(default_factory=list)
    images: list[np.ndarray] = field(default_factory=list)  # uint8 [H, W, C]; thumbnails are RGB
    ms: float = 0.0  # render time per image
    info: ModelInfo | None = None
    message: str = ""
    progress: float = 0.0
    state: str = ""  # export, ganspace and projection: running, done, cancelled, failed
    step: int = 0  # projection: step of total, and the loss there
    total: int = 0
    loss: float = 0.0
    output: str = ""
    sets: list[DirectionSet] = field(default_factory=list)  # 'directions' and a finished 'ganspace'


@dataclass
class _Request:
    stamp: int
    channel: str
    specs: list[LatentSpec] = field(default_factory=list)
    size: int = 0
    path: str = ""
    class_idx: int | None = None  # 'project'


def model_info(G, name: str, model_id: str, device: str, path: str = "") -> ModelInfo:
    bands = tuple(Band(n, r[0], r[-1], latents.range_label(r, G)) for n, r in latents.layer_ranges(G).items())
    labels = tuple(f"{res}²" for res in latents.w_resolutions(G))
    return ModelInfo(name, model_id, G.img_resolution, G.img_channels, G.num_ws, G.c_dim, device, bands, labels, path,
                     G.family)


class Renderer:
    """Owns the worker thread. Every public method returns at once; results arrive as RENDER_EVENTs."""

    def __init__(self, device: str = "auto", precision: str = "auto", threads: int = 1, thumb_batch: int = 0,
                 export_batch: int = 4, event_type: int = RENDER_EVENT, thumb_threads: int = 0):
        check_precision(precision)
        self._device_name = device
        self.device: torch.device | None = None  # device and precision are settled on the worker (torch calls)
        self.precision = precision
        self._render_specs = render_specs
        self._threads = threads
        self.thumb_threads = thumb_threads or (2 if SLEEPING_OMP else threads)  # thumbnails nothing replaces
        self.thumb_batch = thumb_batch  # 0: 8 on an accelerator; on the CPU 4 with two threads, else 2
        self.export_batch = export_batch
        self.event_type = event_type
        self.G = None
        self.model_id = ""
        self.vectors: dict[str, np.ndarray] = {}  # the open model's directions; the worker rebinds, never mutates
        self.ganspace_samples = 100_000  # `sgx directions --method ganspace`'s default: the same file and ids
        self.ganspace_batch = 1000
        self._ganspace_cancel = threading.Event()
        self.images_rendered = 0  # counts every image the network produced (tests, benchmark)
        self._stamps = itertools.count(1)
        self._cond = threading.Condition()
        self._pending: dict[str, _Request] = {}
        self._latest: dict[str, int] = {}
        self._asked: dict[str, float] = {}  # time.monotonic() of each channel's latest request
        self._changed_at = float("-inf")  # when a channel last had two requests within CHANGING_S
        self._export: Exporter | None = None
        self._export_stamp = 0
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="sgx-render", daemon=True)
        self._thread.start()

    # -- requests (UI thread) ----------------------------------------------------------------------

    def open(self, path: str | Path) -> int:
        """Load a network file; posts a 'model' result, or an 'error' and the old model stays."""
        stamp = self._submit(_Request(0, "open", path=str(path)))
        with self._cond:
            for channel in ("load", "image", "pins", "grid", "ganspace", "project"):
                self._pending.pop(channel, None)
        self.cancel_export()
        self.cancel_ganspace()
        return stamp

    def render(self, spec: LatentSpec) -> int:
        """One image at model resolution (channel 'image')."""
        return self._submit(_Request(0, "image", [spec]))

    def thumbs(self, channel: str, specs: list[LatentSpec], size: int) -> int:
        """RGB thumbnails, at least `size` px, posted batch by batch; replaces the channel's unfinished request."""
        return self._submit(_Request(0, channel, list(specs), size=size))

    def compute_ganspace(self) -> int:
        """GANSpace of the open model, in batches between renders; 'ganspace' results report progress, then the
        new set (also cached on disk)."""
        self._ganspace_cancel.clear()
        return self._submit(_Request(0, "ganspace"))

    def cancel_ganspace(self) -> None:
        self._ganspace_cancel.set()

    def project(self, path: str | Path, class_idx: int | None) -> int:
        """Project an image file between renders (projection_job.py); a newer request replaces a running one."""
        return self._submit(_Request(0, "project", path=str(path), class_idx=class_idx))

    def cancel_projection(self) -> None:
        with self._cond:
            self._pending.pop("project", None)
            self._latest["project"] = next(self._stamps)  # the running one sees it is superseded and stops

    def load_directions(self, path: str | Path) -> int:
        """A directions file of the open model; posts a 'directions' result, or an 'error'."""
        return self._submit(_Request(0, "load", path=str(path)))

    def export(self, settings: ExportSettings) -> int:
        """Start a video export with the current model; its progress comes as 'export' results."""
        with self._cond:
            if self._export is not None:
                raise ModelError("an export is already running")
            if self.G is None:
                raise ModelError("no model is open")
            settings = replace(settings, precision=self.precision)  # frames match what the view shows
            self._export = Exporter(self.G, settings, batch=self.export_batch, directions=self.vectors)
            self._export_stamp = next(self._stamps)
            self._cond.notify()
            return self._export_stamp

    def cancel_export(self) -> None:
        with self._cond:
            job = self._export
        if job is not None:
            job.cancel()
            with self._cond:
                self._cond.notify()

    @property
    def exporting(self) -> bool:
        return self._export is not None

    def close(self, timeout: float = 10.0) -> None:
        self.cancel_export()
        self.cancel_ganspace()
        with self._cond:
            self._closing = True
            self._cond.notify()
        self._thread.join(timeout)

    def _submit(self, request: _Request) -> int:
        with self._cond:
            if self._closing:
                return 0
            stamp = next(self._stamps)
            now = time.monotonic()
            if now - self._asked.get(request.channel, float("-inf")) < CHANGING_S:
                self._changed_at = now
            self._asked[request.channel] = now
            self._pending[request.channel] = replace(request, stamp=stamp)
            self._latest[request.channel] = stamp
            self._cond.notify()
            return stamp

    # -- worker thread -----------------------------------------------------------------------------

    def _run(self) -> None:
        torch.set_num_threads(self._threads)
        try:
            self.device = pick_device(self._device_name)
        except ModelError as e:
            self.device = torch.device("cpu")
            self._post(Result("error", 0, "device", message=f"{e}: rendering on the CPU"))
        self.thumb_batch = self.thumb_batch or (8 if self.device.type != "cpu" else 4 if self.thumb_threads > 1 else 2)
        self.precision = fast.choose_precision(self.device, self.precision)
        while True:
            with self._cond:
                while not (self._closing or self._pending or self._export is not None):
                    self._cond.wait()
                if self._closing:
                    break
                request = self._take(PRIORITY)
            self._serve(request)
        if self._export is not None:
            self._export.cancel()

    def _take(self, channels: tuple[str, ...]) -> _Request | None:
        """Pop the first pending request of `channels` (caller holds the lock)."""
        channel = next((c for c in channels if c in self._pending), None)
        return self._pending.pop(channel) if channel else None

    def _serve(self, request: _Request | None) -> None:
        """Run one request (None: an export step); any failure becomes an 'error' result."""
        try:
            if request is None:
                self._step_export()
            else:
                jobs = {"open": self._open, "load": self._load, "image": self._image, "ganspace": self._ganspace,
                        "project": self._project}
                jobs.get(request.channel, self._thumbs)(request)
        except Exception as e:  # noqa: BLE001 - the worker must survive anything and say what happened
            stamp = request.stamp if request else self._export_stamp
            if not isinstance(e, ModelError | OSError):
                traceback.print_exc()
            self._post(Result("error", stamp, request.channel if request else "export", message=_one_line(e)))

    def _open(self, request: _Request) -> None:
        model = load(request.path)
        G = model.G.to(self.device).eval().requires_grad_(False)
        info = model_info(G, model.name, model.model_id, f"{self.device} {self.precision}", str(model.path))
        with self._cond:
            if self._latest.get("open") != request.stamp:
                return  # another file was dropped meanwhile
            self.G, self.model_id, self.vectors = G, model.model_id, {}
        self._post(Result("model", request.stamp, "open", info=info, message="; ".join(model.warnings)))
        found, problems = direction_cache.kept(model.model_id)
        sets = [self._add(sefa(G, model_id=model.model_id), "SeFa")] + [self._add(d, NAMES[d.method]) for d in found]
        self._post(Result("directions", request.stamp, "open", sets=sets, message="; ".join(problems)))

    def _load(self, request: _Request) -> None:
        found = load_directions(request.path)
        check_model(found, self.model_id, Path(request.path).name)
        if self._superseded_model(request):
            return
        self._post(Result("directions", request.stamp, "load", sets=[self._add(found, Path(request.path).name)],
                          message=direction_cache.keep(self.model_id, found)))

    def _ganspace(self, request: _Request) -> None:
        G, samples = self.G, self.ganspace_samples

        def progress(done: int) -> None:
            if self._ganspace_cancel.is_set() or self._superseded_model(request):
                raise _Cancelled
            self._post(Result("ganspace", request.stamp, "ganspace", progress=done / samples, state="running"))
            self._serve_waiting()

        try:
            found = ganspace(G, samples, batch=self.ganspace_batch, progress=progress)
        except _Cancelled:
            self._post(Result("ganspace", request.stamp, "ganspace", state="cancelled"))
            return
        self._post(Result("ganspace", request.stamp, "ganspace", progress=1.0, state="done",
                          sets=[self._add(found, "GANSpace")], message=direction_cache.keep(self.model_id, found)))

    def _project(self, request: _Request) -> None:
        def stop() -> bool:  # quitting, cancelled, replaced by a newer image, or another model is on its way
            return self._closing or self._latest.get("project") != request.stamp or self._superseded_model(request)

        projection_job.run(self.G, request.path, request.class_idx, self.precision,
                           lambda **fields: self._post(Result("projection", request.stamp, "project", **fields)),
                           stop, self._serve_waiting)

    def _serve_waiting(self) -> None:
        """Between the batches or steps of a long job: an interactive request that is waiting."""
        with self._cond:
            waiting = self._take(INTERACTIVE)
        if waiting is not None:
            self._serve(waiting)

    def _add(self, found: Directions, name: str) -> DirectionSet:
        """Hold a set's vectors for rendering (rebinding: an export may be reading the old dict)."""
        self.vectors = {**self.vectors, **edit_vectors(found)}
        return DirectionSet(found.id(0).rsplit(":", 1)[0], name, len(found.directions), UNITS[found.method])

    def _image(self, request: _Request) -> None:
        G = self.G
        if G is None or self._superseded_model(request):
            return
        start = time.perf_counter()
        image = self._render_specs(G, request.specs[:1], self.precision, self.vectors)[0]
        self.images_rendered += 1
        ms = (time.perf_counter() - start) * 1000
        if not self._superseded_model(request):
            self._post(Result("image", request.stamp, "image", request.specs, [image], ms))

    def _thumbs(self, request: _Request) -> None:
        G = self.G
        if G is None or self._superseded_model(request):
            return
        threads, size = self._thumb_policy()
        batch, rest = request.specs[:size], request.specs[size:]
        start = time.perf_counter()
        images = []
        torch.set_num_threads(threads)
        try:
            for noise_mode in dict.fromkeys(r.noise_mode for r in batch):  # one synthesis call per noise mode
                group = [r for r in batch if r.noise_mode == noise_mode]
                frames = as_rgb(self._render_specs(G, group, self.precision, self.vectors))
                images += zip(group, shrink(frames, request.size), strict=True)
        finally:  # also when served between GANSpace batches or projection steps, which keep to `threads`
            torch.set_num_threads(self._threads)
        self.images_rendered += len(batch)
        ms = (time.perf_counter() - start) * 1000 / max(len(batch), 1)
        order = {r: i for i, r in enumerate(batch)}
        images.sort(key=lambda pair: order[pair[0]])
        with self._cond:
            current = self._latest.get(request.channel) == request.stamp and not self._superseded_model(request)
            if current and rest and request.channel not in self._pending:
                self._pending[request.channel] = replace(request, specs=rest)
        if current:
            self._post(Result("thumbs", request.stamp, request.channel, [r for r, _ in images],
                              [im for _, im in images], ms))

    def _thumb_policy(self) -> tuple[int, int]:
        """(torch threads, batch size) of the next thumbnail batch: while the user changes what they show, the
        interactive ones, so a new request's first thumbnails come soon and the UI keeps a core."""
        if time.monotonic() - self._changed_at < CHANGING_S:
            return self._threads, min(2, self.thumb_batch) if self.device.type == "cpu" else self.thumb_batch
        return self.thumb_threads, self.thumb_batch

    def _step_export(self) -> None:
        job = self._export
        try:
            progress = job.step()
        except Exception:
            with self._cond:
                self._export = None
            raise
        self._post(Result("export", self._export_stamp, "export", progress=progress, state=job.state,
                          output=str(job.output), images=[job.preview] if job.preview is not None else []))
        if job.finished:
            with self._cond:
                self._export = None

    def _superseded_model(self, request: _Request) -> bool:
        """Another file was asked for after this request: its result would belong to a model on its way out."""
        return self._latest.get("open", 0) > request.stamp

    def _post(self, result: Result) -> None:
        try:
            pygame.event.post(pygame.event.Event(self.event_type, result=result))
        except pygame.error:  # the display was shut down under us: nobody is listening any more
            pass


def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__
