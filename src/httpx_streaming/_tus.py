"""tus 1.0 resumable uploads: the async and the synchronous driver of ``_tus_protocol``.

Each driver asks the protocol object for a request, sends it (a ``PATCH``
carries a ``byte_range`` of the body), and gives the answer back; the
protocol decides everything else. Every response is closed and every pass
over the body ended on every way out, cancellation included.
"""

from __future__ import annotations

import functools
import time
import types
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, final
from urllib.parse import urljoin

import anyio

from ._byte_range import ByteRange, byte_range
from ._errors import add_note
from ._passes import close_pass, close_sync_pass
from ._response import _client_package
from ._sources import as_byte_source
from ._tus_protocol import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_MAX_RETRIES,
    DEFAULT_RETRY_DELAY,
    TusError,
    TusRequest,
    TusUpload,
    Verdict,
    new_digest,
)
from ._types import BytesLike, ByteSource
from ._validation import describe

if TYPE_CHECKING:
    import httpx
    import httpx2

    URLTypes = str | httpx.URL | httpx2.URL


def _prepare(
    client: object,
    url: object,
    body: object,
    *,
    is_async: bool,
    metadata: object,
    chunk_size: object,
    upload_url: object,
    checksum: object,
    max_retries: object,
    retry_delay: object,
) -> tuple[types.ModuleType, ByteSource, TusUpload]:
    """Check every argument (before any request) and make the upload's protocol object."""
    user = "tus_upload" if is_async else "tus_upload_sync"
    package, client_is_async = _client_package(client, user)
    if client_is_async != is_async:
        other = "tus_upload" if client_is_async else "tus_upload_sync"
        raise TypeError(
            f"{user} needs an {'Async' if is_async else ''}Client, got "
            f"{describe(client)}: use {other}"
        )
    create_url = _absolute_url(client, package, url, "url")
    resume_url = None
    if upload_url is not None:
        resume_url = urljoin(create_url, _url_text(package, upload_url, "upload_url"))
    try:
        source = as_byte_source(body)
    except TypeError as error:
        raise TypeError(f"{user} needs a reusable body: {error}") from None
    if not source.reusable:
        raise TypeError(
            f"{user} needs a reusable body, got the one-shot {describe(body)}: an upload "
            "resumed after an interruption reads the body again from where the server stopped"
        )
    if not is_async:
        byte_range(source, 0).sync()  # refuses now a body that only async code can read
    tus = TusUpload(
        create_url,
        length=source.content_length,
        metadata=metadata,  # type: ignore[arg-type]  # checked by TusUpload
        chunk_size=chunk_size,  # type: ignore[arg-type]
        upload_url=resume_url,
        checksum=checksum,  # type: ignore[arg-type]
        max_retries=max_retries,  # type: ignore[arg-type]
        retry_delay=retry_delay,  # type: ignore[arg-type]
    )
    return package, source, tus


def _url_text(package: types.ModuleType, url: object, what: str) -> str:
    if isinstance(url, package.URL):
        url = str(url)
    if not isinstance(url, str):
        raise TypeError(f"{what} must be a str or a {package.__name__}.URL, got {describe(url)}")
    if not url.strip():
        raise ValueError(f"{what} must not be empty, got {describe(url)}")
    return url


def _absolute_url(client: Any, package: types.ModuleType, url: object, what: str) -> str:
    """*url* joined to the client's ``base_url``; ValueError unless that makes it absolute."""
    text = _url_text(package, url, what)
    merged = client.build_request("OPTIONS", text).url
    if not merged.is_absolute_url:
        raise ValueError(f"{what} must be absolute (or the client have a base_url), got {text!r}")
    return str(merged)


@final
class _PassCount:
    """What one pass of a part yielded so far, cut at the part's *limit* (``None``: the
    range ends it); made fresh for every pass, so that a retry counts from 0."""

    __slots__ = ("_limit", "count")

    def __init__(self, limit: int | None) -> None:
        self._limit = limit
        self.count = 0

    def cut(self, chunk: BytesLike) -> BytesLike:
        """*chunk*, or its part within the limit; counted."""
        limit = self._limit
        if limit is not None and self.count + len(chunk) > limit:
            chunk = memoryview(chunk)[: limit - self.count]
        self.count += len(chunk)
        return chunk

    def full(self) -> bool:
        return self._limit is not None and self.count >= self._limit


