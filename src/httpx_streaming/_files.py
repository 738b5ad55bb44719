"""Blocking files read from async code with as few hops to a worker thread as the data allows.

A hop to a worker thread costs tens of microseconds: as much as reading
hundreds of KiB from the page cache. So a file is opened, read and (when it
fits in one batch) closed in a single hop; a larger file is read in
``READ_BATCH`` batches, one hop each, as ``bytes`` chunks of the size
consumers asked for (one ``read`` each). The event loop never waits on disk.

The blocking half (``FileReader``) is plain synchronous code, so the
synchronous face reads files with it as it is, in the calling thread.
"""

from __future__ import annotations

import functools
import io
import os
import pathlib
import stat
from collections.abc import AsyncIterator, Callable, Iterator
from typing import IO, Final, TypeVar, final

import anyio.to_thread

from ._resource import ResourceStream, SyncResourceStream
from ._validation import check_int

DEFAULT_CHUNK_SIZE: Final = 65536
# The chunks of a path given to an encoder: big enough to cost little per chunk,
# small enough that compressing one keeps the event loop's turns short.
ENCODER_CHUNK_SIZE: Final = 1024 * 1024
# Bytes read per hop: large enough that the hop is a small part of its cost,
# small enough to stay a modest, fixed amount of memory per pass.
READ_BATCH: Final = 4 * 1024 * 1024

_Chunks = TypeVar("_Chunks", AsyncIterator[bytes], Iterator[bytes])


@final
class FileReader:
    """Reads one pass of a file in batches of chunks; made fresh for every pass.

    A batch is up to ``READ_BATCH`` bytes, read as pieces of *chunk_size*
    (``bytes``, one ``read`` each, nothing copied afterwards); ``read_batch``
    is what a worker thread runs. A file opened from a path is the reader's:
    it is closed at its end (within the batch that reaches it) or by
    ``close``. A file object given by the caller is only read.
    """

    __slots__ = ("_chunk_size", "_file", "_offset", "_owned", "_path", "_remaining", "done")

    def __init__(
        self,
        chunk_size: int,
        *,
        path: pathlib.Path | None = None,
        expected: int | None = None,
        file: IO[bytes] | None = None,
        offset: int = 0,
    ) -> None:
        self._chunk_size = chunk_size
        self._path = path
        self._offset = offset  # where a file opened from the path is read from
        self._file = file
        self._owned = file is None
        # The bytes still expected (None: unknown, read until an empty read).
        self._remaining = expected
        self.done = False

    def read_batch(self) -> list[bytes]:
        """The next pieces; ``done`` is set once the end was reached."""
        file = self._file
        if file is None:
            assert self._path is not None
            file = self._file = open(self._path, "rb", buffering=0)  # noqa: SIM115 - ours
            if self._offset:
                file.seek(self._offset)
        try:
            return self._read(file)
        except BaseException:
            self.close()
            raise

    def _read(self, file: IO[bytes]) -> list[bytes]:
        pieces: list[bytes] = []
        got = 0
        chunk_size, remaining = self._chunk_size, self._remaining
        while got < READ_BATCH:
            # Where the end is expected, ask for one byte more: a short answer then
            # tells the end without another read. A file that grew gets whole
            # chunks; the pass's length check stops it.
            left = -1 if remaining is None else remaining - got
            wanted = chunk_size if left < 0 else min(chunk_size, left + 1)
            data = file.read(wanted)
            if not data:
                self._end()
                break
            pieces.append(data)
            got += len(data)
            if len(data) < wanted:
                if remaining is None:
                    # A pipe or socket answers with what it has: pass that on now
                    # rather than wait for a whole batch; the end is an empty read.
                    break
                if got >= remaining:  # short where the end is expected: the end
                    self._end()
                    break
                # Short before the expected end (a network file system): read on.
        if remaining is not None:
            self._remaining = remaining - got
        return pieces

    def _end(self) -> None:
        self.done = True
        self.close()

    def close(self) -> None:
        """Close the file if the reader opened it (closing a file read from never waits)."""
        if self._owned and self._file is not None:
            self._file.close()
        self._file = None


