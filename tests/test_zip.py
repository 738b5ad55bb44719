"""The async zip API: stream_zip, create_zip_stream_resource, ZipStreamFile (asyncio and trio)."""

from __future__ import annotations

import functools
import hashlib
import io
import os
import struct
import zipfile
import zlib
from collections.abc import AsyncIterator
from contextlib import aclosing
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from loopback import LoopbackServer, pattern_bytes

from httpx_streaming import (
    COMPRESSION_METHOD_DEFLATE,
    COMPRESSION_METHOD_NONE,
    LengthMismatchError,
    ResourceStreamFunction,
    SourceConsumedError,
    ZipStreamFile,
    ZipStreamResource,
    as_byte_source,
    create_zip_stream_resource,
    stream_response,
    stream_zip,
)

MOMENT = datetime(2024, 5, 17, 12, 0, 30, tzinfo=timezone.utc)


async def collect(stream: Any) -> bytes:
    return b"".join([bytes(chunk) async for chunk in stream])


def opened(archive: bytes) -> zipfile.ZipFile:
    archive_file = zipfile.ZipFile(io.BytesIO(archive))
    assert archive_file.testzip() is None
    return archive_file


@ResourceStreamFunction
async def generated(size: int, chunk: int = 10_000, seed: int = 0) -> AsyncIterator[bytes]:
    data = pattern_bytes(size, seed)
    for start in range(0, size, chunk):
        yield data[start : start + chunk]


async def one_shot(*chunks: bytes) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


class Tracked:
    """An async iterator that records whether it was closed."""

    def __init__(self, *chunks: bytes, fail: BaseException | None = None, block: bool = False):
        self.chunks = list(chunks)
        self.fail = fail
        self.block = block
        self.closed = False
        self.started = False

    def __aiter__(self) -> Tracked:
        return self

    async def __anext__(self) -> bytes:
        self.started = True
        if self.chunks:
            return self.chunks.pop(0)
        if self.block:
            await anyio.sleep_forever()
        if self.fail is not None:
            raise self.fail
        raise StopAsyncIteration

    async def aclose(self) -> None:
        self.closed = True


# --- ZipStreamFile validation --------------------------------------------------------


def test_zip_stream_file_rejects_bad_values_now(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="byte source"):
        ZipStreamFile("a", "text is not bytes")
    with pytest.raises(TypeError, match="byte source"):
        ZipStreamFile("a", 12)
    with pytest.raises(FileNotFoundError):
        ZipStreamFile("a", as_byte_source(tmp_path / "missing"))
    with pytest.raises(ValueError, match="bzip2"):
        ZipStreamFile("a", b"", compression_method=12)
    with pytest.raises(ValueError, match="lzma"):
        ZipStreamFile("a", b"", compression_method=14)
    with pytest.raises(ValueError, match="unknown compression method 3"):
        ZipStreamFile("a", b"", compression_method=3)
    with pytest.raises(TypeError, match="compression_method"):
        ZipStreamFile("a", b"", compression_method="deflate")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="compression_level"):
        ZipStreamFile("a", b"", compression_level=10)
    with pytest.raises(TypeError, match="modified_at"):
        ZipStreamFile("a", b"", modified_at="2024-01-01")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="mode"):
        ZipStreamFile("a", b"", mode=0o040755)
    with pytest.raises(ValueError, match="mode"):
        ZipStreamFile("a", b"", mode=-1)
    with pytest.raises(ValueError, match="declares 3"):
        ZipStreamFile("a", b"abc", size=4)
    with pytest.raises(ValueError, match="crc32"):
        ZipStreamFile("a", b"abc", crc32=2**32)
    with pytest.raises(ValueError, match="folder"):
        ZipStreamFile("d/", b"data")
    with pytest.raises(ValueError, match="folder"):
        ZipStreamFile("d/", one_shot(b"data"))


