"""Multipart benchmark: FormData against aiohttp and httpx, measured in the same run.

Run: ``.venv/bin/python benchmarks/bench_multipart.py`` (``--quick`` for a smaller run,
``--json PATH`` to also write the results as JSON, the shape in _report.py).

1. Encoding: a 256 MiB file part from 64 KiB chunks (the same chunk object
   repeated, so only the encoders are measured), and a form of 1,000 small
   fields; ours on asyncio and trio, aiohttp's ``MultipartWriter`` on asyncio,
   httpx's built-in (sync) ``MultipartStream``. Best of N runs, as MiB/s, with
   the ratio ours / peer.
2. Memory: peak RSS while streaming a 2 GiB form, in a fresh subprocess per
   backend, against the RSS just before (``resource.getrusage`` ``ru_maxrss``).
3. HTTP: a 256 MiB form posted through httpx to the loopback server, against
   the very same bytes (same chunks, same headers) posted as a plain async
   generator.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import httpx

# The loopback server is test support code, in the checkout's tests/support.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "support"))

from loopback import serve_in_thread

from httpx_streaming import FormData, ResourceStream

MIB = 1024 * 1024
CHUNK = 64 * 1024
CHUNK_BYTES = bytes(range(256)) * (CHUNK // 256)


async def repeated(count: int) -> AsyncIterator[bytes]:
    chunk = CHUNK_BYTES
    for _ in range(count):
        yield chunk


def sized_resource(size: int) -> ResourceStream:
    resource = ResourceStream(repeated, size // CHUNK)
    resource.content_length = size
    return resource


# --- 1. encoding -------------------------------------------------------------------
# Every encoder gets the same 64 KiB chunk object, 4096 times, from the cheapest
# source it accepts: an async generator for ours and aiohttp, a file object's
# read() for httpx (its only choice). Async encoders are timed inside a running
# event loop; the loop's own start-up is not part of encoding.


async def _drain_form(form: FormData) -> int:
    total = 0
    async for chunk in form:
        total += len(chunk)
    return total


async def ours_big(size: int) -> int:
    """Length declared in advance (Content-Length known), and verified while streaming."""
    form = FormData()
    form.add_field("file", sized_resource(size), file_name="big.bin")
    return await _drain_form(form)


async def ours_big_undeclared(size: int) -> int:
    """No length declared (chunked upload): nothing to verify, as with the peers."""
    form = FormData()
    form.add_field("file", ResourceStream(repeated, size // CHUNK), file_name="big.bin")
    return await _drain_form(form)


async def ours_small(fields: int) -> int:
    form = FormData()
    for index in range(fields):
        form.add_field(f"field{index}", f"value {index}", content_type="text/plain")
    return await _drain_form(form)


async def ours_file(path: Path) -> int:
    form = FormData()
    form.add_field("file", path)
    return await _drain_form(form)


class _Sink:
    """The writer aiohttp's payloads write to; counts bytes like a socket would."""

    def __init__(self) -> None:
        self.total = 0

    async def write(self, chunk: bytes) -> None:
        self.total += len(chunk)


async def _drain_aiohttp(form: Any) -> int:
    sink = _Sink()
    await form().write(sink)
    return sink.total


