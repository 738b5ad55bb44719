"""``stream_response``: another HTTP response's body as a reusable byte source."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import anyio
import httpx

from ._errors import add_note
from ._passes import close_pass
from ._resource import ResourceStream
from ._validation import check_int, describe

# Keyword arguments of httpx.AsyncClient.stream, split by where they go.
_BUILD_KEYWORDS = frozenset(
    {"content", "data", "files", "json", "params", "headers", "cookies", "timeout", "extensions"}
)
_SEND_KEYWORDS = frozenset({"auth", "follow_redirects"})
_UPSTREAM_ATTRIBUTE = "_httpx_streaming_upstream"


def failed_upstream(error: BaseException) -> tuple[str, httpx.URL] | None:
    """The method and URL of the ``stream_response`` request that raised *error*, if any.

    httpx re-stamps ``error.request`` with the request the body was sent in;
    this is the request that really failed (also named in the error's note).
    """
    upstream = getattr(error, _UPSTREAM_ATTRIBUTE, None)
    return upstream if isinstance(upstream, tuple) else None


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
            await close_pass(self, exc)
            if isinstance(exc, httpx.RequestError):
                # httpx re-stamps `exc.request` with the upload's request when this
                # error crosses it; say which request really failed.
                _client, method, url, *_rest = self._request
                add_note(exc, f"raised while streaming the response of {method} {url}")
                setattr(exc, _UPSTREAM_ATTRIBUTE, (method, url))
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
    if chunk_size is not None:
        check_int(chunk_size, "chunk_size", minimum=1)
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
