"""The options both commands share: retries, network timeout, upload headers, progress."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .._progress import ProgressBar
from ._retry import RetryPolicy

if TYPE_CHECKING:
    import httpx


@dataclass(frozen=True)
class Options:
    """The checked options of both commands (see "Options of both commands" in ``docs/cli.md``)."""

    retry: RetryPolicy
    timeout: float
    headers: dict[str, str]  # -H: for the upload request only, never for source URLs
    progress: bool  # standard error is a terminal and --no-progress was not given

    def client(self) -> httpx.AsyncClient:
        """The client for the upload and the source URLs."""
        import httpx

        return httpx.AsyncClient(follow_redirects=True, timeout=httpx.Timeout(self.timeout))

    def progress_bar(self, total: int | None, label: str) -> ProgressBar:
        """A bar on standard error for *total* bytes per attempt; silent without progress."""
        return ProgressBar(total, label=label, stream=sys.stderr, enabled=self.progress)
