"""``compress``: a body sent with ``Content-Encoding``, compressed as it streams.

The drivers are thin: a fresh ``Compressor`` (``_compression``) per pass cuts
the body's chunks into jobs; jobs of more than ``INLINE_LIMIT`` input bytes run
in worker threads (zlib, zlib-ng, brotli and zstandard release the GIL), at
most ``2 * workers`` at a time, while the output of earlier ones is sent.
Memory per pass stays bounded whatever the body's size: the jobs in flight
(1 MiB of input each, and their output), plus a block being filled.
"""

from __future__ import annotations

import concurrent.futures
import os
from collections import deque
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Final, final

import anyio
import anyio.to_thread

from ._compression import (
    BLOCK_SIZE,
    Compressor,
    Job,
    check_encoding,
    check_level,
    check_library,
    new_compressor,
)
from ._passes import SourcePass, open_pass, open_sync_pass, require_sync_face
from ._resource import SyncResourceStream
from ._sources import as_byte_source
from ._types import BytesLike, ByteSource, NoPublicConstructor

MAX_WORKERS: Final = 8
# A job of at most this many input bytes runs inline, when nothing is in flight:
# a thread hop costs more than compressing it (the last block of a small body).
INLINE_LIMIT: Final = 64 * 1024


def worker_count() -> int:
    """Worker threads of a gzip or deflate pass: one per usable core, at most ``MAX_WORKERS``."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(MAX_WORKERS, cores))


@final
class _Pipeline:
    """The jobs of one pass in flight, their results taken in order.

    Parallel jobs go to up to ``workers`` threads; the jobs of a single stream
    (brotli, zstd) to one, so they run in turn. Threads start with the first
    job that needs one: a small body never starts any.
    """

    __slots__ = ("_executor", "_inline_limit", "_pending", "_workers", "limit")

    def __init__(self, compressor: Compressor, workers: int) -> None:
        self._workers = workers if compressor.parallel else 1
        # Only deflate is quick enough per byte to run small jobs inline: brotli's
        # highest levels take a tenth of a second on 64 KiB.
        self._inline_limit = INLINE_LIMIT if compressor.parallel else 0
        self.limit = 2 * self._workers
        self._pending: deque[concurrent.futures.Future[bytes] | bytes] = deque()
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None

    def submit(self, job: Job) -> None:
        if not self._pending and job.size <= self._inline_limit:
            self._pending.append(job.run())
            return
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(
                self._workers, thread_name_prefix="httpx-streaming-compress"
            )
        self._pending.append(self._executor.submit(job.run))

    @property
    def full(self) -> bool:
        return len(self._pending) >= self.limit

    @property
    def head(self) -> concurrent.futures.Future[bytes] | bytes | None:
        return self._pending[0] if self._pending else None

    def pop(self) -> bytes:
        head = self._pending.popleft()
        return head if isinstance(head, bytes) else head.result()

    def close(self) -> None:
        """Drop the jobs not started, and wait until every worker thread has ended."""
        for item in self._pending:
            if not isinstance(item, bytes):
                item.cancel()
        self._pending.clear()
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None


@final
class CompressedBody(metaclass=NoPublicConstructor):
    """A body compressed as it is sent, with its ``Content-Encoding``.

    Made by [compress][httpx_streaming.compress]. Every pass compresses the
    wrapped body afresh and yields the same bytes: reusable when the body is.

    Attributes:
        body: The body that is compressed.
        encoding: ``"gzip"``, ``"deflate"``, ``"br"`` or ``"zstd"``.
        level: The compression level used.
        content_length: Always ``None``: the compressed length is known only
            once a pass has ended, so the body goes out chunked.
    """

    __slots__ = ("_source", "body", "encoding", "level")

    content_length = None

    def __init__(self, body: object, source: ByteSource, encoding: str, level: int) -> None:
        self.body = body
        self._source = source
        self.encoding = encoding
        self.level = level

    @property
    def reusable(self) -> bool:
        """Whether every pass sends the whole body again (the wrapped body's)."""
        return self._source.reusable

    @property
    def consumed(self) -> bool:
        """Whether the wrapped one-shot body was already read."""
        return self._source.consumed

    @property
    def headers(self) -> dict[str, str]:
        """The body's own headers (a form's ``Content-Type``...) without its
        ``Content-Length``, with ``Content-Encoding`` (appended to one it had)."""
        own = getattr(self.body, "headers", None)
        headers: dict[str, str] = {}
        encodings = []
        if isinstance(own, dict):
            for name, value in own.items():
                lowered = name.lower()
                if lowered == "content-encoding":
                    if value.strip().lower() != "identity":
                        encodings.append(value)
                elif lowered != "content-length":
                    headers[name] = value
        encodings.append(self.encoding)
        headers["Content-Encoding"] = ", ".join(encodings)
        return headers

    def __aiter__(self) -> SourcePass:
        return SourcePass(_compressed_pass(self._source, self.encoding, self.level), self)

    def sync(self) -> SyncResourceStream:
        """The same bytes for a synchronous client (``httpx.Client``).

        Raises:
            TypeError: The body can only be read by async code.
        """
        require_sync_face(self._source, self.body)
        return SyncResourceStream(
            _sync_compressed_pass, self._source, self.encoding, self.level
        ).face_of(self)

    def __repr__(self) -> str:
        return f"<CompressedBody {self.encoding} level {self.level} of {self.body!r}>"


async def _compressed_pass(source: ByteSource, encoding: str, level: int) -> AsyncIterator[bytes]:
    compressor = new_compressor(encoding, level)
    pipeline = _Pipeline(compressor, worker_count())
    try:
        async with open_pass(source) as stream:
            yield compressor.header
            async for chunk in stream:
                for piece in _pieces(chunk):
                    for job in compressor.feed(piece):
                        pipeline.submit(job)
                        while pipeline.full or _done(pipeline.head):
                            yield await _next(pipeline)
        for job in compressor.end():
            pipeline.submit(job)
        while pipeline.head is not None:
            yield await _next(pipeline)
        yield compressor.trailer()
    finally:
        # Stop and join the workers on every way out, a cancellation too.
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(pipeline.close)


def _pieces(chunk: BytesLike) -> Iterable[BytesLike]:
    """*chunk*, in slices of at most a block: a source's huge chunk (a 256 MiB bytearray)
    becomes jobs a few at a time, not all at once, so memory stays bounded."""
    if len(chunk) <= BLOCK_SIZE:
        return (chunk,)
    view = memoryview(chunk)
    return (view[start : start + BLOCK_SIZE] for start in range(0, len(view), BLOCK_SIZE))


def _done(head: concurrent.futures.Future[bytes] | bytes | None) -> bool:
    return head is not None and (isinstance(head, bytes) or head.done())


async def _next(pipeline: _Pipeline) -> bytes:
    head = pipeline.head
    if isinstance(head, concurrent.futures.Future) and not head.done():
        # Waited for in one of anyio's threads: the event loop runs on.
        await anyio.to_thread.run_sync(head.exception, abandon_on_cancel=True)
    return pipeline.pop()


def _sync_compressed_pass(source: ByteSource, encoding: str, level: int) -> Iterator[bytes]:
    compressor = new_compressor(encoding, level)
    pipeline = _Pipeline(compressor, worker_count())
    try:
        with open_sync_pass(source) as stream:
            yield compressor.header
            for chunk in stream:
                for piece in _pieces(chunk):
                    for job in compressor.feed(piece):
                        pipeline.submit(job)
                        while pipeline.full or _done(pipeline.head):
                            yield pipeline.pop()
        for job in compressor.end():
            pipeline.submit(job)
        while pipeline.head is not None:
            yield pipeline.pop()
        yield compressor.trailer()
    finally:
        pipeline.close()


def compress(body: object, encoding: str = "gzip", *, level: int | None = None) -> CompressedBody:
    """*body*, compressed as it streams, to send with ``Content-Encoding: encoding``.

    The result is a body of the same kind: reusable when *body* is, with the
    same bytes on every pass (no time stamp in a gzip header, and output that
    depends neither on how the body chunks its data nor on the machine's
    cores; another compression library, zlib-ng or not, another libzstd,
    gives other bytes that decode the same), on async clients and, through
    ``.sync()``, synchronous ones. Its
    ``headers`` are the body's own (a form's ``Content-Type``) without
    ``Content-Length``, plus ``Content-Encoding``; its length is unknown, so
    it goes out chunked.

    ```python
    body = compress(stream_file("app.log"), "gzip")
    await client.post(url, content=body, headers=body.headers)
    ```

    gzip and deflate use every core (up to 8): 1 MiB blocks, each primed with
    the 32 KiB before it, as pigz does; zlib-ng (the ``fast`` extra) makes
    them faster again when installed. Memory stays bounded: about 4 MiB per
    worker thread.

    Args:
        body: Any body: bytes, a ``pathlib.Path``, a stream, a
            [FormData][httpx_streaming.FormData], a zip resource...
        encoding: ``"gzip"`` (RFC 1952), ``"deflate"`` (the zlib format of
            RFC 1950, what HTTP's ``deflate`` means), ``"br"`` (needs the
            ``brotli`` extra) or ``"zstd"`` (needs the ``zstd`` extra, or
            Python 3.14); any case.
        level: ``None`` for the default (gzip and deflate 6, br 4, zstd 3), or
            gzip and deflate 0-9 (zlib's levels), br 0-11, zstd 1-22.

    Raises:
        TypeError: *body* is not a byte source; *encoding* is not a str;
            *level* is not an int.
        ValueError: *encoding* is none of the four; *level* is out of range.
        ModuleNotFoundError: the library of ``br`` or ``zstd`` is not
            installed (the message names the extra to install).
    """
    found = check_encoding(encoding)
    chosen = check_level(found, level)
    check_library(found)
    return CompressedBody._create(body, as_byte_source(body), found.name, chosen)