@final
class _Part:
    """The bytes one ``PATCH`` carries, as ``content=``: the range ``start..stop`` of the
    body, or, when the body's length is unknown (``stop`` is ``None``), up to *limit*
    bytes from ``start``, telling *on_end* where the body ended if it ends first."""

    def __init__(
        self,
        source: ByteSource,
        request: TusRequest,
        limit: int,
        on_end: Callable[[int], None],
    ) -> None:
        self._range: ByteRange = byte_range(source, request.start, request.stop)
        self._start = request.start
        self._limit = limit if request.stop is None else None
        self._on_end = on_end
        self._passes: list[Any] = []
        self._latest: _PassCount | None = None

    @property
    def count(self) -> int:
        """The bytes the latest pass yielded (0 before any)."""
        return 0 if self._latest is None else self._latest.count

    def _begin(self) -> _PassCount:
        counted = self._latest = _PassCount(self._limit)
        return counted

    def _ended(self, counted: _PassCount) -> None:
        if self._limit is not None:
            self._on_end(self._start + counted.count)

    def async_pass(self) -> AsyncIterator[BytesLike]:
        """A new pass, for async code."""
        chunks = self._range.__aiter__()
        self._passes.append(chunks)
        generator = self._async_pass(chunks)
        self._passes.append(generator)  # closed before the pass it reads
        return generator

    async def _async_pass(self, chunks: AsyncIterator[BytesLike]) -> AsyncIterator[BytesLike]:
        counted = self._begin()
        while not counted.full():
            try:
                chunk = await chunks.__anext__()
            except StopAsyncIteration:
                self._ended(counted)
                return
            yield counted.cut(chunk)

    def sync_pass(self) -> Iterator[BytesLike]:
        """A new pass, without an event loop."""
        chunks = iter(self._range.sync())
        self._passes.append(chunks)
        generator = self._sync_pass(chunks)
        self._passes.append(generator)
        return generator

    def _sync_pass(self, chunks: Iterator[BytesLike]) -> Iterator[BytesLike]:
        counted = self._begin()
        while not counted.full():
            try:
                chunk = next(chunks)
            except StopIteration:
                self._ended(counted)
                return
            yield counted.cut(chunk)

    async def aclose(self, error: BaseException | None = None) -> None:
        """End every pass begun (the body's files and responses close now)."""
        for chunks in reversed(self._passes):
            await close_pass(chunks, error)

    def close(self, error: BaseException | None = None) -> None:
        for chunks in reversed(self._passes):
            close_sync_pass(chunks, error)


@final
class _AsyncContent:
    """A part as an async client's ``content=``: what ``build_request`` derives the
    headers from (``Content-Length``, else chunked). Async only, so that httpx does
    not take it for a synchronous body."""

    __slots__ = ("part",)

    def __init__(self, part: _Part) -> None:
        self.part = part

    def __aiter__(self) -> AsyncIterator[BytesLike]:
        return self.part.async_pass()


@final
class _SyncContent:
    """A part as a synchronous client's ``content=``."""

    __slots__ = ("part",)

    def __init__(self, part: _Part) -> None:
        self.part = part

    def __iter__(self) -> Iterator[BytesLike]:
        return self.part.sync_pass()


@functools.cache
def _stream_class(package: types.ModuleType, is_async: bool) -> type[Any]:
    """The request stream a part is sent as: the package's own byte stream class, whose
    passes are the part's (which the driver closes), not httpx's wrapper's (an async
    generator that a failed write would leave to the garbage collector)."""
    if is_async:
        return type(
            "PartStream",
            (package.AsyncByteStream,),
            {
                "__init__": lambda self, part: setattr(self, "part", part),
                "__aiter__": lambda self: self.part.async_pass(),
                "__module__": __name__,
            },
        )
    return type(
        "SyncPartStream",
        (package.SyncByteStream,),
        {
            "__init__": lambda self, part: setattr(self, "part", part),
            "__iter__": lambda self: self.part.sync_pass(),
            "__module__": __name__,
        },
    )


def _build(client: Any, package: types.ModuleType, request: TusRequest, part: _Part | None) -> Any:
    """The client's request for *request* (its base URL, headers, auth... applied)."""
    if part is None:
        return client.build_request(request.method, request.url, headers=request.headers)
    is_async = isinstance(client, package.AsyncClient)
    content = _AsyncContent(part) if is_async else _SyncContent(part)
    built = client.build_request(
        request.method, request.url, headers=request.headers, content=content
    )
    built.stream = _stream_class(package, is_async)(part)
    return built


def _checksum_request(tus: TusUpload, request: TusRequest, digest: Any, part: _Part) -> TusRequest:
    return tus.with_checksum(request, digest.digest(), part.count)


async def _sign(tus: TusUpload, source: ByteSource, request: TusRequest) -> TusRequest:
    """*request* with its ``Upload-Checksum``: its bytes are read once to hash them."""
    assert request.checksum is not None
    part = _Part(source, request, tus.chunk_size, tus.body_ended)
    digest = new_digest(request.checksum)
    try:
        async for chunk in part.async_pass():
            digest.update(chunk)
    except BaseException as error:
        await part.aclose(error)
        raise
    await part.aclose()
    return _checksum_request(tus, request, digest, part)


