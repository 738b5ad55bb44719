"""The toolkit every driver uses for passes over byte sources.

A *pass* is one ``async for`` over a source. Before it starts, a one-shot
source that was already read is refused; while it runs, chunks must be
bytes-like and must not exceed a declared length; when it ends, the length
must match; on every way out the source is closed. One rule holds for errors:
the error a source raised is the error the user sees, and an error while
closing it afterwards is attached to that error as a note, never replaces it.
"""

from __future__ import annotations

import types
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any, final

import anyio

from ._errors import add_note, check_length, source_consumed
from ._types import ByteSource, Chunk
from ._validation import check_chunk, describe

if TYPE_CHECKING:
    from ._consumed import SourceConsumedError

_REUSABLE_HINT = (
    "pass a reusable source instead (bytes, a pathlib.Path, or a ResourceStream, "
    "e.g. from ResourceStreamFunction or stream_response)"
)


class _Checks:
    """What every pass checks, async or not: chunks are bytes-like, and a pass yields
    exactly the bytes it declared."""

    __slots__ = ("_declared", "_seen", "iterator", "source")

    def __init__(self, iterator: Any, source: object, content_length: int | None = None) -> None:
        self.iterator = iterator
        self.source = source
        self._declared = content_length
        self._seen = 0

    @property
    def content_length(self) -> int | None:
        """The bytes this pass yields: declared, or announced by its iterator (a
        response's headers) once the first chunk was asked for."""
        if self._declared is not None:
            return self._declared
        if type(self.iterator) is types.AsyncGeneratorType:
            return None  # announces nothing (and a missed getattr costs an exception)
        announced = getattr(self.iterator, "content_length", None)
        return announced if isinstance(announced, int) else None

    def _checked(self, chunk: Any) -> Chunk:
        """*chunk*, counted; TypeError or ValueError (a length error) if it may not go on.

        Bytes-like, typed ``Chunk`` (see there): a pass is what httpx reads.
        """
        if type(chunk) is not bytes:
            chunk = check_chunk(chunk, self.source)
        self._seen += len(chunk)
        check_length(self.source, self.content_length, self._seen, finished=False)
        return chunk  # type: ignore[no-any-return]

    def _check_end(self) -> None:
        check_length(self.source, self.content_length, self._seen, finished=True)


@final
class SourcePass(_Checks, AsyncIterator[Chunk]):
    """One pass over a byte source: checks chunks and lengths, closes what it wraps.

    ``content_length`` is the number of bytes this pass will yield when it is
    known; it may become known only once the first chunk was requested (a
    response's headers). Drivers on a hot path iterate ``iterator`` directly
    and run the same checks inline; everyone else iterates the pass itself.
    It is also an async context manager that closes the pass by the rule of
    this module.
    """

    __slots__ = ()

    iterator: AsyncIterator[Any]

    def __aiter__(self) -> SourcePass:
        return self

    async def __anext__(self) -> Chunk:
        try:
            chunk = await self.iterator.__anext__()
        except StopAsyncIteration:
            self._check_end()
            raise
        try:
            return self._checked(chunk)
        except (TypeError, ValueError) as error:
            await close_pass(self, error)  # the source must not be left suspended
            raise

    async def aclose(self) -> None:
        """Close the underlying iterator (its ``finally`` blocks run now)."""
        await close_pass(self.iterator)

    async def __aenter__(self) -> SourcePass:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if error is None:
            # What close_pass(self) does without an error to attach a note to,
            # one call shorter: archives of many small members pass here per member.
            await close_pass(self.iterator)
        else:
            await close_pass(self, error)

    def __repr__(self) -> str:
        return f"<pass of {self.source!r}>"


def open_pass(source: ByteSource) -> SourcePass:
    """Start a pass over a source made by ``as_byte_source`` (or an encoder)."""
    iterator = source.__aiter__()
    if type(iterator) is SourcePass:
        return iterator
    return SourcePass(iterator, source, source.content_length)


async def close_pass(stream: AsyncIterator[Any], error: BaseException | None = None) -> None:
    """Close a pass; after *error*, shielded and without letting a close error replace it.

    Shielded so that a cancelled consumer still runs the source's cleanup. An
    error raised while closing after *error* is attached to *error* as a note.
    """
    if type(stream) is types.AsyncGeneratorType and stream.ag_frame is None:
        return  # finished or closed already: nothing to run
    aclose = getattr(stream, "aclose", None)
    if aclose is None:
        return
    if error is None:
        await aclose()
        return
    with anyio.CancelScope(shield=True):
        try:
            await aclose()
        except Exception as close_error:
            _note_close_error(error, stream, close_error)


def _note_close_error(error: BaseException, stream: object, close_error: Exception) -> None:
    add_note(error, f"closing {stream!r} after this error failed too: {close_error!r}")


# --- synchronous passes --------------------------------------------------------------


@final
class SyncSourcePass(_Checks, Iterator[Chunk]):
    """One synchronous pass over a byte source: the checks of ``SourcePass``, without
    an event loop. Also a context manager that closes the pass by the same rule."""

    __slots__ = ()

    iterator: Iterator[Any]

    def __iter__(self) -> SyncSourcePass:
        return self

    def __next__(self) -> Chunk:
        try:
            chunk = next(self.iterator)
        except StopIteration:
            self._check_end()
            raise
        try:
            return self._checked(chunk)
        except (TypeError, ValueError) as error:
            close_sync_pass(self.iterator, error)
            raise

    def close(self) -> None:
        """Close the underlying iterator (its ``finally`` blocks run now)."""
        close_sync_pass(self.iterator)

    def __enter__(self) -> SyncSourcePass:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        close_sync_pass(self.iterator, error)

    def __repr__(self) -> str:
        return f"<synchronous pass of {self.source!r}>"


