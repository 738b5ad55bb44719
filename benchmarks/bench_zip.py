"""Zip streaming throughput, as ratios to peers measured in the same run.

Run: ``.venv/bin/python benchmarks/bench_zip.py`` (about 2 minutes on 2 cores).
Options: ``--backend trio``, ``--repeat N``, ``--scale F`` (multiplies every size),
``--profile`` (cProfile of our side of every benchmark that misses its target),
``--json PATH`` (the results as JSON, the shape in _report.py; seconds and spread null).

Every benchmark consumes the archive's bytes (counting them) and reports the
payload throughput (uncompressed member bytes per second). Each measurement is
repeated and the best time kept. Peers:

* zipstream-ng (sync generator) for stored members;
* stream-zip (its sync ``stream_zip``, the fastest of its interfaces; zlib
  level 9, its default) for deflate and many small members;
* a plain async generator posted with httpx for the upload.

The "without isal" rows run our encoder in a subprocess where ``import isal``
(and ``import zlib_ng``)
fails, so the zlib fallbacks are measured; the peers are timed again in that
subprocess, alternating with ours.

Inputs are the same for both sides: in-memory ``bytes`` members for the many
small members (stream-zip gets each as a one-item tuple), 64 KiB chunks from a
generator (sync for the peers, async for us) for the single-member rows.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import glob
import io
import json
import os
import pstats
import subprocess
import sys
import sysconfig
import time
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import anyio
import httpx

# The loopback server is test support code; its process imports it from here.
SUPPORT = Path(__file__).resolve().parent.parent / "tests" / "support"

MiB = 1 << 20
CHUNK = 64 * 1024
MODIFIED = datetime(2024, 1, 1, tzinfo=timezone.utc)


# --- data --------------------------------------------------------------------------


def random_block(size: int = MiB) -> bytes:
    return os.urandom(size)


def realistic_text(size: int) -> bytes:
    """Python source from the standard library: real text, not a repeated phrase."""
    parts: list[bytes] = []
    total = 0
    for path in sorted(
        glob.glob(os.path.join(sysconfig.get_paths()["stdlib"], "**", "*.py"), recursive=True)
    ):
        with contextlib.suppress(OSError):
            data = Path(path).read_bytes()
            parts.append(data)
            total += len(data)
        if total >= size:
            break
    text = b"".join(parts)
    while len(text) < size:
        text += text
    return text[:size]


def chunks_of(data: bytes, size: int = CHUNK) -> Iterator[bytes]:
    view = memoryview(data)
    for start in range(0, len(data), size):
        yield view[start : start + size]  # type: ignore[misc]


def split(data: bytes, size: int = CHUNK) -> list[bytes]:
    return [data[start : start + size] for start in range(0, len(data), size)]


def repeated(pieces: list[bytes], total: int) -> Iterator[bytes]:
    """*total* bytes cycling through *pieces*: a source that costs nothing.

    The pieces span more than the CPU caches (64 MiB), so checksums read from
    memory as they would with real data, not from a cache-hot block.
    """
    count = total // len(pieces[0])
    while count > 0:
        yield from pieces[:count]
        count -= len(pieces)


async def arepeated(pieces: list[bytes], total: int) -> AsyncIterator[bytes]:
    for piece in repeated(pieces, total):
        yield piece


async def achunks(data: bytes, size: int = CHUNK) -> AsyncIterator[bytes]:
    for chunk in chunks_of(data, size):
        yield chunk


# --- measurement ---------------------------------------------------------------------


@dataclass
class Result:
    name: str
    ours: float  # bytes/s
    peer: float  # bytes/s
    peer_name: str
    target: float
    note: str = ""
    maker: Callable[[], AsyncIterator[Any]] | None = None
    slug: str = ""  # the row's id in --json results

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "ours": self.ours,
            "peer": self.peer,
            "peer_name": self.peer_name,
            "target": self.target,
            "note": self.note,
            "slug": self.slug,
        }

    @property
    def ratio(self) -> float:
        return self.ours / self.peer

    @property
    def met(self) -> bool:
        return self.ratio >= self.target


def best(repeat: int, function: Callable[[], object]) -> tuple[float, Any]:
    times = []
    value = None
    for _ in range(repeat):
        start = time.perf_counter()
        value = function()
        times.append(time.perf_counter() - start)
    return min(times), value


def consume_sync(chunks: Iterator[bytes]) -> int:
    total = 0
    for chunk in chunks:
        total += len(chunk)
    return total


async def consume_async(chunks: AsyncIterator[Any]) -> int:
    total = 0
    async for chunk in chunks:
        total += len(chunk)
    return total


class Runner:
    """Times our async encoder and a sync peer, alternating runs, best of ``repeat``.

    Alternating keeps a burst of load on a shared machine from landing on one
    side only. Starting the event loop is not counted: the sync peers do not
    pay for it either.
    """

    def __init__(self, backend: str, repeat: int) -> None:
        self.backend = backend
        self.repeat = repeat

    def run(self, function: Callable[[], Any]) -> Any:
        return anyio.run(function, backend=self.backend)  # type: ignore[arg-type]

    def once_async(self, make: Callable[[], AsyncIterator[Any]]) -> float:
        async def timed() -> float:
            start = time.perf_counter()
            await consume_async(make())
            return time.perf_counter() - start

        return float(self.run(timed))

    def once_sync(self, make: Callable[[], Iterator[bytes]]) -> float:
        start = time.perf_counter()
        consume_sync(make())
        return time.perf_counter() - start

    def pair(
        self, ours: Callable[[], AsyncIterator[Any]], peer: Callable[[], Iterator[bytes]]
    ) -> tuple[float, float]:
        """Best seconds of (ours, peer)."""
        ours_times, peer_times = [], []
        for _ in range(self.repeat):
            ours_times.append(self.once_async(ours))
            peer_times.append(self.once_sync(peer))
        return min(ours_times), min(peer_times)


# --- our encoder ---------------------------------------------------------------------


def ours_stored(size: int, block: list[bytes]) -> Callable[[], AsyncIterator[Any]]:
    from httpx_streaming import ZipStreamFile, stream_zip

    return lambda: stream_zip(
        [ZipStreamFile("big.bin", arepeated(block, size), modified_at=MODIFIED)]
    )


def ours_deflate(data: bytes, **options: Any) -> Callable[[], AsyncIterator[Any]]:
    from httpx_streaming import COMPRESSION_METHOD_DEFLATE, ZipStreamFile, stream_zip

    return lambda: stream_zip(
        [
            ZipStreamFile(
                "data",
                achunks(data),
                compression_method=COMPRESSION_METHOD_DEFLATE,
                modified_at=MODIFIED,
                **options,
            )
        ]
    )


def ours_many(
    members: list[bytes], deflate: bool, *, prebuilt: bool = False
) -> Callable[[], AsyncIterator[Any]]:
    from httpx_streaming import (
        COMPRESSION_METHOD_DEFLATE,
        COMPRESSION_METHOD_NONE,
        ZipStreamFile,
        stream_zip,
    )

    method = COMPRESSION_METHOD_DEFLATE if deflate else COMPRESSION_METHOD_NONE

    def files() -> list[ZipStreamFile]:
        return [
            ZipStreamFile(
                f"dir/member-{index:05}.txt", data, compression_method=method, modified_at=MODIFIED
            )
            for index, data in enumerate(members)
        ]

    if prebuilt:
        made = files()  # bytes sources are reusable: the same list serves every run
        return lambda: stream_zip(made)
    return lambda: stream_zip(files())


async def one_chunk(data: bytes) -> AsyncIterator[bytes]:
    yield data


def ours_many_generators(members: list[bytes], deflate: bool) -> Callable[[], AsyncIterator[Any]]:
    """Every member an async generator of its one chunk: what data fetched or read
    asynchronously looks like (one-shot sources, closed after use)."""
    from httpx_streaming import (
        COMPRESSION_METHOD_DEFLATE,
        COMPRESSION_METHOD_NONE,
        ZipStreamFile,
        stream_zip,
    )

    method = COMPRESSION_METHOD_DEFLATE if deflate else COMPRESSION_METHOD_NONE
    return lambda: stream_zip(
        [
            ZipStreamFile(
                f"dir/member-{index:05}.txt",
                one_chunk(data),
                compression_method=method,
                modified_at=MODIFIED,
            )
            for index, data in enumerate(members)
        ]
    )


def archive_size(make: Callable[[], AsyncIterator[Any]], backend: str) -> int:
    return int(anyio.run(lambda: consume_async(make()), backend=backend))  # type: ignore[arg-type]


# --- peers -------------------------------------------------------------------------------


def zipstream_ng_stored(size: int, block: list[bytes]) -> Callable[[], Iterator[bytes]]:
    import zipstream

    def make() -> Iterator[bytes]:
        stream = zipstream.ZipStream(compress_type=zipstream.ZIP_STORED)
        stream.add(repeated(block, size), "big.bin")
        return iter(stream)

    return make


def stream_zip_deflate(data: bytes) -> Callable[[], Iterator[bytes]]:
    import stream_zip

    return lambda: stream_zip.stream_zip(
        [("data", MODIFIED, 0o644, stream_zip.ZIP_32, chunks_of(data))]
    )


def stream_zip_many(
    members: list[bytes], deflate: bool, *, generators: bool = False
) -> Callable[[], Iterator[bytes]]:
    import stream_zip

    def one(data: bytes) -> Iterator[bytes]:
        yield data

    def make() -> Iterator[bytes]:
        method = stream_zip.ZIP_32 if deflate else stream_zip.NO_COMPRESSION_32
        return stream_zip.stream_zip(
            (
                f"dir/member-{index:05}.txt",
                MODIFIED,
                0o644,
                method,
                one(data) if generators else (data,),
            )
            for index, data in enumerate(members)
        )

    return make


# --- the upload ----------------------------------------------------------------------------


@contextlib.contextmanager
def loopback_server() -> Iterator[str]:
    """tests/support/loopback.py's server, in its own process so it does not share our GIL."""
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "from loopback import serve_in_thread\n"
        "with serve_in_thread() as server:\n"
        "    print(server.url, flush=True); sys.stdin.read()\n"
    )
    with subprocess.Popen(
        [sys.executable, "-c", code, str(SUPPORT)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as process:
        assert process.stdout is not None and process.stdin is not None
        url = process.stdout.readline().strip()
        try:
            yield url
        finally:
            process.stdin.close()
            process.wait(timeout=30)


def upload(runner: Runner, size: int, block: list[bytes]) -> tuple[float, float]:
    from httpx_streaming import ResourceStream, ZipStreamFile, create_zip_stream_resource

    source = ResourceStream(arepeated, block, size)
    source.content_length = size
    resource = create_zip_stream_resource([ZipStreamFile("big.bin", source, modified_at=MODIFIED)])

    with loopback_server() as url:

        async def post_zip() -> None:
            async with httpx.AsyncClient(base_url=url, timeout=120) as client:
                response = await client.post(
                    "/upload/zip", content=resource, headers=resource.headers
                )
                assert response.status_code == 200
                assert response.json()["size"] == resource.content_length

        async def post_plain() -> None:
            async with httpx.AsyncClient(base_url=url, timeout=120) as client:
                response = await client.post("/upload/plain", content=arepeated(block, size))
                assert response.status_code == 200
                assert response.json()["size"] == size

        # Alternate, so both see the same machine state.
        zip_times, plain_times = [], []
        for _ in range(runner.repeat):
            zip_times.append(best(1, lambda: runner.run(post_zip))[0])
            plain_times.append(best(1, lambda: runner.run(post_plain))[0])
    return size / min(zip_times), size / min(plain_times)


# --- the suite -----------------------------------------------------------------------------


@dataclass
class Sizes:
    stored: int
    random: int
    text: int
    upload: int


def run_suite(
    runner: Runner, sizes: Sizes, *, with_isal: bool, log: Callable[[str], None]
) -> tuple[list[Result], list[str]]:
    """Every encoder benchmark; the upload is separate (it needs a server)."""
    label = "" if with_isal else "without isal and zlib-ng: "
    prefix = "zip-" if with_isal else "zip-noisal-"
    block = split(random_block(64 * MiB))
    random_data = random_block(sizes.random)
    text = realistic_text(sizes.text)
    small = [text[index * 1024 : (index + 1) * 1024] for index in range(10_000)]
    small_total = sum(len(member) for member in small)
    results: list[Result] = []
    notes: list[str] = []

    ours, peer = runner.pair(
        ours_stored(sizes.stored, block), zipstream_ng_stored(sizes.stored, block)
    )
    results.append(
        Result(
            f"{label}stored, 1 member of {sizes.stored // MiB} MiB (unknown size, 64 KiB chunks)",
            sizes.stored / ours,
            sizes.stored / peer,
            "zipstream-ng",
            0.9,
            maker=ours_stored(sizes.stored, block),
            slug=f"{prefix}stored",
        )
    )
    log(f"{results[-1].name}: {results[-1].ratio:.2f}x")

    ours, peer = runner.pair(ours_deflate(random_data), stream_zip_deflate(random_data))
    results.append(
        Result(
            f"{label}deflate random data ({sizes.random // MiB} MiB), default level",
            sizes.random / ours,
            sizes.random / peer,
            "stream-zip",
            5.0 if with_isal else 1.0,
            maker=ours_deflate(random_data),
            slug=f"{prefix}deflate-random",
        )
    )
    log(f"{results[-1].name}: {results[-1].ratio:.2f}x")

    ours, peer = runner.pair(ours_deflate(text), stream_zip_deflate(text))
    ours_size = archive_size(ours_deflate(text), runner.backend)
    peer_size = consume_sync(stream_zip_deflate(text)())
    results.append(
        Result(
            f"{label}deflate text ({sizes.text // MiB} MiB of Python source), default level",
            sizes.text / ours,
            sizes.text / peer,
            "stream-zip",
            1.0,
            f"archive {ours_size / peer_size:.3f}x stream-zip's, target <= 1.05x",
            maker=ours_deflate(text),
            slug=f"{prefix}deflate-text",
        )
    )
    notes.append(
        f"{label}text archive: ours {ours_size:,} bytes, stream-zip (zlib level 9) "
        f"{peer_size:,} bytes = {ours_size / peer_size:.3f}x; "
        f"{sizes.text:,} bytes of input."
    )
    log(f"{results[-1].name}: {results[-1].ratio:.2f}x, size {ours_size / peer_size:.3f}x")

    for deflate in (False, True):
        kind = "deflated" if deflate else "stored"
        ours, peer = runner.pair(ours_many(small, deflate), stream_zip_many(small, deflate))
        results.append(
            Result(
                f"{label}10,000 members of 1 KiB, {kind} (members made inside the timing)",
                small_total / ours,
                small_total / peer,
                "stream-zip",
                1.0,
                maker=ours_many(small, deflate),
                slug=f"{prefix}small-{kind}",
            )
        )
        log(f"{results[-1].name}: {results[-1].ratio:.2f}x")
        # The same with the ZipStreamFile objects made before the clock starts:
        # shows how much of the time goes into checking members.
        prebuilt = ours_many(small, deflate, prebuilt=True)
        ours, peer = runner.pair(prebuilt, stream_zip_many(small, deflate))
        results.append(
            Result(
                f"{label}10,000 members of 1 KiB, {kind} (members made in advance)",
                small_total / ours,
                small_total / peer,
                "stream-zip",
                1.0,
                maker=prebuilt,
                slug=f"{prefix}small-{kind}-prebuilt",
            )
        )
        log(f"{results[-1].name}: {results[-1].ratio:.2f}x")
        # Same members, each an async generator for us. stream-zip's own async
        # interface runs its sync code in threads (about 2 MB/s here), so its
        # sync interface with sync generators stands in: an upper bound for it.
        generated = ours_many_generators(small, deflate)
        ours, peer = runner.pair(generated, stream_zip_many(small, deflate, generators=True))
        results.append(
            Result(
                f"{label}10,000 members of 1 KiB, {kind}, each an async generator "
                "(stream-zip: sync generators; members made inside the timing)",
                small_total / ours,
                small_total / peer,
                "stream-zip",
                1.0,
                maker=generated,
                slug=f"{prefix}small-{kind}-agen",
            )
        )
        log(f"{results[-1].name}: {results[-1].ratio:.2f}x")
    return results, notes


NO_ISAL_CODE = r"""
import json, sys
# `import isal` and `import zlib_ng` raise ImportError: the zlib fallbacks run
for name in ("isal", "isal.isal_zlib", "zlib_ng", "zlib_ng.zlib_ng"):
    sys.modules[name] = None
sys.path.insert(0, sys.argv[1])
import bench_zip as bench
from httpx_streaming import _zip_deflate
assert not _zip_deflate.HAS_ISAL and not _zip_deflate.HAS_ZLIB_NG
args = json.loads(sys.argv[2])
runner = bench.Runner(args["backend"], args["repeat"])
log = lambda message: print(message, file=sys.stderr, flush=True)
results, notes = bench.run_suite(runner, bench.Sizes(**args["sizes"]), with_isal=False, log=log)
print(json.dumps({"results": [result.as_json() for result in results], "notes": notes}))
"""


# --- main ------------------------------------------------------------------------------------


def machine() -> str:
    import _report  # next to this script

    try:
        import isal

        isal_version = isal.__version__
    except ImportError:
        isal_version = "not installed"
    try:
        import zlib_ng

        zlib_ng_version = getattr(zlib_ng, "__version__", "installed")
    except ImportError:
        zlib_ng_version = "not installed"
    return (
        f"{_report.machine()}, zlib {zlib.ZLIB_RUNTIME_VERSION}, isal {isal_version}, "
        f"zlib-ng {zlib_ng_version}"
    )


def profile_ours(title: str, make: Callable[[], AsyncIterator[Any]], backend: str) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    anyio.run(lambda: consume_async(make()), backend=backend)  # type: ignore[arg-type]
    profiler.disable()
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(12)
    return f"### cProfile: {title}\n\n```\n{text.getvalue().strip()}\n```\n"


def write_json(
    path: str, results: list[Result], notes: list[str], args: argparse.Namespace
) -> None:
    """The results in the shape benchmarks/_report.py describes (best of each side only)."""
    import _report

    rows = [
        _report.row(
            result.slug,
            result.name,
            _report.contestant("httpx-streaming", mb_per_s=result.ours / 1e6),
            [
                _report.peer(
                    _report.contestant(result.peer_name, mb_per_s=result.peer / 1e6), result.ratio
                )
            ],
            backend=args.backend,
            target=result.target,
            notes=[result.note] if result.note else [],
        )
        for result in results
    ]
    options = {"backend": args.backend, "repeat": args.repeat, "scale": args.scale}
    _report.write(
        path, Path(__file__).name, rows, options=options, machine_description=machine(), notes=notes
    )
    print(f"results written to {path}", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--backend", default="asyncio", choices=["asyncio", "trio"])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    args = parser.parse_args()

    def scaled(size: int) -> int:
        return max(MiB, int(size * args.scale) // MiB * MiB)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    runner = Runner(args.backend, args.repeat)
    sizes = Sizes(
        stored=scaled(1024 * MiB),
        random=scaled(64 * MiB),
        text=scaled(24 * MiB),
        upload=scaled(256 * MiB),
    )
    log(f"machine: {machine()}")
    results, notes = run_suite(runner, sizes, with_isal=True, log=log)

    payload = {"backend": args.backend, "repeat": args.repeat, "sizes": sizes.__dict__}
    completed = subprocess.run(
        [sys.executable, "-c", NO_ISAL_CODE, str(Path(__file__).parent), json.dumps(payload)],
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    )
    no_isal = json.loads(completed.stdout)
    results += [Result(**item) for item in no_isal["results"]]
    notes += no_isal["notes"]

    ours_bps, plain_bps = upload(runner, sizes.upload, split(random_block(64 * MiB)))
    results.append(
        Result(
            f"upload: zip resource, 1 stored member of {sizes.upload // MiB} MiB, via httpx",
            ours_bps,
            plain_bps,
            "same bytes as a plain async generator",
            0.9,
            slug="zip-upload",
        )
    )
    log(f"{results[-1].name}: {results[-1].ratio:.2f}x")

    print(
        f"Machine: {machine()}; backend {args.backend}; best of {args.repeat}, "
        "ours and peer alternating.\n"
    )
    print("| benchmark | ours (MB/s) | peer | peer (MB/s) | ratio | target | met |")
    print("|---|---:|---|---:|---:|---:|:---:|")
    for result in results:
        extra = f" ({result.note})" if result.note else ""
        print(
            f"| {result.name}{extra} | {result.ours / 1e6:,.0f} | {result.peer_name} | "
            f"{result.peer / 1e6:,.0f} | {result.ratio:.2f}x | >= {result.target:g}x | "
            f"{'yes' if result.met else '**no**'} |"
        )
    print()
    for note in notes:
        print(f"- {note}")
    if args.json:
        write_json(args.json, results, notes, args)
    if args.profile:
        for result in results:
            if not result.met and result.maker is not None:
                print()
                print(profile_ours(result.name, result.maker, args.backend))


if __name__ == "__main__":
    main()
