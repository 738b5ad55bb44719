"""``byte_range``: the bytes ``start..stop`` of every pass of a deterministic body.

Bodies that know where their bytes come from skip instead of reading: each
kind has a *range opener*, ``_range_from(start, stop)`` (and
``_sync_range_from`` for its synchronous face), which returns an iterator of
the body's bytes from a position at or before *start* together with that
position. A file seeks, a response asks its server for a ``Range``, a form
skips parts of known sizes, a zip archive skips members whose layout it knows.
Anything else is read from its start and the prefix discarded. A ``Window``
cuts what comes to the range either way.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, final

from ._passes import (
    SourcePass,
    close_pass,
    close_sync_pass,
    open_pass,
    open_sync_pass,
    require_sync_face,
)
from ._ranges import Window, check_range
from ._resource import SyncResourceStream
from ._sources import as_byte_source
from ._types import BytesLike, ByteSource, NoPublicConstructor
from ._validation import describe

AsyncOpener = Callable[[int, "int | None"], tuple[AsyncIterator[BytesLike], int]]
SyncOpener = Callable[[int, "int | None"], tuple[Iterator[BytesLike], int]]


@final
class ByteRange(metaclass=NoPublicConstructor):
    """The bytes ``start..stop-1`` of every full pass of a body: a reusable byte source.

    Made by [byte_range][httpx_streaming.byte_range]; send it as ``content=``
    with ``headers=part.headers``, or give it to anything that takes a byte
    source.

    Attributes:
        body: The body the range is cut from (as a byte source).
        start: The first byte of the range.
        stop: The byte after its last, or ``None`` for the body's end.
        content_length: The range's length when the body's is known (or
            ``stop`` is given), else ``None``.
        reusable: Always ``True``.
    """

    __slots__ = ("body", "content_length", "start", "stop")

    reusable = True

    def __init__(self, body: ByteSource, start: int, stop: int | None) -> None:
        self.body = body
        self.start = start
        self.stop = stop
        length = body.content_length
        end = stop if stop is not None else length
        self.content_length: int | None = None if end is None else end - start

    @property
    def consumed(self) -> bool:
        """Whether the body cannot be read in full again (a part of it was one-shot)."""
        return self.body.consumed

    @property
    def headers(self) -> dict[str, str]:
        """``Content-Length`` when the range's length is known, else nothing."""
        if self.content_length is None:
            return {}
        return {"Content-Length": str(self.content_length)}

    def __aiter__(self) -> SourcePass:
        return SourcePass(_range_pass(self.body, self.start, self.stop), self, self.content_length)

    def sync(self) -> SyncResourceStream:
        """The same bytes for a synchronous client.

        Raises:
            TypeError: The body can only be read by async code.
        """
        require_sync_face(self.body, self.body)
        return SyncResourceStream(_sync_range_pass, self.body, self.start, self.stop).face_of(self)

    def _range_from(self, start: int, stop: int | None) -> tuple[AsyncIterator[BytesLike], int]:
        # A range of this range is a range of the body.
        first, last = self._within(start, stop)
        return _range_pass(self.body, first, last), start

    def _sync_range_from(self, start: int, stop: int | None) -> tuple[Iterator[BytesLike], int]:
        first, last = self._within(start, stop)
        return _sync_range_pass(self.body, first, last), start

    def _within(self, start: int, stop: int | None) -> tuple[int, int | None]:
        end = self.stop if stop is None else self.start + stop
        if self.stop is not None and end is not None:
            end = min(end, self.stop)
        return self.start + start, end

    def __repr__(self) -> str:
        stop = "end" if self.stop is None else self.stop
        return f"<ByteRange {self.start}..{stop} of {self.body!r}>"


