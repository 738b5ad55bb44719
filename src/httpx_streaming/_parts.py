"""The parts of a multipart body, and the drivers that send them.

[FormData][httpx_streaming.FormData] and
[MultipartBody][httpx_streaming.MultipartBody] hold their parts as ``Part``
objects and share ``MultipartParts``: the framing of a pass (laid out by the
sans-IO ``_multipart``), the async and synchronous drivers that pull each
part's source through it, byte ranges and progress tracking.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from typing import cast, final

from . import _multipart as mp
from ._byte_range import ByteRange
from ._errors import check_length, length_error
from ._passes import (
    OneShotValues,
    open_pass,
    open_sync_pass,
    refuse_async_only,
    refuse_consumed,
)
from ._ranges import skip_segments
from ._resource import SyncResourceStream
from ._types import BytesLike, ByteSource, Chunk
from ._upload_progress import PartTracker
from ._validation import check_chunk, source_length


@final
class Part:
    """One validated part: its header bytes and either in-memory data or a source.

    ``name`` is what messages and progress reports call it (a form field's name).
    """

    __slots__ = ("data", "header", "multipart", "name", "source", "text")

    def __init__(
        self,
        name: str,
        header: bytes,
        *,
        text: str | None = None,
        data: BytesLike | None = None,
        source: ByteSource | None = None,
        multipart: bool = True,
    ) -> None:
        self.name = name
        self.header = header
        # A plain text form field keeps its str for the urlencoded form.
        self.text = text
        self.data = data
        self.source = source
        # Whether this form field alone makes the form multipart.
        self.multipart = multipart

    @property
    def length(self) -> int | None:
        if self.data is not None:
            return len(self.data)
        return source_length(self.source)

    def __repr__(self) -> str:
        return f"<part {self.name!r}>"


class MultipartParts:
    """What every multipart body does with its parts: passes, faces, ranges, progress.

    Subclasses add parts (``_parts``) with their header bytes rendered for this
    body's boundary, and say what to call a part in messages (``_part_kind``).
    """

    __slots__ = ("_boundary", "_custom_boundary", "_one_shot", "_parts")

    _part_kind = "part"

    def __init__(self, boundary: str | None) -> None:
        if boundary is None:
            self._boundary = mp.generate_boundary()
            self._custom_boundary = False
        else:
            self._boundary = mp.check_boundary(boundary)
            self._custom_boundary = True
        self._parts: list[Part] = []
        self._one_shot = OneShotValues()

    @property
    def boundary(self) -> str:
        """The multipart boundary, fixed for the body's lifetime."""
        return self._boundary

    @property
    def content_length(self) -> int | None:
        """The body size when every part's size is known in advance, else ``None``."""
        return mp.multipart_length(
            self._boundary, ((part.header, part.length) for part in self._parts)
        )

    @property
    def reusable(self) -> bool:
        """Whether the body can be sent more than once (all its parts are reusable)."""
        return all(part.source is None or part.source.reusable for part in self._parts)

    @property
    def consumed(self) -> bool:
        """Whether a one-shot part was already read, so the body cannot be sent again."""
        return any(part.source is not None and part.source.consumed for part in self._parts)

    def __len__(self) -> int:
        return len(self._parts)

    def _check_data(self, name: str, data: BytesLike) -> None:
        # A random 128-bit boundary cannot be guessed by data; a chosen one can.
        if self._custom_boundary and mp.contains_delimiter(data, self._boundary):
            raise ValueError(
                f"{self._part_kind} {name!r}: the value contains the body's boundary "
                f"'--{self._boundary}'; choose another boundary or leave it random"
            )

    def _check_not_consumed(self) -> None:
        for part in self._parts:
            if part.source is not None:
                refuse_consumed(part.source, self._part_kind, part.name)

    # --- sending -------------------------------------------------------------------

    def __aiter__(self) -> AsyncGenerator[Chunk, None]:
        """Start one pass over the body.

        The pass is an async generator: ``await stream.aclose()`` (or leaving
        an ``async with contextlib.aclosing(...)`` block) stops it and closes
        the source being read. A source's error reaches the caller unchanged,
        after the source was closed.

        Raises:
            SourceConsumedError: A one-shot value was already read by an
                earlier pass (raised here, before any byte is produced).
        """
        # Bytes-like chunks, typed as httpx's content= reads them (see Chunk).
        return cast("AsyncGenerator[Chunk, None]", generate(self._segments()))

    def sync(self) -> SyncResourceStream:
        """The same bytes for a synchronous client: every ``for`` is one pass.

        Reusable when the body is, with its ``content_length``; send it as
        ``client.post(url, content=body.sync(), headers=body.headers)``. No
        event loop and no worker threads: files are read in the calling thread.

        Raises:
            TypeError: A part holds a source only async code can read (an
                async generator, an async file); raised here, before any byte.
        """
        for part in self._parts:
            if part.source is not None:
                refuse_async_only(
                    part.source,
                    self._part_kind,
                    part.name,
                    f"send the body with an async client, or give that {self._part_kind} a "
                    "synchronous source",
                )
        return SyncResourceStream(self._sync_pass).face_of(self)

    def _sync_pass(self) -> Iterator[BytesLike]:
        return generate_sync(self._segments())

    def _range_from(self, start: int, stop: int | None) -> tuple[AsyncIterator[BytesLike], int]:
        # A range opener (see byte_range): parts before start whose sizes are known
        # are not read.
        segments, position = segments_from(self._segments(), start)
        return generate(segments), position

    def _sync_range_from(self, start: int, stop: int | None) -> tuple[Iterator[BytesLike], int]:
        segments, position = segments_from(self._segments(), start)
        return generate_sync(segments), position

    def _tracked_pass(self, tracker: PartTracker) -> AsyncIterator[BytesLike]:
        # A pass that tells *tracker* which part it is sending (see with_progress).
        segments, names = self._named_segments()
        return generate(segments, tracker, names)

    def _sync_tracked_pass(self, tracker: PartTracker) -> Iterator[BytesLike]:
        segments, names = self._named_segments()
        return generate_sync(segments, tracker, names)

    def _named_segments(self) -> tuple[list[BytesLike | Part], list[str | None]]:
        owners: list[int] = []
        segments = self._segments(owners)
        return segments, [self._parts[owner].name for owner in owners]

    def _segments(self, owners: list[int] | None = None) -> list[BytesLike | Part]:
        """The framing of one pass, with the parts whose sources it reads; refuses a
        body holding a one-shot value that an earlier pass read. *owners* gets the
        index of the part each segment belongs to."""
        self._check_not_consumed()
        return mp.frame_parts(
            self._boundary,
            [(part.header, part.data if part.data is not None else part) for part in self._parts],
            owners=owners,
        )


def segments_from(
    segments: list[BytesLike | Part], start: int
) -> tuple[list[BytesLike | Part], int]:
    """The segments of a pass from byte *start*, and where the first of them begins
    (*start* itself, or earlier when a part of unknown size comes first)."""
    lengths = [
        segment.length if isinstance(segment, Part) else len(segment) for segment in segments
    ]
    skip = skip_segments(lengths, start)
    rest = segments[skip.segment :]
    if not skip.inside:
        return rest, skip.offset
    first = rest[0]
    if isinstance(first, Part):
        assert first.source is not None
        part = ByteRange._create(first.source, skip.inside, None)
        rest[0] = Part(first.name, first.header, source=part)
    else:
        rest[0] = memoryview(first)[skip.inside :]
    return rest, start


def generate_sync(
    segments: list[BytesLike | Part],
    tracker: PartTracker | None = None,
    names: list[str | None] | None = None,
) -> Iterator[BytesLike]:
    """One synchronous pass: ``generate`` without an event loop (the pass does the checks)."""
    for index, segment in enumerate(segments):
        if tracker is not None and names is not None:
            tracker.name = names[index]
        if isinstance(segment, Part):
            assert segment.source is not None
            with open_sync_pass(segment.source) as stream:
                yield from stream
        else:
            yield segment


async def generate(
    segments: list[BytesLike | Part],
    tracker: PartTracker | None = None,
    names: list[str | None] | None = None,
) -> AsyncGenerator[BytesLike, None]:
    """One pass: yield framing bytes and every source's chunks, closing each source.

    An async generator rather than an iterator class: per chunk it costs one
    generator step, which keeps the form as fast as a bare generator. For the
    same reason it reads the iterator under each source's pass directly and
    does the pass's checks (bytes-like chunks, declared length) inline. With a
    *tracker*, it is told the name of each segment's part as the segment begins.
    """
    for index, segment in enumerate(segments):
        if tracker is not None and names is not None:
            tracker.name = names[index]
        if not isinstance(segment, Part):
            yield segment
            continue
        assert segment.source is not None
        async with open_pass(segment.source) as stream:
            chunks = stream.iterator
            try:
                chunk = await chunks.__anext__()
            except StopAsyncIteration:
                check_length(stream.source, stream.content_length, 0, finished=True)
                continue
            if type(chunk) is not bytes:
                chunk = check_chunk(chunk, stream.source)
            # A length can only be checked if one is declared, possibly once
            # the first chunk was asked for (a response's headers); otherwise
            # skip counting, which is a real part of the cost per chunk.
            declared = stream.content_length
            seen = len(chunk)
            if declared is not None and seen > declared:
                raise length_error(stream.source, declared, seen, finished=False)
            yield chunk
            if declared is None:
                async for chunk in chunks:
                    if type(chunk) is not bytes:
                        chunk = check_chunk(chunk, stream.source)
                    yield chunk
                continue
            async for chunk in chunks:
                if type(chunk) is not bytes:
                    chunk = check_chunk(chunk, stream.source)
                seen += len(chunk)
                if seen > declared:  # before the extra bytes go out
                    raise length_error(stream.source, declared, seen, finished=False)
                yield chunk
            check_length(stream.source, declared, seen, finished=True)
