"""The run's clock: wall time less the time the process spent stopped (Ctrl+Z, `kill -STOP`).

Without it a tick that spanned a pause reports the pause as training time, so its sec/kimg, the ETA and
the run's total time are wrong.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable


class RunClock:
    """Seconds since the clock started, less the time the process was stopped.

    A process cannot see a stop coming (SIGSTOP cannot be caught), but it is told when it continues (SIGCONT).
    So the loop marks the clock whenever it finishes a piece of work (a minibatch, a snapshot), and the time from
    the last mark to the continue counts as stopped: that overcounts the pause by at most the part of one piece
    of work that ran before it. Used as a context manager, it listens for SIGCONT (main thread only, where
    Python runs signal handlers)."""

    def __init__(self, now: Callable[[], float] = time.monotonic) -> None:
        self._now = now
        self._start = self._alive = now()
        self.stopped = 0.0  # seconds counted as stopped so far
        self._old: object = None  # the SIGCONT handler to put back on exit

    def mark(self) -> None:
        """The process is running now: a later continue cannot have followed a stop that began before this."""
        self._alive = self._now()

    def continued(self, *_signal_args: object) -> None:
        """The process was continued: the time since the last mark was spent stopped."""
        now = self._now()
        self.stopped += now - self._alive
        self._alive = now

    def elapsed(self) -> float:
        return self._now() - self._start - self.stopped

    def __enter__(self) -> RunClock:
        if hasattr(signal, "SIGCONT") and threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGCONT, self.continued)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._old is not None:
            signal.signal(signal.SIGCONT, self._old)
