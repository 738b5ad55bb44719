"""Streaming gzip against GNU gzip (and pigz): ratios measured in the same run.

Run: ``.venv/bin/python benchmarks/bench_compress.py`` (about 2 minutes on 2 cores).
Options: ``--backend trio``, ``--repeat N`` (rounds, default 5), ``--scale F``
(multiplies the 256 MiB), ``--quick``, ``--json PATH`` (see _report.py).

Data: 256 MiB of generated NDJSON log lines in a file (time stamps, levels,
paths, status codes, durations, IP addresses and messages drawn at random from
a fixed seed: realistic text, not a repeated block).

Rows (ratio = peer's time / our time: >= 1 means ours is as fast or faster):

* C1: ``compress(path, "gzip")`` at the default level, one async pass
  consumed in the event loop (the chunks counted, not kept), against
  ``gzip -6 -c FILE > /dev/null`` (wall time of the command) and, when
  installed, ``pigz -6 -c`` with as many threads as ours. Median of N.
  Notes: our output's size against gzip -6's (target <= 1.02x).
* C2: the same with the standard library's zlib only (as without the
  ``fast`` extra): zlib's level 6 on every core.

Every round runs ours and the peers once, the order alternating, so a burst of
load on the shared machine hits both alike; the spread is the min..max of the
per-round ratios.
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import _report
import anyio

from httpx_streaming import _compress, _compression, compress

MiB = 1 << 20
SIZE_TARGET = 1.02


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


LINE = (
    '{"ts":"2026-12-%02dT%02d:%02d:%02d.%03dZ","level":"%s","path":"%s/%d",'
    '"status":%d,"ms":%.1f,"ip":"10.%d.%d.%d","msg":"%s"}\n'
)


def write_logs(path: Path, size: int, seed: int = 2026) -> None:
    """*size* bytes of NDJSON log lines, as a service writes them."""
    rng = random.Random(seed)
    paths = ["/api/v1/users", "/api/v1/orders", "/api/v2/search", "/static/app.js", "/login"]
    levels = ["INFO"] * 6 + ["WARN", "ERROR", "DEBUG"]
    messages = [
        "request served",
        "cache miss",
        "user logged in",
        "timeout talking to db, retrying",
        "payment authorised",
        "rate limited",
    ]
    statuses = [200] * 6 + [201, 204, 301, 304, 404, 500]
    written = 0
    with path.open("wb") as file:
        while written < size:
            lines = []
            for _ in range(10_000):
                lines.append(
                    LINE
                    % (
                        rng.randint(1, 28),
                        rng.randint(0, 23),
                        rng.randint(0, 59),
                        rng.randint(0, 59),
                        rng.randint(0, 999),
                        rng.choice(levels),
                        rng.choice(paths),
                        rng.randint(1, 100_000),
                        rng.choice(statuses),
                        rng.random() * 300,
                        rng.randint(0, 255),
                        rng.randint(0, 255),
                        rng.randint(1, 254),
                        rng.choice(messages),
                    )
                )
            block = "".join(lines).encode()[: size - written]
            file.write(block)
            written += len(block)


def ours(path: Path, backend: str) -> tuple[float, int]:
    """Seconds of one async pass of compress(path), and the bytes it yielded."""

    async def run() -> tuple[float, int]:
        body = compress(path, "gzip")
        start = time.perf_counter()
        size = 0
        async for chunk in body:
            size += len(chunk)
        return time.perf_counter() - start, size

    return anyio.run(run, backend=backend)


def command(argv: list[str], path: Path) -> tuple[float, int]:
    """Seconds of *argv* compressing *path* to a pipe we only count, and its output size."""
    start = time.perf_counter()
    with path.open("rb") as source:
        process = subprocess.Popen(argv, stdin=source, stdout=subprocess.PIPE)
        assert process.stdout is not None
        size = 0
        while block := process.stdout.read(MiB):
            size += len(block)
        process.stdout.close()
        if process.wait() != 0:
            raise RuntimeError(f"{' '.join(argv)} failed")
    return time.perf_counter() - start, size


def rounds(
    repeat: int, contestants: list[Callable[[], tuple[float, int]]]
) -> tuple[list[list[float]], list[int]]:
    """*repeat* rounds, each running every contestant once, the order reversed every round."""
    times: list[list[float]] = [[] for _ in contestants]
    sizes = [0] * len(contestants)
    for index in range(repeat):
        order = list(range(len(contestants)))
        if index % 2:
            order.reverse()
        for number in order:
            seconds, size = contestants[number]()
            times[number].append(seconds)
            sizes[number] = size
    return times, sizes


def bench(
    row_id: str, title: str, path: Path, size: int, backend: str, repeat: int, *, zlib_ng: bool
) -> _report.Row:
    saved = _compression._zlib_ng
    if not zlib_ng:
        _compression._zlib_ng = None
    try:
        workers = _compress.worker_count()
        contestants: list[Callable[[], tuple[float, int]]] = [
            lambda: ours(path, backend),
            lambda: command(["gzip", "-6", "-c"], path),
        ]
        names = [f"compress(gzip) ({backend}, {workers} workers)", "gzip -6"]
        pigz = shutil.which("pigz")
        if pigz is not None:
            contestants.append(lambda: command([pigz, "-6", "-c", "-p", str(workers)], path))
            names.append(f"pigz -6 -p {workers}")
        times, sizes = rounds(repeat, contestants)
    finally:
        _compression._zlib_ng = saved
    statistic = "median"
    our_seconds = _report.summary(times[0], statistic)
    peers = []
    for name, peer_times in zip(names[1:], times[1:], strict=True):
        seconds = _report.summary(peer_times, statistic)
        peers.append(
            _report.peer(
                _report.contestant(name, seconds=seconds, size=size, times=peer_times),
                seconds / our_seconds,
                _report.spread(times[0], peer_times),
            )
        )
    size_ratio = sizes[0] / sizes[1]
    notes = [
        f"output {sizes[0]:,} bytes, {size_ratio:.4f}x gzip -6's {sizes[1]:,} "
        f"(target <= {SIZE_TARGET}x: {'met' if size_ratio <= SIZE_TARGET else 'NOT met'})",
        f"deflate by {'zlib-ng level 7' if zlib_ng and saved is not None else 'zlib level 6'}",
    ]
    if len(sizes) > 2:
        notes.append(f"pigz -6 output {sizes[2] / sizes[1]:.4f}x gzip -6's")
    return _report.row(
        row_id,
        title,
        _report.contestant(names[0], seconds=our_seconds, size=size, times=times[0]),
        peers,
        backend=backend,
        statistic=statistic,
        target=1.0,
        notes=notes,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--backend", default="asyncio", choices=["asyncio", "trio"])
    parser.add_argument("--repeat", type=int, help="rounds per row (default 5; --quick: 3)")
    parser.add_argument("--scale", type=float, help="multiplies the 256 MiB (--quick: 0.25)")
    parser.add_argument("--quick", action="store_true", help="less data, fewer rounds")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    args = parser.parse_args()
    repeat: int = args.repeat or (3 if args.quick else 5)
    scale: float = args.scale if args.scale is not None else (0.25 if args.quick else 1.0)
    if repeat < 1 or scale <= 0:
        parser.error("--repeat must be >= 1 and --scale > 0")
    if shutil.which("gzip") is None:
        parser.error("GNU gzip is not installed")
    size = max(MiB, int(256 * MiB * scale))
    log(f"machine: {_report.machine()}; backend {args.backend}; {repeat} rounds per row")
    rows: list[_report.Row] = []
    with tempfile.TemporaryDirectory(prefix="bench_compress-") as temporary:
        path = Path(temporary) / "app.ndjson"
        write_logs(path, size)
        label = f"{size / MiB:,.0f} MiB of NDJSON logs"
        rows.append(bench("C1", f"gzip of {label}", path, size, args.backend, repeat, zlib_ng=True))
        log(f"C1: {rows[-1]['ratio']:.2f}x; {'; '.join(rows[-1]['notes'])}")
        rows.append(
            bench(
                "C2",
                f"gzip of {label}, standard library's zlib only",
                path,
                size,
                args.backend,
                repeat,
                zlib_ng=False,
            )
        )
        log(f"C2: {rows[-1]['ratio']:.2f}x; {'; '.join(rows[-1]['notes'])}")
    print(
        f"Machine: {_report.machine()}; backend {args.backend}; {repeat} rounds per row, "
        "ours and peers alternating; ratio = peer's time / our time (median); spread = "
        "min..max of the per-round ratios.\n"
    )
    print("| row | benchmark | ours (MB/s) | peer | peer (MB/s) | ratio | spread | notes |")
    print("|---|---|---:|---|---:|---:|---:|---|")
    for row in rows:
        for peer in row["peers"]:
            spread = peer["spread"]
            spread_text = "" if spread is None else f"{spread['min']:.2f}..{spread['max']:.2f}"
            print(
                f"| {row['id']} | {row['title']} | {row['ours']['mb_per_s']:,.0f} | "
                f"{peer['name']} | {peer['mb_per_s']:,.0f} | {peer['ratio']:.2f}x | "
                f"{spread_text} | {'; '.join(row['notes'])} |"
            )
    if args.json:
        options = {"backend": args.backend, "repeat": repeat, "scale": scale}
        _report.write(args.json, Path(__file__).name, rows, options=options)
        log(f"results written to {args.json}")


if __name__ == "__main__":
    main()
