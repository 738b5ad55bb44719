"""The synchronous face (``.sync()``, for ``httpx.Client``): ratios to sync-first peers, one run.

Run: ``.venv/bin/python benchmarks/bench_sync.py`` (under a minute on 2 cores).
Options: ``--repeat N`` (rounds), ``--scale F`` (multiplies the 256 MiB sizes),
``--json PATH`` (machine-readable results, see _report.py).

Rows (ratio = peer's time / our time: >= 1 means ours is as fast or faster; best of N):

* S1: ``FormData`` with one 256 MiB part from an open file object, iterated
  through ``form.sync()``, against requests-toolbelt's ``MultipartEncoder``
  (read in 64 KiB pieces, as requests streams it). Target 1.5x.
* S2: the same form against httpx's built-in synchronous ``files=`` encoder
  (``httpx.Request(..., files=...)``, iterating ``request.stream``). Target 1.0x.
* S3: a stored zip of one 256 MiB member (1 MiB chunks) through
  ``create_zip_stream_resource(...).sync()``, against zipstream-ng. Target 1.0x.
* S4: a stored zip of 10,000 members of 1 KiB (bytes) through ``.sync()``,
  members made inside the timing, against stream-zip's ``NO_COMPRESSION_32``.
  Target 1.2x. Runs three times ``--repeat`` rounds (15 by default): a round is short.

Every round runs ours and the peer once, in alternating order; the spread is
the min..max of the per-round ratios.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import _report
import httpx
import stream_zip
import zipstream
from bench_files import MiB, alternate, log, make_row, print_table, write_file
from requests_toolbelt import MultipartEncoder

from httpx_streaming import FormData, ZipStreamFile, create_zip_stream_resource

MODIFIED = datetime(2024, 1, 1, tzinfo=timezone.utc)
PEER_READ = 64 * 1024


def form_of_a_file(path: Path, size: int) -> tuple[float, int]:
    start = time.perf_counter()
    with path.open("rb") as file:
        form = FormData()
        form.add_field("f", file, file_name="f.bin")
        total = sum(len(chunk) for chunk in form.sync())
    assert size < total < size + 4096, total
    return time.perf_counter() - start, total


def bench_forms(path: Path, size: int, repeat: int) -> list[_report.Row]:
    def ours() -> float:
        return form_of_a_file(path, size)[0]

    def toolbelt() -> float:
        start = time.perf_counter()
        with path.open("rb") as file:
            encoder = MultipartEncoder(fields={"f": ("f.bin", file, "application/octet-stream")})
            total = 0
            while piece := encoder.read(PEER_READ):
                total += len(piece)
        assert total == encoder.len, (total, encoder.len)
        return time.perf_counter() - start

    def httpx_files() -> float:
        start = time.perf_counter()
        with path.open("rb") as file:
            request = httpx.Request("POST", "http://127.0.0.1/upload", files={"f": file})
            assert isinstance(request.stream, httpx.SyncByteStream)
            total = sum(len(chunk) for chunk in request.stream)
        assert total == int(request.headers["Content-Length"])
        return time.perf_counter() - start

    title = f"form data: one {size / MiB:,.0f} MiB part from a file object, form.sync()"
    rows = []
    for row_id, peer_name, peer, target in (
        ("S1", "requests-toolbelt MultipartEncoder", toolbelt, 1.5),
        ("S2", "httpx files= (sync)", httpx_files, 1.0),
    ):
        ours_times, peer_times = alternate(repeat, ours, peer)
        rows.append(
            make_row(
                row_id,
                title,
                None,
                "best",
                size,
                ("FormData.sync()", ours_times),
                (peer_name, peer_times),
                target=target,
            )
        )
    return rows


def bench_big_member(size: int, repeat: int) -> _report.Row:
    block = os.urandom(MiB)

    def chunks() -> Iterator[bytes]:
        for _index in range(size // MiB):
            yield block

    def ours() -> float:
        start = time.perf_counter()
        archive = create_zip_stream_resource(
            [ZipStreamFile("big.bin", [block] * (size // MiB), modified_at=MODIFIED)]
        )
        total = sum(len(chunk) for chunk in archive.sync())
        assert total > size
        return time.perf_counter() - start

    def peer() -> float:
        start = time.perf_counter()
        stream = zipstream.ZipStream(compress_type=zipstream.ZIP_STORED)
        stream.add(chunks(), "big.bin")
        total = sum(len(chunk) for chunk in stream)
        assert total > size
        return time.perf_counter() - start

    ours_times, peer_times = alternate(repeat, ours, peer)
    return make_row(
        "S3",
        f"stored zip of one {size / MiB:,.0f} MiB member, archive.sync()",
        None,
        "best",
        size,
        ("zip resource .sync()", ours_times),
        ("zipstream-ng", peer_times),
    )


def bench_many_members(count: int, repeat: int) -> _report.Row:
    members = [os.urandom(1024) for _index in range(count)]

    def ours() -> float:
        start = time.perf_counter()
        archive = create_zip_stream_resource(
            [
                ZipStreamFile(f"dir/member-{index:05}.txt", data, modified_at=MODIFIED)
                for index, data in enumerate(members)
            ]
        )
        total = sum(len(chunk) for chunk in archive.sync())
        assert total > count * 1024
        return time.perf_counter() - start

    def peer() -> float:
        start = time.perf_counter()
        chunks = stream_zip.stream_zip(
            (f"dir/member-{index:05}.txt", MODIFIED, 0o644, stream_zip.NO_COMPRESSION_32, (data,))
            for index, data in enumerate(members)
        )
        total = sum(len(chunk) for chunk in chunks)
        assert total > count * 1024
        return time.perf_counter() - start

    ours_times, peer_times = alternate(repeat, ours, peer)
    return make_row(
        "S4",
        f"stored zip of {count:,} members of 1 KiB (made inside the timing), archive.sync()",
        None,
        "best",
        count * 1024,
        ("zip resource .sync()", ours_times),
        ("stream-zip", peer_times),
        target=1.2,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="rounds per row (default 5)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies the 256 MiB sizes")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    args = parser.parse_args()
    if args.repeat < 1 or args.scale <= 0:
        parser.error("--repeat must be >= 1 and --scale > 0")
    size = max(MiB, int(256 * MiB * args.scale) // MiB * MiB)
    log(f"machine: {_report.machine()}; {args.repeat} rounds per row")
    rows: list[_report.Row] = []
    with tempfile.TemporaryDirectory(prefix="bench_sync-") as temporary:
        path = Path(temporary) / "part.bin"
        write_file(path, size)
        rows += bench_forms(path, size, args.repeat)
    rows.append(bench_big_member(size, args.repeat))
    # A round of S4 takes a tenth of a second, where a burst of load on a shared
    # machine decides a best of 5: three times the rounds, for both sides alike.
    rows.append(bench_many_members(10_000, 3 * args.repeat))
    for row in rows:
        log(f"{row['id']}: {row['ratio']:.2f}x")
    print(
        f"Machine: {_report.machine()}; {args.repeat} rounds per row, ours and peer "
        "alternating; ratio = peer's time / our time; spread = min..max of the per-round "
        "ratios.\n"
    )
    print_table(rows, [])
    if args.json:
        options = {"repeat": args.repeat, "scale": args.scale}
        _report.write(args.json, Path(__file__).name, rows, options=options, notes=[])
        log(f"results written to {args.json}")


if __name__ == "__main__":
    sys.exit(main())
