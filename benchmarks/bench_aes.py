"""Encrypted zips (WinZip AES-256, AE-2): ratios to stream-zip's AES path, one run.

Run: ``.venv/bin/python benchmarks/bench_aes.py`` (under a minute on 2 cores).
Options: ``--repeat N`` (rounds), ``--scale F`` (multiplies the 256 MiB size),
``--backend trio``, ``--json PATH`` (machine-readable results, see _report.py).

Rows (ratio = peer's time / our time: >= 1 means ours is as fast or faster; best of N):

* A1: a stored zip of one 256 MiB member (1 MiB chunks of a reusable source
  that declares its size), encrypted with ``password=``, iterated with
  ``async for``, against stream-zip's ``NO_COMPRESSION_64`` with ``password=``
  (its AES path, synchronous). Target 2.0x.
* A2: the same through the archive's synchronous face (``.sync()``), against
  the same peer (target 1.0x): it shows what the event loop costs.

Both sides derive keys with PBKDF2 (1,000 rounds of HMAC-SHA1), encrypt with AES
in counter mode (pycryptodome) and authenticate with HMAC-SHA1, as AE-2 says.
Every round runs ours and the peer once, in alternating order; the spread is
the min..max of the per-round ratios.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timezone
from pathlib import Path

import _report
import anyio
import pyzipper
import stream_zip
from bench_files import MiB, alternate, log, make_row, print_table

from httpx_streaming import ResourceStream, ZipStreamFile, create_zip_stream_resource

MODIFIED = datetime(2024, 1, 1, tzinfo=timezone.utc)
PASSWORD = "benchmark password"


def check_small_archive() -> None:
    """What is timed is an archive readers decrypt (checked on a small one, untimed)."""
    data = os.urandom(100_000)
    archive = create_zip_stream_resource([ZipStreamFile("x", data)], password=PASSWORD)
    with pyzipper.AESZipFile(io.BytesIO(b"".join(archive.sync()))) as read:
        assert read.read("x", pwd=PASSWORD.encode()) == data


def bench(size: int, repeat: int, backend: str) -> list[_report.Row]:
    block = os.urandom(MiB)

    async def blocks() -> AsyncIterator[bytes]:
        for _index in range(size // MiB):
            yield block

    def sync_blocks() -> Iterator[bytes]:
        for _index in range(size // MiB):
            yield block

    def ours_async() -> float:
        source = ResourceStream(blocks)
        source.content_length = size
        resource = create_zip_stream_resource(
            [ZipStreamFile("big.bin", source, modified_at=MODIFIED)], password=PASSWORD
        )

        async def run() -> float:
            start = time.perf_counter()
            total = 0
            async for chunk in resource:
                total += len(chunk)
            assert total > size
            return time.perf_counter() - start

        return float(anyio.run(run, backend=backend))

    def ours_sync() -> float:
        resource = create_zip_stream_resource(
            [ZipStreamFile("big.bin", [block] * (size // MiB), modified_at=MODIFIED)],
            password=PASSWORD,
        )
        start = time.perf_counter()
        total = sum(len(chunk) for chunk in resource.sync())
        assert total > size
        return time.perf_counter() - start

    def peer() -> float:
        start = time.perf_counter()
        chunks = stream_zip.stream_zip(
            [("big.bin", MODIFIED, 0o644, stream_zip.NO_COMPRESSION_64, sync_blocks())],
            password=PASSWORD,
        )
        total = sum(len(chunk) for chunk in chunks)
        assert total > size
        return time.perf_counter() - start

    rows = []
    ours_times, peer_times = alternate(repeat, ours_async, peer)
    rows.append(
        make_row(
            "A1",
            f"AES-256 stored zip of one {size / MiB:,.0f} MiB member, async for",
            backend,
            "best",
            size,
            (f"zip resource, password= ({backend})", ours_times),
            ("stream-zip, password=", peer_times),
            target=2.0,
        )
    )
    ours_times, peer_times = alternate(repeat, ours_sync, peer)
    rows.append(
        make_row(
            "A2",
            f"AES-256 stored zip of one {size / MiB:,.0f} MiB member, archive.sync()",
            None,
            "best",
            size,
            ("zip resource, password=, .sync()", ours_times),
            ("stream-zip, password=", peer_times),
        )
    )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="rounds per row (default 5)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies the 256 MiB size")
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    args = parser.parse_args()
    if args.repeat < 1 or args.scale <= 0:
        parser.error("--repeat must be >= 1 and --scale > 0")
    size = max(MiB, int(256 * MiB * args.scale) // MiB * MiB)
    log(f"machine: {_report.machine()}; {args.repeat} rounds per row")
    check_small_archive()
    rows = bench(size, args.repeat, args.backend)
    for row in rows:
        log(f"{row['id']}: {row['ratio']:.2f}x")
    print(
        f"Machine: {_report.machine()}; backend {args.backend}; {args.repeat} rounds per row, "
        "ours and peer alternating; ratio = peer's time / our time; spread = min..max of the "
        "per-round ratios.\n"
    )
    print_table(rows, [])
    if args.json:
        options = {"repeat": args.repeat, "scale": args.scale, "backend": args.backend}
        _report.write(args.json, Path(__file__).name, rows, options=options, notes=[])
        log(f"results written to {args.json}")


if __name__ == "__main__":
    sys.exit(main())
