"""How fast Z4 could be: our members, and a pass with none of the pass's own work.

Run: ``.venv/bin/python benchmarks/floor_z4.py`` (under a minute).

Z4 (bench_zip.py) streams 10,000 members of 1 KiB, each a one-shot async
generator, against stream-zip's sync generators. This script times three
things side by side, 7 rounds, alternating:

* ours: ``stream_zip`` as users call it (what Z4 measures);
* the floor: the same members built (``ZipStreamFile``) and planned
  (``_named``, as ``stream_zip`` does) as ours, then a pass that only iterates
  each generator and writes its bytes with the encoder's one call for a
  complete member: no source wrapper, no pass checks (one-shot state, lengths,
  chunk types, closing), no member writer. Its archive is checked to be the
  same bytes as ours;
* stream-zip, as in Z4.

It answers one question: with members validated when they are made, as this
library's standards ask, how far could the per-member path go?
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_zip

from httpx_streaming import COMPRESSION_METHOD_NONE, ZipStreamFile, stream_zip
from httpx_streaming._zip import _named, archive_options
from httpx_streaming._zip_deflate import crc32
from httpx_streaming._zip_encoder import ZipEncoder, write_complete

MEMBERS = 10_000
ROUNDS = 7
ARCHIVE = archive_options(4 * 1024 * 1024, 0, b"", True, None)


async def one_chunk(data: bytes) -> AsyncIterator[bytes]:
    yield data


def members(data: list[bytes]) -> list[ZipStreamFile]:
    return [
        ZipStreamFile(
            f"dir/member-{index:05}.txt",
            one_chunk(chunk),
            compression_method=COMPRESSION_METHOD_NONE,
            modified_at=bench_zip.MODIFIED,
        )
        for index, chunk in enumerate(data)
    ]


async def bare_pass(files: list[ZipStreamFile]) -> AsyncIterator[bytes]:
    named = _named(files, None, ARCHIVE)
    del files[:]
    encoder = ZipEncoder()
    output, written = encoder._out, encoder._written
    for member, _, options in named:
        source = member.source
        generator = source._strong  # a OneShotSource: the generator, not yet read
        source._strong = None  # freed once read, as ours frees it
        held, size, crc = [], 0, 0
        async for chunk in generator:
            held.append(chunk)
            size += len(chunk)
            crc = crc32(chunk, crc)
        offset = output.offset
        written.append((write_complete(output, options, held, size, crc), offset))
        for ready in encoder.take():
            yield ready
    encoder.finish()
    for ready in encoder.take():
        yield ready


async def collect(chunks: AsyncIterator[bytes]) -> bytes:
    return b"".join([bytes(chunk) async for chunk in chunks])


def timed_async(make: Callable[[], AsyncIterator[bytes]]) -> float:
    start = time.perf_counter()
    anyio.run(bench_zip.consume_async, make())
    return time.perf_counter() - start


def main() -> None:
    data = [os.urandom(1024) for _ in range(MEMBERS)]
    few = data[:50]
    assert anyio.run(collect, bare_pass(members(few))) == anyio.run(
        collect, stream_zip(members(few))
    )
    peer = bench_zip.stream_zip_many(data, False, generators=True)

    def peer_time() -> float:
        start = time.perf_counter()
        bench_zip.consume_sync(peer())
        return time.perf_counter() - start

    ours_ratios, floor_ratios = [], []
    for _ in range(ROUNDS):
        ours = timed_async(lambda: stream_zip(members(data)))
        floor = timed_async(lambda: bare_pass(members(data)))
        theirs = peer_time()
        ours_ratios.append(theirs / ours)
        floor_ratios.append(theirs / floor)
    for label, ratios in (("ours", ours_ratios), ("floor", floor_ratios)):
        print(
            f"{label}: {statistics.median(ratios):.2f}x stream-zip "
            f"({min(ratios):.2f}..{max(ratios):.2f}), median of {ROUNDS}"
        )


if __name__ == "__main__":
    main()
