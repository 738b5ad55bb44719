"""``SourceConsumedError``, in a module of its own: it subclasses httpx's
``StreamConsumed``, so importing this module imports httpx, and only code that
needs the class imports it (a zip of local files never does)."""

from __future__ import annotations

import httpx


class SourceConsumedError(httpx.StreamConsumed):
    """A one-shot source (a plain async generator, an async file) was iterated twice.

    Raised before any byte of the second pass is produced, so a retry never
    sends a truncated body. Wrap the generator function with
    [ResourceStreamFunction][httpx_streaming.ResourceStreamFunction] to make the
    source reusable. It is an ``httpx.StreamConsumed``.
    """

    __module__ = "httpx_streaming"

    def __init__(self, message: str) -> None:
        # StreamConsumed's own __init__ takes no message.
        httpx.StreamError.__init__(self, message)
