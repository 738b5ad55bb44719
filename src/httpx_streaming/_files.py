"""Blocking files read from async code with as few hops to a worker thread as the data allows.

A hop to a worker thread costs tens of microseconds: as much as reading
hundreds of KiB from the page cache. So a file is opened, read and (when it
fits in one read) closed in a single hop; a larger file is read in
``READ_BATCH`` pieces, one hop each, and handed to consumers as zero-copy
slices of the chunk size they asked for. The event loop never waits on disk.

The blocking halves (``open_and_read``, ``read_more``) are plain functions, so
a synchronous driver uses them as they are.
"""

from __future__ import annotations

import functools
import io
import os
import pathlib
import stat
from collections.abc import AsyncIterator, Iterator
from typing import IO, Final

import anyio.to_thread

from ._resource import ResourceStream, SyncResourceStream
from ._types import BytesLike
from ._validation import check_int

DEFAULT_CHUNK_SIZE: Final = 65536
# The slices of a path given to an encoder: big enough to cost little per chunk,
# small enough that compressing one keeps the event loop's turns short.
ENCODER_CHUNK_SIZE: Final = 1024 * 1024
# Bytes read per hop: large enough that the hop is a small part of its cost,
# small enough to stay a modest, fixed amount of memory per pass.
READ_BATCH: Final = 4 * 1024 * 1024


def open_and_read(path: pathlib.Path, expected: int) -> tuple[IO[bytes] | None, bytes]:
    """Open *path* and read its first batch; the file comes back ``None`` when it was
    all read and is already closed.

    *expected* is its size as last seen: asking for one byte more tells a file
    that still has that size is at its end without another read.
    """
    file = open(path, "rb", buffering=0)  # noqa: SIM115 - closed here or by the caller
    try:
        return _continue(file, expected)
    except BaseException:
        file.close()
        raise


def read_more(file: IO[bytes], remaining: int) -> tuple[IO[bytes] | None, bytes]:
    """The next batch of *file*, which should have *remaining* bytes left; like
    ``open_and_read``, the file comes back ``None`` once closed at its end."""
    try:
        return _continue(file, remaining)
    except BaseException:
        file.close()
        raise


def _continue(file: IO[bytes], remaining: int) -> tuple[IO[bytes] | None, bytes]:
    # A file that grew past its size gets full batches; the pass's length check stops it.
    wanted = min(READ_BATCH, remaining + 1) if remaining >= 0 else READ_BATCH
    data = _read_full(file, wanted)
    if len(data) < wanted:  # at the end
        file.close()
        return None, data
    return file, data


def _read_full(file: IO[bytes], size: int) -> bytes:
    # An unbuffered read may return less than asked before the end (a pipe, a
    # network file system): only an empty read means the end.
    data = file.read(size) or b""
    if len(data) == size or not data:
        return data
    pieces = [data]
    got = len(data)
    while got < size:
        more = file.read(size - got)
        if not more:
            break
        pieces.append(more)
        got += len(more)
    return b"".join(pieces)


def slices(data: BytesLike, chunk_size: int) -> Iterator[BytesLike]:
    """*data* in pieces of *chunk_size*, without copying."""
    if len(data) <= chunk_size:
        if data:
            yield data
        return
    view = memoryview(data)
    for start in range(0, len(view), chunk_size):
        yield view[start : start + chunk_size]


async def read_path(path: pathlib.Path, expected: int, chunk_size: int) -> AsyncIterator[BytesLike]:
    """Every byte of the file at *path*, which had *expected* bytes when last seen."""
    file, data = await anyio.to_thread.run_sync(open_and_read, path, expected)
    try:
        while True:
            for piece in slices(data, chunk_size):
                yield piece
            if file is None:
                return
            expected -= len(data)
            file, data = await anyio.to_thread.run_sync(read_more, file, expected)
    finally:
        if file is not None:  # left early: closing a file opened for reading never waits
            file.close()


def read_path_sync(path: pathlib.Path, expected: int, chunk_size: int) -> Iterator[BytesLike]:
    """``read_path`` without an event loop: the same reads, in the calling thread."""
    file, data = open_and_read(path, expected)
    try:
        while True:
            yield from slices(data, chunk_size)
            if file is None:
                return
            expected -= len(data)
            file, data = read_more(file, expected)
    finally:
        if file is not None:
            file.close()


async def read_file_object(file: IO[bytes], chunk_size: int) -> AsyncIterator[BytesLike]:
    """A blocking file object from its current position, in worker threads (in memory
    files, which never block, on the event loop)."""
    if isinstance(file, io.BytesIO):
        while chunk := file.read(chunk_size):
            yield chunk
        return
    while True:
        data = await anyio.to_thread.run_sync(_read_full, file, READ_BATCH)
        for piece in slices(data, chunk_size):
            yield piece
        if len(data) < READ_BATCH:
            return


def read_file_object_sync(file: IO[bytes], chunk_size: int) -> Iterator[BytesLike]:
    """``read_file_object`` without an event loop."""
    while True:
        data = _read_full(file, READ_BATCH)
        yield from slices(data, chunk_size)
        if len(data) < READ_BATCH:
            return


def stream_file(
    path: str | os.PathLike[str], *, chunk_size: int = DEFAULT_CHUNK_SIZE
) -> ResourceStream:
    """A reusable stream over a local file, read in anyio's worker threads.

    The file's size is read now (a missing file raises ``FileNotFoundError``
    here, not mid-request) and declared as ``content_length``; if the file
    changes size before it is sent, the pass raises
    [LengthMismatchError][httpx_streaming.LengthMismatchError] rather than send
    a body that contradicts its ``Content-Length``. Send that length with
    ``headers=body.headers``.

    A file up to 4 MiB is opened, read and closed in one hop to a worker
    thread; a larger one is read 4 MiB per hop. Either way it is yielded in
    zero-copy slices of *chunk_size* bytes.

    ```python
    body = stream_file("backup.tar")
    await client.put(url, content=body, headers=body.headers)
    ```
    """
    check_int(chunk_size, "chunk_size", minimum=1)
    file_path = path if isinstance(path, pathlib.Path) else pathlib.Path(path)
    status = os.stat(file_path)
    if not stat.S_ISREG(status.st_mode):
        raise IsADirectoryError(f"{str(file_path)!r} is not a regular file")
    resource = ResourceStream(read_path, file_path, status.st_size, chunk_size)
    resource.content_length = status.st_size
    resource._sync = functools.partial(_sync_face, file_path, status.st_size, chunk_size)
    return resource


def _sync_face(path: pathlib.Path, size: int, chunk_size: int) -> SyncResourceStream:
    view = SyncResourceStream(read_path_sync, path, size, chunk_size)
    view.content_length = size
    return view
