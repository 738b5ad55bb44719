"""Byte sources: what every encoder consumes, and the sources this package ships.

The protocol is small on purpose. A byte source is an async iterable of
bytes-like chunks. It may carry two optional attributes:

* ``content_length: int | None`` — the number of bytes each pass yields, when
  known before iterating (``stream_file``, ``bytes``, ``Path``).
* ``reusable: bool`` — whether it can be iterated more than once.

The iterator a pass returns also has ``content_length``; it may become known
only after the first chunk was requested, e.g. when a response's
``Content-Length`` arrives.

[as_byte_source][httpx_streaming.as_byte_source] turns every accepted value —
bytes, ``pathlib.Path``, stream resources, async iterables, async and sync file
objects — into one of these, and rejects anything else with a TypeError when
called, so encoders validate values when they are given.
"""

from __future__ import annotations

import inspect
import io
import pathlib
import types
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator
from typing import IO, Any, final

import anyio.to_thread

from ._errors import source_consumed
from ._files import (
    DEFAULT_CHUNK_SIZE,
    ENCODER_CHUNK_SIZE,
    read_file_object,
    read_file_object_sync,
    stream_file,
)
from ._passes import (
    SourcePass,
    consumed_error,
    held_weakly,
    mark_started,
    was_consumed,
)
from ._resource import ResourceStream, SyncResourceStream
from ._types import BytesLike, ByteSource
from ._validation import check_chunk, describe, is_reusable, source_length


@final
class BytesSource:
    """In-memory bytes as a reusable byte source of known length."""

    __slots__ = ("data",)

    reusable = True
    consumed = False
    plain_sync_face = True  # its .sync() never refuses: checks need not make one

    def __init__(self, data: BytesLike) -> None:
        self.data = data

    @property
    def content_length(self) -> int:
        return len(self.data)

    def __aiter__(self) -> SourcePass:
        return SourcePass(_slices(self.data), self, len(self.data))

    def sync(self) -> SyncResourceStream:
        return SyncResourceStream(slices, self.data, _SLICE_SIZE).face_of(self)

    def _range_from(self, start: int, stop: int | None) -> tuple[AsyncIterator[BytesLike], int]:
        return _slices(memoryview(self.data)[start:stop]), start

    def _sync_range_from(self, start: int, stop: int | None) -> tuple[Iterator[BytesLike], int]:
        return slices(memoryview(self.data)[start:stop], _SLICE_SIZE), start

    def __repr__(self) -> str:
        return f"<BytesSource {len(self.data)} bytes>"


_SLICE_SIZE = 1024 * 1024


def slices(data: BytesLike, chunk_size: int) -> Iterator[BytesLike]:
    """*data* in pieces of *chunk_size*, without copying."""
    if len(data) <= chunk_size:
        if data:
            yield data
        return
    view = memoryview(data)
    for start in range(0, len(view), chunk_size):
        yield view[start : start + chunk_size]


async def _slices(data: BytesLike) -> AsyncIterator[BytesLike]:
    # Big data goes out in zero-copy slices, so that a consumer doing work per
    # chunk (compressing, say) gives the event loop a turn between them.
    for piece in slices(data, _SLICE_SIZE):
        yield piece


