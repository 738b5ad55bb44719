"""A progress bar on standard error for the command line.

Two pieces: [ProgressBar][httpx_streaming._progress.ProgressBar] counts bytes
and renders one self-overwriting line (bytes, rate, and percentage and ETA when
the total is known) at most every ``interval`` seconds, and
[CountingSource][httpx_streaming._progress.CountingSource] wraps a byte source
so that every chunk it yields is counted on its way to httpx. The wrapper
yields the source's own chunk objects (no copy) and costs one addition and one
clock read per chunk.

The bar draws only on a terminal: on anything else it stays silent, so
redirected standard error is never littered with carriage returns.
"""

from __future__ import annotations

import io
import os
import shutil
import time
from collections.abc import AsyncIterator, Callable
from typing import TextIO, final

from ._passes import close_pass
from ._types import BytesLike, ByteSource
from ._validation import source_length

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

    def restart(self) -> None:
        """Start counting again from zero (a new attempt of the same transfer)."""
        self.done = 0
        self._start = self._clock()
        self._next_render = self._start + self._interval

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


@final
class CountingSource:
    """A byte source that passes another one's chunks through, counting them.

    Each ``async for`` restarts the bar (an attempt sends the whole body), so
    retries show the attempt in progress. ``content_length``, ``reusable`` and
    ``consumed`` are those of the wrapped source.
    """

    __slots__ = ("_bar", "_source")

    def __init__(self, source: ByteSource, bar: ProgressBar) -> None:
        self._source = source
        self._bar = bar

    @property
    def content_length(self) -> int | None:
        return self._source.content_length

    @property
    def reusable(self) -> bool:
        return self._source.reusable

    @property
    def consumed(self) -> bool:
        return self._source.consumed

    def __aiter__(self) -> CountingStream:
        iterator = self._source.__aiter__()
        self._bar.restart()
        return CountingStream(iterator, self._bar)

    def __repr__(self) -> str:
        return f"<CountingSource {self._source!r}>"


@final
class CountingStream(AsyncIterator[BytesLike]):
    """One counted pass: yields the wrapped iterator's chunks themselves."""

    __slots__ = ("_advance", "_first", "_iterator")

    def __init__(self, iterator: AsyncIterator[BytesLike], bar: ProgressBar) -> None:
        self._iterator = iterator
        self._advance = bar.advance
        self._first = bar if bar.total is None else None

    @property
    def content_length(self) -> int | None:
        return source_length(self._iterator)

    def __aiter__(self) -> CountingStream:
        return self

    async def __anext__(self) -> BytesLike:
        chunk = await self._iterator.__anext__()
        if self._first is not None:
            # Some sources learn their length with the first chunk (a response's
            # Content-Length); look once, not on every chunk.
            self._first.total = self.content_length
            self._first = None
        self._advance(len(chunk))
        return chunk

    async def aclose(self) -> None:
        """Close the wrapped iterator."""
        await close_pass(self._iterator)
