"""The upload of both commands: a body POSTed whole on every attempt, then the answer printed."""

from __future__ import annotations

from collections.abc import AsyncIterable, Mapping
from typing import cast

import httpx

from .. import ByteSource
from .._upload_progress import with_progress
from ._failures import status_text
from ._options import Options
from ._retry import with_retries

# Response bodies up to this size are printed after the status line.
_SHORT_BODY = 2048


async def upload(
    client: httpx.AsyncClient,
    url: httpx.URL,
    body: ByteSource,
    headers: Mapping[str, str],
    options: Options,
) -> None:
    """POST *body* (a reusable form or archive) to *url*, with retries and progress.

    *headers* are the body's own (``Content-Type``, ``Content-Length``); the
    ``-H`` headers of *options* come after them and win. A 5xx answer is
    retried like a connection failure; any error answer that ends the command
    is an ``httpx.HTTPStatusError``, reported as ``POST <url> answered ...``.
    """
    bar = options.progress_bar(body.content_length, "upload")
    sent: ByteSource = with_progress(body, bar.show) if bar.enabled else body
    request_headers = {**headers, **options.headers}
    try:
        response = await with_retries(
            lambda: _post(client, url, sent, request_headers), options.retry, bar
        )
    finally:
        bar.close()
    _print_answer(response)


async def _post(
    client: httpx.AsyncClient, url: httpx.URL, body: ByteSource, headers: dict[str, str]
) -> httpx.Response:
    """One attempt: the whole body; an error status raises as a source's error status does."""
    request = client.build_request("POST", url, content=_content(body), headers=headers)
    response = await client.send(request)
    if response.is_error:
        raise httpx.HTTPStatusError(
            f"POST {url} answered {status_text(response)}", request=request, response=response
        )
    return response


def _content(body: ByteSource) -> AsyncIterable[bytes]:
    # httpx's annotations ask for bytes chunks; it sends any bytes-like chunk as
    # it is, and the library's bodies yield bytearray and memoryview chunks too.
    return cast("AsyncIterable[bytes]", body)


def _print_answer(response: httpx.Response) -> None:
    """The status line, then the body when it is short, printable text."""
    print(status_text(response))
    body = response.content
    if body and len(body) <= _SHORT_BODY:
        try:
            text = body.decode(response.encoding or "utf-8")
        except (UnicodeDecodeError, LookupError):
            return
        if all(char.isprintable() or char in "\r\n\t" for char in text):
            print(text.rstrip("\r\n"))
