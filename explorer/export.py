"""Video export: keyframes -> latent path -> frames -> mp4 (H.264) or GIF, in chunks, cancellable, atomic.

One engine for the GUI and `sgx video`. `Exporter.step()` renders and writes one chunk of frames, so the GUI's
render worker can serve interactive renders between chunks; `cancel()` may come from any thread. Only one chunk
of frames is in memory at a time, and the output file appears (by rename) only once it is complete. The temp file
of a killed export is removed by the next export into that folder.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model import latents
from model.errors import ModelError
from model.io.atomic import hold, remove_stale_temps
from model.render import synthesize
from model.spec import NOISE_MODES, PRECISIONS, LatentSpec, is_int
from model.video import INTERPOLATIONS, LatentPath, latent_path, path_frames, upscale

FORMATS = ("mp4", "gif")
GIF_MAX_FPS = 50  # GIF delays are whole centiseconds and players stretch delays under 2 cs


class ExportError(ModelError):
    """A failed export (disk, encoder), in one line."""


@dataclass
class ExportSettings:
    """Everything an export needs besides the network. `scale` is an integer upscale of the model resolution."""

    keyframes: list[LatentSpec]  # their noise modes are ignored: the export's `noise_mode` renders every frame
    output: str
    frames_per_transition: int = 60
    fps: int = 30
    interpolation: str = "w-cubic"
    easing: str = "linear"
    loop: bool = False
    scale: int = 1
    format: str = ""  # mp4 or gif; '' = from the output's suffix
    noise_mode: str = "const"
    crf: int = 18
    precision: str = "auto"  # model/fast.py: 'exact' is NVlabs' fp32 path, 'auto' the fastest faithful one

    @property
    def fmt(self) -> str:
        return self.format or Path(self.output).suffix.lower().lstrip(".")

    @property
    def frame_count(self) -> int:
        return latents.frame_count(len(self.keyframes), self.frames_per_transition, self.loop)

    def check(self) -> None:
        """Raise a one-line ModelError for anything wrong that can be seen without the network."""
        def bad(message: str) -> ModelError:
            return ModelError(f"bad export: {message}")

        if len(self.keyframes) < 2:
            raise bad(f"need at least 2 keyframes, got {len(self.keyframes)}")
        for i, key in enumerate(self.keyframes, 1):  # a LatentSpec checks its own fields when it is made
            if not isinstance(key, LatentSpec):
                raise bad(f"keyframe {i} is a {type(key).__name__}, not a LatentSpec")
        if not is_int(self.frames_per_transition) or self.frames_per_transition < 1:
            raise bad(f"frames per transition must be an integer >= 1, got {self.frames_per_transition!r}")
        if not is_int(self.fps) or not 1 <= self.fps <= 240:
            raise bad(f"fps must be an integer in 1..240, got {self.fps!r}")
        if self.interpolation not in INTERPOLATIONS:
            raise bad(f"unknown interpolation '{self.interpolation}' (choose {', '.join(INTERPOLATIONS)})")
        if self.easing not in latents.EASINGS:
            raise bad(f"unknown easing '{self.easing}' (choose {', '.join(latents.EASINGS)})")
        if not is_int(self.scale) or not 1 <= self.scale <= 16:
            raise bad(f"scale must be an integer in 1..16, got {self.scale!r}")
        if self.fmt not in FORMATS:
            raise bad(f"output must end in .mp4 or .gif, got '{Path(self.output).name}'")
        if self.format and Path(self.output).suffix.lower() != f".{self.format}":
            raise bad(f"output '{Path(self.output).name}' does not end in .{self.format}")
        if self.fmt == "gif" and self.fps > GIF_MAX_FPS:
            raise bad(f"GIF plays at most {GIF_MAX_FPS} fps, got {self.fps} (choose 24 or 30, or mp4)")
        if self.noise_mode not in NOISE_MODES:
            raise bad(f"unknown noise mode '{self.noise_mode}' (choose {', '.join(NOISE_MODES)})")
        if not is_int(self.crf) or not 0 <= self.crf <= 51:
            raise bad(f"crf must be an integer in 0..51, got {self.crf!r}")
        if self.precision not in PRECISIONS:
            raise bad(f"unknown precision '{self.precision}' (choose {', '.join(PRECISIONS)})")


def _one_line(error: Exception) -> str:
    if isinstance(error, OSError) and error.strerror:
        return f"{error.strerror}: {error.filename}" if error.filename else error.strerror
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


# ---------------------------------------------------------------------------------------------------------
# Writers: write(frames) as they come, then finish_step() until it returns True; abort() on the way out.


class Mp4Writer:
    """H.264 yuv420p through imageio-ffmpeg's ffmpeg, frames piped as raw RGB.

    Our own pipe rather than imageio's writer: ffmpeg's exit code and last error line become the error message,
    and abort kills the encoder. libx264 pads any even size internally, so no resize to multiples of 16; StyleGAN
    sizes (powers of two times an integer) are always even.
    """

    finish_work = 1  # closing the encoder

    def __init__(self, path: Path, width: int, height: int, fps: int, crf: int):
        import imageio_ffmpeg

        self._log = tempfile.TemporaryFile()
        cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24",
               "-s", f"{width}x{height}", "-r", str(fps), "-i", "-", "-an", "-c:v", "libx264", "-preset",
               "veryfast", "-crf", str(crf), "-pix_fmt", "yuv420p", "-colorspace", "smpte170m",  # swscale's matrix
               "-movflags", "+faststart", "-f", "mp4", str(path)]
        self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self._log)
        self.finish_done = 0

    def write(self, frames: np.ndarray) -> None:
        try:
            self._proc.stdin.write(memoryview(np.ascontiguousarray(frames)).cast("B"))
        except BrokenPipeError:
            self._proc.wait()
            raise self._error() from None

    def finish_step(self) -> bool:
        self._proc.stdin.close()
        if self._proc.wait() != 0:
            raise self._error()
        self._log.close()
        self.finish_done = 1
        return True

    def abort(self) -> None:
        self._proc.kill()
        self._proc.wait()
        with contextlib.suppress(BrokenPipeError):  # unflushed frames have nowhere to go
            self._proc.stdin.close()
        self._log.close()

    def _error(self) -> ExportError:
        self._log.seek(0)
        lines = self._log.read().decode(errors="replace").strip().splitlines()
        return ExportError(f"export failed: ffmpeg: {lines[-1] if lines else f'exit code {self._proc.returncode}'}")


class GifWriter:
    """An animated GIF with ONE palette for all frames, in bounded memory.

    Pillow's save(append_images=...) keeps every frame until the end, and a shared palette should come from the
    whole video, not its start. So frames go as raw RGB to an anonymous temp file beside the output (no name, so
    nothing is left even after a crash; on disk, not in RAM). Finishing builds the palette from an evenly spaced
    sample (fast octree: 30x faster than median cut and no worse), then quantizes a batch of frames per step (no
    dithering: it would crawl between frames) and writes them with Pillow's GIF helpers and their LZW encoder.
    """

    SAMPLE_FRAMES = 32
    SAMPLE_PIXELS = 1 << 20
    FINISH_BATCH = 32

    def __init__(self, path: Path, width: int, height: int, fps: int):
        self._out = open(path, "wb")
        self._raw = tempfile.TemporaryFile(dir=path.parent)
        self._shape, self._fps = (height, width, 3), fps
        self._palette = None
        self.count = self.finish_done = 0

    @property
    def finish_work(self) -> int:
        return self.count

    def write(self, frames: np.ndarray) -> None:
        self._raw.write(memoryview(np.ascontiguousarray(frames)).cast("B"))
        self.count += len(frames)

    def _frames(self, start: int, stop: int) -> np.ndarray:
        size = int(np.prod(self._shape))
        self._raw.seek(start * size)
        return np.frombuffer(self._raw.read((stop - start) * size), np.uint8).reshape((-1, *self._shape))

    def finish_step(self) -> bool:
        from PIL import GifImagePlugin, Image

        if self._palette is None:
            picks = np.unique(np.linspace(0, self.count - 1, min(self.count, self.SAMPLE_FRAMES)).round().astype(int))
            stride = max(1, int(np.ceil(np.sqrt(len(picks) * self._shape[0] * self._shape[1] / self.SAMPLE_PIXELS))))
            sample = np.concatenate([self._frames(i, i + 1)[0, ::stride, ::stride] for i in picks])
            self._palette = Image.fromarray(sample).quantize(256, method=Image.Quantize.FASTOCTREE)  # ~40 ms at 1 Mpx
            first = self._quantize(self._frames(0, 1)[0])
            header, _ = GifImagePlugin.getheader(first, info={"loop": 0})
            self._out.write(b"".join(header))
        stop = min(self.count, self.finish_done + self.FINISH_BATCH)
        for i, frame in enumerate(self._frames(self.finish_done, stop), self.finish_done):
            delay_cs = round((i + 1) * 100 / self._fps) - round(i * 100 / self._fps)  # exact on average
            self._out.write(b"".join(GifImagePlugin.getdata(self._quantize(frame), duration=10 * delay_cs)))
        self.finish_done = stop
        if stop < self.count:
            return False
        self._out.write(b";")
        self._out.close()
        self._raw.close()
        return True

    def _quantize(self, frame: np.ndarray):
        from PIL import Image

        return Image.fromarray(frame).quantize(palette=self._palette, dither=Image.Dither.NONE)

    def abort(self) -> None:
        self._out.close()
        self._raw.close()


# ---------------------------------------------------------------------------------------------------------
# Exporter


class Exporter:
    """Render and write a video chunk by chunk.

    Call `step()` until `finished`: each call renders `batch` frames and streams them to the writer (finishing a
    GIF takes a few more calls). `cancel()` is safe from any thread: it cleans up at once if no step is running,
    else at the end of that step. On success the temp file is renamed to the output; on cancel or failure the
    temp file is removed and no output appears. Nothing touches torch or the disk before the first step.
    """

    FINISH_WEIGHT = 0.1  # finishing a GIF costs about a tenth of rendering its frames

    def __init__(self, G, settings: ExportSettings, batch: int = 4, directions: dict | None = None):
        """`directions` ({direction id: vector}) resolves the keyframes' edits, as `model.render.spec_ws` does."""
        settings.check()
        if not is_int(batch) or batch < 1:
            raise ModelError(f"bad export: batch must be an integer >= 1, got {batch!r}")
        self.G, self.settings, self.batch, self.directions = G, settings, int(batch), directions
        self.output = Path(settings.output)
        self.total = settings.frame_count
        self.rendered = 0
        self.state = "ready"  # ready -> running -> done | cancelled | failed
        self.preview: np.ndarray | None = None  # the latest frame, for a GUI to show
        self.largest_batch = 0  # frames rendered by the biggest single render call
        self._started = time.time()  # our temp files in the output's folder older than this are a killed export's
        self._path: LatentPath | None = None
        self._writer: Mp4Writer | GifWriter | None = None
        self._tmp: Path | None = None
        self._tmp_lock: int | None = None  # `hold`'s descriptor: other exports leave our temp file alone
        self._cancel = threading.Event()
        self._lock = threading.Lock()

    @property
    def finished(self) -> bool:
        return self.state in ("done", "cancelled", "failed")

    @property
    def progress(self) -> float:
        """0..1 over rendering and, for a GIF, finishing."""
        if self.state == "done":
            return 1.0
        work = self._writer.finish_work if self._writer else 0
        done = self._writer.finish_done if self._writer else 0
        return (self.rendered + self.FINISH_WEIGHT * done) / (self.total + self.FINISH_WEIGHT * work)

    def step(self) -> float:
        """Do the next chunk of work; returns the progress. A failure cleans up and raises a one-line ModelError
        (ExportError for anything but bad settings)."""
        with self._lock:
            if self.finished:
                return self.progress
            try:
                if not self._cancel.is_set():
                    self._advance()
            except ModelError:
                self._discard("failed")
                raise
            except Exception as e:
                self._discard("failed")
                raise ExportError(f"export failed: {_one_line(e)}") from e
            except BaseException:
                self._discard("failed")
                raise
            if self._cancel.is_set() and not self.finished:
                self._discard("cancelled")
            return self.progress

    def run(self, on_progress: Callable[[float], None] | None = None) -> Path:
        """Step to the end (for the CLI and tests); an interrupt cleans up like cancel()."""
        try:
            while not self.finished:
                progress = self.step()
                if on_progress:
                    on_progress(progress)
        finally:
            self.cancel()
        if self.state != "done":
            raise ExportError("export cancelled")
        return self.output

    def cancel(self) -> None:
        self._cancel.set()
        if self._lock.acquire(blocking=False):
            try:
                if not self.finished:
                    self._discard("cancelled")
            finally:
                self._lock.release()

    def _advance(self) -> None:
        if self._writer is None:
            self._start()
        if self.rendered < self.total:
            count = min(self.batch, self.total - self.rendered)
            ws, transform = path_frames(self.G, self._path, self.rendered, self.rendered + count)
            frames = synthesize(self.G, ws, self.settings.noise_mode, self.settings.precision, transform)
            self.largest_batch = max(self.largest_batch, len(frames))
            if frames.shape[3] == 1:
                frames = np.repeat(frames, 3, axis=3)
            frames = upscale(frames, self.settings.scale)
            self._writer.write(frames)
            self.preview = frames[-1].copy()
            self.rendered += count
        elif self._writer.finish_step():
            os.replace(self._tmp, self.output)
            self._tmp = None
            self._release()
            self.state = "done"

    def _start(self) -> None:
        """Plan the path (torch), clear temp files a killed export left, then create the temp file and the writer."""
        s = self.settings
        self._path = latent_path(self.G, s.keyframes, s.interpolation, s.frames_per_transition, s.easing, s.loop,
                                 self.directions)
        remove_stale_temps(self.output.parent, older_than=self._started)
        size = self.G.img_resolution * self.settings.scale
        fmt = self.settings.fmt
        tmp = self.output.parent / f".{self.output.stem}.{secrets.token_hex(4)}.part.{fmt}"
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))  # not mkstemp: it makes files 0600
        self._tmp, self._tmp_lock = tmp, hold(tmp)
        self.state = "running"
        if fmt == "mp4":
            self._writer = Mp4Writer(self._tmp, size, size, self.settings.fps, self.settings.crf)
        else:
            self._writer = GifWriter(self._tmp, size, size, self.settings.fps)

    def _release(self) -> None:
        if self._tmp_lock is not None:
            os.close(self._tmp_lock)
            self._tmp_lock = None

    def _discard(self, state: str) -> None:
        try:
            if self._writer is not None:
                self._writer.abort()
        finally:
            if self._tmp is not None:
                self._tmp.unlink(missing_ok=True)
                self._tmp = None
            self._release()
            self.state = state
