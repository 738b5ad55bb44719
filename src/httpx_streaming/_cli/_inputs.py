"""What the commands read, checked before anything is sent: URL arguments and local files."""

from __future__ import annotations

import errno
import os
import pathlib
import stat
from typing import TYPE_CHECKING

from ._failures import EXIT_LOCAL, EXIT_USAGE, CommandError

if TYPE_CHECKING:
    import httpx


def is_url(text: str) -> bool:
    """Whether a command-line argument names an http(s) URL (rather than a local path)."""
    return text[:8].lower().startswith(("http://", "https://"))


def check_url(text: str, what: str) -> httpx.URL:
    """*text* as a URL with a host; a usage error naming *what* otherwise."""
    if not is_url(text):
        raise CommandError(EXIT_USAGE, f"{what} must be an http:// or https:// URL, got {text!r}")
    import httpx

    try:
        url = httpx.URL(text)
    except httpx.InvalidURL as exc:
        raise CommandError(EXIT_USAGE, f"invalid URL {text!r}: {exc}") from None
    if not url.host:
        raise CommandError(EXIT_USAGE, f"invalid URL {text!r}: no host")
    return url


def url_file_name(url: httpx.URL) -> str:
    """The last segment of the URL's path, decoded; the host when the path has none."""
    segments = [segment for segment in url.path.split("/") if segment]
    name = segments[-1] if segments else url.host
    # A decoded %2F must not turn into a directory inside the archive.
    return name.replace("/", "_").replace("\\", "_")


def check_readable_file(
    path: str | pathlib.Path, status: os.stat_result | None = None
) -> os.stat_result:
    """The status of *path* (given, or read now), a regular file this process may read;
    else the error saying why."""
    if status is None:
        status = os.stat(path)  # FileNotFoundError / PermissionError are reported by main
    if stat.S_ISDIR(status.st_mode):
        raise IsADirectoryError(errno.EISDIR, "is a directory", str(path))
    if not stat.S_ISREG(status.st_mode):
        raise CommandError(EXIT_LOCAL, f"not a regular file: {str(path)!r}")
    if not os.access(path, os.R_OK):
        raise PermissionError(errno.EACCES, "Permission denied", str(path))
    return status