@final
class OneShotSource:
    """A source that can be iterated once: an async iterable or an async file.

    The second pass raises [SourceConsumedError][httpx_streaming.SourceConsumedError].
    Once its pass starts, the source holds the value only weakly: a finished
    generator of a 10,000-member archive is freed at once rather than kept (and
    closed again by asyncio when its loop shuts down).
    """

    __slots__ = ("_chunk_size", "_consumed", "_description", "_strong", "_value")

    reusable = False
    content_length = None

    def __init__(self, value: object, chunk_size: int = DEFAULT_CHUNK_SIZE) -> None:
        self._value: Callable[[], object] = held_weakly(value)
        self._strong: object = value  # dropped when the pass starts
        # What messages say of the value once it is gone: its type, __qualname__
        # and id, taken when the pass starts and put into words only if needed.
        self._description: tuple[type, object, int] | None = None
        self._chunk_size = chunk_size
        self._consumed = False

    @property
    def consumed(self) -> bool:
        """Whether the value was already iterated, through this wrapper or another."""
        return self._consumed or _value_consumed(self._value())

    def __aiter__(self) -> SourcePass:
        value = self._value()
        if self._consumed or _value_consumed(value):
            raise consumed_error(value, None if value is not None else self._described())
        self._consumed = True
        mark_started(value)
        self._description = (type(value), getattr(value, "__qualname__", None), id(value))
        self._strong = None
        if type(value) is not types.AsyncGeneratorType and is_async_file(value):
            return SourcePass(_read_async_file(value, self._chunk_size), value)
        return SourcePass(value.__aiter__(), value)  # type: ignore[attr-defined]

    def sync(self) -> SyncResourceStream:
        """The value's own synchronous face, when it has one (a body holding a one-shot
        part); the body keeps track of what its passes consumed.

        Raises:
            TypeError: The value can only be read by async code (an async
                generator or file, or a body holding one).
        """
        sync = getattr(self._value(), "sync", None)
        if not callable(sync):
            raise TypeError(f"{describe(self)} can only be read by async code")
        face: SyncResourceStream = sync()
        return face

    def __repr__(self) -> str:
        value = self._value()
        return f"<OneShotSource {self._described() if value is None else repr(value)}>"

    def _described(self) -> str | None:
        if self._description is None:
            return None
        kind, name, identity = self._description
        named = repr(name) if isinstance(name, str) else f"at {identity:#x}"
        return f"the {kind.__name__} {named}"


def _value_consumed(value: object) -> bool:
    # A wrapper's own flag aside: iterated through another wrapper, or says so itself.
    if type(value) is types.AsyncGeneratorType:
        # Has no `consumed` to say: looking for one would raise and catch an
        # AttributeError, once per member of an archive of small ones.
        return was_consumed(value)
    return was_consumed(value) or getattr(value, "consumed", False) is True


@final
class SyncFileSource:
    """A synchronous binary file object, read in a worker thread.

    Seekable files are reusable: every pass starts from the position the file
    had when the source was made, and their length is known.
    """

    __slots__ = ("_consumed", "_file", "_start", "content_length", "reusable")

    def __init__(self, file: IO[bytes]) -> None:
        self._file = file
        self._consumed = False
        self._start: int | None = None
        self.content_length: int | None = None
        self.reusable = False
        try:
            if file.seekable():
                self._start = file.tell()
                end = file.seek(0, io.SEEK_END)
                file.seek(self._start)
                self.content_length = end - self._start
                self.reusable = True
        except (OSError, ValueError):
            pass

    @property
    def consumed(self) -> bool:
        """Whether an unseekable file was already read (a seekable one never is)."""
        return not self.reusable and (self._consumed or was_consumed(self._file))

    def __aiter__(self) -> SourcePass:
        self._start_pass()
        return SourcePass(self._read(), self._file, self.content_length)

    def sync(self) -> SyncResourceStream:
        """The same bytes without an event loop; one pass only for an unseekable file."""
        return SyncResourceStream(self._read_sync).face_of(self)

    def _start_pass(self) -> None:
        if not self.reusable:
            if self.consumed:
                raise source_consumed(
                    f"{self._file!r} is not seekable and was already read; to send it again, "
                    "pass a reusable source instead (bytes, a pathlib.Path, or a seekable file)"
                )
            self._consumed = True
            mark_started(self._file)

    def _read(self, offset: int = 0) -> AsyncIterator[BytesLike]:
        expected = self.content_length
        if self._start is not None and expected is not None:
            self._file.seek(self._start + offset)
            expected -= offset
        return read_file_object(self._file, ENCODER_CHUNK_SIZE, expected)

    def _read_sync(self, offset: int = 0) -> Iterator[BytesLike]:
        self._start_pass()
        expected = self.content_length
        if self._start is not None and expected is not None:
            self._file.seek(self._start + offset)
            expected -= offset
        return read_file_object_sync(self._file, ENCODER_CHUNK_SIZE, expected)

    def _range_from(self, start: int, stop: int | None) -> tuple[AsyncIterator[BytesLike], int]:
        # Only reusable (seekable) files are ever asked: byte_range refuses the others.
        return self._read(start), start

    def _sync_range_from(self, start: int, stop: int | None) -> tuple[Iterator[BytesLike], int]:
        return self._read_sync(start), start

    def __repr__(self) -> str:
        return f"<SyncFileSource {self._file!r}>"


