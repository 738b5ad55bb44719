"""``with_progress``: a body that reports its bytes as they are handed to the client.

The wrapper passes the body's own chunk objects through (no copy) and calls
the callback once per chunk and once at the end of each pass. Bodies with
parts (forms, zip archives) say which part they are sending through a
``PartTracker`` they are handed for the pass: one attribute write per part,
nothing per chunk.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, NamedTuple, final

from ._byte_range import ByteRange
from ._passes import close_pass, close_sync_pass, open_pass, open_sync_pass, require_sync_face
from ._resource import SyncResourceStream
from ._sources import as_byte_source
from ._types import BytesLike, ByteSource, NoPublicConstructor
from ._validation import describe, source_length


class Progress(NamedTuple):
    """Where a pass of a body stands, as given to a ``with_progress`` callback.

    Attributes:
        sent: Bytes handed to the client in this pass so far.
        total: The body's length, or ``None`` while it is unknown (a
            ``stream_response`` body learns it with its first chunk).
        attempt: 1 for the first pass, 2 for the next (a retry, a redirect)...
        part: The name of the form field or zip member being sent, ``None``
            for bodies without parts (and between parts).
    """

    sent: int
    total: int | None
    attempt: int
    part: str | None


ProgressCallback = Callable[[Progress], object]


@final
class PartTracker:
    """The part a pass is sending: set by the body's driver as each part begins."""

    __slots__ = ("name",)

    def __init__(self) -> None:
        self.name: str | None = None


@final
class ProgressBody(metaclass=NoPublicConstructor):
    """A body that calls back with its [Progress][httpx_streaming.Progress] as it is sent.

    Made by [with_progress][httpx_streaming.with_progress]; its ``content_length``,
    ``reusable``, ``consumed`` and ``headers`` are the wrapped body's.

    Attributes:
        body: The body whose passes are reported.
        attempts: How many passes have started.
    """

    __slots__ = ("_callback", "_source", "attempts", "body")

    def __init__(self, body: object, source: ByteSource, callback: ProgressCallback) -> None:
        self.body = body
        self._source = source
        self._callback = callback
        self.attempts = 0

    @property
    def content_length(self) -> int | None:
        return self._source.content_length

    @property
    def reusable(self) -> bool:
        return self._source.reusable

    @property
    def consumed(self) -> bool:
        return self._source.consumed

    @property
    def headers(self) -> dict[str, str]:
        """The body's own headers (a form's ``Content-Type``...), else ``Content-Length``
        when the length is known."""
        headers = getattr(self.body, "headers", None)
        if isinstance(headers, dict):
            return headers
        length = self.content_length
        return {} if length is None else {"Content-Length": str(length)}

    def __aiter__(self) -> AsyncIterator[BytesLike]:
        tracker = PartTracker()
        tracked = getattr(self.body, "_tracked_pass", None)
        chunks = open_pass(self._source) if tracked is None else tracked(tracker)
        self.attempts += 1
        return _ReportedPass(chunks, self._report(tracker))

    def sync(self) -> SyncResourceStream:
        """The same reports from a synchronous client's passes.

        Raises:
            TypeError: The body can only be read by async code.
        """
        require_sync_face(self._source, self.body)
        return SyncResourceStream(self._sync_pass).face_of(self)

    def _sync_pass(self) -> Iterator[BytesLike]:
        tracker = PartTracker()
        tracked = getattr(self.body, "_sync_tracked_pass", None)
        chunks = open_sync_pass(self._source) if tracked is None else tracked(tracker)
        self.attempts += 1
        return _sync_reported(chunks, self._report(tracker))

    def _range_from(self, start: int, stop: int | None) -> tuple[AsyncIterator[BytesLike], int]:
        # A range of the body (what tus_upload sends, a part at a time) reports the
        # bytes of the range, counted from its first byte's place in the whole body.
        part = ByteRange._create(self._source, start, stop)
        return _ReportedPass(part.__aiter__(), self._report(PartTracker(), start)), start

    def _sync_range_from(self, start: int, stop: int | None) -> tuple[Iterator[BytesLike], int]:
        part = ByteRange._create(self._source, start, stop)
        return _sync_reported(iter(part.sync()), self._report(PartTracker(), start)), start

    def _report(self, tracker: PartTracker, position: int | None = None) -> _Reporter:
        """The reporter of a full pass, or of a range's pass from *position*."""
        attempt = max(self.attempts, 1)
        return _Reporter(self._callback, self.content_length, attempt, tracker, position)

    def __repr__(self) -> str:
        return f"<ProgressBody of {self.body!r}>"