def _sign_sync(tus: TusUpload, source: ByteSource, request: TusRequest) -> TusRequest:
    assert request.checksum is not None
    part = _Part(source, request, tus.chunk_size, tus.body_ended)
    digest = new_digest(request.checksum)
    try:
        for chunk in part.sync_pass():
            digest.update(chunk)
    except BaseException as error:
        part.close(error)
        raise
    part.close()
    return _checksum_request(tus, request, digest, part)


def _note_upload_url(tus: TusUpload, error: Exception) -> None:
    """Name the upload in *error* once it exists: a later call can resume it."""
    if tus.upload_url is not None:
        add_note(error, f"the upload is at {tus.upload_url}: pass upload_url= to resume it")


async def tus_upload(
    client: httpx.AsyncClient | httpx2.AsyncClient,
    url: URLTypes,
    body: object,
    *,
    metadata: Mapping[str, str | bytes] | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    upload_url: URLTypes | None = None,
    checksum: bool | str = True,
    max_retries: int = DEFAULT_MAX_RETRIES,
    retry_delay: float = DEFAULT_RETRY_DELAY,
) -> str:
    """Upload *body* to a tus 1.0 server, resuming after interruptions; return the upload's URL.

    The upload is created at *url* (the creation extension: ``POST`` with
    ``Upload-Length``, or ``Upload-Defer-Length: 1`` when the body's length is
    unknown), then sent in ``PATCH`` requests of at most *chunk_size* bytes,
    each a [byte_range][httpx_streaming.byte_range] of the body: a
    [FormData][httpx_streaming.FormData], a zip resource,
    [stream_file][httpx_streaming.stream_file], a
    [ResourceStream][httpx_streaming.ResourceStream], bytes, a ``Path``...

    After a dropped connection, a 5xx, a ``409 Conflict`` or a ``460 Checksum
    Mismatch``, it waits, asks the server for the upload's ``Upload-Offset``
    (``HEAD``) and goes on from there: each byte is sent about once, the bytes
    of the interrupted request at most twice. It gives up after *max_retries*
    failures in a row without progress, waiting *retry_delay* seconds after
    the first, then twice as long after each next one (at most 30 s).

    Given *upload_url*, the URL of an upload created earlier (perhaps by
    another process, with the same body), it resumes that upload instead of
    creating one; *url* still receives the ``OPTIONS`` request.

    ```python
    form = FormData()
    form.add_field("title", "Report")
    form.add_field("data", Path("big.csv"))
    location = await tus_upload(client, "https://example.org/files/", form)
    ```

    Chunk size: the bytes re-sent after an interruption are at most one chunk,
    and each chunk costs one request (one round trip). The default, 8 MiB,
    re-sends at most 8 MiB and takes 128 requests per GiB: at 100 Mbit/s a
    chunk takes about 0.7 s, so a 50 ms round trip costs about 7%. Raise it on
    fast, reliable links; lower it on flaky ones. Memory does not grow with
    it: chunks are streamed, never held.

    Checksums: when the server offers the checksum extension with an
    algorithm this client computes (``sha1``, ``sha256`` or ``md5``, in that
    order of preference), each ``PATCH`` carries ``Upload-Checksum``, and the
    server refuses a chunk damaged on its way (``460``, then sent again). The
    header precedes the body, so each chunk is read twice: once to hash it,
    once to send it (a file is read twice, a ``stream_response`` part asked
    for twice). Pass ``checksum=False`` to read once, or an algorithm name to
    require it.

    A body whose length is unknown (it has a part of unknown length): its
    upload is created with ``Upload-Defer-Length: 1``; a ``PATCH`` carries up
    to *chunk_size* bytes with chunked transfer encoding; once one ends short,
    the length is known and the server is told (``Upload-Length`` in one more,
    empty, ``PATCH``; with checksums, in that same ``PATCH``).

    Args:
        client: An ``httpx.AsyncClient`` or ``httpx2.AsyncClient`` (its base
            URL, headers, auth and timeouts apply to every request).
        url: The tus server's creation URL (the endpoint, e.g. ``.../files/``).
        body: A reusable body (a one-shot one could not be read again on resume).
        metadata: ``Upload-Metadata``: keys are non-empty ASCII without spaces
            or commas; values ``str`` (sent in UTF-8) or bytes.
        chunk_size: The most bytes one ``PATCH`` request carries.
        upload_url: An upload to resume instead of creating one (relative to *url*).
        checksum: ``True``: when the server offers it; ``False``: never; or an
            algorithm name the server must offer.
        max_retries: Failures in a row without progress before giving up.
        retry_delay: Seconds to wait after the first failure in a row.

    Returns:
        The upload's URL (absolute): give it as *upload_url* to resume it later.

    Raises:
        TypeError: An argument of the wrong type (a synchronous client, a
            one-shot body...), raised before any request.
        ValueError: An invalid argument (``chunk_size`` not positive, a
            metadata key with a space...), raised before any request.
        TusError: The server broke the protocol (an offset that goes
            backwards, or past the bytes sent), does not offer an extension
            the upload needs, or failed *max_retries* + 1 times in a row.
        httpx.HTTPStatusError: A 4xx answer (the client package's error).
        httpx.TransportError: The last of too many transport errors in a row.
    """
    package, source, tus = _prepare(
        client,
        url,
        body,
        is_async=True,
        metadata=metadata,
        chunk_size=chunk_size,
        upload_url=upload_url,
        checksum=checksum,
        max_retries=max_retries,
        retry_delay=retry_delay,
    )
    try:
        while (request := tus.next_request()) is not None:
            try:
                if request.checksum is not None:
                    request = await _sign(tus, source, request)
                verdict, response = await _send(client, package, tus, source, request)
            except package.TransportError as error:
                if not tus.failed(request, error):
                    raise
                verdict, response = Verdict.RETRY, None
            if verdict is Verdict.RETRY:
                await anyio.sleep(tus.retry_delay)
            elif verdict is Verdict.FAIL:
                response.raise_for_status()
                raise TusError(tus.failure)
    except Exception as error:
        _note_upload_url(tus, error)
        raise
    assert tus.upload_url is not None
    return tus.upload_url