@final
class IterableSource:
    """A synchronous iterable of bytes: a list or tuple (reusable, length known), a
    [SyncResourceStream][httpx_streaming.SyncResourceStream] or another iterable
    that declares itself ``reusable``, or an iterator such as a generator (one
    pass only).

    Synchronous passes iterate it in the calling thread. An async pass iterates
    a list or tuple on the event loop (nothing there can block) and anything
    else in a worker thread, one chunk per hop: a generator may well wait on
    a disk or a socket.
    """

    __slots__ = ("_consumed", "_in_memory", "_iterable", "content_length", "reusable")

    def __init__(self, iterable: Iterable[Any]) -> None:
        self._consumed = False
        self.content_length: int | None = None
        self._in_memory = isinstance(iterable, list | tuple)
        if isinstance(iterable, list | tuple):
            # A snapshot, with every chunk checked now: a later change to the list
            # cannot make one pass differ from another.
            chunks = tuple(_checked_item(iterable, index) for index in range(len(iterable)))
            self._iterable: Iterable[Any] = chunks
            self.content_length = sum(len(chunk) for chunk in chunks)
            self.reusable = True
        else:
            self._iterable = iterable
            self.reusable = is_reusable(iterable)
            self.content_length = source_length(iterable) if self.reusable else None

    @property
    def consumed(self) -> bool:
        """Whether the iterable cannot be read in full again (a one-pass iterable that
        was read, or another body's face whose body was)."""
        own = getattr(self._iterable, "consumed", False) is True
        if self.reusable:
            return own
        return self._consumed or own or was_consumed(self._iterable)

    def _start(self) -> Iterator[Any]:
        if not self.reusable:
            if self.consumed:
                raise consumed_error(self._iterable)
            self._consumed = True
            mark_started(self._iterable)
        return iter(self._iterable)

    def __aiter__(self) -> SourcePass:
        chunks = self._start()
        if self._in_memory:
            return SourcePass(_iterate_here(chunks), self, self.content_length)
        return SourcePass(_ThreadedIterator(chunks), self, self.content_length)

    def sync(self) -> SyncResourceStream:
        """The same bytes without an event loop; one pass only for a one-pass iterable."""
        return SyncResourceStream(self._start).face_of(self)

    @property
    def _sync_range_from(self) -> Callable[[int, int | None], tuple[Iterator[Any], int]] | None:
        # A body's synchronous face starts where its body can (see byte_range).
        return getattr(self._iterable, "_sync_range_from", None)

    def __repr__(self) -> str:
        return f"<IterableSource {describe(self._iterable)}>"


def _checked_item(items: list[Any] | tuple[Any, ...], index: int) -> BytesLike:
    try:
        return check_chunk(items[index], items)
    except TypeError:
        raise TypeError(
            f"item {index} of {describe(items)} is {describe(items[index])}; chunks must be "
            "bytes-like (bytes, bytearray or memoryview)"
        ) from None


async def _iterate_here(chunks: Iterator[BytesLike]) -> AsyncIterator[BytesLike]:
    for chunk in chunks:
        yield chunk


_END = object()


@final
class _ThreadedIterator:
    """A synchronous iterator read from async code, one ``next`` per worker-thread hop.

    A class rather than an async generator so that ``aclose`` closes the
    iterator even when no chunk was asked for (an unstarted async generator
    would skip its ``finally``). Cancellation waits for a ``next`` under way:
    a thread cannot be stopped, and leaving it would leave the iterator in use.
    """

    __slots__ = ("_chunks",)

    def __init__(self, chunks: Iterator[Any]) -> None:
        self._chunks: Iterator[Any] | None = chunks

    def __aiter__(self) -> _ThreadedIterator:
        return self

    @property
    def content_length(self) -> int | None:
        """What the iterator announced (a synchronous response's length), if anything."""
        return source_length(self._chunks)

    async def __anext__(self) -> Any:
        if self._chunks is None:
            raise StopAsyncIteration
        chunk = await anyio.to_thread.run_sync(next, self._chunks, _END)
        if chunk is _END:
            raise StopAsyncIteration
        return chunk

    async def aclose(self) -> None:
        chunks, self._chunks = self._chunks, None
        close = getattr(chunks, "close", None)
        if close is not None:  # a generator's cleanup may block too
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(close)


