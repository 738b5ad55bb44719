"""``SourceConsumedError``, in a module of its own: it subclasses httpx's
``StreamConsumed`` (and httpx2's, when httpx2 is installed), so importing this
module imports them, and only code that needs the class imports it (a zip of
local files never does)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx


def _other_stream_consumed() -> tuple[type[Exception], ...]:
    # httpx2 is a fork, not a subclass: its StreamConsumed is another class, which a
    # program that holds httpx2 clients catches. Both derive from RuntimeError only.
    try:
        import httpx2
    except ImportError:
        return ()
    return (httpx2.StreamConsumed,)


if TYPE_CHECKING:
    _StreamConsumed = httpx.StreamConsumed
else:
    _StreamConsumed = type(
        "AnyStreamConsumed",
        (httpx.StreamConsumed, *_other_stream_consumed()),
        {"__module__": __name__, "__doc__": "httpx's StreamConsumed, and httpx2's when installed."},
    )


class SourceConsumedError(_StreamConsumed):
    """A one-shot source (a plain generator, an async file) was iterated twice.

    Raised before any byte of the second pass is produced, so a retry never
    sends a truncated body. Wrap the generator function with
    [ResourceStreamFunction][httpx_streaming.ResourceStreamFunction] to make the
    source reusable. It is an ``httpx.StreamConsumed`` and, when httpx2 is
    installed, an ``httpx2.StreamConsumed`` too.
    """

    __module__ = "httpx_streaming"

    def __init__(self, message: str) -> None:
        # Neither StreamConsumed's __init__ takes a message, and with two of them
        # in the MRO their cooperative super() calls would pass it along: go to
        # the one base they share.
        RuntimeError.__init__(self, message)
