"""Byte sources: what every encoder consumes, and the sources this package ships.

The protocol is small on purpose. A byte source is an async iterable of
bytes-like chunks. It may carry two optional attributes:

* ``content_length: int | None`` — the number of bytes each pass yields, when
  known before iterating (``stream_file``, ``bytes``, ``Path``).
* ``reusable: bool`` — whether it can be iterated more than once.

The iterator a pass returns (a [ByteStream][httpx_streaming.ByteStream]) also
has ``content_length``; it may become known only after the first chunk was
requested, e.g. when a response's ``Content-Length`` arrives.

[as_byte_source][httpx_streaming.as_byte_source] turns every accepted value —
bytes, ``pathlib.Path``, stream resources, async iterables, async and sync file
objects — into one of these, and rejects anything else with a TypeError when
called, so encoders validate values when they are given.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import os
import pathlib
import weakref
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from typing import IO, Any, Protocol, final, runtime_checkable

import anyio
import anyio.to_thread
import httpx

from ._resource import BytesLike, ByteStream, ResourceStream, check_chunk, describe

DEFAULT_CHUNK_SIZE = 65536
# A hop to a worker thread costs about as much as reading 64 KiB from the page
# cache, so blocking files are read in bigger pieces.
THREAD_READ_SIZE = 1024 * 1024


@runtime_checkable
class ByteSource(Protocol):
    """What the encoders consume: an async iterable of bytes-like chunks.

    Optional attributes (read with ``getattr``): ``content_length`` and
    ``reusable``; see the module documentation.
    """

    def __aiter__(self) -> AsyncIterator[BytesLike]: ...


class SourceConsumedError(httpx.StreamConsumed):
    """A one-shot source (a plain async generator, an async file) was iterated twice.

    Raised before any byte of the second pass is produced, so a retry never
    sends a truncated body. Wrap the generator function with
    [ResourceStreamFunction][httpx_streaming.ResourceStreamFunction] to make the
    source reusable.
    """

    def __init__(self, message: str) -> None:
        httpx.StreamError.__init__(self, message)


@final
class BytesSource:
    """In-memory bytes as a reusable byte source of known length."""

    __slots__ = ("data",)

    reusable = True

    def __init__(self, data: BytesLike) -> None:
        self.data = data

    @property
    def content_length(self) -> int:
        return len(self.data)

    def __aiter__(self) -> ByteStream:
        return ByteStream(_slices(self.data), self, len(self.data))

    def __repr__(self) -> str:
        return f"<BytesSource {len(self.data)} bytes>"


_SLICE_SIZE = 1024 * 1024


async def _slices(data: BytesLike) -> AsyncIterator[BytesLike]:
    # Big data goes out in zero-copy slices, so that a consumer doing work per
    # chunk (compressing, say) gives the event loop a turn between them.
    if len(data) <= _SLICE_SIZE:
        if data:
            yield data
        return
    view = memoryview(data)
    for start in range(0, len(view), _SLICE_SIZE):
        yield view[start : start + _SLICE_SIZE]


# One-shot values that a pass has started. The mark lives with the value, not
# with its wrapper: a retry loop that builds its body anew wraps the same,
# already exhausted generator in a new wrapper, and must still be refused.
_STARTED: weakref.WeakSet[Any] = weakref.WeakSet()


def _mark_started(value: object) -> None:
    with contextlib.suppress(TypeError):  # not weak-referenceable: the wrapper's flag remains
        _STARTED.add(value)


def _was_consumed(value: object) -> bool:
    if inspect.isasyncgen(value) and value.ag_frame is None:
        return True  # finished or closed: iterating it again yields nothing
    try:
        return value in _STARTED
    except TypeError:
        return False


def _consumed_error(value: object) -> SourceConsumedError:
    return SourceConsumedError(
        f"{value!r} is a one-shot stream that was already consumed; "
        "to send it again, pass a reusable source such as a ResourceStream "
        "(decorate the generator function with ResourceStreamFunction)"
    )


@final
class OneShotSource:
    """A source that can be iterated once: an async iterable or an async file.

    The second pass raises [SourceConsumedError][httpx_streaming.SourceConsumedError].
    """

    __slots__ = ("_chunk_size", "_consumed", "_value")

    reusable = False
    content_length = None

    def __init__(self, value: object, chunk_size: int = DEFAULT_CHUNK_SIZE) -> None:
        self._value = value
        self._chunk_size = chunk_size
        self._consumed = False

    @property
    def consumed(self) -> bool:
        """Whether the value was already iterated, through this wrapper or another."""
        return self._consumed or _was_consumed(self._value)

    def __aiter__(self) -> ByteStream:
        if self.consumed:
            raise _consumed_error(self._value)
        self._consumed = True
        _mark_started(self._value)
        if _is_async_file(self._value):
            return ByteStream(_read_async_file(self._value, self._chunk_size), self._value)
        assert isinstance(self._value, AsyncIterable)
        return ByteStream(self._value.__aiter__(), self._value)

    def __repr__(self) -> str:
        return f"<OneShotSource {self._value!r}>"


@final
class SyncFileSource:
    """A synchronous binary file object, read in a worker thread.

    Seekable files are reusable: every pass starts from the position the file
    had when the source was made, and their length is known.
    """

    __slots__ = ("_consumed", "_file", "_start", "content_length", "reusable")

    def __init__(self, file: IO[bytes]) -> None:
        self._file = file
        self._consumed = False
        self._start: int | None = None
        self.content_length: int | None = None
        self.reusable = False
        try:
            if file.seekable():
                self._start = file.tell()
                end = file.seek(0, io.SEEK_END)
                file.seek(self._start)
                self.content_length = end - self._start
                self.reusable = True
        except (OSError, ValueError):
            pass

    @property
    def consumed(self) -> bool:
        """Whether an unseekable file was already read (a seekable one never is)."""
        return not self.reusable and (self._consumed or _was_consumed(self._file))

    def __aiter__(self) -> ByteStream:
        if not self.reusable:
            if self.consumed:
                raise SourceConsumedError(f"{self._file!r} is not seekable and was already read")
            self._consumed = True
            _mark_started(self._file)
        return ByteStream(self._read(), self._file, self.content_length)

    async def _read(self) -> AsyncIterator[bytes]:
        file = self._file
        # In-memory files never block; real files are read in a worker thread.
        in_memory = isinstance(file, io.BytesIO)
        if self._start is not None:
            file.seek(self._start)
        while True:
            if in_memory:
                chunk = file.read(DEFAULT_CHUNK_SIZE)
            else:
                chunk = await anyio.to_thread.run_sync(file.read, THREAD_READ_SIZE)
            if not chunk:
                return
            yield chunk

    def __repr__(self) -> str:
        return f"<SyncFileSource {self._file!r}>"


def _fresh_iterator(source: AsyncIterable[Any]) -> AsyncIterator[Any]:
    return source.__aiter__()


def _is_async_file(value: object) -> bool:
    """anyio, trio and aiofiles file objects: ``await f.read(n)``."""
    read = getattr(value, "read", None)
    return read is not None and inspect.iscoroutinefunction(read)


async def _read_async_file(file: Any, chunk_size: int) -> AsyncIterator[bytes]:
    while chunk := await file.read(chunk_size):
        yield chunk


def as_byte_source(
    value: object,
) -> ResourceStream | BytesSource | OneShotSource | SyncFileSource:
    """Turn any accepted value into a byte source, or raise TypeError now.

    Accepted: bytes-like values, ``pathlib.Path`` (read afresh on every pass),
    [ResourceStream][httpx_streaming.ResourceStream] and other async iterables
    whose ``reusable`` attribute is ``True`` (their ``content_length`` is kept),
    async file objects (anyio, trio, aiofiles: read
    with ``await f.read(n)``), async iterables of bytes (one-shot) and binary
    sync file objects.
    """
    if isinstance(value, ResourceStream | BytesSource | OneShotSource | SyncFileSource):
        return value
    if isinstance(value, AsyncIterable) and getattr(value, "reusable", False) is True:
        # Another reusable byte source (a FormData, a zip resource, your own class):
        # every pass asks it for a fresh iterator.
        resource = ResourceStream(_fresh_iterator, value)
        resource.content_length = source_length(value)
        return resource
    if isinstance(value, bytes | bytearray | memoryview):
        return BytesSource(check_chunk(value, value))  # a memoryview of wider items counts bytes
    if isinstance(value, pathlib.PurePath):
        return stream_file(value)
    if isinstance(value, str):
        raise TypeError(
            f"expected a byte source, got {describe(value)}; encode text to bytes first"
        )
    if _is_async_file(value) or isinstance(value, AsyncIterable):
        if _was_consumed(value):
            # Refused when given: sending it would be an empty part or member.
            raise _consumed_error(value)
        return OneShotSource(value)
    if isinstance(value, io.TextIOBase):
        raise TypeError(f"expected a binary file, got the text file {describe(value)}")
    if callable(getattr(value, "read", None)):
        return SyncFileSource(value)  # type: ignore[arg-type]
    if inspect.isasyncgenfunction(value):
        raise TypeError(
            f"expected a byte source, got the async generator function {describe(value)}; "
            "call it, or decorate it with ResourceStreamFunction and call that"
        )
    raise TypeError(
        f"expected a byte source (bytes, pathlib.Path, ResourceStream, async iterable "
        f"of bytes or file object), got {describe(value)}"
    )


def source_length(source: object) -> int | None:
    """The length a source declares in advance, or ``None`` when unknown."""
    length = getattr(source, "content_length", None)
    return length if isinstance(length, int) and not isinstance(length, bool) else None


def is_reusable(source: object) -> bool:
    """Whether a source can be iterated more than once."""
    return bool(getattr(source, "reusable", False))


# --- stream_file -----------------------------------------------------------------


async def _read_file(path: pathlib.Path, chunk_size: int) -> AsyncIterator[bytes]:
    async with await anyio.open_file(path, "rb") as file:
        while chunk := await file.read(chunk_size):
            yield chunk


def stream_file(
    path: str | os.PathLike[str], *, chunk_size: int = DEFAULT_CHUNK_SIZE
) -> ResourceStream:
    """A reusable stream over a local file, read through anyio's worker threads.

    The file's size is read now (a missing file raises ``FileNotFoundError``
    here, not mid-request) and declared as ``content_length``; if the file
    changes size before it is sent, the pass raises
    [LengthMismatchError][httpx_streaming.LengthMismatchError] rather than send
    a body that contradicts its ``Content-Length``.
    """
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size <= 0:
        raise ValueError(f"chunk_size must be a positive int, got {describe(chunk_size)}")
    file_path = pathlib.Path(path)
    status = file_path.stat()
    if not file_path.is_file():
        raise IsADirectoryError(f"{str(file_path)!r} is not a regular file")
    resource = ResourceStream(_read_file, file_path, chunk_size)
    resource.content_length = status.st_size
    return resource


# --- stream_response -------------------------------------------------------------

# Keyword arguments of httpx.AsyncClient.stream, split by where they go.
_BUILD_KEYWORDS = frozenset(
    {"content", "data", "files", "json", "params", "headers", "cookies", "timeout", "extensions"}
)
_SEND_KEYWORDS = frozenset({"auth", "follow_redirects"})


class _ResponseBody:
    """One pass of ``stream_response``: sends the request, yields the body, closes.

    A class rather than an async generator so it can announce
    ``content_length`` as soon as the response headers are in, and so that it
    closes the response on every way out, including cancellation.
    """

    __slots__ = ("_chunks", "_opened", "_request", "_response", "content_length")

    def __init__(
        self,
        client: httpx.AsyncClient,
        method: str,
        url: httpx.URL,
        *,
        raw: bool,
        raise_for_status: bool,
        chunk_size: int | None,
        **request_kwargs: Any,
    ) -> None:
        self._request = (client, method, url, raw, raise_for_status, chunk_size, request_kwargs)
        self._opened = False
        self._response: httpx.Response | None = None
        self._chunks: AsyncIterator[bytes] | None = None
        self.content_length: int | None = None

    def __aiter__(self) -> _ResponseBody:
        return self

    async def __anext__(self) -> bytes:
        try:
            if not self._opened:
                self._opened = True
                await self._open()
            if self._chunks is None:  # closed
                raise StopAsyncIteration
            return await self._chunks.__anext__()
        except BaseException as exc:
            await self.aclose()
            if isinstance(exc, httpx.RequestError) and hasattr(exc, "add_note"):
                # httpx re-stamps `exc.request` with the upload's request when this
                # error crosses it; say which request really failed.
                _client, method, url, *_rest = self._request
                exc.add_note(f"raised while streaming the response of {method} {url}")
            raise

    async def _open(self) -> None:
        client, method, url, raw, raise_for_status, chunk_size, options = self._request
        build_options = {key: value for key, value in options.items() if key in _BUILD_KEYWORDS}
        send_options = {key: value for key, value in options.items() if key in _SEND_KEYWORDS}
        request = client.build_request(method, url, **build_options)
        response = await client.send(request, stream=True, **send_options)
        self._response = response
        if raise_for_status:
            response.raise_for_status()
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        if raw or encoding in ("", "identity"):
            self.content_length = _parse_content_length(response.headers)
        self._chunks = response.aiter_raw(chunk_size) if raw else response.aiter_bytes(chunk_size)

    async def aclose(self) -> None:
        self._opened = True
        chunks, self._chunks = self._chunks, None
        response, self._response = self._response, None
        # Shielded: a cancelled consumer must still release the connection.
        with anyio.CancelScope(shield=True):
            if response is not None:
                await response.aclose()
            if chunks is not None:
                await _finish_closed_body(chunks)


async def _finish_closed_body(chunks: AsyncIterator[bytes]) -> None:
    """Finish httpx's body iterator after its response was closed.

    httpx's body iterators are a chain of async generators; ``aclose`` on the
    outer one leaves the inner ones for the garbage collector (and trio warns
    about each). With the connection closed, one more pull raises through the
    whole chain and ends every generator in it now. The pull may first return
    data already buffered, hence the loop; it is bounded by that buffer.
    """
    with anyio.move_on_after(_CLOSE_TIMEOUT):
        try:
            while True:
                await chunks.__anext__()
        except Exception:
            pass
    await chunks.aclose()  # type: ignore[attr-defined]


_CLOSE_TIMEOUT = 5.0


def _parse_content_length(headers: Mapping[str, str]) -> int | None:
    value = headers.get("content-length")
    if value is None or not value.strip().isdigit():
        return None
    return int(value)


def stream_response(
    client: httpx.AsyncClient,
    method: str,
    url: httpx.URL | str,
    *,
    raw: bool = False,
    raise_for_status: bool = True,
    chunk_size: int | None = None,
    **request_kwargs: Any,
) -> ResourceStream:
    """A reusable stream of an HTTP response's body: chain a GET into a POST.

    Every pass sends the request with ``client`` (as ``client.stream`` would),
    raises ``httpx.HTTPStatusError`` for a non-2xx answer before yielding
    anything, yields the body — decoded, or as sent with ``raw=True`` — and
    always closes the response, also when the consumer stops early or is
    cancelled.

    When the response has a ``Content-Length`` and its body passes undecoded,
    the pass's ``content_length`` is set once the headers arrive.

    ```python
    body = stream_response(client, "GET", "https://example.org/big.iso")
    await client.post("https://example.org/upload", content=body)
    ```

    Args:
        client: The client that sends the request.
        method: The HTTP method, e.g. ``"GET"``.
        url: The URL to request.
        raw: Yield the body as sent (no ``Content-Encoding`` decoding).
        raise_for_status: Raise ``httpx.HTTPStatusError`` for non-2xx answers.
        chunk_size: Passed to ``aiter_bytes``/``aiter_raw``; ``None`` yields
            chunks as they arrive.
        **request_kwargs: Any other keyword of ``httpx.AsyncClient.stream``
            (``headers``, ``params``, ``timeout``, ``follow_redirects``, ...).
    """
    if not isinstance(client, httpx.AsyncClient):
        raise TypeError(f"stream_response needs an httpx.AsyncClient, got {describe(client)}")
    if not isinstance(method, str):
        raise TypeError(f"method must be a str, got {describe(method)}")
    unknown = set(request_kwargs) - _BUILD_KEYWORDS - _SEND_KEYWORDS
    if unknown:
        raise TypeError(f"stream_response got unexpected keyword arguments: {sorted(unknown)}")
    if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size <= 0):
        raise ValueError(f"chunk_size must be a positive int or None, got {describe(chunk_size)}")
    return ResourceStream(
        _ResponseBody,
        client,
        method.upper(),
        httpx.URL(url),
        raw=raw,
        raise_for_status=raise_for_status,
        chunk_size=chunk_size,
        **request_kwargs,
    )
