"""A stand-in for a terminal: what the progress bar draws on, kept in memory."""

from __future__ import annotations

import io


class FakeTTY(io.StringIO):
    """A text stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True