def test_zip_stream_file_defaults() -> None:
    before = datetime.now().astimezone().replace(microsecond=0)
    member = ZipStreamFile("a.txt", b"abc")
    # To the second: a zip holds no finer times.
    assert before <= member.modified_at <= datetime.now().astimezone()
    assert member.modified_at.microsecond == 0
    assert member.mode == 0o644
    assert member.size == 3
    assert member.compression_method == COMPRESSION_METHOD_NONE
    assert ZipStreamFile("d/").mode == 0o755
    assert ZipStreamFile("x", b"", mode=0o100600).mode == 0o600
    assert ZipStreamFile("x", one_shot(), size=0).size == 0


def test_same_instant_in_two_zones_keeps_each_wall_clock() -> None:
    utc = datetime(2024, 5, 17, 12, 0, tzinfo=timezone.utc)
    plus_two = utc.astimezone(timezone(timedelta(hours=2)))
    assert utc == plus_two
    first = ZipStreamFile("a", b"", modified_at=utc)._encoder_options("a", True)
    second = ZipStreamFile("b", b"", modified_at=plus_two)._encoder_options("b", True)
    assert first.entry.dos_time != second.entry.dos_time
    assert first.entry.extra == second.entry.extra  # the same Unix time


async def test_timestamps_are_written_and_clamped() -> None:
    files = [
        ZipStreamFile("now", b"1"),
        ZipStreamFile("fixed", b"2", modified_at=MOMENT),
        ZipStreamFile("epoch", b"3", modified_at=0),
        ZipStreamFile("future", b"4", modified_at=datetime(2200, 1, 1)),
    ]
    with opened(await collect(stream_zip(files))) as archive_file:
        _, fixed, epoch, future = archive_file.infolist()
        assert fixed.date_time == (2024, 5, 17, 12, 0, 30)
        assert epoch.date_time == (1980, 1, 1, 0, 0, 0)
        assert future.date_time == (2107, 12, 31, 23, 59, 58)
        # The exact time travels in the extended timestamp where it fits.
        assert b"UT\x05\x00\x01" + struct.pack("<I", int(MOMENT.timestamp())) in fixed.extra
        assert b"UT\x05\x00\x01" + struct.pack("<I", 0) in epoch.extra
        assert b"UT" not in future.extra


# --- stream_zip ----------------------------------------------------------------------


async def test_stream_zip_mixed_sources(tmp_path: Path) -> None:
    path = tmp_path / "file.bin"
    path.write_bytes(os.urandom(150_000))
    text = b"all work and no play " * 20_000
    files = [
        ZipStreamFile("bytes.txt", b"hello", modified_at=MOMENT),
        ZipStreamFile("path.bin", path, modified_at=MOMENT),
        ZipStreamFile("gen.txt", one_shot(text[:1000], text[1000:]), compression_method=8),
        ZipStreamFile("resource.bin", generated(300_000), compression_method=8),
        ZipStreamFile("file.bin", io.BytesIO(b"sync file")),
        ZipStreamFile("memoryview", memoryview(b"abcd")),
        ZipStreamFile("empty/"),
    ]
    archive = await collect(stream_zip(files, hold_back_size=100_000))
    with opened(archive) as archive_file:
        assert archive_file.read("bytes.txt") == b"hello"
        assert archive_file.read("path.bin") == path.read_bytes()
        assert archive_file.read("gen.txt") == text
        assert archive_file.read("resource.bin") == pattern_bytes(300_000)
        assert archive_file.read("file.bin") == b"sync file"
        assert archive_file.read("memoryview") == b"abcd"
        assert archive_file.getinfo("empty/").is_dir()
        assert archive_file.getinfo("gen.txt").compress_type == zipfile.ZIP_DEFLATED


async def test_stream_zip_async_iterable_of_files() -> None:
    async def files() -> AsyncIterator[ZipStreamFile]:
        for index in range(3):
            yield ZipStreamFile("same.txt", b"%d" % index)

    with opened(await collect(stream_zip(files()))) as archive_file:
        assert archive_file.namelist() == ["same.txt", "same (1).txt", "same (2).txt"]
        assert archive_file.read("same (2).txt") == b"2"


async def test_empty_archive() -> None:
    with opened(await collect(stream_zip([]))) as archive_file:
        assert archive_file.namelist() == []


