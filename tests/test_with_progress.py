"""with_progress: reports every pass of every body kind, async and sync, without copies."""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from loopback import LoopbackServer, pattern_bytes

from httpx_streaming import (
    COMPRESSION_METHOD_DEFLATE,
    FormData,
    Progress,
    ProgressBody,
    ResourceStreamFunction,
    SourceConsumedError,
    ZipStreamFile,
    byte_range,
    create_zip_stream_resource,
    stream_response,
    with_progress,
)


class Recorded:
    def __init__(self) -> None:
        self.calls: list[Progress] = []

    def __call__(self, progress: Progress) -> None:
        self.calls.append(progress)

    def attempt(self, number: int) -> list[Progress]:
        return [call for call in self.calls if call.attempt == number]


def check_pass(calls: list[Progress], chunks: list[Any], total: int | None) -> None:
    """One call per chunk with the running count, then one at the end."""
    assert len(calls) == len(chunks) + 1
    running = 0
    for call, chunk in zip(calls, chunks, strict=False):
        running += len(chunk)
        assert call.sent == running and call.total == total
    assert calls[-1].sent == running and calls[-1].part is None
    if total is not None:
        assert running == total


async def test_a_form_reports_its_fields_and_every_attempt(tmp_path: Path) -> None:
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(pattern_bytes(3 * 1024 * 1024, seed=1))
    form = FormData()
    form.add_field("title", "holiday")
    form.add_field("photo", photo)
    form.add_field("notes", b"n" * 100_000)
    recorded = Recorded()
    body = with_progress(form, recorded)
    assert body.headers == form.headers and body.content_length == form.content_length
    assert body.reusable
    for attempt in (1, 2):
        chunks = [chunk async for chunk in body]
        calls = recorded.attempt(attempt)
        check_pass(calls, chunks, form.content_length)
        parts = [call.part for call in calls[:-1]]
        # Every field is named while it is sent, in order (the title rides in the
        # photo's framing chunk, coalesced).
        assert [
            name for index, name in enumerate(parts) if index == 0 or parts[index - 1] != name
        ] == [
            "photo",
            "notes",
        ]
    assert body.attempts == 2


async def test_a_zip_reports_its_members(tmp_path: Path) -> None:
    first = pattern_bytes(2 * 1024 * 1024, seed=2)
    path = tmp_path / "b.bin"
    path.write_bytes(pattern_bytes(1024 * 1024, seed=3))
    archive = create_zip_stream_resource(
        [
            ZipStreamFile("a.bin", first, crc32=zlib.crc32(first)),
            ZipStreamFile("b.bin", path, compression_method=COMPRESSION_METHOD_DEFLATE),
        ]
    )
    recorded = Recorded()
    body = with_progress(archive, recorded)
    chunks = [chunk async for chunk in body]
    check_pass(recorded.calls, chunks, None)
    parts = [call.part for call in recorded.calls[:-1]]
    # Each member while it is sent, in order; the central directory is no member's.
    assert parts[0] == "a.bin" and parts.index("b.bin") > 0 and parts[-1] is None
    assert set(parts[:-1]) == {"a.bin", "b.bin"}


async def test_chunks_pass_through_uncopied() -> None:
    block = bytearray(b"x" * 65536)

    @ResourceStreamFunction
    async def same() -> AsyncIterator[bytearray]:
        yield block
        yield block

    recorded = Recorded()
    async for chunk in with_progress(same(), recorded):
        assert chunk is block
    assert [call.sent for call in recorded.calls] == [65536, 131072, 131072]
    assert {call.part for call in recorded.calls} == {None}


async def test_a_response_reports_its_total_once_known(server: LoopbackServer) -> None:
    recorded = Recorded()
    async with httpx.AsyncClient() as client:
        body = with_progress(
            stream_response(client, "GET", f"{server.url}/bytes?size=300000"), recorded
        )
        assert body.content_length is None
        chunks = [chunk async for chunk in body]
    assert recorded.calls[-1] == Progress(300_000, 300_000, 1, None)
    assert all(call.total == 300_000 for call in recorded.calls)
    assert len(recorded.calls) == len(chunks) + 1


async def test_retries_restart_the_count_and_send_everything(
    server: LoopbackServer, tmp_path: Path
) -> None:
    path = tmp_path / "a.bin"
    path.write_bytes(pattern_bytes(500_000, seed=4))
    form = FormData.from_fields({"a": path, "b": "text"})
    recorded = Recorded()
    body = with_progress(form, recorded)
    async with httpx.AsyncClient() as client:
        for _attempt in range(3):
            response = await client.post(
                f"{server.url}/flaky/progress?failures=2", content=body, headers=body.headers
            )
            if response.status_code < 500:
                break
    assert response.status_code == 200
    received = server.recorder.on("/flaky/progress")
    assert [item.size for item in received] == [form.content_length] * 3
    for attempt in (1, 2, 3):
        calls = recorded.attempt(attempt)
        assert calls[0].sent < calls[-1].sent == form.content_length