def open_sync_pass(source: ByteSource) -> SyncSourcePass:
    """Start a synchronous pass over a source that has a synchronous face.

    Raises:
        TypeError: The source can be read only from async code.
    """
    sync = getattr(source, "sync", None)
    if sync is None:
        raise TypeError(f"{describe(source)} can only be read by async code")
    return SyncSourcePass(iter(sync()), source, source.content_length)


def close_sync_pass(stream: Iterator[Any], error: BaseException | None = None) -> None:
    """Close a synchronous pass; an error while closing after *error* becomes its note."""
    close = getattr(stream, "close", None)
    if close is None:
        return
    if error is None:
        close()
        return
    try:
        close()
    except Exception as close_error:
        _note_close_error(error, stream, close_error)


def require_sync_face(source: ByteSource, described: object) -> None:
    """Raise TypeError now, before any byte, unless *source* (what a wrapping body,
    *described*, reads) has a synchronous face that does not refuse (a body holding an
    async generator refuses).

    Making the face reads nothing: a wrapper's ``sync()`` calls this first.
    """
    face = getattr(source, "sync", None)
    if face is None:
        raise TypeError(f"{describe(described)} can only be read by async code")
    face()


def refuse_async_only(source: ByteSource, part: str, name: str, hint: str) -> None:
    """Raise TypeError now if *source*, the *part* called *name* of a body, can only be
    read by async code; *hint* says what to do instead.

    Making a source's synchronous face reads nothing, so a face is made here as
    the check: a nested body refuses for its own async-only parts. Sources whose
    class says ``plain_sync_face = True`` (in-memory bytes) are not asked: their
    face never refuses, and making 10,000 of them costs more than the rest of
    a small member's checks.
    """
    if getattr(type(source), "plain_sync_face", False):
        return
    sync = getattr(source, "sync", None)
    try:
        if sync is None:
            raise TypeError(f"{describe(source)} can only be read by async code")
        sync()
    except TypeError as error:
        raise TypeError(f"{part} {name!r}: {error}; {hint}") from None


# --- one-shot values ---------------------------------------------------------------

# One-shot values that a pass has started. The mark lives with the value, not
# with its wrapper: a retry loop that builds its body anew wraps the same,
# already exhausted generator in a new wrapper, and must still be refused.
# Held as weak references, each removing itself once its value is gone: what a
# WeakSet does, without its methods written in Python, which cost about as much
# as the rest of a small member's pass (a weak reference hashes and compares as
# its value while that lives, and keeps its hash after).
_STARTED: set[weakref.ref[Any]] = set()


def mark_started(value: object) -> None:
    """Remember that a pass over the one-shot *value* started."""
    # Not contextlib.suppress, whose context manager costs about a microsecond:
    # this runs once per member of an archive of one-shot sources.
    try:  # noqa: SIM105
        _STARTED.add(weakref.ref(value, _STARTED.discard))
    except TypeError:
        pass  # not weak-referenceable (or not hashable): the wrapper's flag remains


def held(value: object) -> Callable[[], object]:
    """*value*, held strongly, behind the same call as ``held_weakly``."""
    return lambda: value


def held_weakly(value: object) -> Callable[[], object]:
    """*value* held weakly when it can be (the call then returns ``None`` once it is
    gone), else strongly."""
    try:
        return weakref.ref(value)
    except TypeError:
        return held(value)


def was_consumed(value: object) -> bool:
    """Whether the one-shot *value* was already iterated, through any wrapper."""
    if (isinstance(value, types.AsyncGeneratorType) and value.ag_frame is None) or (
        isinstance(value, types.GeneratorType) and value.gi_frame is None
    ):
        return True  # finished or closed: iterating it again yields nothing
    try:
        return weakref.ref(value) in _STARTED
    except TypeError:
        return False


def consumed_error(value: object, description: str | None = None) -> SourceConsumedError:
    """The error for a second pass over the one-shot *value* (its *description* instead
    of its repr, once it is gone)."""
    return source_consumed(
        f"{description or repr(value)} is a one-shot stream that was already consumed; to "
        "send it again, " + _REUSABLE_HINT
    )


def refuse_consumed(source: ByteSource, part: str, name: str) -> None:
    """Raise SourceConsumedError now if *source*, the *part* called *name* of a body,
    cannot be read again.

    Called before a pass produces its first byte and by ``.headers``, so that a
    body that cannot be sent in full fails before any request goes out.
    """
    if source.consumed:
        raise source_consumed(
            f"{part} {name!r} holds a one-shot stream that was already consumed, so the body "
            "cannot be sent again; " + _REUSABLE_HINT
        )


@final
class OneShotValues:
    """The one-shot values given to one body, so that none is given twice.

    Values are held themselves, not their ids, which could be reused once a
    value is gone.
    """

    __slots__ = ("_owners",)

    def __init__(self) -> None:
        self._owners: dict[int, tuple[object, str, str]] = {}

    def claim(self, value: object, part: str, name: str) -> None:
        """Record that the *part* called *name* reads *value*; ValueError if another
        part already does."""
        other = self._owners.get(id(value))
        if other is not None and other[0] is value:
            raise ValueError(
                f"{other[1]} {other[2]!r} and {part} {name!r} share the one-shot source "
                f"{describe(value)}, which can be read only once"
            )
        self._owners[id(value)] = (value, part, name)