def test_list_is_checked_before_the_first_byte() -> None:
    files: list[Any] = [ZipStreamFile("a", b"1"), "not a member"]
    with pytest.raises(TypeError, match="ZipStreamFile"):
        stream_zip(files)
    with pytest.raises(TypeError, match="files must be"):
        stream_zip(42)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="hold_back_size"):
        stream_zip([], hold_back_size=-1)

    def bad_names() -> Any:
        yield
        while True:
            yield "/absolute"

    with pytest.raises(ValueError, match="absolute"):
        stream_zip([ZipStreamFile("a", b"1")], name_deduplicator=bad_names())


def test_shared_one_shot_source_is_refused() -> None:
    shared = ZipStreamFile("a", one_shot(b"x"))
    with pytest.raises(ValueError, match="share the one-shot source"):
        stream_zip([shared, shared])
    source = one_shot(b"y")
    with pytest.raises(ValueError, match="share the one-shot source"):
        create_zip_stream_resource([ZipStreamFile("b", source), ZipStreamFile("c", source)])
    reusable = ZipStreamFile("d", b"data")
    create_zip_stream_resource([reusable, reusable]).headers  # noqa: B018


def test_resource_repr_stays_short() -> None:
    resource = create_zip_stream_resource([ZipStreamFile(f"{i}", b"x") for i in range(1000)])
    assert repr(resource).startswith("<ZipStreamResource 1000 members content_length=")
    assert len(repr(resource)) < 80


async def test_chunks_are_passed_through_without_copying() -> None:
    big = [os.urandom(200_000) for _ in range(5)]
    member = ZipStreamFile("big", one_shot(*big), size=1_000_000)
    chunks = [chunk async for chunk in stream_zip([member], hold_back_size=0)]
    for piece in big[1:]:
        assert any(chunk is piece for chunk in chunks)


async def test_many_small_members_are_coalesced() -> None:
    files = [ZipStreamFile(f"{index}.txt", os.urandom(1024)) for index in range(2000)]
    chunks = [chunk async for chunk in stream_zip(files)]
    assert len(chunks) < 2000 * 1100 // 65536 + 10
    with opened(b"".join(chunks)) as archive_file:
        assert len(archive_file.namelist()) == 2000


async def test_source_declaring_a_wrong_length_fails() -> None:
    member = ZipStreamFile("a", one_shot(b"abc"), size=4)
    with pytest.raises(LengthMismatchError):
        await collect(stream_zip([member]))


