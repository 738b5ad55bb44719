"""Deflated members compressed ahead of their turn in worker threads: the same bytes,
a bounded budget, and every worker and file done with on every way out."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
import zipfile
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from pathlib import Path
from typing import IO

import anyio
import pytest
from loopback import pattern_bytes
from zip_encoding import text_bytes

from httpx_streaming import (
    COMPRESSION_METHOD_DEFLATE,
    COMPRESSION_METHOD_NONE,
    FormData,
    LengthMismatchError,
    ResourceStreamFunction,
    ZipStreamFile,
    create_zip_stream_resource,
    stream_zip,
)
from httpx_streaming._sources import BytesSource
from httpx_streaming._zip_encoder import member_options
from httpx_streaming._zip_lookahead import BATCH_SIZE, AheadJob, LookAhead, batches
from httpx_streaming._zip_options import check_level
from httpx_streaming._zip_records import Entry

MiB = 1024 * 1024
MOMENT = datetime(2024, 5, 17, 12, 0, 30, tzinfo=timezone.utc)
WORKER = "httpx-streaming-deflate"


def deflate_workers() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name.startswith(WORKER)]


@ResourceStreamFunction
async def generated(size: int, chunk: int, seed: int) -> AsyncIterator[bytes]:
    data = text_bytes(size, seed=seed)
    for start in range(0, size, chunk):
        yield data[start : start + chunk]


async def one_shot(data: bytes) -> AsyncIterator[bytes]:
    yield data


@pytest.fixture
def files(tmp_path: Path) -> list[Path]:
    paths = []
    for index, size in enumerate([70_000, 300_000, 1_500_000, 5 * MiB, 100_000, 9 * MiB]):
        path = tmp_path / f"file-{index}.txt"
        data = text_bytes(size, seed=index) if index % 3 else os.urandom(size)
        path.write_bytes(data)
        paths.append(path)
    return paths


def members(files: list[Path], chunk: int) -> list[ZipStreamFile]:
    """Deflated files and bytes (encoded ahead), mixed with stored members, a one-shot
    async generator, a resource of unknown size and a member too big to go ahead."""

    def deflated(name: str, source: object) -> ZipStreamFile:
        return ZipStreamFile(
            name, source, compression_method=COMPRESSION_METHOD_DEFLATE, modified_at=MOMENT
        )

    return [
        deflated("a.txt", files[0]),
        ZipStreamFile(
            "stored.bin", files[1], compression_method=COMPRESSION_METHOD_NONE, modified_at=MOMENT
        ),
        deflated("b.txt", files[1]),
        deflated("bytes.txt", text_bytes(800_000, seed=9)),
        deflated("one-shot.txt", one_shot(text_bytes(200_000, seed=4))),
        deflated("c.bin", files[2]),
        deflated("generated.txt", generated(600_000, chunk, 5)),
        deflated("d.txt", files[3]),
        ZipStreamFile("folder/", modified_at=MOMENT),
        deflated("e.txt", files[4]),
        deflated("big.txt", files[5]),  # more than a quarter of the look-ahead: in turn
        deflated("small.txt", b"tiny" * 100),  # too small to be worth a thread
        deflated("f.bin", pattern_bytes(2 * MiB, 3)),
    ]


async def archive(files: list[Path], chunk: int, look_ahead_size: int) -> bytes:
    chunks = [bytes(piece) async for piece in stream_zip(
        members(files, chunk), look_ahead_size=look_ahead_size
    )]  # fmt: skip
    return b"".join(chunks)


async def test_encoding_ahead_gives_the_same_bytes(files: list[Path]) -> None:
    in_turn = await archive(files, 65536, look_ahead_size=0)
    ahead = await archive(files, 10_000, look_ahead_size=32 * MiB)
    narrow = await archive(files, 333_333, look_ahead_size=3 * MiB)  # one member at a time
    assert ahead == in_turn == narrow
    with zipfile.ZipFile(io.BytesIO(ahead)) as zip_file:
        assert zip_file.testzip() is None
        assert zip_file.read("d.txt") == files[3].read_bytes()
        assert zip_file.read("bytes.txt") == text_bytes(800_000, seed=9)
    assert deflate_workers() == []


async def test_nested_bodies_are_encoded_in_turn_by_their_async_face() -> None:
    """Bodies inside an archive (forms here) are not read ahead through their synchronous
    face: one holding an async-only part has none, and it must still be archived."""

    @ResourceStreamFunction
    async def remote(size: int) -> AsyncIterator[bytes]:
        yield text_bytes(size, seed=size)

    forms = []
    for index in range(3):
        part = remote(50_000 + index)
        part.content_length = 50_000 + index  # known size: eligible by size alone
        form = FormData(boundary=f"nested-{index}")
        form.add_field("part", part, file_name="part.txt")
        forms.append(form)
    files = [
        ZipStreamFile(
            f"form-{index}.bin",
            form,
            compression_method=COMPRESSION_METHOD_DEFLATE,
            modified_at=MOMENT,
        )
        for index, form in enumerate(forms)
    ]
    chunks = [bytes(chunk) async for chunk in stream_zip(files, look_ahead_size=16 * MiB)]
    with zipfile.ZipFile(io.BytesIO(b"".join(chunks))) as zip_file:
        for index, form in enumerate(forms):
            assert zip_file.read(f"form-{index}.bin") == b"".join(
                [bytes(chunk) async for chunk in form]
            )
    assert deflate_workers() == []


async def test_a_reusable_archive_encodes_ahead_on_every_pass(files: list[Path]) -> None:
    sources = [member for member in members(files, 65536) if member.name != "one-shot.txt"]
    resource = create_zip_stream_resource(sources)
    seen_workers = False
    passes = []
    for _pass in range(2):
        chunks = []
        async for chunk in resource:
            chunks.append(bytes(chunk))
            seen_workers = seen_workers or bool(deflate_workers())
        passes.append(b"".join(chunks))
    assert seen_workers
    in_turn = create_zip_stream_resource(sources, look_ahead_size=0)
    assert passes[0] == passes[1] == b"".join([bytes(piece) async for piece in in_turn])
    assert deflate_workers() == []


async def test_cancelling_stops_and_joins_the_workers(
    files: list[Path], opened_files: list[IO[bytes]]
) -> None:
    many = [
        ZipStreamFile(f"m{index}.txt", files[2], compression_method=COMPRESSION_METHOD_DEFLATE)
        for index in range(12)
    ]
    with anyio.CancelScope() as scope:
        async for _chunk in stream_zip(many):
            if deflate_workers():
                scope.cancel()
    assert scope.cancelled_caught
    assert deflate_workers() == []
    assert opened_files and all(file.closed for file in opened_files)


async def test_a_failing_member_fails_the_archive_and_joins_the_workers(
    files: list[Path], opened_files: list[IO[bytes]]
) -> None:
    archive_members = [
        ZipStreamFile(f"m{index}.txt", files[1], compression_method=COMPRESSION_METHOD_DEFLATE)
        for index in range(4)
    ]
    with files[1].open("ab") as file:
        file.write(b"grown since the member was made")
    with pytest.raises(LengthMismatchError, match="declared 300000 bytes but yielded more"):
        async for _chunk in stream_zip(archive_members):
            pass
    assert deflate_workers() == []
    assert all(file.closed for file in opened_files)


def ahead_job(size: int) -> AheadJob:
    entry = Entry.make("x", is_dir=False, dos_date=33, dos_time=0, unix_time=None, mode=0o644)
    options = member_options(entry, COMPRESSION_METHOD_DEFLATE, check_level(None))
    return AheadJob(options, size, BytesSource(text_bytes(size)))


def test_small_members_share_a_batch() -> None:
    small, big = ahead_job(100 * 1024), ahead_job(BATCH_SIZE)
    found = batches([small, small, small, None, small, big, small, small])
    assert [batch.indices for batch in found] == [[0, 1, 2], [4, 5], [6, 7]]
    assert [batch.size for batch in found] == [300 * 1024, 100 * 1024 + BATCH_SIZE, 200 * 1024]


def test_the_budget_bounds_what_runs_ahead() -> None:
    size = 300 * 1024  # a batch each
    ahead = LookAhead([ahead_job(size), None, ahead_job(size), ahead_job(size)], 700 * 1024, 0)
    try:
        ahead.schedule(0)
        assert ahead.take(1) is None
        started = [ahead.take(index) is not None for index in (0, 2, 3)]
        assert started == [True, True, False]  # two fit in the budget, a third does not
        ahead.schedule(3)  # its turn came: it starts
        future = ahead.take(3)
        assert future is not None
        ahead.deliver(3, future.result())
        encoded = ahead.ready(3)
        assert encoded is not None and encoded.written.size == size
        assert ahead.ready(3) is None
    finally:
        ahead.close()
    assert deflate_workers() == []


@pytest.mark.parametrize("value, error", [(-1, ValueError), (True, TypeError), ("1", TypeError)])
def test_look_ahead_size_is_checked_when_given(value: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="look_ahead_size"):
        create_zip_stream_resource([], look_ahead_size=value)  # type: ignore[arg-type]
    with pytest.raises(error, match="look_ahead_size"):
        stream_zip([], look_ahead_size=value)  # type: ignore[arg-type]


MEMORY_SCRIPT = r"""
import json, os, resource, sys, tempfile, threading
import anyio
from httpx_streaming import COMPRESSION_METHOD_DEFLATE, ZipStreamFile, stream_zip

