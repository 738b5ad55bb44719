"""A progress bar on standard error for the command line.

[ProgressBar][httpx_streaming._progress.ProgressBar] counts bytes and renders
one self-overwriting line (bytes, rate, and percentage and ETA when the total
is known) at most every ``interval`` seconds. An upload feeds it through the
public [with_progress][httpx_streaming.with_progress]: ``with_progress(body,
bar.show)``.

The bar draws only on a terminal: on anything else it stays silent, so
redirected standard error is never littered with carriage returns.
"""

from __future__ import annotations

import io
import os
import shutil
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from ._upload_progress import Progress

_UNITS = ("KiB", "MiB", "GiB", "TiB", "PiB")


def format_bytes(count: float) -> str:
    """``512 B``, ``1.5 KiB``, ``12.0 MiB`` ... (binary units, one decimal)."""
    if count < 1024:
        return f"{int(count)} B"
    value = float(count)
    for unit in _UNITS:
        value /= 1024
        if value < 1024 or unit == _UNITS[-1]:
            return f"{value:.1f} {unit}"
    raise AssertionError("unreachable")


def format_duration(seconds: float) -> str:
    """``0:07``, ``12:34``, ``1:02:03`` (rounded up to whole seconds)."""
    total = int(seconds + 0.999)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{minutes}:{secs:02d}"


def render_line(
    label: str, done: int, total: int | None, elapsed: float, *, bar_width: int = 20
) -> str:
    """The text of one progress line (no control characters).

    With a known total: ``label [#####.....]  50%  5.0 MiB / 10.0 MiB  2.5 MiB/s  ETA 0:02``.
    Without: ``label  5.0 MiB  2.5 MiB/s``.
    """
    rate = done / elapsed if elapsed > 0 else 0.0
    speed = f"{format_bytes(rate)}/s" if elapsed > 0 else "--/s"
    if total is None:
        head = f"{label}  " if label else ""
        return f"{head}{format_bytes(done)}  {speed}"
    prefix = f"{label} " if label else ""
    fraction = min(done / total, 1.0) if total > 0 else 1.0
    filled = int(fraction * bar_width)
    bar = "#" * filled + "." * (bar_width - filled)
    if done >= total:
        eta = "done"
    elif rate > 0:
        eta = f"ETA {format_duration((total - done) / rate)}"
    else:
        eta = "ETA --:--"
    return (
        f"{prefix}[{bar}] {int(fraction * 100):3d}%  "
        f"{format_bytes(done)} / {format_bytes(total)}  {speed}  {eta}"
    )


class ProgressBar:
    """Counts transferred bytes and redraws one line on a terminal, rate-limited.

    Args:
        total: Bytes expected per attempt, or ``None`` when unknown.
        label: Short text at the start of the line (``"upload"``).
        stream: Where to draw; nothing is drawn unless ``stream.isatty()``.
        interval: Minimum seconds between two redraws.
        clock: Monotonic clock, replaceable in tests.
        enabled: Force drawing on or off; by default it follows ``isatty()``.
    """

    def __init__(
        self,
        total: int | None,
        *,
        label: str = "",
        stream: TextIO,
        interval: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
        enabled: bool | None = None,
    ) -> None:
        self.total = total
        self.label = label
        self.done = 0
        self._stream = stream
        self._interval = interval
        self._clock = clock
        if enabled is None:
            isatty = getattr(stream, "isatty", None)
            enabled = bool(isatty()) if callable(isatty) else False
        self.enabled = enabled
        self._width = max(_columns(stream) - 1, 20)
        self._start = clock()
        # The first draw waits one interval: a rate measured over a chunk or two is noise.
        self._next_render = self._start + interval
        self._drawn = False
        self._attempt = 0  # of the upload whose progress is shown

    def restart(self) -> None:
        """Start counting again from zero (a new attempt of the same transfer)."""
        self.done = 0
        self._start = self._clock()
        self._next_render = self._start + self._interval

    def show(self, progress: Progress) -> None:
        """Follow an upload's [Progress][httpx_streaming.Progress]: a new attempt
        starts the count again."""
        if progress.attempt != self._attempt:
            self._attempt = progress.attempt
            self.restart()
        if progress.total is not None:
            self.total = progress.total
        self.advance(progress.sent - self.done)

    def advance(self, count: int) -> None:
        """Count *count* more bytes; redraw if the last redraw is old enough."""
        self.done += count
        if self.enabled:
            now = self._clock()
            if now >= self._next_render:
                self._draw(now)

    def _draw(self, now: float) -> None:
        self._next_render = now + self._interval
        line = render_line(self.label, self.done, self.total, now - self._start)
        # \r returns to the line's start; ESC[K erases what a longer line left behind.
        self._stream.write("\r" + line[: self._width] + "\x1b[K")
        self._stream.flush()
        self._drawn = True

    def note(self, message: str) -> None:
        """Print a line of its own above the bar (e.g. a retry notice)."""
        if not self.enabled:
            return
        if self._drawn:
            self._stream.write("\r\x1b[K")
        self._stream.write(message + "\n")
        self._stream.flush()
        self._next_render = self._clock()

    def close(self) -> None:
        """Draw the final state and end the line, so later output starts on a fresh one."""
        if not self.enabled:
            return
        self._draw(self._clock())
        self._stream.write("\n")
        self._stream.flush()
        self.enabled = False


def _columns(stream: TextIO) -> int:
    """The width of the terminal *stream* is on (standard output may be redirected)."""
    try:
        columns = os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, ValueError, OSError, io.UnsupportedOperation):
        columns = 0
    # A pseudo-terminal may report 0 columns: fall back to $COLUMNS, else 80.
    return columns or shutil.get_terminal_size((80, 24)).columns
