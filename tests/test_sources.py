"""as_byte_source, stream_file and the one-shot sources (no HTTP here)."""

from __future__ import annotations

import array
import io
import os
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import aclosing
from pathlib import Path

import anyio
import httpx
import pytest

from httpx_streaming import (
    FormData,
    LengthMismatchError,
    ResourceStream,
    ResourceStreamFunction,
    SourceConsumedError,
    SyncResourceStream,
    ZipStreamFile,
    as_byte_source,
    create_zip_stream_resource,
    stream_file,
)
from httpx_streaming._validation import source_length


async def collect(source: object) -> bytes:
    return b"".join([bytes(chunk) async for chunk in source])  # type: ignore[attr-defined]


async def two_chunks() -> AsyncIterator[bytes]:
    yield b"ab"
    yield b"cd"


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    path = tmp_path / "data.bin"
    path.write_bytes(os.urandom(200_000))
    return path


async def test_stream_file_is_reusable_sized_and_chunked(data_file: Path) -> None:
    resource = stream_file(data_file, chunk_size=65536)
    assert resource.content_length == 200_000
    assert source_length(resource) == 200_000
    chunks = [chunk async for chunk in resource]
    assert [len(chunk) for chunk in chunks] == [65536, 65536, 65536, 3392]
    assert b"".join(chunks) == data_file.read_bytes()
    assert await collect(resource) == data_file.read_bytes()


