"""``stream_response``: another HTTP response's body as a reusable byte source."""

from __future__ import annotations

import enum
import functools
import sys
import types
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar, final, overload

import anyio
import httpx

from ._errors import SourceChangedError, add_note
from ._passes import close_pass, close_sync_pass
from ._ranges import (
    Window,
    check_content_range,
    parse_content_range,
    range_header,
    short_body_error,
)
from ._resource import ResourceStream, SyncResourceStream
from ._validation import check_int, describe

if TYPE_CHECKING:
    import httpx2

    URLTypes = str | httpx.URL | httpx2.URL

# Keyword arguments of httpx.AsyncClient.stream, split by where they go.
_BUILD_KEYWORDS = frozenset(
    {"content", "data", "files", "json", "params", "headers", "cookies", "timeout", "extensions"}
)
_SEND_KEYWORDS = frozenset({"auth", "follow_redirects"})
_UPSTREAM_ATTRIBUTE = "_httpx_streaming_upstream"


def failed_upstream(error: BaseException) -> tuple[str, URLTypes] | None:
    """The method and URL of the ``stream_response`` request that raised *error*, if any.

    httpx re-stamps ``error.request`` with the request the body was sent in;
    this is the request that really failed (also named in the error's note).
    """
    upstream = getattr(error, _UPSTREAM_ATTRIBUTE, None)
    return upstream if isinstance(upstream, tuple) else None


@final
class _Upstream:
    """The request a ``stream_response`` resource sends on every pass, and what its
    answer means; shared by the async and the sync pass."""

    __slots__ = (
        "_build",
        "_raise_for_status",
        "_send",
        "chunk_size",
        "client",
        "method",
        "package",
        "raw",
        "url",
        "validator",
    )

    def __init__(
        self,
        client: Any,
        package: types.ModuleType,
        method: str,
        url: Any,
        *,
        raw: bool,
        raise_for_status: bool,
        chunk_size: int | None,
        options: dict[str, Any],
    ) -> None:
        self.client = client
        self.package = package  # httpx or httpx2: the client's errors are its package's
        self.method = method
        self.url = url
        self.raw = raw
        self.chunk_size = chunk_size
        self._build = {key: value for key, value in options.items() if key in _BUILD_KEYWORDS}
        self._send = {key: value for key, value in options.items() if key in _SEND_KEYWORDS}
        self._send["stream"] = True
        self._raise_for_status = raise_for_status
        # The last full pass's strong ETag, else its Last-Modified: what ranged requests
        # send as If-Range, and check their answer against, so that two versions of a
        # resource are never spliced.
        self.validator: str | None = None

    def send(self, start: int = 0, stop: int | None = None) -> Any:
        """Send the request, streaming: the response (a coroutine of it for an async client).

        From byte *start* on (to *stop*), when given: with ``Range``, and ``If-Range``
        once a validator is known.
        """
        request = self.client.build_request(self.method, self.url, **self._build)
        if start or stop is not None:
            request.headers["Range"] = range_header(start, stop)
            if self.validator is not None:
                request.headers["If-Range"] = self.validator
        return self.client.send(request, **self._send)

    def remember_validator(self, response: Any) -> None:
        """Keep the validator of a full pass's answer: the version later ranges ask for."""
        self.validator = _validator(response.headers)

    def check_validator(self, response: Any, answer: RangeAnswer) -> None:
        """Refuse a whole body sent for a ranged request when it is not the version an
        earlier pass saw (its validator of the same kind differs, or it has none): it
        would be cut and spliced to that version. (A ``206`` to ``If-Range`` is the
        server saying that the version is the same.)"""
        known = self.validator
        if known is None:
            self.validator = _validator(response.headers)
            return
        if answer is not RangeAnswer.WHOLE:
            return
        weak_or_date = not known.startswith('"')
        found = response.headers.get("last-modified" if weak_or_date else "etag")
        if found != known:
            raise SourceChangedError(
                f"{self.method} {self.url} changed since an earlier pass (validator "
                f"{known!r}, now {found!r}): a range of it would splice two versions"
            )

    def range_answer(self, response: Any, start: int, stop: int | None) -> RangeAnswer:
        """What the answer to ``send(start, stop)`` holds: the range, all of the body
        (to read from its start), or nothing at all (a range at the very end)."""
        status = response.status_code
        if status == 416:
            header = response.headers.get("content-range")
            total = None if header is None else parse_content_range(header).total
            if total == start and stop is None:
                return RangeAnswer.NOTHING
            described = f"{self.method} {self.url}"
            if total is not None:
                raise short_body_error(start, stop, total, described)
            raise ValueError(f"{described} answered 416: the byte range starts past its end")
        if status != 206:
            self.content_length(response)  # raises for a failure, if asked to
            return RangeAnswer.WHOLE
        check_content_range(response.headers.get("content-range"), start, stop)
        if not self.raw and _encoded(response.headers):
            # A range of encoded bytes cannot be decoded alone.
            return RangeAnswer.ENCODED
        return RangeAnswer.RANGE

    def content_length(self, response: Any) -> int | None:
        """The body's length from the response's headers, when it passes undecoded;
        raises the client's ``HTTPStatusError`` first when asked to."""
        if self._raise_for_status:
            response.raise_for_status()
        if self.raw or not _encoded(response.headers):
            return _parse_content_length(response.headers)
        return None

    def name_failure(self, error: BaseException) -> None:
        """Say in *error* which request really failed: httpx re-stamps
        ``error.request`` with the upload's request when the error crosses it."""
        if isinstance(error, self.package.RequestError):
            add_note(error, f"raised while streaming the response of {self.method} {self.url}")
            setattr(error, _UPSTREAM_ATTRIBUTE, (self.method, self.url))

    def __repr__(self) -> str:
        return f"<{self.method} {self.url} with {self.client!r}>"


