"""The library's exceptions, and the one rule for errors met while cleaning up."""

from __future__ import annotations

from typing import TYPE_CHECKING


class LengthMismatchError(ValueError):
    """A source yielded a different number of bytes than it declared in advance.

    Sending it on would make a ``Content-Length`` (or a zip's sizes) lie, so the
    body is aborted instead.
    """


class SourceChangedError(ValueError):
    """A source's bytes changed between two passes, where a pass relies on them not to.

    A range of a ``stream_response`` body raises it when the server's resource
    changed since an earlier pass (its ``ETag`` or ``Last-Modified`` differs):
    the range would splice two versions of it.
    """


if TYPE_CHECKING:
    from ._consumed import SourceConsumedError


def source_consumed(message: str) -> SourceConsumedError:
    """A ``SourceConsumedError`` with *message* (its module, and httpx, imported now)."""
    from ._consumed import SourceConsumedError

    return SourceConsumedError(message)


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
