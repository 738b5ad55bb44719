"""Byte-range arithmetic, sans-IO: checking ranges, skipping what lies before them,
cutting chunks to them, and HTTP's ``Range``/``Content-Range`` header values.

Nothing here reads a source: drivers feed chunks and lengths in, and get
slices, indexes and header values back.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timezone
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
    at_end = parsed.total is not None and parsed.last == parsed.total - 1
    if stop is None:
        # "From start on" asks for the rest: a server that sends less (a CDN capping
        # its answers) would make the range come back short.
        short = parsed.total is not None and not at_end
    else:
        short = parsed.last != stop - 1 and not (at_end and parsed.last < stop)
    if short:
        raise ValueError(f"the server answered Content-Range {value!r} to Range {asked!r}")
    return parsed


# --- HTTP, the server's side ----------------------------------------------------------
#
# What a server answers to a request's ``Range`` and ``If-Range`` (RFC 9110 13.1.5,
# 14.1, 14.2): the request headers' values and the body's length in, a decision out.

_RANGE_UNIT = re.compile(r"\s*bytes\s*=\s*(.*)", re.IGNORECASE | re.DOTALL)
_RANGE_SPEC = re.compile(r"(\d*)-(\d*)")


class RangeSpec(NamedTuple):
    """One range of a ``Range: bytes=...`` header: ``first-last`` (``last`` ``None`` for
    ``first-``), or the suffix ``-last`` (``first`` ``None``: the last ``last`` bytes)."""

    first: int | None
    last: int | None


def parse_range(value: str) -> tuple[RangeSpec, ...] | None:
    """The byte ranges a request's ``Range`` header value asks for (RFC 9110 14.1.1).

    Returns ``None`` for a value a server must ignore: another unit than
    ``bytes``, or invalid syntax (a reversed ``first-last``, an empty range,
    a sign, junk). Empty list elements (``bytes=0-1,,5-``) are allowed, as in
    every HTTP list.
    """
    match = _RANGE_UNIT.fullmatch(value)
    if match is None:
        return None
    specs: list[RangeSpec] = []
    for element in match.group(1).split(","):
        element = element.strip(" \t")
        if not element:
            continue
        spec = _RANGE_SPEC.fullmatch(element)
        if spec is None:
            return None
        first, last = spec.groups()
        if first:
            parsed = RangeSpec(int(first), int(last) if last else None)
            if parsed.last is not None and parsed.last < int(first):
                return None  # reversed: the whole header is invalid
        elif last:
            parsed = RangeSpec(None, int(last))
        else:
            return None  # "-": neither end
        specs.append(parsed)
    return tuple(specs) or None


def satisfiable_range(spec: RangeSpec, length: int) -> tuple[int, int] | None:
    """``(start, stop)`` of the bytes *spec* selects in a body of *length* bytes, or
    ``None`` when it selects none (RFC 9110 14.1.3: a ``416``).

    A last position past the end is cut to the end; a suffix longer than the
    body selects all of it. A suffix of a body of 0 bytes selects nothing
    either: callers answer such a request in full (ignoring ``Range`` is
    always allowed) rather than with a ``Content-Range`` of no bytes.
    """
    if spec.first is None:
        assert spec.last is not None
        if spec.last == 0 or length == 0:
            return None
        return max(length - spec.last, 0), length
    if spec.first >= length:
        return None
    stop = length if spec.last is None else min(spec.last + 1, length)
    return spec.first, stop


def content_range(start: int, stop: int, length: int) -> str:
    """The ``Content-Range`` value of a ``206`` of bytes ``start..stop-1`` of *length*."""
    return f"bytes {start}-{stop - 1}/{length}"


def unsatisfied_range(length: int) -> str:
    """The ``Content-Range`` value of a ``416`` for a body of *length* bytes."""
    return f"bytes */{length}"


def strong_match(a: str, b: str) -> bool:
    """Whether two entity-tags are the same and both strong (RFC 9110 8.8.3.2)."""
    a, b = a.strip(), b.strip()
    return a == b and not a.startswith("W/") and a.startswith('"') and len(a) >= 2


def parse_http_date(value: str) -> int | None:
    """The Unix time of an HTTP-date (any of RFC 9110 5.6.7's three forms), or ``None``."""
    import email.utils  # the parser of RFC 5322 dates, which covers all three

    try:
        parsed = email.utils.parsedate_tz(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if parsed is None or parsed[9] is None:
        return None
    try:  # a datetime refuses the days and hours that the lenient parser lets through
        moment = datetime(*parsed[:6], tzinfo=timezone.utc)
    except (OverflowError, ValueError):
        return None
    return int(moment.timestamp()) - parsed[9]


def http_date(timestamp: float) -> str:
    """*timestamp* (Unix time) as an IMF-fixdate, as ``Last-Modified`` says it."""
    import email.utils

    return email.utils.formatdate(int(timestamp), usegmt=True)


def if_range_holds(value: str, etag: str | None, last_modified: int | None) -> bool:
    """Whether an ``If-Range`` value lets a range be served (RFC 9110 13.1.5).

    An entity-tag must match *etag* by strong comparison (a weak one never
    does); an HTTP-date must be exactly the ``Last-Modified`` time
    *last_modified* (Unix seconds). With no such validator, never.
    """
    value = value.strip()
    if value.startswith(('"', "W/")):
        return etag is not None and strong_match(value, etag)
    date = parse_http_date(value)
    return date is not None and last_modified is not None and date == last_modified
