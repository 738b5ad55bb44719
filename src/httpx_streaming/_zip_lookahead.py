"""Deflated members encoded ahead of their turn, in worker threads.

zlib, zlib-ng and python-isal release the GIL while they compress, so while
the driver sends one member, the next ones can be read and deflated on other
cores. Each is encoded apart (``encode_member``) from a source that can be
read without an event loop (in-memory bytes, a local file), and spliced into
the archive at its turn (``ZipEncoder.add_encoded``): the archive is the same
bytes as one encoded a member at a time.

Memory stays bounded: the declared sizes of the members being encoded ahead
add up to at most the look-ahead size (a member always starts when its turn
comes), and a member bigger than a quarter of it is left to the driver, on
one core.
"""

from __future__ import annotations

import concurrent.futures
import os
import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import Final, NamedTuple, final

from ._passes import open_sync_pass
from ._types import BytesLike, ByteSource
from ._validation import check_chunk
from ._zip_encoder import EncodedMember, MemberOptions, encode_member

DEFAULT_LOOK_AHEAD_SIZE: Final = 32 * 1024 * 1024
# Smaller members are deflated in less time than a hand-off to a thread takes.
MIN_AHEAD_SIZE: Final = 64 * 1024


class AheadJob(NamedTuple):
    """A member that may be encoded ahead: its options, declared size, and a source
    with a synchronous face that a worker thread may read."""

    options: MemberOptions
    size: int
    source: ByteSource


class Stopped(Exception):
    """The archive ended early: a job still running gives up."""


def worker_count() -> int:
    """Worker threads: one per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


@final
class LookAhead:
    """Runs the jobs of upcoming members in worker threads, within a memory budget.

    Made fresh for every pass. ``schedule(index)`` before member *index* is
    written starts what fits; ``take(index)`` hands over its job's future (or
    ``None``: write it in turn); ``close()`` stops and joins the workers, on
    every way out.
    """

    __slots__ = (
        "_budget",
        "_executor",
        "_futures",
        "_hold_back_size",
        "_in_flight",
        "_jobs",
        "_next",
        "_stop",
    )

    def __init__(self, jobs: Sequence[AheadJob | None], budget: int, hold_back_size: int) -> None:
        self._jobs = jobs
        self._budget = budget
        self._hold_back_size = hold_back_size
        self._futures: dict[int, concurrent.futures.Future[EncodedMember]] = {}
        self._in_flight = 0
        self._next = 0
        self._stop = threading.Event()
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None

    def schedule(self, current: int) -> None:
        """Start the jobs of members from *current* on while their sizes fit the budget
        (the current member's job always starts)."""
        jobs = self._jobs
        self._next = max(self._next, current)
        while self._next < len(jobs):
            job = jobs[self._next]
            if job is not None:
                if self._next > current and self._in_flight + job.size > self._budget:
                    return
                self._start(self._next, job)
            self._next += 1

    def take(self, index: int) -> concurrent.futures.Future[EncodedMember] | None:
        """The running or finished job of member *index*, if it has one."""
        future = self._futures.pop(index, None)
        if future is not None:
            job = self._jobs[index]
            assert job is not None
            self._in_flight -= job.size
        return future

    def close(self) -> None:
        """Stop the jobs not finished, and wait until every worker thread has ended."""
        self._stop.set()
        for future in self._futures.values():
            future.cancel()
        self._futures.clear()
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    def _start(self, index: int, job: AheadJob) -> None:
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(
                worker_count(), thread_name_prefix="httpx-streaming-deflate"
            )
        self._futures[index] = self._executor.submit(
            _encode_ahead, job, self._hold_back_size, self._stop
        )
        self._in_flight += job.size


def _encode_ahead(job: AheadJob, hold_back_size: int, stop: threading.Event) -> EncodedMember:
    # The file is opened, read and closed here, in the worker thread.
    with open_sync_pass(job.source) as stream:
        chunks = _until(stop, stream.iterator, job.source)
        return encode_member(job.options, job.size, chunks, hold_back_size)


def _until(stop: threading.Event, chunks: Iterable[object], source: object) -> Iterator[BytesLike]:
    for chunk in chunks:
        if stop.is_set():
            raise Stopped
        yield chunk if type(chunk) is bytes else check_chunk(chunk, source)