class RangeAnswer(enum.Enum):
    """How a server answered a ranged request."""

    RANGE = "the range asked for"
    WHOLE = "the whole body"
    ENCODED = "a range of encoded bytes"
    NOTHING = "nothing: the range starts at the end"


def _encoded(headers: Mapping[str, str]) -> bool:
    return headers.get("content-encoding", "identity").strip().lower() not in ("", "identity")


def _validator(headers: Mapping[str, str]) -> str | None:
    # If-Range takes a strong ETag or a date (RFC 9110 13.1.5), never a weak ETag.
    etag = headers.get("etag")
    if etag is not None and not etag.startswith("W/"):
        return etag
    return headers.get("last-modified")


class _ResponseBody:
    """One async pass of ``stream_response``: sends the request, yields the body, closes.

    A class rather than an async generator so it can announce
    ``content_length`` as soon as the response headers are in, and so that it
    closes the response on every way out, including cancellation.
    """

    __slots__ = ("_chunks", "_opened", "_range", "_response", "_upstream", "content_length")

    def __init__(self, upstream: _Upstream, start: int = 0, stop: int | None = None) -> None:
        self._upstream = upstream
        self._range = (start, stop)  # the bytes this pass yields; (0, None): all of them
        self._opened = False
        self._response: Any = None
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
            await close_pass(self, exc)
            self._upstream.name_failure(exc)
            raise

    async def _open(self) -> None:
        upstream = self._upstream
        start, stop = self._range
        response = self._response = await upstream.send(start, stop)
        if start == 0 and stop is None:
            self.content_length = upstream.content_length(response)
            upstream.remember_validator(response)
            self._chunks = self._body_chunks(response)
            return
        answer = upstream.range_answer(response, start, stop)
        if answer is RangeAnswer.ENCODED:
            await response.aclose()
            response = self._response = await upstream.send()
            upstream.content_length(response)
            answer = RangeAnswer.WHOLE
        upstream.check_validator(response, answer)
        if answer is RangeAnswer.NOTHING:
            self._chunks = _nothing()
        elif answer is RangeAnswer.RANGE:
            self._chunks = self._body_chunks(response)
        else:  # the server ignored the range: read up to it
            self._chunks = _from_byte(self._body_chunks(response), start)

    def _body_chunks(self, response: Any) -> AsyncIterator[bytes]:
        size = self._upstream.chunk_size
        chunks: AsyncIterator[bytes]
        chunks = response.aiter_raw(size) if self._upstream.raw else response.aiter_bytes(size)
        return chunks

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


