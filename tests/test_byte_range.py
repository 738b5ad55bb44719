"""byte_range: every body kind, every offset, equals the slice of a full pass; and it skips.

The reference is always a full pass of the same body (``b"".join`` of an ``async for``),
sliced by Python; zip boundaries come from the standard library's reader.
"""

from __future__ import annotations

import io
import random
import zipfile
import zlib
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from loopback import LoopbackServer, pattern_bytes

from httpx_streaming import (
    COMPRESSION_METHOD_DEFLATE,
    ByteRange,
    FormData,
    LengthMismatchError,
    ResourceStream,
    SourceChangedError,
    SyncResourceStream,
    ZipStreamFile,
    ZipStreamResource,
    as_byte_source,
    byte_range,
    create_zip_stream_resource,
    stream_file,
    stream_response,
    stream_zip,
)

WHEN = datetime(2026, 1, 2, 3, 4, 6, tzinfo=timezone.utc)


async def full(body: Any) -> bytes:
    return b"".join([bytes(chunk) async for chunk in body])


def full_sync(body: Any) -> bytes:
    return b"".join(bytes(chunk) for chunk in body)


class Reads:
    """Counts the passes of counted sources, by name."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def source(self, name: str, data: bytes, *, declare: bool = True) -> ResourceStream:
        async def chunks() -> AsyncIterator[bytes]:
            self.counts[name] = self.counts.get(name, 0) + 1
            for index in range(0, len(data), 7001):
                yield data[index : index + 7001]

        resource = ResourceStream(chunks)
        if declare:
            resource.content_length = len(data)
        return resource

    def sync_source(self, name: str, data: bytes) -> SyncResourceStream:
        def chunks() -> Iterator[bytes]:
            self.counts[name] = self.counts.get(name, 0) + 1
            for index in range(0, len(data), 7001):
                yield data[index : index + 7001]

        resource = SyncResourceStream(chunks)
        resource.content_length = len(data)
        return resource


def offsets(length: int, marks: list[int], count: int = 30, seed: int = 0) -> list[int]:
    """Offsets worth testing: both ends, each mark and its neighbours, random others."""
    chosen = {0, 1, length - 1, length}
    for mark in marks:
        chosen.update({mark - 1, mark, mark + 1})
    rng = random.Random(seed)
    chosen.update(rng.randrange(length + 1) for _ in range(count))
    return sorted(offset for offset in chosen if 0 <= offset <= length)


async def check_ranges(body: Any, expected: bytes, marks: list[int], *, sync: bool = False) -> None:
    rng = random.Random(len(expected))
    for start in offsets(len(expected), marks):
        for stop in {
            None,
            start,
            min(len(expected), start + 1),
            rng.randrange(start, len(expected) + 1),
        }:
            part = byte_range(body, start, stop)
            if stop is not None or as_byte_source(body).content_length is not None:
                assert part.content_length == len(expected[start:stop])
            else:
                assert part.content_length is None
            assert await full(part) == expected[start:stop], (start, stop)
            if sync:
                assert full_sync(part.sync()) == expected[start:stop], (start, stop)


# --- plain bodies ---------------------------------------------------------------------


async def test_bytes_paths_and_files(tmp_path: Path) -> None:
    data = pattern_bytes(5 * 1024 * 1024 + 17, seed=3)
    path = tmp_path / "data.bin"
    path.write_bytes(data)
    marks = [1024 * 1024, 4 * 1024 * 1024]  # slice and read-batch sizes
    await check_ranges(data, data, marks, sync=True)
    await check_ranges(path, data, marks, sync=True)
    await check_ranges(stream_file(path), data, marks, sync=True)
    with path.open("rb") as file:
        file.seek(5)  # a file object's bytes start where it was when given
        await check_ranges(as_byte_source(file), data[5:], marks, sync=True)


async def test_a_range_of_a_range(tmp_path: Path) -> None:
    data = pattern_bytes(100_000, seed=1)
    outer = byte_range(data, 1000, 90_000)
    await check_ranges(outer, data[1000:90_000], [5000], sync=True)
    assert byte_range(outer, 10).content_length == 88_990


async def test_a_resource_without_an_opener_is_read_and_its_prefix_dropped() -> None:
    reads = Reads()
    data = pattern_bytes(50_000, seed=2)
    resource = reads.source("r", data)
    await check_ranges(resource, data, [7001])
    part = byte_range(reads.source("unknown", data, declare=False), 49_000)
    assert part.content_length is None
    assert await full(part) == data[49_000:]
    assert full_sync(byte_range(reads.sync_source("s", data), 123, 4567).sync()) == data[123:4567]


async def test_bad_arguments_fail_at_once() -> None:
    async def one_shot() -> AsyncIterator[bytes]:
        yield b"x"

    generator = one_shot()
    with pytest.raises(TypeError, match="byte_range needs a reusable body, got the one-shot"):
        byte_range(generator, 0)
    await generator.aclose()
    with pytest.raises(TypeError, match="expected a byte source"):
        byte_range(42, 0)
    with pytest.raises(ValueError, match=r"start \(11\) is past the end of a body of 10 bytes"):
        byte_range(b"0123456789", 11)
    with pytest.raises(ValueError, match=r"stop \(3\) must not be before start \(4\)"):
        byte_range(b"0123456789", 4, 3)
    with pytest.raises(TypeError, match="has no public constructor"):
        ByteRange(b"", 0, None)  # type: ignore[arg-type]


async def test_a_range_past_the_end_of_a_body_of_unknown_length_fails_when_it_ends() -> None:
    reads = Reads()
    part = byte_range(reads.source("r", b"0123456789", declare=False), 4, 12)
    with pytest.raises(
        ValueError, match=r"start=4, stop=12 is past the end of .*, which has 10 bytes"
    ):
        await full(part)
    part = byte_range(reads.source("r", b"0123456789", declare=False), 11)
    with pytest.raises(ValueError, match=r"start=11 is past the end of .*, which has 10 bytes"):
        await full(part)


# --- forms ----------------------------------------------------------------------------


async def test_form_ranges_skip_parts_of_known_size(tmp_path: Path) -> None:
    reads = Reads()
    path = tmp_path / "photo.jpg"
    path.write_bytes(pattern_bytes(300_000, seed=5))
    form = FormData()
    form.add_field("title", "holiday")
    form.add_field("first", reads.source("first", pattern_bytes(200_000, seed=6)))
    form.add_field("photo", path, content_type="image/jpeg")
    form.add_field("unknown", reads.source("unknown", pattern_bytes(50_000, seed=7), declare=False))
    form.add_field("last", reads.source("last", pattern_bytes(70_000, seed=8)))
    expected = await full(form)
    await check_ranges(form, expected, [len(expected) - 70_000, 200_000, 500_000])
    reads.counts.clear()
    middle = expected.index(pattern_bytes(300_000, seed=5)) + 10
    assert await full(byte_range(form, middle)) == expected[middle:]
    assert reads.counts == {"unknown": 1, "last": 1}  # "first" lies wholly before: not read
    reads.counts.clear()
    tail = len(expected) - 1000
    assert await full(byte_range(form, tail)) == expected[tail:]
    # After the part of unknown size nothing can be placed: read from there on.
    assert reads.counts == {"unknown": 1, "last": 1}


async def test_sync_form_ranges(tmp_path: Path) -> None:
    reads = Reads()
    path = tmp_path / "a.bin"
    path.write_bytes(pattern_bytes(100_000, seed=9))
    form = FormData()
    form.add_field("a", path)
    form.add_field("b", reads.sync_source("b", pattern_bytes(30_000, seed=10)))
    expected = full_sync(form.sync())
    await check_ranges(form, expected, [100_000], sync=True)
    reads.counts.clear()
    start = len(expected) - 100
    assert full_sync(byte_range(form, start).sync()) == expected[start:]
    assert full_sync(byte_range(form.sync(), start).sync()) == expected[start:]
    assert reads.counts == {"b": 2}


# --- zip archives -----------------------------------------------------------------------


def zip_marks(archive: bytes) -> list[int]:
    """Member headers, their data and the central directory, by the standard library."""
    with zipfile.ZipFile(io.BytesIO(archive)) as reader:
        marks = [reader.start_dir, len(archive) - 22]
        for info in reader.infolist():
            marks += [
                info.header_offset,
                info.header_offset + 30,
                info.header_offset + 30 + len(info.filename) + 20,
            ]
    return marks


def zip_members(reads: Reads, path: Path) -> list[ZipStreamFile]:
    text = b"the quick brown fox " * 12_000
    stored = pattern_bytes(150_000, seed=11)
    link_target = "docs/readme.txt"
    return [
        ZipStreamFile("docs/", b"", modified_at=WHEN),
        ZipStreamFile("docs/readme.txt", b"read me\n", modified_at=WHEN),
        ZipStreamFile("link", link_target, mode=0o120777, modified_at=WHEN),
        ZipStreamFile("empty", b"", modified_at=WHEN),
        ZipStreamFile("path.bin", path, crc32=zlib.crc32(path.read_bytes()), modified_at=WHEN),
        ZipStreamFile(
            "declared",
            reads.source("declared", stored),
            size=len(stored),
            crc32=zlib.crc32(stored),
            modified_at=WHEN,
        ),
        ZipStreamFile(
            "deflated",
            reads.source("deflated", text),
            compression_method=COMPRESSION_METHOD_DEFLATE,
            modified_at=WHEN,
        ),
        ZipStreamFile("no-crc", reads.source("no-crc", stored), size=len(stored), modified_at=WHEN),
        ZipStreamFile("path-again", path, modified_at=WHEN),
        ZipStreamFile(
            "last",
            reads.source("last", stored),
            size=len(stored),
            crc32=zlib.crc32(stored),
            modified_at=WHEN,
        ),
    ]


@pytest.mark.parametrize("password", [None, "secret"])
@pytest.mark.parametrize("remembered", [False, True], ids=["predicted", "remembered"])
async def test_zip_ranges_equal_the_full_pass(
    tmp_path: Path, password: str | None, remembered: bool
) -> None:
    reads = Reads()
    path = tmp_path / "file.bin"
    path.write_bytes(pattern_bytes(200_000, seed=12))
    body = create_zip_stream_resource(zip_members(reads, path), password=password)
    expected = await full(body)
    if not remembered:  # a resource of the same members and salts that never made a full pass
        body = ZipStreamResource._create(body._named, body._archive, body.content_length)
    marks = zip_marks(expected)
    rng = random.Random(7)
    for start in offsets(len(expected), marks, count=25):
        stop = rng.choice([None, min(len(expected), start + rng.randrange(1, 400_000))])
        fresh = (
            body
            if remembered
            else ZipStreamResource._create(body._named, body._archive, body.content_length)
        )
        assert await full(byte_range(fresh, start, stop)) == expected[start:stop], (start, stop)


async def test_zip_ranges_skip_members_of_known_layout(tmp_path: Path) -> None:
    reads = Reads()
    path = tmp_path / "file.bin"
    path.write_bytes(pattern_bytes(200_000, seed=12))
    body = create_zip_stream_resource(zip_members(reads, path))
    expected = await full(body)
    with zipfile.ZipFile(io.BytesIO(expected)) as reader:
        offset = {info.filename: info.header_offset for info in reader.infolist()}
        central = reader.start_dir
    fresh = ZipStreamResource._create(body._named, body._archive, body.content_length)
    reads.counts.clear()
    start = offset["deflated"] + 5
    assert await full(byte_range(fresh, start)) == expected[start:]
    # "declared" (stored, size and CRC given) lies before: not read.
    assert reads.counts == {"deflated": 1, "no-crc": 1, "last": 1}
    reads.counts.clear()
    start = offset["last"] + 100
    assert await full(byte_range(fresh, start)) == expected[start:]
    # "deflated" and "no-crc" come first: the range before wrote them to their ends, so
    # their layouts are known now, and only "last" is read.
    assert reads.counts == {"last": 1}
    # Once a full pass has completed, every member's layout is known: nothing before
    # the range is read, and the central directory costs no read at all.
    reads.counts.clear()
    start = offset["no-crc"] + 1
    assert await full(byte_range(body, start)) == expected[start:]
    assert reads.counts == {"no-crc": 1, "last": 1}
    reads.counts.clear()
    assert await full(byte_range(body, central)) == expected[central:]
    assert reads.counts == {}


async def test_zip_range_inside_a_stored_member_reads_from_there(
    tmp_path: Path, opened_files: list[Any]
) -> None:
    path = tmp_path / "big.bin"
    data = pattern_bytes(3 * 1024 * 1024, seed=13)
    path.write_bytes(data)
    body = create_zip_stream_resource(
        [ZipStreamFile("big.bin", path, crc32=zlib.crc32(data), modified_at=WHEN)]
    )
    expected = await full(body)
    start = len(expected) - 1000
    fresh = ZipStreamResource._create(body._named, body._archive, body.content_length)
    assert await full(byte_range(fresh, start)) == expected[start:]
    assert full_sync(byte_range(fresh, start).sync()) == expected[start:]
    assert all(file.closed for file in opened_files)


async def test_zip_range_checks_the_rest_of_a_member_against_its_declared_size(
    tmp_path: Path,
) -> None:
    reads = Reads()
    data = pattern_bytes(10_000, seed=14)
    member = reads.source("short", data[:-10], declare=False)
    body = create_zip_stream_resource(
        [ZipStreamFile("m", member, size=len(data), crc32=zlib.crc32(data))]
    )
    assert body.content_length is not None
    with pytest.raises(
        LengthMismatchError,
        match="zip member 'm' from byte 160 declared 9840 bytes but yielded 9830",
    ):
        await full(byte_range(body, 200))


async def test_sync_zip_ranges(tmp_path: Path) -> None:
    reads = Reads()
    stored = pattern_bytes(80_000, seed=15)
    path = tmp_path / "f.bin"
    path.write_bytes(stored)
    members = [
        ZipStreamFile(
            "a",
            reads.sync_source("a", stored),
            size=len(stored),
            crc32=zlib.crc32(stored),
            modified_at=WHEN,
        ),
        ZipStreamFile("b", path, compression_method=COMPRESSION_METHOD_DEFLATE, modified_at=WHEN),
        ZipStreamFile("c", reads.sync_source("c", stored), modified_at=WHEN),
    ]
    body = create_zip_stream_resource(members)
    expected = full_sync(body.sync())
    await check_ranges(body, expected, zip_marks(expected), sync=True)
    reads.counts.clear()
    start = len(expected) - 50
    assert full_sync(byte_range(body, start).sync()) == expected[start:]
    assert reads.counts == {}


async def test_a_lazy_zip_is_one_shot() -> None:
    async def files() -> AsyncIterator[ZipStreamFile]:
        yield ZipStreamFile("a", b"a")

    with pytest.raises(TypeError, match="reusable"):
        byte_range(create_zip_stream_resource(files()), 0)
    with pytest.raises(TypeError, match="reusable"):
        byte_range(stream_zip([ZipStreamFile("a", b"a")]), 0)


# --- responses --------------------------------------------------------------------------


async def test_response_ranges_ask_the_server(server: LoopbackServer) -> None:
    data = pattern_bytes(2 * 1024 * 1024, seed=16)
    (server.app.static_dir / "r.bin").write_bytes(data)
    url = f"{server.url}/static/r.bin"
    async with httpx.AsyncClient() as client:
        body = stream_response(client, "GET", url)
        part = byte_range(body, 2 * 1024 * 1024 - 1000)
        assert await full(part) == data[-1000:]
        first = server.recorder.requests[-1]
        assert first.headers["range"] == "bytes=2096152-"
        assert "if-range" not in first.headers  # no validator seen yet
        assert server.recorder.served["/static/r.bin"] == 1000
        assert await full(byte_range(body, 10, 20)) == data[10:20]
        second = server.recorder.requests[-1]
        assert second.headers["range"] == "bytes=10-19"
        assert second.headers["if-range"].startswith('"')  # Starlette's strong ETag
        # The very end: the server answers 416, and the range is empty.
        assert await full(byte_range(body, len(data))) == b""
        assert await full(byte_range(body, len(data), len(data))) == b""
        with pytest.raises(
            ValueError, match=r"start=2097153 is past the end of GET .*, which has 2097152 bytes"
        ):
            await full(byte_range(body, len(data) + 1))
        await check_ranges(body, data, [1024 * 1024])


async def test_response_ranges_on_a_server_that_ignores_them(server: LoopbackServer) -> None:
    answers: list[tuple[str | None, int]] = []

    async def record(response: httpx.Response) -> None:
        answers.append((response.request.headers.get("range"), response.status_code))

    async with httpx.AsyncClient(event_hooks={"response": [record]}) as client:
        body = stream_response(client, "GET", f"{server.url}/files/x.bin?size=300000")
        data = await full(body)
        assert await full(byte_range(body, 299_000, 299_500)) == data[299_000:299_500]
        assert answers == [(None, 200), ("bytes=299000-299499", 200)]


async def test_response_range_refuses_a_changed_resource(server: LoopbackServer) -> None:
    target = server.app.static_dir / "changing.bin"
    target.write_bytes(pattern_bytes(100_000, seed=17))
    async with httpx.AsyncClient() as client:
        body = stream_response(client, "GET", f"{server.url}/static/changing.bin")
        assert await full(byte_range(body, 5, 10)) == target.read_bytes()[5:10]
        target.write_bytes(pattern_bytes(100_001, seed=18))  # another size: another ETag
        with pytest.raises(SourceChangedError, match="changed since an earlier pass"):
            await full(byte_range(body, 50))


def test_sync_response_ranges(server: LoopbackServer) -> None:
    data = pattern_bytes(500_000, seed=19)
    (server.app.static_dir / "s.bin").write_bytes(data)
    with httpx.Client() as client:
        body = stream_response(client, "GET", f"{server.url}/static/s.bin")
        assert full_sync(byte_range(body, 400_000).sync()) == data[400_000:]
        assert server.recorder.served["/static/s.bin"] == 100_000
        assert full_sync(byte_range(body, 1, 3).sync()) == data[1:3]
        assert full_sync(byte_range(body, len(data)).sync()) == b""


async def test_zip_of_responses_resumes_with_ranges(server: LoopbackServer) -> None:
    first = pattern_bytes(400_000, seed=20)
    second = pattern_bytes(300_000, seed=21)
    (server.app.static_dir / "one.bin").write_bytes(first)
    (server.app.static_dir / "two.bin").write_bytes(second)
    async with httpx.AsyncClient() as client:
        body = create_zip_stream_resource(
            [
                ZipStreamFile(
                    "one",
                    stream_response(client, "GET", f"{server.url}/static/one.bin"),
                    modified_at=WHEN,
                ),
                ZipStreamFile(
                    "two",
                    stream_response(client, "GET", f"{server.url}/static/two.bin"),
                    modified_at=WHEN,
                ),
            ]
        )
        expected = await full(body)
        server.recorder.served.clear()
        start = len(expected) - 200_000  # inside "two", stored: asked of the server from there
        assert await full(byte_range(body, start)) == expected[start:]
        assert server.recorder.served == {"/static/two.bin": pytest.approx(200_000, abs=2000)}


# --- what the passes remember, and when they must forget ----------------------------------


async def test_a_rewritten_file_is_read_again_not_spliced(tmp_path: Path) -> None:
    first, second = tmp_path / "a.bin", tmp_path / "b.bin"
    first.write_bytes(pattern_bytes(1000, seed=30))
    second.write_bytes(pattern_bytes(1000, seed=31))
    body = create_zip_stream_resource(
        [ZipStreamFile("a", first, modified_at=WHEN), ZipStreamFile("b", second, modified_at=WHEN)]
    )
    await full(body)  # remembers both layouts
    first.write_bytes(pattern_bytes(1000, seed=32))  # same size, other bytes (and CRC)
    expected = await full(ZipStreamResource._create(body._named, body._archive, None))
    assert await full(byte_range(body, 1100)) == expected[1100:]


async def test_range_passes_remember_what_they_wrote(tmp_path: Path) -> None:
    reads = Reads()
    text = b"lorem ipsum dolor " * 20_000
    body = create_zip_stream_resource(
        [
            ZipStreamFile(f"m{index}", reads.source(f"m{index}", text), modified_at=WHEN)
            for index in range(5)
        ]
        + [
            ZipStreamFile(
                f"d{index}",
                reads.source(f"d{index}", text),
                compression_method=COMPRESSION_METHOD_DEFLATE,
                modified_at=WHEN,
            )
            for index in range(3)
        ]
    )
    assert body.content_length is None
    expected = await full(ZipStreamResource._create(body._named, body._archive, None))
    reads.counts.clear()
    # Sent in parts, as an object store's multipart upload or tus does: a member is read
    # by the parts that need some of its bytes (its layout is unknown until one of them
    # reads it to its end), never by the parts after it.
    size = 150_000
    starts = range(0, len(expected), size)
    parts = [
        await full(byte_range(body, start, min(start + size, len(expected)))) for start in starts
    ]
    assert b"".join(parts) == expected
    with zipfile.ZipFile(io.BytesIO(expected)) as reader:
        offsets = [info.header_offset for info in reader.infolist()] + [reader.start_dir]
        names = reader.namelist()
    for index, name in enumerate(names):
        begin, end = offsets[index], offsets[index + 1]
        overlapping = sum(1 for start in starts if start < end and start + size > begin)
        assert reads.counts[name] <= overlapping, (name, reads.counts[name], overlapping)


async def test_a_short_partial_answer_is_refused() -> None:
    data = pattern_bytes(1024, seed=33)

    def capped(request: httpx.Request) -> httpx.Response:
        asked = request.headers.get("range")
        if asked is None:
            return httpx.Response(200, content=data, headers={"ETag": '"v1"'})
        first_text, last_text = asked.removeprefix("bytes=").split("-")
        first = int(first_text)
        wanted = int(last_text) if last_text else len(data) - 1
        last = min(first + 99, wanted)  # a server capping its answers at 100 bytes
        return httpx.Response(
            206,
            content=data[first : last + 1],
            headers={"Content-Range": f"bytes {first}-{last}/{len(data)}", "ETag": '"v1"'},
        )

    async with httpx.AsyncClient(transport=httpx.MockTransport(capped)) as client:
        body = stream_response(client, "GET", "http://upstream.example/data")
        assert await full(byte_range(body, 10, 60)) == data[10:60]
        with pytest.raises(
            ValueError, match=r"answered Content-Range 'bytes 10-109/1024' to Range 'bytes=10-'"
        ):
            await full(byte_range(body, 10))


async def test_a_changed_resource_spoils_ranges_not_full_passes() -> None:
    version = ['"v1"']
    data = pattern_bytes(1024, seed=34)

    def serve(request: httpx.Request) -> httpx.Response:
        headers = {"ETag": version[0]}
        if request.headers.get("if-range", version[0]) != version[0]:
            return httpx.Response(200, content=data, headers=headers)  # If-Range failed
        if "range" in request.headers:
            first = int(request.headers["range"].removeprefix("bytes=").rstrip("-"))
            headers["Content-Range"] = f"bytes {first}-{len(data) - 1}/{len(data)}"
            return httpx.Response(206, content=data[first:], headers=headers)
        return httpx.Response(200, content=data, headers=headers)

    async with httpx.AsyncClient(transport=httpx.MockTransport(serve)) as client:
        body = stream_response(client, "GET", "http://upstream.example/data")
        assert await full(body) == data
        version[0] = '"v2"'
        with pytest.raises(SourceChangedError, match="changed since an earlier pass"):
            await full(byte_range(body, 100))
        assert await full(body) == data  # a full pass splices nothing: fine, and the new truth
        assert await full(byte_range(body, 100)) == data[100:]


async def test_416_without_a_content_range() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(416, content=b"<html>no</html>")

    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as client:
        body = stream_response(client, "GET", "http://upstream.example/x", raise_for_status=False)
        with pytest.raises(ValueError, match="answered 416"):
            await full(byte_range(body, 5))
