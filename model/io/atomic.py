"""Atomic file writes: a temp file beside the target, renamed over it only when complete.

A raised error leaves either the old file or the new one, never half of one, and no temp file. A killed
process can leave a temp file behind; `remove_stale_temps` clears those of ours on the next write there, except the
ones a live writer holds a lock on (`hold`).
A failed write (disk full, read-only folder) is raised as a `WriteError` naming the target, so every command
can report it in one line, whichever library did the writing.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from safetensors import SafetensorError

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; the modification time alone protects a live temp file
    fcntl = None

T = TypeVar("T")

# Our temp names: `atomic_write`'s `.<name>.<random>.tmp` and the video exporter's `.<stem>.<hex>.part.<ext>`.
TEMP_NAME = re.compile(r"\..+\.[A-Za-z0-9_]{6,}\.tmp|\..+\.[0-9a-f]{8}\.part\.[a-z0-9]+")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class WriteError(OSError):
    """A file that could not be written, named as the caller named it (not by our temp name).

    str() is the one line a command prints: `cannot write runs/x/log.txt: No space left on device`.
    """

    def __str__(self) -> str:
        return f"cannot write {self.filename}: {self.strerror}"


def write_error(error: OSError | SafetensorError, path: str | os.PathLike) -> WriteError:
    """The WriteError for `path` of an OSError, or of safetensors' own SafetensorError (not an OSError)."""
    if isinstance(error, OSError):
        return WriteError(error.errno, error.strerror or str(error), str(path))
    message = str(error)  # e.g. "Error while serializing: I/O error: No space left on device (os error 28)"
    code = re.search(r"\(os error (\d+)\)", message)
    if code:
        return WriteError(int(code[1]), os.strerror(int(code[1])), str(path))
    return WriteError(None, message.splitlines()[0] if message else type(error).__name__, str(path))


def atomic_write(path: str | os.PathLike, write: Callable[[str], T]) -> T:
    """Call write(tmp_path), then rename tmp over `path` with the permissions a plain open() would give.

    Returns what `write` returned. A failure to write the temp file or to rename it is raised as a WriteError
    for `path`; other errors of `write` (e.g. about its input) pass through unchanged.
    """
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise write_error(e, path) from e
    os.close(fd)
    try:
        result = write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; saved images should be shareable
        os.replace(tmp, path)
        return result
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(e, SafetensorError) or (isinstance(e, OSError) and e.filename in (None, tmp)):
            raise write_error(e, path) from e
        raise


def hold(path: str | os.PathLike) -> int:
    """Open `path` and keep an exclusive advisory lock on it until the returned descriptor is closed.

    For a temp file that stays untouched for long (a GIF is written only when its last frame is in): with the
    lock held, `remove_stale_temps` in another export or process leaves it alone however old it looks.
    """
    fd = os.open(path, os.O_RDONLY)
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return fd


def _held(path: str) -> bool:
    """Whether a live writer holds `hold`'s lock on `path` (locks conflict across processes and descriptors)."""
    if fcntl is None:
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # also drops the probe's own lock


def remove_stale_temps(folder: str | os.PathLike, older_than: float) -> list[Path]:
    """Delete temp files of our own naming in `folder` last modified before `older_than` (a time.time() value)
    and not held by a live writer (`hold`).

    Called when a run starts writing into a folder, with the run's start time, so a temp file that a
    concurrent writer is still filling is never touched. Returns what was removed.
    """
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        try:
            if (TEMP_NAME.fullmatch(entry.name) and entry.is_file(follow_symlinks=False)
                    and entry.stat(follow_symlinks=False).st_mtime < older_than and not _held(entry.path)):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            continue
    return removed