class _SyncResponseBody:
    """One pass of ``stream_response`` on a synchronous client; closes on every way out."""

    __slots__ = ("_chunks", "_opened", "_range", "_response", "_upstream", "content_length")

    def __init__(self, upstream: _Upstream, start: int = 0, stop: int | None = None) -> None:
        self._upstream = upstream
        self._range = (start, stop)
        self._opened = False
        self._response: Any = None
        self._chunks: Iterator[bytes] | None = None
        self.content_length: int | None = None

    def __iter__(self) -> _SyncResponseBody:
        return self

    def __next__(self) -> bytes:
        try:
            if not self._opened:
                self._opened = True
                self._open()
            if self._chunks is None:  # closed
                raise StopIteration
            return next(self._chunks)
        except BaseException as exc:
            close_sync_pass(self, exc)
            self._upstream.name_failure(exc)
            raise

    def _open(self) -> None:
        upstream = self._upstream
        start, stop = self._range
        response = self._response = upstream.send(start, stop)
        if start == 0 and stop is None:
            self.content_length = upstream.content_length(response)
            upstream.remember_validator(response)
            self._chunks = self._body_chunks(response)
            return
        answer = upstream.range_answer(response, start, stop)
        if answer is RangeAnswer.ENCODED:
            response.close()
            response = self._response = upstream.send()
            upstream.content_length(response)
            answer = RangeAnswer.WHOLE
        upstream.check_validator(response, answer)
        if answer is RangeAnswer.NOTHING:
            self._chunks = iter(())
        elif answer is RangeAnswer.RANGE:
            self._chunks = self._body_chunks(response)
        else:
            self._chunks = _from_byte_sync(self._body_chunks(response), start)

    def _body_chunks(self, response: Any) -> Iterator[bytes]:
        size = self._upstream.chunk_size
        chunks: Iterator[bytes]
        chunks = response.iter_raw(size) if self._upstream.raw else response.iter_bytes(size)
        return chunks

    def close(self) -> None:
        self._opened = True
        chunks, self._chunks = self._chunks, None
        response, self._response = self._response, None
        if response is not None:
            response.close()
        if chunks is not None:
            chunks.close()  # type: ignore[attr-defined]


async def _nothing() -> AsyncIterator[bytes]:
    return
    yield  # an async generator that yields nothing


async def _from_byte(chunks: AsyncIterator[bytes], start: int) -> AsyncIterator[bytes]:
    """*chunks* from byte *start* on: what a server that ignored a Range sent before it
    is read and dropped."""
    window = Window(start, None)
    try:
        async for chunk in chunks:
            piece = window.cut(chunk)
            if piece is not None:
                yield bytes(piece)
    finally:
        await chunks.aclose()  # type: ignore[attr-defined]


def _from_byte_sync(chunks: Iterator[bytes], start: int) -> Iterator[bytes]:
    """``_from_byte`` without an event loop."""
    window = Window(start, None)
    try:
        for chunk in chunks:
            piece = window.cut(chunk)
            if piece is not None:
                yield bytes(piece)
    finally:
        chunks.close()  # type: ignore[attr-defined]


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


_CLIENT_PACKAGES = ("httpx", "httpx2")


def _client_package(client: object, user: str = "stream_response") -> tuple[types.ModuleType, bool]:
    """The package of *client* (httpx or httpx2), and whether the client is async;
    TypeError, naming the function *user*, for anything else."""
    for name in _CLIENT_PACKAGES:
        # A client of a package was made with that package, so it is imported.
        package = sys.modules.get(name)
        if package is None:
            continue
        if isinstance(client, package.AsyncClient):
            return package, True
        if isinstance(client, package.Client):
            return package, False
    raise TypeError(
        f"{user} needs an httpx or httpx2 client (AsyncClient or Client), got {describe(client)}"
    )