async def test_size_learned_from_response_headers(server: LoopbackServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as client:
        body = stream_response(client, "GET", "/bytes?size=300000&seed=3")
        member = ZipStreamFile("download.bin", body)
        assert member.size is None
        archive = await collect(stream_zip([member], hold_back_size=100_000))
    # Size known once the headers came: past the hold-back, but no zip64
    # (a 32-bit data descriptor suits every streaming reader).
    assert struct.unpack_from("<H", archive, 6)[0] == 0x0808
    assert b"\x01\x00\x10\x00" not in archive[: 30 + len("download.bin") + 9]
    with opened(archive) as archive_file:
        assert archive_file.read("download.bin") == pattern_bytes(300_000, 3)


# --- errors, early exit and cancellation ---------------------------------------------


class SourceBroke(Exception):
    pass


async def test_source_exception_propagates_unchanged_and_closes_sources() -> None:
    done = Tracked(b"first")
    broken = Tracked(b"partial", fail=SourceBroke("disk on fire"))
    later = Tracked(b"never")
    files = [
        ZipStreamFile("done", done),
        ZipStreamFile("broken", broken),
        ZipStreamFile("later", later),
    ]
    received = []
    with pytest.raises(SourceBroke, match="disk on fire") as caught:
        async for chunk in stream_zip(files, hold_back_size=0):
            received.append(chunk)
    assert type(caught.value) is SourceBroke
    assert done.closed and broken.closed and later.closed
    assert not later.started
    # Nothing claims to be a complete archive.
    with pytest.raises(zipfile.BadZipFile):
        zipfile.ZipFile(io.BytesIO(b"".join(received)))


async def test_source_exception_reaches_the_uploader_unchanged(server: LoopbackServer) -> None:
    broken = Tracked(os.urandom(100_000), fail=SourceBroke("upstream died"))
    body = create_zip_stream_resource([ZipStreamFile("broken", broken)], hold_back_size=0)
    async with httpx.AsyncClient(base_url=server.url) as client:
        with pytest.raises(SourceBroke, match="upstream died") as caught:
            await client.post("/upload/broken", content=body, headers=body.headers)
    assert type(caught.value) is SourceBroke
    assert broken.closed


async def test_consumer_stopping_early_closes_sources() -> None:
    first = Tracked(os.urandom(100_000), os.urandom(100_000))
    second = Tracked(b"x")
    files = [ZipStreamFile("first", first), ZipStreamFile("second", second)]
    async with aclosing(stream_zip(files, hold_back_size=0)) as archive:
        async for _ in archive:
            break
    assert first.closed and second.closed


async def test_cancellation_closes_sources() -> None:
    blocking = Tracked(b"some data", block=True)
    later = Tracked(b"x")
    files = [ZipStreamFile("blocking", blocking), ZipStreamFile("later", later)]
    with anyio.move_on_after(0.2) as scope:
        async with aclosing(stream_zip(files, hold_back_size=0)) as archive:
            async for _ in archive:
                pass
    assert scope.cancelled_caught
    assert blocking.closed and later.closed


async def test_cancelled_upload_closes_sources(server: LoopbackServer) -> None:
    waiting = anyio.Event()
    closed = anyio.Event()

    async def stalled() -> AsyncIterator[bytes]:
        try:
            yield os.urandom(65536)
            waiting.set()
            await anyio.Event().wait()  # the upload is cancelled while the source waits
            yield b"never"
        finally:
            closed.set()

    body = create_zip_stream_resource([ZipStreamFile("stalled", stalled())])
    async with (
        httpx.AsyncClient(base_url=server.url) as client,
        anyio.create_task_group() as group,
    ):
        upload = functools.partial(client.post, content=body, headers=body.headers)
        group.start_soon(upload, "/upload/cancelled")
        # Cancelled once the source waits (a deadline, under load, could come before it starts).
        await waiting.wait()
        group.cancel_scope.cancel()
    # Closed by the cancellation itself, not later by the garbage collector.
    assert closed.is_set()


# --- create_zip_stream_resource ---------------------------------------------------------


async def test_resource_is_reusable_and_byte_identical(tmp_path: Path) -> None:
    path = tmp_path / "data.txt"
    path.write_bytes(b"line of text\n" * 50_000)
    files = [
        ZipStreamFile("a.txt", b"hello"),
        ZipStreamFile("a.txt", generated(500_000), compression_method=COMPRESSION_METHOD_DEFLATE),
        ZipStreamFile("data.txt", path, compression_method=COMPRESSION_METHOD_DEFLATE),
        ZipStreamFile("noise.bin", generated(3_000_000), compression_method=8),
        ZipStreamFile("stored.bin", generated(2_000_000, chunk=65536)),
    ]
    resource = create_zip_stream_resource(files, hold_back_size=1_000_000)
    assert resource.reusable
    assert "Content-Length" not in resource.headers  # deflated members
    first = await collect(resource)
    assert await collect(resource) == first
    with opened(first) as archive_file:
        assert archive_file.namelist() == [
            "a.txt",
            "a (1).txt",
            "data.txt",
            "noise.bin",
            "stored.bin",
        ]
        assert archive_file.read("a (1).txt") == pattern_bytes(500_000)


async def test_resource_content_length() -> None:
    files = [
        ZipStreamFile("small", b"x" * 100),
        ZipStreamFile("sized", generated(300_000), size=300_000),
        ZipStreamFile(
            "crc", generated(300_000), size=300_000, crc32=zlib.crc32(pattern_bytes(300_000))
        ),
        ZipStreamFile("folder/"),
        ZipStreamFile("empty-deflate", b"", compression_method=8),
    ]
    resource = create_zip_stream_resource(files, hold_back_size=100_000)
    assert resource.headers["Content-Type"] == "application/zip"
    archive = await collect(resource)
    assert resource.content_length == len(archive)
    assert resource.headers["Content-Length"] == str(len(archive))
    opened(archive).close()
    assert (
        "Content-Length" not in create_zip_stream_resource([ZipStreamFile("x", one_shot())]).headers
    )


async def test_resource_with_one_shot_source_fails_second_pass_up_front() -> None:
    resource = create_zip_stream_resource(
        [ZipStreamFile("ok", b"1"), ZipStreamFile("once", one_shot(b"2"))]
    )
    assert not resource.reusable
    await collect(resource)
    # Refused when the pass starts, as a form refuses it: before any byte.
    with pytest.raises(SourceConsumedError, match="zip member 'once' holds a one-shot stream"):
        resource.__aiter__()


async def test_resource_from_async_iterable_of_files_is_one_shot() -> None:
    async def files() -> AsyncIterator[ZipStreamFile]:
        yield ZipStreamFile("a", b"1")

    resource = create_zip_stream_resource(files())
    assert not resource.reusable
    await collect(resource)
    with pytest.raises(SourceConsumedError):
        await collect(resource)


async def test_resource_upload_with_retries(server: LoopbackServer) -> None:
    files = [
        ZipStreamFile("sister.txt", generated(200_000, seed=1), compression_method=8),
        ZipStreamFile("love.txt", generated(300_000, seed=2), size=300_000),
    ]
    resource = create_zip_stream_resource(files)
    async with httpx.AsyncClient(base_url=server.url) as client:
        for _ in range(5):
            response = await client.post(
                "/flaky/zip?failures=2", content=resource, headers=resource.headers
            )
            if response.status_code < 500:
                break
    assert response.status_code == 200
    attempts = server.recorder.on("/flaky/zip")
    assert len(attempts) == 3
    assert len({attempt.sha256 for attempt in attempts}) == 1
    assert attempts[0].body is not None
    with opened(attempts[0].body) as archive_file:
        assert archive_file.read("sister.txt") == pattern_bytes(200_000, 1)
        assert archive_file.read("love.txt") == pattern_bytes(300_000, 2)


async def test_upload_sends_content_length(server: LoopbackServer) -> None:
    resource = create_zip_stream_resource(
        [ZipStreamFile("big", generated(1_000_000), size=1_000_000)]
    )
    async with httpx.AsyncClient(base_url=server.url) as client:
        response = await client.post("/upload/sized", content=resource, headers=resource.headers)
    (received,) = server.recorder.on("/upload/sized")
    assert received.headers["content-length"] == str(resource.content_length)
    assert "transfer-encoding" not in received.headers
    assert response.json()["size"] == resource.content_length
    assert received.body is not None
    assert hashlib.sha256(received.body).hexdigest() == response.json()["sha256"]
    opened(received.body).close()


async def test_redirect_resends_the_same_archive(server: LoopbackServer) -> None:
    resource = create_zip_stream_resource([ZipStreamFile("a", generated(100_000))])
    async with httpx.AsyncClient(base_url=server.url, follow_redirects=True) as client:
        response = await client.post("/redirect?to=/upload/after&status=307", content=resource)
    assert response.status_code == 200
    (first,) = server.recorder.on("/redirect")
    (second,) = server.recorder.on("/upload/after")
    assert first.sha256 == second.sha256


async def test_a_member_around_a_used_generator_is_refused_when_made() -> None:
    async def once() -> AsyncIterator[bytes]:
        yield b"hello world"

    generator = once()
    archive = b"".join(
        [bytes(chunk) async for chunk in stream_zip([ZipStreamFile("a.txt", generator)])]
    )
    assert zipfile.ZipFile(io.BytesIO(archive)).read("a.txt") == b"hello world"
    with pytest.raises(SourceConsumedError, match="already consumed"):
        ZipStreamFile("a.txt", generator)


async def test_headers_refuse_a_consumed_one_shot_source_before_any_request() -> None:
    async def once() -> AsyncIterator[bytes]:
        yield b"data"

    body = create_zip_stream_resource([ZipStreamFile("a.txt", once())])
    assert body.headers["Content-Type"] == "application/zip"
    archive = b"".join([bytes(chunk) async for chunk in body])
    assert zipfile.ZipFile(io.BytesIO(archive)).read("a.txt") == b"data"
    with pytest.raises(SourceConsumedError, match=r"zip member 'a\.txt' holds a one-shot stream"):
        body.headers  # noqa: B018 - reading it is the point


async def test_in_memory_stored_data_past_the_hold_back_needs_no_data_descriptor() -> None:
    from stream_unzip import stream_unzip as streaming_reader

    data = os.urandom(300_000)
    archive = b"".join(
        [
            bytes(chunk)
            async for chunk in stream_zip([ZipStreamFile("big.bin", data)], hold_back_size=65536)
        ]
    )
    flags = struct.unpack_from("<H", archive, 6)[0]
    assert flags & 0x08 == 0  # sizes and CRC are in the local header
    # A streaming reader, which never sees the central directory, reads it.
    [(name, size, chunks)] = [
        (name, size, b"".join(chunks)) for name, size, chunks in streaming_reader([archive])
    ]
    assert (name, size, chunks) == (b"big.bin", 300_000, data)


def test_a_wrong_crc32_for_in_memory_data_is_refused_when_made() -> None:
    with pytest.raises(ValueError, match=r"'a\.txt' was given crc32=0x[0-9a-f]+ but its data has"):
        ZipStreamFile("a.txt", b"hello", crc32=zlib.crc32(b"hell0"))
    with pytest.raises(ValueError, match=r"'b\.txt' was given crc32=0x[0-9a-f]+ but its data has"):
        ZipStreamFile("b.txt", bytearray(b"hello"), crc32=zlib.crc32(b"hell0"))
    assert ZipStreamFile("a.txt", b"hello", crc32=zlib.crc32(b"hello")).crc32 == zlib.crc32(
        b"hello"
    )


async def test_a_large_in_memory_member_is_compressed_slice_by_slice(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from httpx_streaming._zip_encoder import ZipEncoder

    fed: list[int] = []
    original_feed = ZipEncoder.feed

    def recording_feed(self: Any, chunk: Any) -> None:
        fed.append(len(chunk))
        original_feed(self, chunk)

    monkeypatch.setattr(ZipEncoder, "feed", recording_feed)
    text = b"".join(b"line %d of a long text member\n" % index for index in range(400_000))
    archive = b"".join(
        [
            bytes(chunk)
            async for chunk in stream_zip(
                [ZipStreamFile("long.txt", text, compression_method=COMPRESSION_METHOD_DEFLATE)]
            )
        ]
    )
    # Never the whole member at once: the consumer (and so the event loop) gets
    # a turn between 1 MiB slices instead of one stall of seconds for big data.
    assert len(fed) >= 8 and max(fed) <= 1024 * 1024
    assert zipfile.ZipFile(io.BytesIO(archive)).read("long.txt") == text


async def test_zip_resource_has_no_public_constructor_and_lists_its_members() -> None:
    files = [ZipStreamFile("a.txt", b"1"), ZipStreamFile("a.txt", b"2"), ZipStreamFile("d/")]
    resource = create_zip_stream_resource(files)
    assert resource.members == tuple(files)
    assert resource.names == ("a.txt", "a (1).txt", "d/")
    with pytest.raises(TypeError, match="ZipStreamResource has no public constructor"):
        ZipStreamResource(files)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="cannot be subclassed"):

        class Derived(ZipStreamResource):  # type: ignore[misc]
            pass

    async def lazy() -> AsyncIterator[ZipStreamFile]:
        yield files[0]

    lazy_resource = create_zip_stream_resource(lazy())
    assert (lazy_resource.members, lazy_resource.names) == (None, None)
    await collect(lazy_resource)


async def test_stream_zip_closed_before_its_first_byte_is_still_consumed() -> None:
    from httpx_streaming import FormData, SourceConsumedError, ZipStreamFile, stream_zip

    archive = stream_zip([ZipStreamFile("a", b"a")])
    await archive.aclose()
    with pytest.raises(SourceConsumedError, match="already streamed"):
        async for _chunk in archive:
            pass
    read = stream_zip([ZipStreamFile("a", b"a")])
    assert [chunk async for chunk in read]
    with pytest.raises(SourceConsumedError):
        FormData().add_field("zip", read)  # refused when given, not when sent