async def aiohttp_big(size: int) -> int:
    import aiohttp

    form = aiohttp.FormData()
    form.add_field(
        "file", repeated(size // CHUNK), filename="big.bin", content_type="application/octet-stream"
    )
    return await _drain_aiohttp(form)


async def aiohttp_small(fields: int) -> int:
    import aiohttp

    form = aiohttp.FormData()
    for index in range(fields):
        form.add_field(f"field{index}", f"value {index}", content_type="text/plain")
    return await _drain_aiohttp(form)


async def aiohttp_file(path: Path) -> int:
    import aiohttp

    with path.open("rb") as file:
        form = aiohttp.FormData()
        form.add_field("file", file, filename=path.name)
        return await _drain_aiohttp(form)


class _ChunkReader:
    """A file object whose ``read`` returns the same 64 KiB chunk, ``count`` times."""

    def __init__(self, count: int) -> None:
        self.remaining = count

    def read(self, size: int = -1) -> bytes:
        if not self.remaining:
            return b""
        self.remaining -= 1
        return CHUNK_BYTES


def _drain_httpx(data: dict[str, str], files: dict[str, Any]) -> int:
    from httpx._multipart import MultipartStream

    total = 0
    for chunk in MultipartStream(data=data, files=files):
        total += len(chunk)
    return total


def httpx_big(size: int) -> int:
    reader = _ChunkReader(size // CHUNK)
    return _drain_httpx({}, {"file": ("big.bin", reader, "application/octet-stream")})


def httpx_small(fields: int) -> int:
    # (None, value, type): a part without file name but with a Content-Type, as in ours.
    files = {f"field{index}": (None, f"value {index}", "text/plain") for index in range(fields)}
    return _drain_httpx({}, files)


def httpx_file(path: Path) -> int:
    with path.open("rb") as file:
        return _drain_httpx({}, {"file": (path.name, file, "application/octet-stream")})


def best_sync(runs: int, run: Callable[[], int]) -> tuple[float, int]:
    times = []
    total = 0
    for _ in range(runs):
        start = time.perf_counter()
        total = run()
        times.append(time.perf_counter() - start)
    return min(times), total


def best_async(
    runs: int, backend: str, function: Callable[[Any], Awaitable[int]], argument: Any
) -> tuple[float, int]:
    async def measure() -> tuple[float, int]:
        times = []
        total = 0
        for _ in range(runs):
            start = time.perf_counter()
            total = await function(argument)
            times.append(time.perf_counter() - start)
        return min(times), total

    return anyio.run(measure, backend=backend)


Row = tuple[str, str, float, int]


def bench_encoding(size: int, fields: int, runs: int, path: Path) -> list[Row]:
    big = f"{size // MIB} MiB part, chunks"
    small = f"{fields} small fields"
    on_disk = f"{size // MIB} MiB file on disk"
    rows: list[Row] = []
    # Like for like first: neither peer declares or verifies a length.
    for backend in ("asyncio", "trio"):
        rows.append(
            (big, f"ours ({backend})", *best_async(runs, backend, ours_big_undeclared, size))
        )
    # With a declared length ours also counts every chunk to verify it.
    for backend in ("asyncio", "trio"):
        rows.append(
            (big, f"ours, length verified ({backend})", *best_async(runs, backend, ours_big, size))
        )
    rows.append((big, "aiohttp FormData", *best_async(runs, "asyncio", aiohttp_big, size)))
    rows.append((big, "httpx MultipartStream (sync)", *best_sync(runs, lambda: httpx_big(size))))
    for backend in ("asyncio", "trio"):
        rows.append((small, f"ours ({backend})", *best_async(runs, backend, ours_small, fields)))
    rows.append((small, "aiohttp FormData", *best_async(runs, "asyncio", aiohttp_small, fields)))
    rows.append(
        (small, "httpx MultipartStream (sync)", *best_sync(runs, lambda: httpx_small(fields)))
    )
    file_runs = max(2, runs // 3)
    for backend in ("asyncio", "trio"):
        rows.append(
            (on_disk, f"ours, Path ({backend})", *best_async(file_runs, backend, ours_file, path))
        )
    rows.append(
        (on_disk, "aiohttp FormData, file", *best_async(file_runs, "asyncio", aiohttp_file, path))
    )
    rows.append(
        (on_disk, "httpx MultipartStream (sync)", *best_sync(file_runs, lambda: httpx_file(path)))
    )
    return rows


# --- 2. memory -----------------------------------------------------------------------

RSS_SCRIPT = textwrap.dedent(
    """
    import gc, json, resource, sys
    import anyio
    from httpx_streaming import FormData, ResourceStream

    CHUNK = bytes(range(256)) * 256

    async def chunks(count):
        for _ in range(count):
            yield CHUNK[1:] + CHUNK[:1]  # a fresh object per chunk, as a real source makes

    async def main(size):
        form = FormData()
        form.add_field("a", "small", content_type="text/plain")
        form.add_field("b", ResourceStream(chunks, size // 2 // len(CHUNK)), file_name="b.bin")
        form.add_field("c", ResourceStream(chunks, size // 2 // len(CHUNK)), file_name="c.bin")
        warm = FormData()
        warm.add_field("w", ResourceStream(chunks, 16))
        async for _ in warm:
            pass
        gc.collect()
        baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        total = 0
        async for chunk in form:
            total += len(chunk)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(json.dumps({"baseline_kib": baseline, "peak_kib": peak, "total": total}))

    anyio.run(main, int(sys.argv[1]), backend=sys.argv[2])
    """
)


def bench_memory(size: int) -> list[tuple[str, int, int, int]]:
    rows = []
    for backend in ("asyncio", "trio"):
        result = subprocess.run(
            [sys.executable, "-c", RSS_SCRIPT, str(size), backend],
            capture_output=True,
            text=True,
            check=True,
        )
        report = json.loads(result.stdout)
        rows.append((backend, report["baseline_kib"], report["peak_kib"], report["total"]))
    return rows


# --- 3. over HTTP --------------------------------------------------------------------


async def post_both(url: str, size: int, runs: int) -> tuple[float, float, int]:
    form = FormData()
    form.add_field("file", sized_resource(size), file_name="big.bin")
    headers = form.headers
    # The same bytes as a plain one-shot async generator, chunked the same way.
    chunks = [bytes(chunk) if len(chunk) < CHUNK else chunk async for chunk in form]
    body_length = sum(len(chunk) for chunk in chunks)
    assert str(body_length) == headers["Content-Length"]

    async def plain() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk

    form_times: list[float] = []
    plain_times: list[float] = []

    async def post(content: Any, times: list[float]) -> None:
        start = time.perf_counter()
        response = await client.post(url, content=content, headers=headers)
        times.append(time.perf_counter() - start)
        assert response.json()["size"] == body_length, response.text

    async with httpx.AsyncClient(timeout=120) as client:
        await post(form, [])  # warm up the connection and both code paths
        await post(plain(), [])
        for run in range(runs):
            # Alternate the order so neither side always runs on a warmer process.
            if run % 2:
                await post(plain(), plain_times)
                await post(form, form_times)
            else:
                await post(form, form_times)
                await post(plain(), plain_times)
    return min(form_times), min(plain_times), body_length


def bench_http(size: int, runs: int) -> list[tuple[str, float, float, int]]:
    rows = []
    with serve_in_thread() as server:
        for backend in ("asyncio", "trio"):
            form_time, plain_time, length = anyio.run(
                post_both, f"{server.url}/upload/bench", size, runs, backend=backend
            )
            rows.append((backend, form_time, plain_time, length))
    return rows


# --- report --------------------------------------------------------------------------


def mib_per_s(total: int, seconds: float) -> float:
    return total / MIB / seconds


def write_json(
    path: str,
    rows: list[Row],
    http_rows: list[tuple[str, float, float, int]],
    options: dict[str, Any],
    notes: list[str],
) -> None:
    """Encoding and HTTP results in the shape benchmarks/_report.py describes.

    One row per workload and our encoder (ids ``mp-part``, ``mp-part-verified``,
    ``mp-fields``, ``mp-file``, ``mp-post``; one each per backend); best times,
    no spread (the encoders' runs are not paired).
    """
    import _report

    def result(name: str, seconds: float, total: int) -> _report.Contestant:
        return _report.contestant(name, seconds=seconds, size=total)

    workloads = list(dict.fromkeys(workload for workload, *_ in rows))
    slugs = dict(zip(workloads, ("mp-part", "mp-fields", "mp-file"), strict=True))
    report: list[_report.Row] = []
    for workload in workloads:
        entries = [entry[1:] for entry in rows if entry[0] == workload]
        peers = [entry for entry in entries if not entry[0].startswith("ours")]
        for encoder, seconds, total in entries:
            if not encoder.startswith("ours"):
                continue
            verified = "length verified" in encoder
            report.append(
                _report.row(
                    slugs[workload] + ("-verified" if verified else ""),
                    f"form data encoding: {workload}"
                    + (", length declared and verified" if verified else ""),
                    result(encoder, seconds, total),
                    [
                        _report.peer(result(name, peer_seconds, peer_total), peer_seconds / seconds)
                        for name, peer_seconds, peer_total in peers
                    ],
                    backend=encoder.rsplit("(", 1)[1].rstrip(")"),
                )
            )
    for backend, form_time, plain_time, length in http_rows:
        report.append(
            _report.row(
                "mp-post",
                f"form data POST of {length / MIB:,.0f} MiB to the loopback server",
                result(f"FormData ({backend})", form_time, length),
                [
                    _report.peer(
                        result("same bytes, plain async generator", plain_time, length),
                        plain_time / form_time,
                    )
                ],
                backend=backend,
            )
        )
    _report.write(path, Path(__file__).name, report, options=options, notes=notes)
    print(f"results written to {path}", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer runs")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    options = parser.parse_args()
    size = (32 if options.quick else 256) * MIB
    memory_size = (256 if options.quick else 2048) * MIB
    runs = 3 if options.quick else 15
    http_runs = 2 if options.quick else 9

    print(f"Python {sys.version.split()[0]}, httpx {httpx.__version__}")
    print()
    print(f"1. Encoding (best of {runs} runs)")
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "big.bin"
        with path.open("wb") as file:
            for _ in range(size // CHUNK):
                file.write(CHUNK_BYTES)
        rows = bench_encoding(size, 1000, runs, path)
    print(f"| {'workload':<24} | {'encoder':<30} | {'MiB/s':>8} | {'ms':>8} |")
    print(f"|{'-' * 26}|{'-' * 32}|{'-' * 10}|{'-' * 10}|")
    timings: dict[tuple[str, str], float] = {}
    for workload, encoder, seconds, total in rows:
        timings[workload, encoder] = seconds
        speed = mib_per_s(total, seconds)
        print(f"| {workload:<24} | {encoder:<30} | {speed:>8.0f} | {seconds * 1000:>8.2f} |")
    print()
    print(
        "Ratios: peer's time / our time for the same workload (>= 1.00: ours is as fast or faster)"
    )
    print(f"| {'workload':<24} | {'ours':<30} | {'vs aiohttp':>10} | {'vs httpx':>8} |")
    print(f"|{'-' * 26}|{'-' * 32}|{'-' * 12}|{'-' * 10}|")
    for workload in dict.fromkeys(workload for workload, *_ in rows):
        times = {encoder: t for (w, encoder), t in timings.items() if w == workload}
        aiohttp_time = next(t for encoder, t in times.items() if encoder.startswith("aiohttp"))
        httpx_time = next(t for encoder, t in times.items() if encoder.startswith("httpx"))
        for encoder, seconds in times.items():
            if encoder.startswith("ours"):
                print(
                    f"| {workload:<24} | {encoder:<30} |"
                    f" {aiohttp_time / seconds:>9.2f}x | {httpx_time / seconds:>7.2f}x |"
                )
    print()
    print(f"2. Peak RSS while streaming a {memory_size // MIB} MiB form (fresh subprocess)")
    print(f"| {'backend':<8} | {'baseline MiB':>12} | {'peak MiB':>9} | {'growth MiB':>10} |")
    print(f"|{'-' * 10}|{'-' * 14}|{'-' * 11}|{'-' * 12}|")
    memory_rows = bench_memory(memory_size)
    for backend, baseline, peak, total in memory_rows:
        assert total >= memory_size
        print(
            f"| {backend:<8} | {baseline / 1024:>12.1f} | {peak / 1024:>9.1f} |"
            f" {(peak - baseline) / 1024:>10.1f} |"
        )
    print()
    print(
        f"3. POST of a {size // MIB} MiB form through httpx to the loopback server "
        f"(best of {http_runs})"
    )
    print(f"| {'backend':<8} | {'FormData MiB/s':>14} | {'plain async gen MiB/s':>21} | ratio |")
    print(f"|{'-' * 10}|{'-' * 16}|{'-' * 23}|{'-' * 7}|")
    http_rows = bench_http(size, http_runs)
    for backend, form_time, plain_time, length in http_rows:
        print(
            f"| {backend:<8} | {mib_per_s(length, form_time):>14.0f} |"
            f" {mib_per_s(length, plain_time):>21.0f} | {plain_time / form_time:>5.2f} |"
        )
    print()
    print("Reproduce: .venv/bin/python benchmarks/bench_multipart.py")
    if options.json:
        notes = [
            f"peak RSS while streaming a {memory_size // MIB} MiB form on {backend}: "
            f"{baseline / 1024:.1f} MiB before, {peak / 1024:.1f} MiB at the peak"
            for backend, baseline, peak, _total in memory_rows
        ]
        json_options = {"quick": options.quick, "runs": runs, "http_runs": http_runs}
        write_json(options.json, rows, http_rows, json_options, notes)


if __name__ == "__main__":
    main()