def _fresh_iterator(source: AsyncIterable[Any]) -> AsyncIterator[Any]:
    # The function of the ResourceStream that makes another reusable source ours.
    return source.__aiter__()


def is_async_file(value: object) -> bool:
    """anyio, trio and aiofiles file objects: ``await f.read(n)``."""
    read = getattr(value, "read", None)
    return read is not None and inspect.iscoroutinefunction(read)


async def _read_async_file(file: Any, chunk_size: int) -> AsyncIterator[bytes]:
    while chunk := await file.read(chunk_size):
        yield chunk


def as_byte_source(value: object) -> ByteSource:
    """Turn any accepted value into a byte source, or raise TypeError now.

    Accepted: bytes-like values, ``pathlib.Path`` (read afresh on every pass),
    [ResourceStream][httpx_streaming.ResourceStream] and other async iterables
    whose ``reusable`` attribute is ``True`` (their ``content_length`` is kept),
    async file objects (anyio, trio, aiofiles: read
    with ``await f.read(n)``), async iterables of bytes (one-shot), binary
    sync file objects, lists and tuples of bytes (reusable, checked now),
    [SyncResourceStream][httpx_streaming.SyncResourceStream] and other
    iterables that declare themselves ``reusable``, and iterators of bytes such
    as generators (one-shot). Other iterables (a ``range``, a ``dict``) are
    refused: their items are not bytes.

    Every source this returns has a synchronous face (``sync()``) unless it
    can only be read by async code (async iterables and files, and bodies
    holding them: their ``sync()`` raises TypeError).
    """
    if type(value) is types.AsyncGeneratorType:  # the common one-shot, told apart cheaply
        if was_consumed(value):
            raise consumed_error(value)
        return OneShotSource(value)
    if isinstance(
        value, ResourceStream | BytesSource | OneShotSource | SyncFileSource | IterableSource
    ):
        return value
    if isinstance(value, AsyncIterable) and getattr(value, "reusable", False) is True:
        # Another reusable byte source (a FormData, a zip resource, your own class):
        # every pass asks it for a fresh iterator.
        resource = ResourceStream(_fresh_iterator, value)
        resource.content_length = source_length(value)
        sync = getattr(value, "sync", None)
        if callable(sync):
            resource._sync = sync
        # And it starts past byte 0 where the value can (see byte_range).
        resource._range_from = getattr(value, "_range_from", None)
        resource._sync_range_from = getattr(value, "_sync_range_from", None)
        return resource
    if isinstance(value, bytes | bytearray | memoryview):
        return BytesSource(check_chunk(value, value))  # a memoryview of wider items counts bytes
    if isinstance(value, pathlib.PurePath):
        return stream_file(value, chunk_size=ENCODER_CHUNK_SIZE)
    if isinstance(value, str):
        raise TypeError(
            f"expected a byte source, got {describe(value)}; encode text to bytes first"
        )
    if is_async_file(value) or isinstance(value, AsyncIterable):
        if was_consumed(value) or getattr(value, "consumed", False) is True:
            # Refused when given: sending it would be an empty part or member.
            raise consumed_error(value)
        return OneShotSource(value)
    if isinstance(value, io.TextIOBase):
        raise TypeError(f"expected a binary file, got the text file {describe(value)}")
    if callable(getattr(value, "read", None)):
        return SyncFileSource(value)  # type: ignore[arg-type]
    if isinstance(value, list | tuple | Iterator | SyncResourceStream) or (
        isinstance(value, Iterable) and is_reusable(value)
    ):
        if was_consumed(value) or getattr(value, "consumed", False) is True:
            raise consumed_error(value)
        return IterableSource(value)
    if inspect.isasyncgenfunction(value) or inspect.isgeneratorfunction(value):
        raise TypeError(
            f"expected a byte source, got the generator function {describe(value)}; "
            "call it, or decorate it with ResourceStreamFunction and call that"
        )
    raise TypeError(
        "expected a byte source (bytes, pathlib.Path, ResourceStream, an async iterable of "
        "bytes, a list, tuple or iterator of bytes, or a file object), got "
        f"{describe(value)}"
    )