def test_synchronous_clients(server: LoopbackServer, tmp_path: Path) -> None:
    path = tmp_path / "a.bin"
    path.write_bytes(pattern_bytes(700_000, seed=5))
    archive = create_zip_stream_resource([ZipStreamFile("a.bin", path), ZipStreamFile("b", b"bee")])
    recorded = Recorded()
    body = with_progress(archive, recorded)
    face = body.sync()
    assert face.headers == archive.headers
    with httpx.Client() as client:
        response = client.post(f"{server.url}/upload/sync", content=face, headers=face.headers)
    assert response.status_code == 200
    (received,) = server.recorder.on("/upload/sync")
    assert recorded.calls[-1].sent == received.size and recorded.calls[-1].attempt == 1
    parts = [call.part for call in recorded.calls[:-1]]
    # "b" is three bytes, sent in the chunk that holds the central directory (no member's).
    assert parts[0] == "a.bin" and parts[-1] is None


async def test_a_range_of_a_progress_body_reports_its_place_in_the_body(tmp_path: Path) -> None:
    path = tmp_path / "a.bin"
    path.write_bytes(pattern_bytes(3_000_000, seed=6))
    recorded = Recorded()
    body = with_progress(path, recorded)
    part = byte_range(body, 2_000_000, 2_500_000)
    assert (
        b"".join([bytes(chunk) async for chunk in part]) == path.read_bytes()[2_000_000:2_500_000]
    )
    # Counted from the range's place in the body; the file was seeked, not read from 0.
    assert recorded.calls[0].sent > 2_000_000
    assert recorded.calls[-1] == Progress(2_500_000, 3_000_000, 1, None)
    assert full_sync_range(body, 2_900_000) == path.read_bytes()[2_900_000:]
    assert recorded.calls[-1] == Progress(3_000_000, 3_000_000, 1, None)


def full_sync_range(body: Any, start: int) -> bytes:
    return b"".join(bytes(chunk) for chunk in byte_range(body, start).sync())


async def test_a_callback_error_closes_the_source(server: LoopbackServer) -> None:
    def refuse(progress: Progress) -> None:
        raise RuntimeError("no more")

    async with httpx.AsyncClient() as client:
        source = stream_response(client, "GET", f"{server.url}/bytes?size=300000")
        iterator = with_progress(source, refuse).__aiter__()
        with pytest.raises(RuntimeError, match="no more"):
            await iterator.__anext__()
        # The response was closed at once: the connection went back to the pool.
        pool = client._transport._pool  # type: ignore[attr-defined]
        assert all(
            not connection.is_closed() and connection.is_idle() for connection in pool.connections
        )


async def test_a_range_of_a_body_reports_too() -> None:
    recorded = Recorded()
    body = with_progress(byte_range(pattern_bytes(3_000_000), 1000, 2_500_000), recorded)
    assert body.content_length == 2_499_000
    data = b"".join([bytes(chunk) async for chunk in body])
    assert data == pattern_bytes(3_000_000)[1000:2_500_000]
    assert recorded.calls[-1] == Progress(2_499_000, 2_499_000, 1, None)


async def test_one_shot_bodies_and_errors() -> None:
    async def once() -> AsyncIterator[bytes]:
        yield b"abc"

    recorded = Recorded()
    body = with_progress(once(), recorded)
    assert not body.reusable
    assert [bytes(chunk) async for chunk in body] == [b"abc"]
    assert body.consumed
    with pytest.raises(SourceConsumedError):
        async for _chunk in body:
            pass
    with pytest.raises(TypeError, match=r"callback must be callable, got 42 \(type int\)"):
        with_progress(b"x", 42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="expected a byte source"):
        with_progress("text", recorded)
    with pytest.raises(TypeError, match="has no public constructor"):
        ProgressBody(b"", b"", recorded)  # type: ignore[arg-type]


async def test_a_failing_callback_aborts_the_pass_and_closes_the_source() -> None:
    closed: list[bool] = []

    @ResourceStreamFunction
    async def chunks() -> AsyncIterator[bytes]:
        try:
            for _index in range(10):
                yield b"x" * 1000
        finally:
            closed.append(True)

    def refuse(progress: Progress) -> None:
        if progress.sent > 2000:
            raise RuntimeError("stop here")

    iterator = with_progress(chunks(), refuse).__aiter__()
    with pytest.raises(RuntimeError, match="stop here"):
        async for _chunk in iterator:
            pass
    await iterator.aclose()  # type: ignore[attr-defined]
    assert closed == [True]


def test_sync_faces_of_async_only_bodies_are_refused() -> None:
    async def once() -> AsyncIterator[bytes]:
        yield b"abc"

    generator = once()
    with pytest.raises(TypeError, match="can only be read by async code"):
        with_progress(generator, Recorded()).sync()

    def rows() -> Iterator[bytes]:
        yield b"1\n"

    recorded = Recorded()
    assert b"".join(with_progress(rows(), recorded).sync()) == b"1\n"
    assert recorded.calls == [Progress(2, None, 1, None), Progress(2, None, 1, None)]
