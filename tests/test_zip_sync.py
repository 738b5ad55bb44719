"""The zip archive's synchronous face: ``resource.sync()``, no event loop, the same bytes."""

from __future__ import annotations

import io
import os
import subprocess
import zipfile
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

import pytest
from loopback import pattern_bytes

from httpx_streaming import (
    COMPRESSION_METHOD_DEFLATE,
    COMPRESSION_METHOD_NONE,
    LengthMismatchError,
    ResourceStreamFunction,
    SourceConsumedError,
    ZipStreamFile,
    create_zip_stream_resource,
)
from httpx_streaming._files import READ_BATCH

MOMENT = datetime(2024, 5, 17, 12, 0, 30, tzinfo=timezone.utc)
MiB = 1024 * 1024


def sync_bytes(view: Any) -> bytes:
    return b"".join(bytes(chunk) for chunk in view)


async def async_bytes(resource: Any) -> bytes:
    return b"".join([bytes(chunk) async for chunk in resource])


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    paths = {
        "small.txt": (tmp_path / "small.txt", pattern_bytes(3000, 1)),
        "big.bin": (tmp_path / "big.bin", os.urandom(READ_BATCH + 12345)),
        "text.txt": (tmp_path / "text.txt", b"lorem ipsum dolor sit amet\n" * 200_000),
        "empty": (tmp_path / "empty", b""),
    }
    for path, data in paths.values():
        path.write_bytes(data)
    return {name: path for name, (path, _) in paths.items()}


def deflated(name: str, source: object) -> ZipStreamFile:
    return ZipStreamFile(
        name, source, compression_method=COMPRESSION_METHOD_DEFLATE, modified_at=MOMENT
    )


def stored(name: str, source: object) -> ZipStreamFile:
    return ZipStreamFile(
        name, source, compression_method=COMPRESSION_METHOD_NONE, modified_at=MOMENT
    )


def members(files: dict[str, Path], seekable: IO[bytes]) -> list[ZipStreamFile]:
    return [
        ZipStreamFile("folder/", modified_at=MOMENT),
        deflated("bytes.txt", b"hello " * 1000),
        stored("bytes-big.bin", pattern_bytes(3 * MiB, 2)),
        deflated("bytes-big.txt", b"abc" * MiB),
        stored("small.txt", files["small.txt"]),
        deflated("small-deflated.txt", files["small.txt"]),
        stored("big.bin", files["big.bin"]),
        deflated("big-deflated.bin", files["big.bin"]),
        deflated("text.txt", files["text.txt"]),
        deflated("empty", files["empty"]),
        deflated("file-object.bin", seekable),
        stored("memory.bin", io.BytesIO(b"in memory" * 999)),
    ]


@pytest.mark.parametrize("hold_back_size", [0, 65536, 4 * MiB])
async def test_the_sync_face_gives_the_async_bytes(
    files: dict[str, Path], hold_back_size: int
) -> None:
    with files["big.bin"].open("rb") as seekable:
        resource = create_zip_stream_resource(
            members(files, seekable), hold_back_size=hold_back_size
        )
        view = resource.sync()
        assert (view.reusable, view.content_length) == (True, resource.content_length)
        first = sync_bytes(view)
        assert sync_bytes(view) == first  # reusable: every pass the same bytes
        assert await async_bytes(resource) == first
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        assert archive.testzip() is None
        assert archive.read("big-deflated.bin") == files["big.bin"].read_bytes()
        assert archive.read("file-object.bin") == files["big.bin"].read_bytes()
        assert archive.read("text.txt") == files["text.txt"].read_bytes()


def test_a_known_length_is_kept_and_sent(files: dict[str, Path]) -> None:
    resource = create_zip_stream_resource(
        [ZipStreamFile("a", files["small.txt"]), ZipStreamFile("b", b"xyz")]
    )
    view = resource.sync()
    assert view.content_length == resource.content_length is not None
    assert (
        view.headers
        == resource.headers
        == {
            "Content-Type": "application/zip",
            "Content-Length": str(resource.content_length),
        }
    )
    assert len(sync_bytes(view)) == resource.content_length


def test_unzip_reads_the_sync_archive(files: dict[str, Path], tmp_path: Path) -> None:
    with files["big.bin"].open("rb") as seekable:
        resource = create_zip_stream_resource(members(files, seekable))
        (tmp_path / "out.zip").write_bytes(sync_bytes(resource.sync()))
    result = subprocess.run(
        ["unzip", "-t", str(tmp_path / "out.zip")], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No errors detected" in result.stdout


async def started_flag(started: list[bool]) -> AsyncIterator[bytes]:
    started.append(True)
    yield b"x"


@ResourceStreamFunction
async def async_only() -> AsyncIterator[bytes]:
    yield b"x"


@pytest.mark.parametrize("kind", ["async generator", "async resource"])
def test_an_async_only_member_is_refused_before_anything_starts(kind: str) -> None:
    started: list[bool] = []
    source = started_flag(started) if kind == "async generator" else async_only()
    resource = create_zip_stream_resource(
        [ZipStreamFile("first.txt", b"fine"), ZipStreamFile("later.txt", source)]
    )
    with pytest.raises(TypeError, match=r"member 'later.txt': .* can only be read by async"):
        resource.sync()
    assert started == []


def test_an_archive_of_an_async_iterable_has_no_sync_face() -> None:
    async def files() -> AsyncIterator[ZipStreamFile]:
        yield ZipStreamFile("a", b"a")

    resource = create_zip_stream_resource(files())
    with pytest.raises(TypeError, match="async iterable of files"):
        resource.sync()


def test_an_unseekable_file_gives_one_pass(tmp_path: Path) -> None:
    read_end, write_end = os.pipe()
    os.write(write_end, b"from a pipe")
    os.close(write_end)
    with open(read_end, "rb", buffering=0) as pipe:
        resource = create_zip_stream_resource([ZipStreamFile("pipe.txt", pipe)])
        view = resource.sync()
        assert view.reusable is False
        assert not view.consumed
        with zipfile.ZipFile(io.BytesIO(sync_bytes(view))) as archive:
            assert archive.read("pipe.txt") == b"from a pipe"
        assert view.consumed and resource.consumed
        with pytest.raises(SourceConsumedError):
            sync_bytes(view)


def test_stopping_early_closes_the_file_being_read(
    files: dict[str, Path], opened_files: list[IO[bytes]]
) -> None:
    resource = create_zip_stream_resource([ZipStreamFile("big.bin", files["big.bin"])])
    chunks = iter(resource.sync())
    next(chunks)
    assert [file.closed for file in opened_files] == [False]
    chunks.close()
    assert [file.closed for file in opened_files] == [True]


def test_a_file_that_changed_size_is_refused(
    files: dict[str, Path], opened_files: list[IO[bytes]]
) -> None:
    resource = create_zip_stream_resource([ZipStreamFile("small.txt", files["small.txt"])])
    with files["small.txt"].open("ab") as file:
        file.write(b"grown")
    with pytest.raises(LengthMismatchError, match=r"small\.txt"):
        sync_bytes(resource.sync())
    assert all(file.closed for file in opened_files)
