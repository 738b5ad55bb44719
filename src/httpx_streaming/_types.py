"""Named types: what the library accepts and what it hands back (no I/O, no event loop)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from typing import IO, Any, NoReturn, Protocol, TypeAlias, TypeVar, runtime_checkable

BytesLike: TypeAlias = bytes | bytearray | memoryview
"""A chunk of data: ``bytes``, ``bytearray`` or a ``memoryview`` of bytes."""

Chunk: TypeAlias = bytes
"""What the bodies of this library yield, typed as httpx's ``content=`` asks.

httpx's ``content=`` is typed as an iterable of ``bytes``, and type checkers
no longer count a ``memoryview`` as ``bytes``; so bodies are typed as yielding
``bytes``. At run time a chunk may also be a ``memoryview`` (a zero-copy slice
of big in-memory data) or a caller's own ``bytearray``: buffers that httpx,
sockets, files and hashes take as they are. Call ``bytes(chunk)`` before using
a method only ``bytes`` has.
"""


@runtime_checkable
class AsyncReadable(Protocol):
    """An async file object (anyio, trio, aiofiles): ``await f.read(n)``."""

    async def read(self, size: int = -1, /) -> bytes: ...


SourceValue: TypeAlias = (
    bytes
    | bytearray
    | memoryview
    | os.PathLike[str]
    | AsyncIterable[BytesLike]
    | Iterable[BytesLike]
    | AsyncReadable
    | IO[bytes]
)
"""What [as_byte_source][httpx_streaming.as_byte_source] accepts: bytes-like data, a path, a
stream resource or any async iterable of bytes, an iterable of bytes (a list, a generator, a
``SyncResourceStream``), an async file or a binary sync file."""


class SourceIterator(Protocol):
    """One pass over a byte source: an async iterator of chunks that can be closed.

    ``content_length`` may become known only once the first chunk was asked
    for (a response's headers), so readers that want it look after their
    first ``__anext__``.
    """

    @property
    def content_length(self) -> int | None: ...

    def __aiter__(self) -> AsyncIterator[BytesLike]: ...

    async def __anext__(self) -> BytesLike: ...

    async def aclose(self) -> None: ...


@runtime_checkable
class ByteSource(Protocol):
    """What [as_byte_source][httpx_streaming.as_byte_source] returns and every encoder reads.

    An async iterable of bytes-like chunks that says what it knows about
    itself. Any async iterable of bytes can be *given* to the encoders (its
    own ``content_length`` and ``reusable`` attributes are read when it has
    them); they turn it into one of these.

    Attributes:
        content_length: The number of bytes every pass yields, when known
            before iterating (bytes, files), else ``None``.
        reusable: Whether every ``async for`` starts the data afresh.
        consumed: Whether a one-shot source was already iterated, so another
            pass would fail with
            [SourceConsumedError][httpx_streaming.SourceConsumedError]
            (always ``False`` for reusable sources).
    """

    @property
    def content_length(self) -> int | None: ...

    @property
    def reusable(self) -> bool: ...

    @property
    def consumed(self) -> bool: ...

    def __aiter__(self) -> AsyncIterator[BytesLike]: ...


T = TypeVar("T")


class NoPublicConstructor(type):
    """Metaclass of types users hold but never build: calling the class raises TypeError.

    The library makes instances with ``cls._create(...)``.
    """

    def __call__(cls, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError(
            f"{cls.__module__.split('.')[0]}.{cls.__qualname__} has no public constructor"
        )

    def _create(cls: type[T], *args: Any, **kwargs: Any) -> T:
        return super().__call__(*args, **kwargs)  # type: ignore[misc, no-any-return]
