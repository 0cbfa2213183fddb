"""One progress line for long transfers: bytes done of the total, percent, MiB/s.

On a terminal the line is redrawn in place; anywhere else (CI logs, a pipe) a new line is
printed at most every `interval` seconds, and always at the end.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TextIO

from freetier.images.options import MIB


def format_progress(label: str, done: int, total: int, seconds: float, sent: int) -> str:
    """`label: 12.0/20.0 MiB (60%) 4.5 MiB/s`; the rate counts only bytes moved this run.

    >>> format_progress("base-arm64", 12 * MIB, 20 * MIB, 2.0, 9 * MIB)
    'base-arm64: 12.0/20.0 MiB (60%) 4.5 MiB/s'
    """
    percent = 100 * done // total if total else 100
    rate = sent / MIB / seconds if seconds > 0 else 0.0
    return f"{label}: {done / MIB:.1f}/{total / MIB:.1f} MiB ({percent}%) {rate:.1f} MiB/s"


class Progress:
    """Thread-safe byte counter that prints `format_progress` lines to `stream`."""

    def __init__(
        self,
        stream: TextIO | None,
        label: str,
        total: int,
        *,
        interval: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream
        self.label = label
        self.total = total
        self.interval = interval
        self.clock = clock
        self.done = 0
        self.sent = 0
        self._started = clock()
        self._printed = float("-inf")
        self._lock = threading.Lock()
        self._tty = bool(stream is not None and getattr(stream, "isatty", lambda: False)())

    def skip(self, count: int) -> None:
        """Bytes that were already there (resumed): done, but not moved this run."""
        with self._lock:
            self.done += count

    def advance(self, count: int) -> None:
        """Bytes moved this run."""
        with self._lock:
            self.done += count
            self.sent += count
            self._show(final=False)

    def finish(self) -> None:
        with self._lock:
            self._show(final=True)

    @property
    def seconds(self) -> float:
        return self.clock() - self._started

    def _show(self, *, final: bool) -> None:
        if self.stream is None:
            return
        now = self.clock()
        if not final and not self._tty and now - self._printed < self.interval:
            return
        self._printed = now
        line = format_progress(self.label, self.done, self.total, now - self._started, self.sent)
        if self._tty:
            self.stream.write("\r\033[K" + line + ("\n" if final else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
