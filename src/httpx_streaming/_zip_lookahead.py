"""Deflated members encoded ahead of their turn, in worker threads.

zlib, zlib-ng and python-isal release the GIL while they compress, so while
the driver sends one member, the next ones can be read and deflated on other
cores. Each is encoded apart (``encode_member``) from a source that can be
read without an event loop (in-memory bytes, a local file), and spliced into
the archive at its turn (``ZipEncoder.add_encoded``): the archive is the same
bytes as one encoded a member at a time.

Memory stays bounded: the declared sizes of the members being encoded ahead
add up to at most the look-ahead size (a batch always starts when its turn
comes), and a member bigger than a quarter of it is left to the driver, on
one core. Small members go in batches, one hand-off to a thread each.
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
from ._zip_deflate import SMALL_WINDOW_INPUT
from ._zip_encoder import EncodedMember, MemberOptions, encode_member

DEFAULT_LOOK_AHEAD_SIZE: Final = 16 * 1024 * 1024
# Members share a hand-off to a worker until they add up to this many bytes.
BATCH_SIZE: Final = 256 * 1024
# Up to this size a member is deflated in one quick call (zlib's small window): the
# Python around it would cost more than the hand-off saves.
MIN_AHEAD_SIZE: Final = SMALL_WINDOW_INPUT + 1


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


class _Batch(NamedTuple):
    """Consecutive members encoded in one hand-off to a worker."""

    indices: list[int]
    jobs: list[AheadJob]
    size: int


def batches(jobs: Sequence[AheadJob | None]) -> list[_Batch]:
    """Runs of consecutive members that can go ahead, cut into batches of at least
    ``BATCH_SIZE`` bytes: small members share a hand-off, which costs as much as
    deflating several KiB."""
    found: list[_Batch] = []
    indices: list[int] = []
    run: list[AheadJob] = []
    size = 0
    for index, job in enumerate([*jobs, None]):
        if job is not None:
            indices.append(index)
            run.append(job)
            size += job.size
            if size < BATCH_SIZE:
                continue
        if run:
            found.append(_Batch(indices, run, size))
            indices, run, size = [], [], 0
    return found


@final
class LookAhead:
    """Runs the jobs of upcoming members in worker threads, within a memory budget.

    Made fresh for every pass. Before member *index* is written,
    ``schedule(index)`` starts the batches that fit, and ``take(index)``
    hands over the future of the batch that starts at it; ``deliver`` files
    its results, and ``ready(index)`` gives the member's, if it went ahead
    (else the driver writes it in turn). ``close()`` stops and joins the
    workers, on every way out.
    """

    __slots__ = (
        "_batches",
        "_budget",
        "_done",
        "_executor",
        "_first",
        "_futures",
        "_hold_back_size",
        "_in_flight",
        "_next",
        "_stop",
    )

    def __init__(self, jobs: Sequence[AheadJob | None], budget: int, hold_back_size: int) -> None:
        self._batches = batches(jobs)
        self._first = {batch.indices[0]: number for number, batch in enumerate(self._batches)}
        self._budget = budget
        self._hold_back_size = hold_back_size
        self._futures: dict[int, concurrent.futures.Future[list[EncodedMember]]] = {}
        self._done: dict[int, EncodedMember] = {}
        self._in_flight = 0
        self._next = 0  # the next batch to start
        self._stop = threading.Event()
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None

    def schedule(self, current: int) -> None:
        """Start the batches of members from *current* on while their sizes fit the
        budget (a batch whose turn came always starts)."""
        batches = self._batches
        while self._next < len(batches):
            batch = batches[self._next]
            if batch.indices[0] > current and self._in_flight + batch.size > self._budget:
                return
            self._start(self._next, batch)
            self._next += 1

    def take(self, index: int) -> concurrent.futures.Future[list[EncodedMember]] | None:
        """The running or finished batch that starts at member *index*, if any."""
        number = self._first.get(index)
        future = None if number is None else self._futures.pop(number, None)
        if future is not None:
            self._in_flight -= self._batches[number].size  # type: ignore[index]
        return future

    def deliver(self, index: int, results: list[EncodedMember]) -> None:
        """File the results of the batch that starts at member *index*."""
        batch = self._batches[self._first[index]]
        self._done.update(zip(batch.indices, results, strict=True))

    def ready(self, index: int) -> EncodedMember | None:
        """Member *index*, encoded ahead, if it was."""
        return self._done.pop(index, None)

    def close(self) -> None:
        """Stop the jobs not finished, and wait until every worker thread has ended."""
        self._stop.set()
        for future in self._futures.values():
            future.cancel()
        self._futures.clear()
        self._done.clear()
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    def _start(self, number: int, batch: _Batch) -> None:
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(
                worker_count(), thread_name_prefix="httpx-streaming-deflate"
            )
        self._futures[number] = self._executor.submit(
            _encode_batch, batch.jobs, self._hold_back_size, self._stop
        )
        self._in_flight += batch.size


def _encode_batch(
    jobs: list[AheadJob], hold_back_size: int, stop: threading.Event
) -> list[EncodedMember]:
    return [_encode_ahead(job, hold_back_size, stop) for job in jobs]


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
