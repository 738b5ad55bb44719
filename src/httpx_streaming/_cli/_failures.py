"""Expected failures of the command line: exit codes and one-line messages.

Everything a user can get wrong ends as one line on standard error and a
documented exit code (see ``docs/cli.md``); ``describe_failure`` says which,
and ``None`` means a bug, which keeps its traceback.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from .._errors import LengthMismatchError

if TYPE_CHECKING:
    import httpx

PROG = "httpx-streaming"  # starts every line the command prints on standard error

EXIT_OK = 0
EXIT_TRANSFER = 1  # network error, HTTP error status, a source failing mid-transfer
EXIT_USAGE = 2  # bad command line: options, -F syntax, member names, unavailable backend
EXIT_LOCAL = 3  # local files: missing, permission denied, unwritable output
EXIT_INTERRUPTED = 130  # Ctrl-C, as shells report SIGINT


class CommandError(Exception):
    """An expected failure: printed as one line, ends the command with ``code``."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def describe_failure(exc: BaseException) -> tuple[int, str] | None:
    """Exit code and one-line message for an expected failure; ``None`` for a bug."""
    exc = unwrap(exc)
    if isinstance(exc, CommandError):
        return exc.code, exc.message
    # httpx is imported only by commands that use the network, and only then can its
    # errors exist.
    httpx = sys.modules.get("httpx")
    if httpx is not None and isinstance(exc, httpx.HTTPError):
        return EXIT_TRANSFER, _describe_http(exc)
    if isinstance(exc, LengthMismatchError):
        return EXIT_TRANSFER, f"a source changed size while being sent: {exc}"
    if isinstance(exc, OSError):
        filename = exc.filename
        if isinstance(exc, PermissionError):
            reason = "permission denied"
        elif isinstance(exc, FileNotFoundError):
            reason = "no such file or directory"
        elif isinstance(exc, BrokenPipeError):
            return EXIT_LOCAL, "standard output was closed before the end"
        else:
            reason = (exc.strerror or str(exc)).lower()
        if filename is None:
            return EXIT_LOCAL, reason
        return EXIT_LOCAL, f"{reason}: {os.fsdecode(filename)!r}"
    return None


def unwrap(exc: BaseException) -> BaseException:
    """The single exception inside (nested) exception groups, else *exc* itself."""
    while True:
        inner = getattr(exc, "exceptions", None)
        if not isinstance(inner, tuple) or len(inner) != 1:
            return exc
        exc = inner[0]


def status_text(response: httpx.Response) -> str:
    """``404 Not Found``: the status code and its reason phrase."""
    import httpx

    reason = response.reason_phrase or httpx.codes.get_reason_phrase(response.status_code)
    return f"{response.status_code} {reason}".rstrip()


def _describe_http(exc: httpx.HTTPError) -> str:
    import httpx

    from .._response import failed_upstream

    # A source URL's error that crossed the upload carries the upload's request
    # (httpx re-stamps it); stream_response recorded the request that failed.
    failed = failed_upstream(exc)
    if failed is None:
        try:
            request = exc.request
        except RuntimeError:  # an error raised outside any request
            return str(exc) or type(exc).__name__
        failed = request.method, request.url
    method, url = failed
    if isinstance(exc, httpx.HTTPStatusError):
        return f"{method} {url} answered {status_text(exc.response)}"
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect to {url}: {detail}"
    if isinstance(exc, httpx.TimeoutException):
        return f"{method} {url} timed out ({type(exc).__name__})"
    return f"{method} {url} failed: {detail}"