def byte_range(body: object, start: int, stop: int | None = None) -> ByteRange:
    """The bytes ``start`` to ``stop - 1`` of every full pass of *body*, as a reusable source.

    *body* is any reusable body of this library (a
    [FormData][httpx_streaming.FormData], a zip resource,
    [stream_file][httpx_streaming.stream_file],
    [stream_response][httpx_streaming.stream_response], a
    [ResourceStream][httpx_streaming.ResourceStream], a range...), bytes or a
    ``pathlib.Path``. Every pass yields exactly the same bytes as the slice
    ``full_pass[start:stop]``, and skips rather than reads wherever the body's
    layout is known:

    - files seek;
    - a ``stream_response`` sends ``Range`` (with ``If-Range`` once a pass has
      seen the response's ``ETag`` or ``Last-Modified``) and checks the
      ``206``'s ``Content-Range``; a server that answers ``200`` has the prefix
      read and discarded;
    - a form does not read parts wholly before *start* whose sizes are known;
    - a zip resource does not read members wholly before *start* whose layout
      is known: stored members with a declared ``size`` and ``crc32``, folders,
      and every member once the resource has completed one full pass.

    ```python
    body = create_zip_stream_resource(files)
    rest = byte_range(body, 1_000_000)  # the archive from its 1,000,000th byte
    await client.patch(url, content=rest, headers=rest.headers)
    ```

    Args:
        body: A reusable body.
        start: The first byte, from 0.
        stop: The byte after the last one; ``None`` for the end of the body.

    Raises:
        TypeError: *body* is not a byte source, or a one-shot one (a range of
            it could be read once at most); *start* or *stop* is not an int.
        ValueError: *start* or *stop* is negative, *stop* is before *start*,
            or either is past the end of a body of known length. When the
            length is known only later, a pass raises ValueError as soon as
            the body ends before the range does: a range never comes back
            short.
    """
    source = as_byte_source(body)
    if not source.reusable:
        raise TypeError(
            f"byte_range needs a reusable body, got the one-shot {describe(body)}: a range "
            "of it could be read once at most"
        )
    first, last = check_range(start, stop, source.content_length)
    return ByteRange._create(source, first, last)


async def _range_pass(source: ByteSource, start: int, stop: int | None) -> AsyncIterator[BytesLike]:
    """One pass over ``start..stop`` of *source*: opened where its layout allows, cut to the
    range, closed as soon as the range is complete."""
    if stop == start and source.content_length is not None:
        return  # empty, and known to be within the body: nothing to read
    opener: AsyncOpener | None = getattr(source, "_range_from", None)
    if opener is None:
        chunks: AsyncIterator[Any] = open_pass(source)
        position = 0
    else:
        # An empty range of a body of unknown length is asked as "from start on": a
        # request cannot ask for no bytes, and the pass must still find start within.
        chunks, position = opener(start, None if stop == start else stop)
    window = Window(start, stop, position)
    try:
        async for chunk in chunks:
            piece = window.cut(chunk)
            if piece is not None:
                yield piece
            if window.done:
                break
    except BaseException as error:
        await close_pass(chunks, error)
        raise
    await close_pass(chunks)
    if not window.done:
        window.check_end(source)


def _sync_range_pass(source: ByteSource, start: int, stop: int | None) -> Iterator[BytesLike]:
    """``_range_pass`` without an event loop."""
    if stop == start and source.content_length is not None:
        return
    opener: SyncOpener | None = getattr(source, "_sync_range_from", None)
    if opener is None:
        chunks: Iterator[Any] = open_sync_pass(source)
        position = 0
    else:
        # An empty range of a body of unknown length is asked as "from start on": a
        # request cannot ask for no bytes, and the pass must still find start within.
        chunks, position = opener(start, None if stop == start else stop)
    window = Window(start, stop, position)
    try:
        for chunk in chunks:
            piece = window.cut(chunk)
            if piece is not None:
                yield piece
            if window.done:
                break
    except BaseException as error:
        close_sync_pass(chunks, error)
        raise
    close_sync_pass(chunks)
    if not window.done:
        window.check_end(source)
