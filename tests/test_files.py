"""Files read from async code: hops to worker threads, slices, sizes, and closing."""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import anyio
import anyio.to_thread
import pytest

from httpx_streaming import FormData, LengthMismatchError, as_byte_source, stream_file
from httpx_streaming._files import READ_BATCH, FileReader

MiB = 1024 * 1024


class Hops:
    """Counts the calls to worker threads and the files opened, and which are still open."""

    def __init__(self, files: list[IO[bytes]]) -> None:
        self.calls: list[str] = []
        self.files = files

    @property
    def open_files(self) -> list[IO[bytes]]:
        return [file for file in self.files if not file.closed]


@pytest.fixture
def hops(monkeypatch: pytest.MonkeyPatch, opened_files: list[IO[bytes]]) -> Iterator[Hops]:
    record = Hops(opened_files)
    run_sync = anyio.to_thread.run_sync

    async def counting_run_sync(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        record.calls.append(getattr(function, "__name__", repr(function)))
        return await run_sync(function, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counting_run_sync)
    yield record


def make_file(path: Path, size: int) -> bytes:
    data = os.urandom(size)
    path.write_bytes(data)
    return data


def slice_sizes(size: int, chunk_size: int) -> list[int]:
    whole, rest = divmod(size, chunk_size)
    return [chunk_size] * whole + ([rest] if rest else [])


async def read_all(source: Any) -> tuple[bytes, list[int]]:
    sizes = []
    pieces = []
    async for chunk in source:
        sizes.append(len(chunk))
        pieces.append(bytes(chunk))
    return b"".join(pieces), sizes


@pytest.mark.parametrize("size", [0, 1, 300_000, READ_BATCH - 1])
async def test_a_file_that_fits_one_batch_takes_one_hop(
    tmp_path: Path, hops: Hops, size: int
) -> None:
    data = make_file(tmp_path / "f", size)
    body = stream_file(tmp_path / "f")
    for _pass in range(2):
        hops.calls.clear()
        assert await read_all(body) == (data, slice_sizes(size, 65536))
        assert hops.calls == ["read_batch"]
    assert len(hops.files) == 2 and not hops.open_files


async def test_a_large_file_takes_one_hop_per_batch(tmp_path: Path, hops: Hops) -> None:
    size = 2 * READ_BATCH + 5
    data = make_file(tmp_path / "f", size)
    got, sizes = await read_all(stream_file(tmp_path / "f", chunk_size=MiB))
    assert got == data
    assert hops.calls == ["read_batch"] * 3
    assert sizes == [MiB] * (2 * READ_BATCH // MiB) + [5]
    assert not hops.open_files


async def test_chunks_are_bytes_read_as_they_are(tmp_path: Path) -> None:
    # One read per chunk: bytes of the size asked for, never copied or sliced afterwards.
    make_file(tmp_path / "f", 3 * 65536)
    async for chunk in stream_file(tmp_path / "f"):
        assert type(chunk) is bytes and len(chunk) == 65536


async def test_paths_given_to_encoders_are_read_in_large_slices(tmp_path: Path) -> None:
    data = make_file(tmp_path / "f", 3 * MiB + 7)
    got, sizes = await read_all(as_byte_source(tmp_path / "f"))
    assert (got, sizes) == (data, [MiB, MiB, MiB, 7])


async def test_leaving_early_closes_the_file(tmp_path: Path, hops: Hops) -> None:
    make_file(tmp_path / "f", 2 * READ_BATCH)
    stream = stream_file(tmp_path / "f").__aiter__()
    await stream.__anext__()
    assert len(hops.open_files) == 1
    await stream.aclose()
    assert not hops.open_files


async def test_cancelling_a_read_closes_the_file(tmp_path: Path, hops: Hops) -> None:
    make_file(tmp_path / "f", 3 * READ_BATCH)
    seen = 0
    with anyio.CancelScope() as scope:
        async for chunk in stream_file(tmp_path / "f", chunk_size=READ_BATCH):
            seen += len(chunk)
            scope.cancel()  # the next read is cancelled at its hop
    assert scope.cancelled_caught and seen == READ_BATCH
    assert len(hops.files) == 1 and not hops.open_files


@pytest.mark.parametrize("change", [b"grown", None])
async def test_a_file_that_changed_size_is_refused(
    tmp_path: Path, hops: Hops, change: bytes | None
) -> None:
    path = tmp_path / "f"
    make_file(path, READ_BATCH + 10)
    body = stream_file(path)
    if change is None:
        os.truncate(path, 100)
        message = r"declared 4194314 bytes but yielded 100"
    else:
        with path.open("ab") as file:
            file.write(change)
        message = r"declared 4194314 bytes but yielded more"
    with pytest.raises(LengthMismatchError, match=message):
        await read_all(body)
    assert not hops.open_files


async def test_a_form_reads_a_large_path_in_batches(tmp_path: Path, hops: Hops) -> None:
    data = make_file(tmp_path / "big.bin", READ_BATCH + MiB)
    form = FormData()
    form.add_field("file", tmp_path / "big.bin")
    body, _ = await read_all(form)
    assert data in body
    assert hops.calls == ["read_batch", "read_batch"]


async def test_sync_file_objects_are_read_a_batch_per_hop(tmp_path: Path, hops: Hops) -> None:
    data = make_file(tmp_path / "f", READ_BATCH + 3)
    with (tmp_path / "f").open("rb") as file:
        source = as_byte_source(file)
        got, sizes = await read_all(source)
        assert got == data and sizes == [MiB] * (READ_BATCH // MiB) + [3]
        assert hops.calls == ["read_batch", "read_batch"]
        assert (await read_all(source))[0] == data  # seekable: read again from the start


async def test_in_memory_files_take_no_hop(hops: Hops) -> None:
    source = as_byte_source(io.BytesIO(b"x" * 200_000))
    got, _ = await read_all(source)
    assert got == b"x" * 200_000 and hops.calls == []


async def test_unseekable_files_are_read_to_their_end(tmp_path: Path) -> None:
    # A pipe returns what it has: short reads before the end must not end the source.
    read_end, write_end = os.pipe()
    payload = os.urandom(300_000)

    def writer() -> None:
        with open(write_end, "wb", buffering=0) as pipe:
            for start in range(0, len(payload), 1000):
                pipe.write(payload[start : start + 1000])

    with open(read_end, "rb", buffering=0) as pipe:
        async with anyio.create_task_group() as group:
            group.start_soon(anyio.to_thread.run_sync, writer)
            got, _ = await read_all(as_byte_source(pipe))
    assert got == payload


class Trickle(io.RawIOBase):
    """A file that answers every read with at most 1,000 bytes, like a pipe or some
    network file systems."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        piece = self._data.read(min(len(buffer), 1000))
        buffer[: len(piece)] = piece
        return len(piece)


@pytest.mark.parametrize("expected", [None, 250_000])
def test_short_reads_before_the_end_are_not_the_end(expected: int | None) -> None:
    data = os.urandom(250_000)
    reader = FileReader(65536, file=Trickle(data), expected=expected)  # type: ignore[arg-type]
    pieces = []
    while not reader.done:
        pieces += reader.read_batch()
    assert b"".join(pieces) == data