async def read_in_threads(reader: FileReader) -> AsyncIterator[bytes]:
    """Every chunk of *reader*'s file, a batch per hop to a worker thread."""
    try:
        while not reader.done:
            for chunk in await anyio.to_thread.run_sync(reader.read_batch):
                yield chunk
    finally:
        reader.close()


def read_here(reader: FileReader) -> Iterator[bytes]:
    """``read_in_threads`` without an event loop: the same reads, in the calling thread."""
    try:
        while not reader.done:
            yield from reader.read_batch()
    finally:
        reader.close()


def read_path(
    path: pathlib.Path, expected: int, chunk_size: int, offset: int = 0
) -> AsyncIterator[bytes]:
    """Every byte of the file at *path*, which had *expected* bytes when last seen
    (from byte *offset* on, when given)."""
    reader = FileReader(chunk_size, path=path, expected=expected - offset, offset=offset)
    return read_in_threads(reader)


def read_path_sync(
    path: pathlib.Path, expected: int, chunk_size: int, offset: int = 0
) -> Iterator[bytes]:
    """``read_path`` in the calling thread."""
    return read_here(FileReader(chunk_size, path=path, expected=expected - offset, offset=offset))


def read_file_object(
    file: IO[bytes], chunk_size: int, expected: int | None = None
) -> AsyncIterator[bytes]:
    """A blocking file object from its current position (*expected* bytes left, when
    known), in worker threads; in-memory files, which never block, on the event loop."""
    if isinstance(file, io.BytesIO):
        return _read_in_memory(file, chunk_size)
    return read_in_threads(FileReader(chunk_size, file=file, expected=expected))


async def _read_in_memory(file: io.BytesIO, chunk_size: int) -> AsyncIterator[bytes]:
    while chunk := file.read(chunk_size):
        yield chunk


def read_file_object_sync(
    file: IO[bytes], chunk_size: int, expected: int | None = None
) -> Iterator[bytes]:
    """``read_file_object`` in the calling thread."""
    return read_here(FileReader(chunk_size, file=file, expected=expected))


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

    A file smaller than 4 MiB is opened, read and closed in one hop to a
    worker thread; a larger one is read 4 MiB per hop, as ``bytes`` chunks of
    *chunk_size*.

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
    size = status.st_size
    resource = ResourceStream(read_path, file_path, size, chunk_size)
    resource.content_length = size
    resource._sync = functools.partial(_sync_face, file_path, size, chunk_size)
    resource._range_from = functools.partial(_path_from, read_path, file_path, size, chunk_size)
    resource._sync_range_from = functools.partial(
        _path_from, read_path_sync, file_path, size, chunk_size
    )
    return resource


def file_identity(source: object) -> tuple[int, int, int] | None:
    """The size, modification time and inode of the file a ``stream_file`` source
    reads, now (``None`` for other sources, or a file that is gone): what tells
    that a file changed without reading it."""
    if type(source) is not ResourceStream or source.function is not read_path:
        return None
    try:
        status = os.stat(source.positional_parameters[0])
    except OSError:
        return None
    return (status.st_size, status.st_mtime_ns, status.st_ino)


def _sync_face(path: pathlib.Path, size: int, chunk_size: int) -> SyncResourceStream:
    view = SyncResourceStream(read_path_sync, path, size, chunk_size)
    view.content_length = size
    view._sync_range_from = functools.partial(_path_from, read_path_sync, path, size, chunk_size)
    return view


def _path_from(
    read: Callable[[pathlib.Path, int, int, int], _Chunks],
    path: pathlib.Path,
    size: int,
    chunk_size: int,
    start: int,
    stop: int | None,
) -> tuple[_Chunks, int]:
    """A pass over the file from byte *start*: it seeks there (a range opener)."""
    return read(path, size, chunk_size, start), start
