"""Files on disk at native speed: ratios to peers measured in the same run.

Run: ``.venv/bin/python benchmarks/bench_files.py`` (a few minutes on 2 cores).
Options: ``--backend trio``, ``--repeat N`` (rounds), ``--scale F`` (multiplies
the 256 MiB and 1 GiB file sizes; F1/F2 always zip the real tree), ``--quick``,
``--only F1,F3``, ``--json PATH`` (machine-readable results, see _report.py),
``--tree DIR`` (zip another tree than the standard library in F1/F2).

Rows (ratio = peer's time / our time: >= 1 means ours is as fast or faster):

* F1: ``httpx-streaming zip DIR -o FILE`` (stored) against Info-ZIP's
  ``zip -q -r -0 OUT.zip DIR``: wall time of the whole command, interpreter
  start-up included (our package's bytecode compiled first, as a pip install
  does), median of N. DIR is a copy of the standard library's tree
  without site-packages, dist-packages and __pycache__ (symlinks and
  unreadable files left out).
* F2: the same with ``--deflate`` against ``zip -q -r -6``, and the archive
  sizes compared (target: ours <= 1.02x Info-ZIP's).
* F3: ``FormData`` with one 256 MiB ``pathlib.Path`` part, fully encoded,
  against httpx's built-in synchronous ``files=`` encoder reading the same file
  (``httpx.Request(..., files=...)``, iterating ``request.stream``). Best of N.
* F4: a 1 GiB file posted with ``httpx.AsyncClient`` as
  ``stream_file(path)`` (with its ``Content-Length``), against the same upload
  on a sync ``httpx.Client`` with ``content=open(path, "rb")``, to
  tests/support/loopback.py's server in its own process. Best of N.

Every round runs ours and the peer once, in alternating order, so a burst of
load on the machine hits both alike; the spread is the min..max of the
per-round ratios. Ours runs on ``--backend`` (for F1/F2 the command line's
``--backend trio`` is passed when trio is chosen).
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import json
import os
import shutil
import stat
import subprocess
import sys
import sysconfig
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

import _report
import anyio
import httpx

from httpx_streaming import FormData, stream_file

HERE = Path(__file__).resolve().parent
# The loopback server is test support code; its process imports it from here.
SUPPORT = HERE.parent / "tests" / "support"
CLI = Path(sys.executable).parent / "httpx-streaming"

MiB = 1 << 20
ROWS = ("F1", "F2", "F3", "F4")
SKIPPED_FOLDERS = frozenset({"site-packages", "dist-packages", "__pycache__"})
SIZE_TARGET = 1.02  # F2: our archive at most this times Info-ZIP's


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- timing --------------------------------------------------------------------------


def alternate(
    repeat: int, ours: Callable[[], float], peer: Callable[[], float]
) -> tuple[list[float], list[float]]:
    """Seconds of *repeat* rounds of each; every round runs both, the order alternating.

    Each callable runs once and returns the seconds it measured itself (so an
    async side can leave the event loop's start-up out).
    """
    ours_times: list[float] = []
    peer_times: list[float] = []
    for index in range(repeat):
        if index % 2 == 0:
            ours_times.append(ours())
            peer_times.append(peer())
        else:
            peer_times.append(peer())
            ours_times.append(ours())
    return ours_times, peer_times


def make_row(
    row_id: str,
    title: str,
    backend: str | None,
    statistic: Literal["best", "median"],
    size: int,
    ours: tuple[str, list[float]],
    peer: tuple[str, list[float]],
    *,
    target: float | None = 1.0,
    notes: tuple[str, ...] = (),
) -> _report.Row:
    ours_name, ours_times = ours
    peer_name, peer_times = peer
    ours_seconds = _report.summary(ours_times, statistic)
    peer_seconds = _report.summary(peer_times, statistic)
    return _report.row(
        row_id,
        title,
        _report.contestant(ours_name, seconds=ours_seconds, size=size, times=ours_times),
        [
            _report.peer(
                _report.contestant(peer_name, seconds=peer_seconds, size=size, times=peer_times),
                peer_seconds / ours_seconds,
                _report.spread(ours_times, peer_times),
            )
        ],
        backend=backend,
        statistic=statistic,
        target=target,
        notes=notes,
    )


# --- data ------------------------------------------------------------------------------


@dataclass
class Tree:
    label: str  # what the tree is, for titles
    root: Path  # the copy; its name is the archives' top folder
    files: list[str]  # member names: "<root name>/<relative posix path>"
    size: int


def copy_tree(source: Path, target: Path, label: str) -> Tree:
    """Regular readable files of *source* copied to *target* (times kept), minus skipped folders."""
    files: list[str] = []
    size = 0
    for directory, subdirectories, names in os.walk(source):
        subdirectories[:] = sorted(
            name
            for name in subdirectories
            if name not in SKIPPED_FOLDERS and not os.path.islink(os.path.join(directory, name))
        )
        relative = Path(directory).relative_to(source)
        (target / relative).mkdir(parents=True, exist_ok=True)
        for name in sorted(names):
            path = Path(directory, name)
            try:
                status = path.lstat()
                if not stat.S_ISREG(status.st_mode):
                    continue  # symlinks, sockets, ...
                shutil.copy2(path, target / relative / name)
            except OSError:  # unreadable: left out
                with contextlib.suppress(OSError):
                    (target / relative / name).unlink()
                continue
            files.append((Path(target.name) / relative / name).as_posix())
            size += status.st_size
    return Tree(label, target, sorted(files), size)


def write_file(path: Path, size: int) -> None:
    """*size* bytes of random-looking data (every MiB different) at *path*."""
    with path.open("wb") as file:
        remaining = size
        while remaining > 0:
            block = os.urandom(min(MiB, remaining))
            file.write(block)
            remaining -= len(block)


# --- F1, F2: zip a tree, whole commands ------------------------------------------------


def run_command(command: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    completed = subprocess.run(
        command,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    seconds = time.perf_counter() - start
    if completed.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command)} failed ({completed.returncode}): {completed.stderr.decode()}"
        )
    return seconds


def timed_command(command: list[str], cwd: Path, output: Path) -> Callable[[], float]:
    def run() -> float:
        output.unlink(missing_ok=True)  # Info-ZIP would update an existing archive
        return run_command(command, cwd)

    return run


def check_archive(path: Path, tree: Tree, who: str, *, stored: bool) -> None:
    with zipfile.ZipFile(path) as archive:
        bad = archive.testzip()
        if bad is not None:
            raise AssertionError(f"{who}: member {bad!r} fails its CRC check")
        infos = archive.infolist()
        names = [info.filename for info in infos if not info.filename.endswith("/")]
        if sorted(names) != tree.files:
            missing = sorted(set(tree.files) - set(names))[:5]
            extra = sorted(set(names) - set(tree.files))[:5]
            raise AssertionError(
                f"{who}: members differ from the tree's files "
                f"({len(names)} vs {len(tree.files)}; missing {missing}, extra {extra})"
            )
        if stored and any(info.compress_type != zipfile.ZIP_STORED for info in infos):
            raise AssertionError(f"{who}: a member is not stored")


def compile_package() -> str:
    """Our package's bytecode, written as installing a wheel writes it.

    An editable install run with ``PYTHONDONTWRITEBYTECODE=1`` would otherwise
    compile every module from source at each start of the command, a cost no
    user's installed copy pays (pip compiles on install).
    """
    import httpx_streaming

    package = Path(httpx_streaming.__file__).parent
    if not compileall.compile_dir(package, quiet=1):
        raise RuntimeError(f"could not compile {package}")
    return f"our package's bytecode compiled beforehand, as pip does on install ({package})"


def startup_note(backend: str, work: Path) -> str:
    """Both commands on a one-byte file: what start-up alone costs (also warms ours up)."""
    tiny = work / "tiny"
    tiny.mkdir()
    (tiny / "a.txt").write_bytes(b"a")
    ours = timed_command(cli_zip("tiny", "tiny-ours.zip", backend), work, work / "tiny-ours.zip")
    peer = timed_command(
        ["zip", "-q", "-r", "-0", "tiny-zip.zip", "tiny"], work, work / "tiny-zip.zip"
    )
    ours_times, peer_times = alternate(3, ours, peer)
    return (
        f"start-up: zipping a one-byte file takes {min(ours_times) * 1000:.0f} ms with "
        f"httpx-streaming, {min(peer_times) * 1000:.0f} ms with Info-ZIP zip (best of 3)"
    )


def cli_zip(source: str, output: str, backend: str, *, deflate: bool = False) -> list[str]:
    command = [str(CLI), "zip", source, "-o", output]
    if deflate:
        command.append("--deflate")
    if backend != "asyncio":
        command += ["--backend", backend]
    return command


def bench_tree(tree: Tree, work: Path, backend: str, repeat: int, *, deflate: bool) -> _report.Row:
    ours_out, peer_out = work / "ours.zip", work / "info-zip.zip"
    name = tree.root.name
    ours_command = cli_zip(name, str(ours_out), backend, deflate=deflate)
    level = "-6" if deflate else "-0"
    peer_command = ["zip", "-q", "-r", level, str(peer_out), name]
    ours_times, peer_times = alternate(
        repeat,
        timed_command(ours_command, tree.root.parent, ours_out),
        timed_command(peer_command, tree.root.parent, peer_out),
    )
    # The archives of the last round: valid, with the tree's files as members.
    check_archive(ours_out, tree, "httpx-streaming", stored=not deflate)
    check_archive(peer_out, tree, "Info-ZIP zip", stored=not deflate)
    kind = "deflated (default level)" if deflate else "stored"
    title = (
        f"zip a folder to a file, {kind}: {tree.label}, {len(tree.files):,} files, "
        f"{tree.size / _report.MB:,.1f} MB (whole command, start-up included)"
    )
    notes: tuple[str, ...] = ()
    if deflate:
        ours_size, peer_size = ours_out.stat().st_size, peer_out.stat().st_size
        met = "met" if ours_size / peer_size <= SIZE_TARGET else "**missed**"
        notes = (
            f"archive {ours_size / peer_size:.3f}x Info-ZIP's ({ours_size:,} vs "
            f"{peer_size:,} bytes; target <= {SIZE_TARGET}x: {met})",
        )
    for path in (ours_out, peer_out):
        path.unlink()
    return make_row(
        "F2" if deflate else "F1",
        title,
        backend,
        "median",
        tree.size,
        (f"httpx-streaming zip{' --deflate' if deflate else ''}", ours_times),
        (f"Info-ZIP zip {level}", peer_times),
        target=1.5 if deflate else 1.0,  # the F2 and F1
        notes=notes,
    )


# --- F3: a file part, encoded ----------------------------------------------------------


def bench_form(path: Path, size: int, backend: str, repeat: int) -> _report.Row:
    async def encode_ours() -> tuple[float, int]:
        start = time.perf_counter()
        form = FormData()
        form.add_field("f", path)
        total = 0
        async for chunk in form:
            total += len(chunk)
        seconds = time.perf_counter() - start
        assert total == int(form.headers["Content-Length"]), (total, form.headers)
        return seconds, total

    def ours() -> float:
        seconds, total = anyio.run(encode_ours, backend=backend)
        assert size < total < size + 4096, total
        return seconds

    def peer() -> float:
        start = time.perf_counter()
        with path.open("rb") as file:
            request = httpx.Request("POST", "http://127.0.0.1/upload", files={"f": file})
            stream = request.stream
            assert isinstance(stream, httpx.SyncByteStream)
            total = 0
            for chunk in stream:
                total += len(chunk)
        seconds = time.perf_counter() - start
        assert total == int(request.headers["Content-Length"]), (total, request.headers)
        assert size < total < size + 4096, total
        return seconds

    ours_times, peer_times = alternate(repeat, ours, peer)
    return make_row(
        "F3",
        f"form data: one {size / MiB:,.0f} MiB file on disk (pathlib.Path part), fully encoded",
        backend,
        "best",
        size,
        (f"FormData ({backend})", ours_times),
        ("httpx files= (sync)", peer_times),
    )


# --- F4: a file uploaded ---------------------------------------------------------------

SERVER_CODE = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from loopback import serve_in_thread
with serve_in_thread() as server:
    print(server.url, flush=True)
    sys.stdin.readline()  # the benchmark asks for what the server received
    print(json.dumps([
        {"path": item.path, "size": item.size, "complete": item.complete,
         "content_length": item.headers.get("content-length"),
         "transfer_encoding": item.headers.get("transfer-encoding")}
        for item in server.recorder.requests
    ]), flush=True)
    sys.stdin.read()
"""


@contextlib.contextmanager
def loopback_server() -> Iterator[tuple[str, Callable[[], list[dict[str, Any]]]]]:
    """tests/support/loopback.py's server in its own process (it does not share our GIL).

    Yields its URL and a function returning what it received (call it once, at the end).
    """
    with subprocess.Popen(
        [sys.executable, "-c", SERVER_CODE, str(SUPPORT)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as process:
        stdin: IO[str] | None = process.stdin
        stdout: IO[str] | None = process.stdout
        assert stdin is not None and stdout is not None
        url = stdout.readline().strip()
        if not url:
            raise RuntimeError("the loopback server did not start")

        def received() -> list[dict[str, Any]]:
            stdin.write("report\n")
            stdin.flush()
            report: list[dict[str, Any]] = json.loads(stdout.readline())
            return report

        try:
            yield url, received
        finally:
            stdin.close()
            process.wait(timeout=30)


def bench_upload(path: Path, size: int, backend: str, repeat: int) -> _report.Row:
    with loopback_server() as (url, received):

        async def post_ours() -> float:
            async with httpx.AsyncClient(base_url=url, timeout=120) as client:
                start = time.perf_counter()
                body = stream_file(path)
                # Chunks are bytes-like (memoryviews too); httpx annotates content= as bytes.
                response = await client.post(
                    "/upload/ours",
                    content=body,  # type: ignore[arg-type]
                    headers=body.headers,
                )
                seconds = time.perf_counter() - start
            response.raise_for_status()
            assert response.json()["size"] == size, response.text
            return seconds

        def ours() -> float:
            return float(anyio.run(post_ours, backend=backend))

        def peer() -> float:
            with httpx.Client(base_url=url, timeout=120) as client:
                start = time.perf_counter()
                with path.open("rb") as file:
                    response = client.post("/upload/peer", content=file)
                seconds = time.perf_counter() - start
            response.raise_for_status()
            assert response.json()["size"] == size, response.text
            return seconds

        ours_times, peer_times = alternate(repeat, ours, peer)
        requests = received()
    framing = {}
    for side in ("ours", "peer"):
        seen = [item for item in requests if item["path"] == f"/upload/{side}"]
        assert len(seen) == repeat, (side, seen)
        assert all(item["complete"] and item["size"] == size for item in seen), seen
        kinds = {
            f"Content-Length: {item['content_length']}"
            if item["transfer_encoding"] is None
            else f"Transfer-Encoding: {item['transfer_encoding']}"
            for item in seen
        }
        framing[side] = ", ".join(sorted(kinds))
    # Ours must not fall back to chunked: stream_file knows the size.
    assert framing["ours"] == f"Content-Length: {size}", framing
    return make_row(
        "F4",
        f"upload: a {size / MiB:,.0f} MiB file posted to the loopback server",
        backend,
        "best",
        size,
        (f"AsyncClient + stream_file ({backend})", ours_times),
        ("Client + open() (sync)", peer_times),
        target=0.95,  # the F4
        notes=(
            f"the server received the full size every time; ours sent {framing['ours']}, "
            f"the peer {framing['peer']}",
        ),
    )


# --- main ------------------------------------------------------------------------------


def print_table(rows: list[_report.Row], notes: list[str]) -> None:
    print("| row | benchmark | ours (MB/s) | peer | peer (MB/s) | ratio | spread | target | met |")
    print("|---|---|---:|---|---:|---:|---:|---:|:---:|")
    for row in rows:
        peer = row["peers"][0]
        spread = row["spread"]
        spread_text = "" if spread is None else f"{spread['min']:.2f}..{spread['max']:.2f}"
        statistic = f"{row['statistic']} of {len(row['ours']['times'] or [])}"
        extra = "".join(f" ({note})" for note in row["notes"])
        target = "-" if row["target"] is None else f">= {row['target']:g}x"
        met = "-" if row["met"] is None else ("yes" if row["met"] else "**no**")
        print(
            f"| {row['id']} | {row['title']} ({statistic}){extra} | "
            f"{row['ours']['mb_per_s']:,.0f} | {peer['name']} | {peer['mb_per_s']:,.0f} | "
            f"{row['ratio']:.2f}x | {spread_text} | {target} | {met} |"
        )
    if notes:
        print()
        for note in notes:
            print(f"- {note}")


def parse_only(text: str) -> list[str]:
    wanted = [item.strip().upper() for item in text.split(",") if item.strip()]
    unknown = [item for item in wanted if item not in ROWS]
    if unknown or not wanted:
        raise argparse.ArgumentTypeError(f"rows are {', '.join(ROWS)}; got {text!r}")
    return wanted


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--backend", default="asyncio", choices=["asyncio", "trio"])
    parser.add_argument("--repeat", type=int, help="rounds per row (default 5; --quick: 3)")
    parser.add_argument(
        "--scale", type=float, help="multiplies the F3/F4 file sizes (default 1; --quick: 0.25)"
    )
    parser.add_argument("--quick", action="store_true", help="smaller files, fewer rounds")
    parser.add_argument(
        "--only", type=parse_only, default=list(ROWS), metavar="F1,F3", help="rows to run"
    )
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    parser.add_argument(
        "--tree",
        type=Path,
        help="folder to zip in F1/F2 (default: a copy of the standard library's tree)",
    )
    args = parser.parse_args()
    repeat: int = args.repeat or (3 if args.quick else 5)
    scale: float = args.scale if args.scale is not None else (0.25 if args.quick else 1.0)
    if repeat < 1 or scale <= 0:
        parser.error("--repeat must be >= 1 and --scale > 0")

    def scaled(size: int) -> int:
        return max(MiB, int(size * scale) // MiB * MiB)

    rows: list[_report.Row] = []
    notes: list[str] = []
    wanted: list[str] = args.only
    zip_rows = [row for row in ("F1", "F2") if row in wanted]
    if zip_rows and shutil.which("zip") is None:
        message = (
            f"{' and '.join(zip_rows)} skipped: Info-ZIP's `zip` is not installed "
            "(Debian/Ubuntu: apt-get install zip)"
        )
        log(message)
        notes.append(message)
        zip_rows = []
    if zip_rows and not CLI.exists():
        parser.error(f"{CLI} not found: install the package into this environment first")
    log(f"machine: {_report.machine()}; backend {args.backend}; {repeat} rounds per row")

    with tempfile.TemporaryDirectory(prefix="bench_files-") as temporary:
        work = Path(temporary)
        if zip_rows:
            source = args.tree or Path(sysconfig.get_paths()["stdlib"])
            label = "the standard library's tree" if args.tree is None else f"{source.name}/"
            tree = copy_tree(source.resolve(), work / "stdlib", label)
            log(f"tree: {len(tree.files):,} files, {tree.size / _report.MB:,.1f} MB from {source}")
            notes.append(compile_package())
            notes.append(startup_note(args.backend, work))
            for row_id in zip_rows:
                rows.append(bench_tree(tree, work, args.backend, repeat, deflate=row_id == "F2"))
                log(f"{row_id}: {rows[-1]['ratio']:.2f}x")
            shutil.rmtree(tree.root)
        if "F3" in wanted:
            size = scaled(256 * MiB)
            path = work / "form.bin"
            write_file(path, size)
            rows.append(bench_form(path, size, args.backend, repeat))
            log(f"F3: {rows[-1]['ratio']:.2f}x")
            path.unlink()
        if "F4" in wanted:
            size = scaled(1024 * MiB)
            path = work / "upload.bin"
            write_file(path, size)
            rows.append(bench_upload(path, size, args.backend, repeat))
            log(f"F4: {rows[-1]['ratio']:.2f}x")
            path.unlink()

    print(
        f"Machine: {_report.machine()}; backend {args.backend}; {repeat} rounds per row, "
        "ours and peer alternating; ratio = peer's time / our time; spread = min..max of "
        "the per-round ratios.\n"
    )
    print_table(rows, notes)
    if args.json:
        options = {
            "backend": args.backend,
            "repeat": repeat,
            "scale": scale,
            "only": wanted,
            "tree": None if args.tree is None else str(args.tree),
        }
        _report.write(args.json, Path(__file__).name, rows, options=options, notes=notes)
        log(f"results written to {args.json}")


if __name__ == "__main__":
    main()