def test_stream_file_fails_early_on_bad_paths(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        stream_file(tmp_path / "missing")
    with pytest.raises(IsADirectoryError, match="is not a regular file"):
        stream_file(tmp_path)
    with pytest.raises(ValueError, match=r"chunk_size must be a positive int, got 0 \(type int\)"):
        stream_file(tmp_path, chunk_size=0)
    with pytest.raises(TypeError, match=r"chunk_size must be an int, got True \(type bool\)"):
        stream_file(tmp_path, chunk_size=True)


async def test_stream_file_refuses_a_file_that_changed_size(data_file: Path) -> None:
    resource = stream_file(data_file)
    with data_file.open("ab") as file:
        file.write(b"more")
    with pytest.raises(
        LengthMismatchError, match=r"declared 200000 bytes but yielded more \(200001 so far\)"
    ):
        await collect(resource)


async def test_plain_async_generators_are_one_shot() -> None:
    source = as_byte_source(two_chunks())
    assert source.reusable is False
    assert await collect(source) == b"abcd"
    with pytest.raises(SourceConsumedError, match="one-shot stream that was already consumed"):
        source.__aiter__()
    assert issubclass(SourceConsumedError, httpx.StreamConsumed)


async def test_bytes_and_paths_become_reusable_sized_sources(data_file: Path) -> None:
    for value in (b"xyz", bytearray(b"xyz"), memoryview(b"xyz")):
        source = as_byte_source(value)
        assert source.reusable and source.content_length == 3
        assert await collect(source) == b"xyz"
        assert await collect(source) == b"xyz"
    wide = as_byte_source(memoryview(array.array("i", [1, 2, 3])))
    assert wide.content_length == 3 * array.array("i").itemsize
    assert await collect(wide) == array.array("i", [1, 2, 3]).tobytes()
    empty = as_byte_source(b"")
    assert await collect(empty) == b""
    path_source = as_byte_source(data_file)
    assert path_source.reusable and source_length(path_source) == 200_000
    assert await collect(path_source) == await collect(path_source) == data_file.read_bytes()


async def test_resources_pass_through_unchanged() -> None:
    resource = ResourceStream(two_chunks)
    assert as_byte_source(resource) is resource


async def test_anyio_async_files_are_read_with_read(data_file: Path) -> None:
    async with await anyio.open_file(data_file, "rb") as file:
        source = as_byte_source(file)
        assert source.reusable is False
        assert await collect(source) == data_file.read_bytes()


async def test_trio_async_files(data_file: Path, anyio_backend_name: str) -> None:
    if anyio_backend_name != "trio":
        pytest.skip("trio's file objects need the trio event loop")
    import trio

    async with await trio.open_file(data_file, "rb") as file:
        assert await collect(as_byte_source(file)) == data_file.read_bytes()


async def test_aiofiles_async_files(data_file: Path, anyio_backend_name: str) -> None:
    if anyio_backend_name != "asyncio":
        pytest.skip("aiofiles runs on asyncio only")
    import aiofiles

    async with aiofiles.open(data_file, "rb") as file:
        assert await collect(as_byte_source(file)) == data_file.read_bytes()


async def test_sync_files_are_reusable_from_their_position(data_file: Path) -> None:
    with data_file.open("rb") as file:
        file.seek(100)
        source = as_byte_source(file)
        assert source.reusable and source.content_length == 199_900
        assert await collect(source) == data_file.read_bytes()[100:]
        assert await collect(source) == data_file.read_bytes()[100:]
    memory = as_byte_source(io.BytesIO(b"in memory"))
    assert await collect(memory) == b"in memory"
    assert await collect(memory) == b"in memory"


async def test_unseekable_sync_files_are_one_shot() -> None:
    read_end, write_end = os.pipe()
    with open(write_end, "wb") as writer:
        writer.write(b"piped")
    with open(read_end, "rb", buffering=0) as reader:
        source = as_byte_source(reader)
        assert source.reusable is False and source.content_length is None
        assert source.consumed is False
        assert await collect(source) == b"piped"
        assert source.consumed is True
        with pytest.raises(SourceConsumedError):
            source.__aiter__()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("text", r"got 'text' \(type str\); encode text to bytes first"),
        (42, r"got 42 \(type int\)"),
        (None, r"got None \(type NoneType\)"),
        ([b"a", "b"], r"item 1 of \[b'a', 'b'\] \(type list\) is 'b' \(type str\); chunks must"),
        ({"a": b"x"}, r"got \{'a': b'x'\} \(type dict\)"),
        ({b"x"}, r"got \{b'x'\} \(type set\)"),
        (two_chunks, r"the generator function .* call it"),
        (io.StringIO("text"), r"binary file, got the text file"),
    ],
)
def test_what_is_not_a_byte_source_is_rejected_when_given(value: object, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        as_byte_source(value)


class Countdown:
    """A user's own reusable byte source: an async iterable that declares itself reusable."""

    reusable = True
    content_length = 6

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[bytes]:
        for index in (3, 2, 1):
            yield b"%d," % index


async def test_reusable_sources_of_other_types_stay_reusable_and_sized() -> None:
    source = as_byte_source(Countdown())
    assert source.reusable and source_length(source) == 6
    assert await collect(source) == b"3,2,1,"
    assert await collect(source) == b"3,2,1,"


async def test_an_exhausted_generator_is_refused_when_given() -> None:
    generator = two_chunks()
    assert await collect(as_byte_source(generator)) == b"abcd"
    # A retry loop that builds its body anew wraps the same generator again.
    with pytest.raises(SourceConsumedError, match="already consumed"):
        as_byte_source(generator)
    closed = two_chunks()
    await closed.aclose()
    with pytest.raises(SourceConsumedError):
        as_byte_source(closed)


async def test_a_started_value_is_consumed_for_every_wrapper() -> None:
    generator = two_chunks()
    first, second = as_byte_source(generator), as_byte_source(generator)
    stream = first.__aiter__()
    assert await stream.__anext__() == b"ab"
    assert second.consumed  # shared value: the other wrapper sees it too
    with pytest.raises(SourceConsumedError):
        second.__aiter__()
    await stream.aclose()


async def test_a_source_yielding_more_than_declared_stops_before_the_extra_bytes() -> None:
    resource = ResourceStream(two_chunks)
    resource.content_length = 3
    received = []
    with pytest.raises(
        LengthMismatchError, match=r"declared 3 bytes but yielded more \(4 so far\)"
    ):
        async for chunk in resource:
            received.append(chunk)
    assert received == [b"ab"]


# --- synchronous iterables ------------------------------------------------------------


async def test_lists_and_tuples_of_bytes_are_reusable_sources_of_known_length() -> None:
    chunks = [b"ab", bytearray(b"cd"), memoryview(b"ef")]
    source = as_byte_source(chunks)
    chunks.append(b"later")  # a snapshot was taken: every pass is the same
    assert source.reusable and source.content_length == 6
    for _twice in range(2):
        assert await collect(source) == b"abcdef"
        assert b"".join(source.sync()) == b"abcdef"  # type: ignore[attr-defined]
    assert as_byte_source((b"x", b"y")).content_length == 2


async def test_a_sync_generator_is_one_shot_on_both_faces() -> None:
    def lines() -> Iterator[bytes]:
        yield b"one\n"
        yield b"two\n"

    source = as_byte_source(lines())
    assert not source.reusable and source.content_length is None
    assert await collect(source) == b"one\ntwo\n"
    assert source.consumed
    with pytest.raises(SourceConsumedError, match="lines"):
        source.__aiter__()
    with pytest.raises(SourceConsumedError, match="lines"):
        iter(source.sync())  # type: ignore[attr-defined]

    fresh = as_byte_source(lines())
    assert b"".join(fresh.sync()) == b"one\ntwo\n"  # type: ignore[attr-defined]
    with pytest.raises(SourceConsumedError):
        fresh.__aiter__()


async def test_an_async_pass_runs_a_generator_in_worker_threads_and_closes_it() -> None:
    event_loop_thread = threading.get_ident()
    threads: set[int] = set()
    closed: list[int] = []

    def produce() -> Iterator[bytes]:
        try:
            for index in range(100):
                threads.add(threading.get_ident())
                yield b"%d," % index
        finally:
            closed.append(threading.get_ident())

    source = as_byte_source(produce())
    async with aclosing(source.__aiter__()) as stream:
        assert bytes(await stream.__anext__()) == b"0,"
        assert bytes(await stream.__anext__()) == b"1,"
    assert threads and event_loop_thread not in threads  # never blocks the event loop
    assert len(closed) == 1 and closed[0] != event_loop_thread


async def test_a_sync_resource_is_reusable_in_async_passes_too() -> None:
    calls: list[int] = []

    @ResourceStreamFunction
    def pieces(count: int) -> Iterator[bytes]:
        calls.append(threading.get_ident())
        for index in range(count):
            yield b"<%d>" % index

    body = pieces(3)
    assert isinstance(body, SyncResourceStream)
    source = as_byte_source(body)
    assert source.reusable and not source.consumed
    for _twice in range(2):
        assert await collect(source) == b"<0><1><2>"
    assert threading.get_ident() not in calls  # the generator never ran on the event loop

    form = FormData()
    form.add_field("pieces", body, file_name="p.txt")
    assert await collect(form) == b"".join(form.sync())


async def test_reusable_bodies_nested_in_bodies_keep_their_sync_face() -> None:
    inner = FormData()
    inner.add_field("a", [b"1", b"2"])
    archive = create_zip_stream_resource(
        [ZipStreamFile("form.bin", inner), ZipStreamFile("raw.bin", (b"x", b"y"))]
    )
    outer = FormData()
    outer.add_field("archive", archive, file_name="archive.zip")
    assert b"".join(outer.sync()) == await collect(outer)
    assert b"".join(archive.sync()) == await collect(archive)
