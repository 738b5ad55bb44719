"""Resuming and watching bodies: what byte_range and with_progress cost, in one run.

Run: ``.venv/bin/python benchmarks/bench_resume.py`` (about two minutes on 2 cores;
it writes 1.25 GiB of files to a temporary folder).
Options: ``--repeat N`` (rounds), ``--backend trio``, ``--json PATH`` (machine-readable
results, see _report.py).

Rows (ratio = the other side's time / ours: >= 1 means ours is as fast or faster):

* R1: ``byte_range(archive, length - 1 MiB)`` of a 4 GiB stored zip resource (four
  members of a 1 GiB file, each declaring its CRC), against a full pass of the same
  archive. The range skips the first three members and seeks into the fourth: its
  cost relative to a full pass is 1 / ratio; the target is at most 0.01x (ratio >= 100).
* R2: a deflated archive (64 text files of 4 MiB) from its last member's local header
  on, after the resource completed one full pass: it remembers every member's layout,
  so only the last member is read and compressed again (a 64th of the data; no target).
* P1: a 256 MiB file uploaded to the loopback server (another process) with
  ``with_progress(stream_file(path), callback)`` against the same upload without it;
  the callback counts calls. Overhead = 1 / ratio - 1; the target is at most 2 %
  (ratio >= 0.98). Median of the rounds: the loopback's noise is larger than 2 %. The
  client's CPU time (``time.process_time``) is compared too, and the wrapper's own cost
  measured without the network (passes over the same file with and without it, per chunk
  and as a share of the upload's time), in the row's notes.

Every round runs both sides, in alternating order; the spread is the min..max of the
per-round ratios.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
import zipfile
import zlib
from datetime import datetime, timezone
from pathlib import Path

import _report
import anyio
import httpx
from bench_files import MiB, alternate, log, loopback_server, make_row, print_table

from httpx_streaming import (
    COMPRESSION_METHOD_DEFLATE,
    Progress,
    ZipStreamFile,
    byte_range,
    create_zip_stream_resource,
    stream_file,
    with_progress,
)

MODIFIED = datetime(2024, 1, 1, tzinfo=timezone.utc)
GiB = 1024 * MiB


def write_pattern(path: Path, size: int, *, text: bool = False) -> int:
    """Write *size* bytes (random, or text that deflates about 3:1); return their CRC."""
    block = (
        b"".join(
            b"%08d the quick brown fox jumps over the lazy dog\n" % index for index in range(20_000)
        )
        if text
        else __import__("os").urandom(MiB)
    )[:MiB]
    crc = 0
    with path.open("wb") as file:
        for _index in range(size // MiB):
            file.write(block)
            crc = zlib.crc32(block, crc)
    return crc


async def drain(body: object) -> int:
    total = 0
    async for chunk in body:  # type: ignore[attr-defined]
        total += len(chunk)
    return total


def timed_pass(body: object, backend: str, expected: int) -> float:
    async def run() -> float:
        start = time.perf_counter()
        total = await drain(body)
        seconds = time.perf_counter() - start
        assert total == expected, (total, expected)
        return seconds

    return float(anyio.run(run, backend=backend))


def bench_stored(work: Path, repeat: int, backend: str) -> _report.Row:
    path = work / "gigabyte.bin"
    crc = write_pattern(path, GiB)
    archive = create_zip_stream_resource(
        [
            ZipStreamFile(f"part{index}.bin", path, crc32=crc, modified_at=MODIFIED)
            for index in range(4)
        ]
    )
    length = archive.content_length
    assert length is not None and length > 4 * GiB
    start = length - MiB
    tail = byte_range(archive, start)
    # The range is the full pass's last MiB (checked once, untimed).
    assert anyio.run(_last_bytes, archive, MiB, backend=backend) == anyio.run(
        _all, tail, backend=backend
    )
    ours, full = alternate(
        repeat, lambda: timed_pass(tail, backend, MiB), lambda: timed_pass(archive, backend, length)
    )
    return make_row(
        "R1",
        "byte_range of the last MiB of a 4 GiB stored zip (members with CRCs) vs a full pass",
        backend,
        "best",
        MiB,
        (f"byte_range(archive, length - 1 MiB) ({backend})", ours),
        ("full pass of the archive", full),
        target=100.0,
        notes=(f"cost of the range: {min(ours) / min(full):.5f}x a full pass (target <= 0.01x)",),
    )


def bench_deflated(work: Path, repeat: int, backend: str) -> _report.Row:
    folder = work / "texts"
    folder.mkdir()
    paths = []
    for index in range(64):
        path = folder / f"log{index:02d}.txt"
        write_pattern(path, 4 * MiB, text=True)
        paths.append(path)
    archive = create_zip_stream_resource(
        [
            ZipStreamFile(
                path.name, path, compression_method=COMPRESSION_METHOD_DEFLATE, modified_at=MODIFIED
            )
            for path in paths
        ]
    )
    # The pass the resource remembers layouts from; zipfile says where the last member is.
    data = anyio.run(_all, archive, backend=backend)
    with zipfile.ZipFile(io.BytesIO(data)) as reader:
        start = reader.infolist()[-1].header_offset
    tail = byte_range(archive, start)
    assert anyio.run(_all, tail, backend=backend) == data[start:]
    ours, full = alternate(
        repeat,
        lambda: timed_pass(tail, backend, len(data) - start),
        lambda: timed_pass(archive, backend, len(data)),
    )
    return make_row(
        "R2",
        "byte_range from the last member of a 256 MiB deflated zip (64 members), after one "
        "pass, vs a full pass",
        backend,
        "best",
        len(data) - start,
        (f"byte_range(archive, last member's offset) ({backend})", ours),
        ("full pass of the archive", full),
        target=None,
        notes=(f"cost of the range: {min(ours) / min(full):.4f}x a full pass",),
    )


async def _all(body: object) -> bytes:
    return b"".join([bytes(chunk) async for chunk in body])  # type: ignore[attr-defined]


async def _last_bytes(body: object, count: int) -> bytes:
    kept = bytearray()
    async for chunk in body:  # type: ignore[attr-defined]
        kept += chunk
        del kept[:-count]
    return bytes(kept)


def bench_progress(work: Path, repeat: int, backend: str) -> _report.Row:
    size = 256 * MiB
    path = work / "upload.bin"
    write_pattern(path, size)
    calls = [0]

    def count(progress: Progress) -> None:
        calls[0] += 1

    with loopback_server() as (url, received):
        cpu: dict[bool, list[float]] = {True: [], False: []}

        async def post(watched: bool) -> float:
            async with httpx.AsyncClient(base_url=url, timeout=120) as client:
                start, start_cpu = time.perf_counter(), time.process_time()
                plain = stream_file(path)
                body = with_progress(plain, count) if watched else plain
                response = await client.post(
                    "/upload/progress" if watched else "/upload/plain",
                    content=body,  # type: ignore[arg-type]
                    headers=body.headers,
                )
                seconds = time.perf_counter() - start
                # The client's own CPU time (worker threads included): less noisy than
                # the wall time, which the server process and the loopback share.
                cpu[watched].append(time.process_time() - start_cpu)
            response.raise_for_status()
            assert response.json()["size"] == size, response.text
            return seconds

        ours, plain = alternate(
            repeat,
            lambda: float(anyio.run(post, True, backend=backend)),
            lambda: float(anyio.run(post, False, backend=backend)),
        )
        requests = received()
    assert sum(item["size"] == size for item in requests) == 2 * repeat
    ratio_median = _report.summary(plain, "median") / _report.summary(ours, "median")
    cpu_ratio = _report.summary(cpu[True], "median") / _report.summary(cpu[False], "median")
    # The wrapper's own cost, without the network's noise: passes over the same file
    # (from the page cache) with and without it, best of the rounds.
    per_upload = calls[0] // repeat
    chunks = per_upload - 1  # a call per chunk, and one at the end

    async def read_all(watched: bool) -> float:
        plain_body = stream_file(path)
        body = with_progress(plain_body, count) if watched else plain_body
        start = time.perf_counter()
        await drain(body)
        return time.perf_counter() - start

    watched_passes, plain_passes = alternate(
        repeat,
        lambda: float(anyio.run(read_all, True, backend=backend)),
        lambda: float(anyio.run(read_all, False, backend=backend)),
    )
    per_chunk = (min(watched_passes) - min(plain_passes)) / chunks
    share = per_chunk * chunks / _report.summary(plain, "median")
    return make_row(
        "P1",
        "a 256 MiB file uploaded with with_progress vs without",
        backend,
        "median",
        size,
        (f"with_progress(stream_file(path), callback) ({backend})", ours),
        ("stream_file(path)", plain),
        target=0.98,
        notes=(
            f"overhead {100 * (1 / ratio_median - 1):+.1f} % (target <= 2 %); "
            f"{per_upload} callback calls per upload",
            f"client CPU time: overhead {100 * (cpu_ratio - 1):+.1f} % (median of the rounds)",
            f"the wrapper's own cost, passes without the network: {per_chunk * 1e6:.2f} us per "
            f"chunk, {100 * share:.2f} % of the upload's median time",
        ),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="rounds per row (default 5)")
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat must be >= 1")
    log(f"machine: {_report.machine()}; {args.repeat} rounds per row")
    with tempfile.TemporaryDirectory(prefix="bench-resume-") as folder:
        work = Path(folder)
        rows = [
            bench_stored(work, args.repeat, args.backend),
            bench_deflated(work, args.repeat, args.backend),
            bench_progress(work, max(args.repeat, 9), args.backend),
        ]
    for row in rows:
        log(f"{row['id']}: {row['ratio']:.2f}x")
    print(
        f"Machine: {_report.machine()}; backend {args.backend}; ratio = the other side's time "
        "/ ours; spread = min..max of the per-round ratios.\n"
    )
    print_table(rows, [])
    if args.json:
        options = {"repeat": args.repeat, "backend": args.backend}
        _report.write(args.json, Path(__file__).name, rows, options=options, notes=[])
        log(f"results written to {args.json}")


if __name__ == "__main__":
    sys.exit(main())