async def _send(
    client: Any, package: types.ModuleType, tus: TusUpload, source: ByteSource, request: TusRequest
) -> tuple[Verdict, Any]:
    """Send *request* and read its answer; the response and the body's passes are
    closed on every way out."""
    part = _Part(source, request, tus.chunk_size, tus.body_ended) if request.has_body else None
    try:
        response = await client.send(_build(client, package, request, part), stream=True)
        try:
            verdict = tus.receive(
                request, response.status_code, response.headers, str(response.url)
            )
        finally:
            await response.aclose()
    except BaseException as error:
        if part is not None:
            await part.aclose(error)
        raise
    if part is not None:
        await part.aclose()
    return verdict, response


def tus_upload_sync(
    client: httpx.Client | httpx2.Client,
    url: URLTypes,
    body: object,
    *,
    metadata: Mapping[str, str | bytes] | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    upload_url: URLTypes | None = None,
    checksum: bool | str = True,
    max_retries: int = DEFAULT_MAX_RETRIES,
    retry_delay: float = DEFAULT_RETRY_DELAY,
) -> str:
    """[tus_upload][httpx_streaming.tus_upload] with a synchronous ``httpx.Client``
    or ``httpx2.Client``.

    The same protocol, arguments and errors; the body must have a
    synchronous face (a form or zip resource of files and bytes, a
    ``stream_file``, a synchronous ``stream_response``...). Waits between
    retries block the thread (``time.sleep``).

    Returns:
        The upload's URL (absolute).
    """
    package, source, tus = _prepare(
        client,
        url,
        body,
        is_async=False,
        metadata=metadata,
        chunk_size=chunk_size,
        upload_url=upload_url,
        checksum=checksum,
        max_retries=max_retries,
        retry_delay=retry_delay,
    )
    try:
        while (request := tus.next_request()) is not None:
            try:
                if request.checksum is not None:
                    request = _sign_sync(tus, source, request)
                verdict, response = _send_sync(client, package, tus, source, request)
            except package.TransportError as error:
                if not tus.failed(request, error):
                    raise
                verdict, response = Verdict.RETRY, None
            if verdict is Verdict.RETRY:
                time.sleep(tus.retry_delay)
            elif verdict is Verdict.FAIL:
                response.raise_for_status()
                raise TusError(tus.failure)
    except Exception as error:
        _note_upload_url(tus, error)
        raise
    assert tus.upload_url is not None
    return tus.upload_url


def _send_sync(
    client: Any, package: types.ModuleType, tus: TusUpload, source: ByteSource, request: TusRequest
) -> tuple[Verdict, Any]:
    part = _Part(source, request, tus.chunk_size, tus.body_ended) if request.has_body else None
    try:
        response = client.send(_build(client, package, request, part), stream=True)
        try:
            verdict = tus.receive(
                request, response.status_code, response.headers, str(response.url)
            )
        finally:
            response.close()
    except BaseException as error:
        if part is not None:
            part.close(error)
        raise
    if part is not None:
        part.close()
    return verdict, response
