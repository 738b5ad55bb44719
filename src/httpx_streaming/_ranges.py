"""Byte-range arithmetic, sans-IO: checking ranges, skipping what lies before them,
cutting chunks to them, and HTTP's ``Range``/``Content-Range`` header values.

Nothing here reads a source: drivers feed chunks and lengths in, and get
slices, indexes and header values back.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple, final

from ._types import BytesLike
from ._validation import check_int, describe


def check_range(start: object, stop: object, length: int | None) -> tuple[int, int | None]:
    """``(start, stop)`` of a range of a body of *length* bytes (``None``: not known yet).

    Raises:
        TypeError: *start* or *stop* is not an int (``stop`` may be ``None``).
        ValueError: negative, reversed, or outside a body of known length.
    """
    first = check_int(start, "start", minimum=0)
    if stop is None:
        end = None
    else:
        end = check_int(stop, "stop", minimum=0)
        if end < first:
            raise ValueError(f"stop ({end}) must not be before start ({first})")
    if length is not None:
        check_within(first, end, length)
    return first, end


def check_within(start: int, stop: int | None, length: int) -> None:
    """Raise ValueError unless the range ``start..stop`` lies within *length* bytes."""
    if start > length:
        raise ValueError(f"start ({start}) is past the end of a body of {length} bytes")
    if stop is not None and stop > length:
        raise ValueError(f"stop ({stop}) is past the end of a body of {length} bytes")


def short_body_error(start: int, stop: int | None, length: int, body: object) -> ValueError:
    """The error for *body* (its repr, or a description given as a str), which ended
    (at *length* bytes) before the range did."""
    wanted = f"start={start}" if stop is None else f"start={start}, stop={stop}"
    named = body if isinstance(body, str) else repr(body)
    return ValueError(
        f"the byte range {wanted} is past the end of {named}, which has {length} bytes"
    )


class Skip(NamedTuple):
    """Where a pass that starts at a byte resumes, over segments of known lengths.

    ``segment`` is the index of the first segment not skipped whole; ``offset`` is the position
    where that segment begins; ``inside`` is how far into it the range starts
    when its length is known (else 0, and the caller discards ``start - offset``
    bytes of what follows).
    """

    segment: int
    offset: int
    inside: int


def skip_segments(lengths: Sequence[int | None], start: int) -> Skip:
    """Skip the segments that lie wholly before *start*, stopping at the first whose
    length is unknown (what comes after it cannot be placed)."""
    offset = 0
    for index, length in enumerate(lengths):
        if length is None:
            return Skip(index, offset, 0)
        if offset + length > start:
            return Skip(index, offset, start - offset)
        offset += length
    return Skip(len(lengths), offset, 0)


@final
class Window:
    """Cuts a stream of chunks to the bytes ``start..stop`` of what they make up.

    ``cut`` takes the next chunk and returns the part of it inside the window
    (the chunk itself when it is wholly inside: nothing is copied), or ``None``;
    ``done`` says that the window is full, so the stream can be closed early.
    Positions count from the start of the whole body.
    """

    __slots__ = ("position", "start", "stop")

    def __init__(self, start: int, stop: int | None, position: int = 0) -> None:
        self.start = start
        self.stop = stop
        # Where the next chunk begins: a stream may begin past 0, nearer the start.
        self.position = position

    @property
    def done(self) -> bool:
        return self.stop is not None and self.position >= self.stop

    def cut(self, chunk: BytesLike) -> BytesLike | None:
        begin = self.position
        end = begin + len(chunk)
        self.position = end
        stop = self.stop
        if begin >= self.start and (stop is None or end <= stop):
            return chunk if end > begin else None
        low = max(self.start - begin, 0)
        high = len(chunk) if stop is None else min(stop - begin, len(chunk))
        if high <= low:
            return None
        return memoryview(chunk)[low:high]

    def check_end(self, body: object) -> None:
        """Raise ValueError when the stream of *body* ended before the window did."""
        if self.position < self.start or (self.stop is not None and self.position < self.stop):
            raise short_body_error(self.start, self.stop, self.position, body)


# --- HTTP ---------------------------------------------------------------------------


def range_header(start: int, stop: int | None) -> str:
    """The ``Range`` header value asking for bytes ``start..stop-1`` (RFC 9110 14.2)."""
    return f"bytes={start}-" if stop is None else f"bytes={start}-{stop - 1}"


class ContentRange(NamedTuple):
    """A parsed ``Content-Range``: ``first..last`` of ``total`` bytes (``None``: unknown);
    ``first`` and ``last`` are ``None`` in ``bytes */total`` (a 416's answer)."""

    first: int | None
    last: int | None
    total: int | None


_CONTENT_RANGE = re.compile(r"\s*bytes\s+(?:(\d+)-(\d+)|\*)/(\d+|\*)\s*", re.IGNORECASE)


def parse_content_range(value: str) -> ContentRange:
    """Parse a ``Content-Range`` header value (RFC 9110 14.4).

    Raises:
        ValueError: Not a valid ``bytes`` range.
    """
    match = _CONTENT_RANGE.fullmatch(value)
    if match is None:
        raise ValueError(f"the server sent an invalid Content-Range: {describe(value)}")
    first, last, total = match.groups()
    parsed = ContentRange(
        None if first is None else int(first),
        None if last is None else int(last),
        None if total == "*" else int(total),
    )
    if parsed.first is None and parsed.total is None:
        raise ValueError(f"the server sent an invalid Content-Range: {describe(value)}")
    if parsed.first is not None and parsed.last is not None and parsed.last < parsed.first:
        raise ValueError(f"the server sent a reversed Content-Range: {describe(value)}")
    return parsed


def check_content_range(value: str | None, start: int, stop: int | None) -> ContentRange:
    """The ``Content-Range`` of a ``206`` answer to ``range_header(start, stop)``, checked
    to start at *start* and to end at ``stop - 1`` or at the body's end before it.

    Raises:
        ValueError: No header, or a range other than the one asked for.
    """
    if value is None:
        raise ValueError("the server answered 206 Partial Content without a Content-Range")
    parsed = parse_content_range(value)
    asked = range_header(start, stop)
    if parsed.first != start:
        raise ValueError(f"the server answered Content-Range {value!r} to Range {asked!r}")
    assert parsed.last is not None
    ends_early = parsed.total is not None and parsed.last == parsed.total - 1
    if stop is not None and parsed.last != stop - 1 and not (ends_early and parsed.last < stop):
        raise ValueError(f"the server answered Content-Range {value!r} to Range {asked!r}")
    return parsed
