"""The library's exceptions, and the one rule for errors met while cleaning up."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, cast


class LengthMismatchError(ValueError):
    """A source yielded a different number of bytes than it declared in advance.

    Sending it on would make a ``Content-Length`` (or a zip's sizes) lie, so the
    body is aborted instead.
    """


if TYPE_CHECKING:
    import httpx

    # What type checkers and the API docs see; the class itself is made by
    # source_consumed_error_type().
    class SourceConsumedError(httpx.StreamConsumed):
        """A one-shot source (a plain async generator, an async file) was iterated twice.

        Raised before any byte of the second pass is produced, so a retry never
        sends a truncated body. Wrap the generator function with
        [ResourceStreamFunction][httpx_streaming.ResourceStreamFunction] to make the
        source reusable. It is an ``httpx.StreamConsumed``.
        """

        def __init__(self, message: str) -> None: ...


@functools.cache
def source_consumed_error_type() -> type[SourceConsumedError]:
    """``SourceConsumedError``, made on first use.

    It subclasses httpx's ``StreamConsumed``, so defining it imports httpx; made
    on first use, a command that never speaks HTTP (a zip of local files)
    starts without that import.
    """
    import httpx

    def __init__(self: httpx.StreamConsumed, message: str) -> None:
        # StreamConsumed's own __init__ takes no message.
        httpx.StreamError.__init__(self, message)

    made = type(
        "SourceConsumedError",
        (httpx.StreamConsumed,),
        {
            "__doc__": "A one-shot source was iterated twice (see the API documentation).",
            "__module__": "httpx_streaming",
            "__init__": __init__,
        },
    )
    return cast("type[SourceConsumedError]", made)


def source_consumed(message: str) -> SourceConsumedError:
    """A ``SourceConsumedError`` with *message*."""
    return source_consumed_error_type()(message)


def length_error(what: object, declared: int, seen: int, *, finished: bool) -> LengthMismatchError:
    """The error for a source that broke its declared length.

    *finished* says whether the source ended (it yielded *seen* bytes in all)
    or is still going (it yielded more than declared, *seen* so far: caught
    before the extra bytes go out).
    """
    if finished:
        return LengthMismatchError(f"{what} declared {declared} bytes but yielded {seen}")
    return LengthMismatchError(f"{what} declared {declared} bytes but yielded more ({seen} so far)")


def check_length(what: object, declared: int | None, seen: int, *, finished: bool) -> None:
    """Raise LengthMismatchError when *seen* bytes break a *declared* length.

    While the source runs only an excess counts; once it finished, any difference.
    """
    if declared is None:
        return
    if seen > declared or (finished and seen != declared):
        raise length_error(what, declared, seen, finished=finished)


def add_note(error: BaseException, note: str) -> None:
    """Attach *note* to *error* (``BaseException.add_note``, also on Python 3.10)."""
    notes = getattr(error, "__notes__", None)
    if not isinstance(notes, list):
        notes = []
        error.__notes__ = notes  # type: ignore[attr-defined]
    notes.append(note)
