"""Not run: type-checked by tests/test_typing.py. What users write must pass mypy --strict."""

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import httpx2

from httpx_streaming import (
    FormData,
    ResourceStream,
    ResourceStreamFunction,
    SyncResourceStream,
    ZipStreamFile,
    create_zip_stream_resource,
    stream_file,
    stream_response,
    stream_zip,
)


@ResourceStreamFunction
async def rows(count: int) -> AsyncIterator[bytes]:
    yield b"%d" % count


@ResourceStreamFunction
def sync_rows(count: int) -> Iterator[bytes]:
    yield b"%d" % count


async def every_async_body(client: httpx.AsyncClient, other: httpx2.AsyncClient) -> None:
    form = FormData()
    form.add_field("a", Path("a.txt"))
    archive = create_zip_stream_resource([ZipStreamFile("a.txt", b"a")])
    chained: ResourceStream = stream_response(client, "GET", "https://example.org/")
    for body in (rows(3), form, archive, stream_file("a.txt"), chained):
        await client.post("https://example.org/", content=body)
        await other.post("https://example.org/", content=body)
    await client.post("https://example.org/", content=stream_zip([ZipStreamFile("b", b"b")]))
    async for chunk in archive:
        len(chunk)


def every_sync_body(client: httpx.Client, other: httpx2.Client) -> None:
    form = FormData()
    form.add_field("a", [b"a", b"b"])
    archive = create_zip_stream_resource([ZipStreamFile("a.txt", b"a")])
    chained: SyncResourceStream = stream_response(client, "GET", "https://example.org/")
    for body in (sync_rows(3), form.sync(), archive.sync(), stream_file("a.txt").sync(), chained):
        client.post("https://example.org/", content=body, headers=form.headers)
        other.post("https://example.org/", content=body)