# httpx's clients first: where httpx2 is not installed its names are Any, and an
# overload taking them would match every client.
@overload
def stream_response(
    client: httpx.AsyncClient,
    method: str,
    url: URLTypes,
    *,
    raw: bool = False,
    raise_for_status: bool = True,
    chunk_size: int | None = None,
    **request_kwargs: Any,
) -> ResourceStream: ...


@overload
def stream_response(
    client: httpx.Client,
    method: str,
    url: URLTypes,
    *,
    raw: bool = False,
    raise_for_status: bool = True,
    chunk_size: int | None = None,
    **request_kwargs: Any,
) -> SyncResourceStream: ...


@overload
def stream_response(
    client: httpx2.AsyncClient,
    method: str,
    url: URLTypes,
    *,
    raw: bool = False,
    raise_for_status: bool = True,
    chunk_size: int | None = None,
    **request_kwargs: Any,
) -> ResourceStream: ...


@overload
def stream_response(
    client: httpx2.Client,
    method: str,
    url: URLTypes,
    *,
    raw: bool = False,
    raise_for_status: bool = True,
    chunk_size: int | None = None,
    **request_kwargs: Any,
) -> SyncResourceStream: ...


def stream_response(
    client: httpx.AsyncClient | httpx.Client | httpx2.AsyncClient | httpx2.Client,
    method: str,
    url: URLTypes,
    *,
    raw: bool = False,
    raise_for_status: bool = True,
    chunk_size: int | None = None,
    **request_kwargs: Any,
) -> ResourceStream | SyncResourceStream:
    """A reusable stream of an HTTP response's body: chain a GET into a POST.

    Every pass sends the request with ``client`` (as ``client.stream`` would),
    raises ``HTTPStatusError`` for a non-2xx answer before yielding anything,
    yields the body — decoded, or as sent with ``raw=True`` — and always
    closes the response, also when the consumer stops early or is cancelled.

    *client* is an ``httpx`` or ``httpx2`` client. With an ``AsyncClient`` the
    result is a [ResourceStream][httpx_streaming.ResourceStream] (``async
    for``); with a synchronous ``Client``, a
    [SyncResourceStream][httpx_streaming.SyncResourceStream] (``for``), to send
    with a synchronous client. Errors are the client's own package's
    (``httpx2.HTTPStatusError`` for an httpx2 client).

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
        raise_for_status: Raise ``HTTPStatusError`` for non-2xx answers.
        chunk_size: Passed to ``aiter_bytes``/``aiter_raw`` (``iter_bytes``/``iter_raw``);
            ``None`` yields chunks as they arrive.
        **request_kwargs: Any other keyword of the client's ``stream``
            (``headers``, ``params``, ``timeout``, ``follow_redirects``, ...).
    """
    package, is_async = _client_package(client)
    if not isinstance(method, str):
        raise TypeError(f"method must be a str, got {describe(method)}")
    unknown = set(request_kwargs) - _BUILD_KEYWORDS - _SEND_KEYWORDS
    if unknown:
        raise TypeError(f"stream_response got unexpected keyword arguments: {sorted(unknown)}")
    if chunk_size is not None:
        check_int(chunk_size, "chunk_size", minimum=1)
    upstream = _Upstream(
        client,
        package,
        method.upper(),
        package.URL(url),
        raw=raw,
        raise_for_status=raise_for_status,
        chunk_size=chunk_size,
        options=request_kwargs,
    )
    if is_async:
        resource = ResourceStream(_ResponseBody, upstream)
        resource._range_from = functools.partial(_response_from, _ResponseBody, upstream)
        resource._sync_range_from = None  # an async client's response: async passes only
        return resource
    face = SyncResourceStream(_SyncResponseBody, upstream)
    face._sync_range_from = functools.partial(_response_from, _SyncResponseBody, upstream)
    return face


_Body = TypeVar("_Body", _ResponseBody, _SyncResponseBody)


def _response_from(
    kind: type[_Body], upstream: _Upstream, start: int, stop: int | None
) -> tuple[_Body, int]:
    """A pass over the body from byte *start* (to *stop*): asked of the server with
    ``Range`` (a range opener, see byte_range)."""
    return kind(upstream, start, stop), start