@final
class _Reporter:
    """Counts one pass and calls back."""

    __slots__ = ("_attempt", "_callback", "_learns_total", "_total", "_tracker", "sent")

    def __init__(
        self,
        callback: ProgressCallback,
        total: int | None,
        attempt: int,
        tracker: PartTracker,
        position: int | None = None,
    ) -> None:
        self._callback = callback
        self._total = total
        self._attempt = attempt
        self._tracker = tracker
        self.sent = position or 0
        # A full pass (no position) may learn the body's length from its first chunk
        # (a response's headers); a range's chunks announce only the range's.
        self._learns_total = position is None and total is None

    def chunk(self, size: int, chunks: object) -> None:
        self.sent += size
        total = self._total
        if self._learns_total:
            # A response learns its length with its first chunk.
            self._learns_total = False
            total = self._total = source_length(chunks)
        self._callback(Progress(self.sent, total, self._attempt, self._tracker.name))

    def end(self) -> None:
        self._callback(Progress(self.sent, self._total, self._attempt, None))


@final
class _ReportedPass(AsyncIterator[BytesLike]):
    """One reported pass: yields the wrapped pass's chunks themselves."""

    __slots__ = ("_chunks", "_ended", "_reporter")

    def __init__(self, chunks: AsyncIterator[Any], reporter: _Reporter) -> None:
        self._chunks = chunks
        self._reporter = reporter
        self._ended = False

    @property
    def content_length(self) -> int | None:
        return source_length(self._chunks)

    def __aiter__(self) -> _ReportedPass:
        return self

    async def __anext__(self) -> BytesLike:
        try:
            chunk: BytesLike = await self._chunks.__anext__()
        except StopAsyncIteration:
            if not self._ended:
                self._ended = True
                self._reporter.end()
            raise
        try:
            self._reporter.chunk(len(chunk), self._chunks)
        except BaseException as error:  # the callback's: the pass stops, its source closed
            await close_pass(self._chunks, error)
            raise
        return chunk

    async def aclose(self) -> None:
        """Close the wrapped pass."""
        await close_pass(self._chunks)


def _sync_reported(chunks: Iterator[Any], reporter: _Reporter) -> Iterator[BytesLike]:
    try:
        for chunk in chunks:
            reporter.chunk(len(chunk), chunks)
            yield chunk
    except BaseException as error:
        close_sync_pass(chunks, error)
        raise
    close_sync_pass(chunks)
    reporter.end()


def with_progress(body: object, callback: ProgressCallback) -> ProgressBody:
    """*body*, calling ``callback(progress)`` as its bytes are handed to the client.

    The result is sent like the body itself — reusable when it is, with its
    ``content_length`` and ``headers`` — on async clients and, through
    ``.sync()``, on synchronous ones. ``callback`` gets a
    [Progress][httpx_streaming.Progress] after every chunk and once more at the
    end of each pass; every pass (a retry, a redirect) counts from 0 again
    with the next ``attempt``. A [byte_range][httpx_streaming.byte_range] of
    the result (what [tus_upload][httpx_streaming.tus_upload] sends, a part at a
    time) reports where it is in the whole body: ``sent`` counts from the place
    of the range's first byte, ``attempt`` stays that of the last full pass.
    The callback runs where the body is read (on the event loop for async
    clients), so it should be quick: draw a bar, not write a database row.

    ```python
    def show(progress):
        print(f"{progress.part}: {progress.sent} of {progress.total} bytes")

    body = with_progress(form, show)
    await client.post(url, content=body, headers=body.headers)
    ```

    Args:
        body: Any body: a [FormData][httpx_streaming.FormData], a zip
            resource, a stream, bytes, a ``pathlib.Path``...
        callback: Called with a [Progress][httpx_streaming.Progress]; what it
            returns is ignored, what it raises aborts the pass.

    Raises:
        TypeError: *body* is not a byte source, or *callback* is not callable.
    """
    if not callable(callback):
        raise TypeError(f"callback must be callable, got {describe(callback)}")
    return ProgressBody._create(body, as_byte_source(body), callback)