MiB = 1 << 20

def peak():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

async def main(path):
    # 2 GiB of deflated members read from a file (incompressible, so the compressed
    # bytes waiting for their turn are as big as the input), encoded ahead.
    files = [ZipStreamFile(f"m{index}.bin", path, compression_method=COMPRESSION_METHOD_DEFLATE)
             for index in range(512)]
    baseline = peak()
    total = 0
    ahead = False
    async for chunk in stream_zip(files):
        total += len(chunk)
        ahead = ahead or any(
            thread.name.startswith("httpx-streaming-deflate") for thread in threading.enumerate()
        )
    report = {"baseline": baseline, "peak": peak(), "total": total, "ahead": ahead}
    print(json.dumps(report))

with tempfile.TemporaryDirectory() as folder:
    import pathlib
    path = pathlib.Path(folder, "member.bin")
    path.write_bytes(os.urandom(4 * MiB))
    anyio.run(main, path, backend=sys.argv[1])
"""


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_encoding_2_gib_ahead_keeps_memory_bounded(backend: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", MEMORY_SCRIPT, backend],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["total"] > 2048 * MiB and report["ahead"]
    growth = report["peak"] - report["baseline"]
    assert growth <= 48 * MiB, f"peak RSS grew by {growth / MiB:.1f} MiB: {report}"
