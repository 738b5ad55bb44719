"""`make demo`: the seed's scenarios against a loopback server, on asyncio and on trio.

Starts the loopback server itself (nothing to set up, no internet), then runs,
once per event loop:

1. a GET chained into a POST;
2. the retry loop against a server that fails twice;
3. a streaming multipart/form-data upload of two streamed files;
4. a streaming zip of two HTTP responses, POSTed with the retry loop.

For each it prints what the server received and checks it with real parsers
(python-multipart for the form, the standard library's zipfile for the
archive) against the bytes that were sent. Exits 0 only if everything was
verified.
"""

from __future__ import annotations

import hashlib
import io
import sys
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import httpx
from python_multipart.multipart import parse_options_header

# The loopback server is test support code, in the checkout's tests/support.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "support"))

from loopback import LoopbackServer, Received, parse_multipart, pattern_bytes, serve_in_thread

from httpx_streaming import (
    COMPRESSION_METHOD_DEFLATE,
    FormData,
    ResourceStreamFunction,
    ZipStreamFile,
    create_zip_stream_resource,
    stream_response,
)

CHAIN_SIZE = 8 * 1024 * 1024
FORM_FILES = {"first.bin": (1024 * 1024, 11), "second.bin": (2 * 1024 * 1024 + 7, 12)}
ZIP_FILES = {"sister.txt": (1_000_000, 21), "love.txt": (1_500_000, 22)}


class Report:
    """Collects the verdicts and prints one line per check."""

    def __init__(self) -> None:
        self.failures = 0

    def check(self, ok: bool, text: str) -> bool:
        self.failures += not ok
        print(f"     {'ok  ' if ok else 'FAIL'} {text}")
        return ok


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def short(digest: str) -> str:
    return digest[:16] + "…"


def single(server: LoopbackServer, path: str) -> Received:
    received = server.recorder.on(path)
    assert len(received) == 1, f"expected one request on {path}, got {len(received)}"
    return received[0]


# --- 1. chaining -------------------------------------------------------------------


async def chain_get_into_post(client: httpx.AsyncClient, path: str) -> None:
    body = stream_response(client, "GET", f"/bytes?size={CHAIN_SIZE}&seed=1")
    response = await client.post(path, content=body)
    response.raise_for_status()


def verify_chain(server: LoopbackServer, path: str, report: Report) -> None:
    received = single(server, path)
    expected = sha(pattern_bytes(CHAIN_SIZE, 1))
    report.check(
        received.size == CHAIN_SIZE and received.sha256 == expected,
        f"server received {received.size:,} bytes, sha256 {short(received.sha256)} "
        f"(the GET's body: {CHAIN_SIZE:,} bytes, sha256 {short(expected)})",
    )


# --- 2. the retry loop ---------------------------------------------------------------


@ResourceStreamFunction
async def csv_rows(count: int) -> AsyncIterator[bytes]:
    yield b"id,square\n"
    for start in range(0, count, 1000):
        rows = range(start, min(start + 1000, count))
        yield b"".join(b"%d,%d\n" % (index, index * index) for index in rows)


ROWS = 50_000


async def retry_loop(client: httpx.AsyncClient, path: str) -> None:
    body = csv_rows(ROWS)  # a resource: every attempt runs the generator afresh
    for _retry in range(5):
        response = await client.post(path, content=body)
        # Repeat on internal server error up to 4 more times
        if response.status_code < 500:
            break
    response.raise_for_status()


def verify_retry(server: LoopbackServer, path: str, report: Report) -> None:
    attempts = server.recorder.on(path)
    statuses = [attempt.status for attempt in attempts]
    expected = b"id,square\n" + b"".join(b"%d,%d\n" % (i, i * i) for i in range(ROWS))
    report.check(statuses == [500, 500, 200], f"attempts answered {statuses}")
    for number, attempt in enumerate(attempts, 1):
        report.check(
            attempt.body == expected,
            f"attempt {number} carried {attempt.size:,} bytes, sha256 {short(attempt.sha256)} "
            "(the full CSV)",
        )


# --- 3. streaming form-data ------------------------------------------------------------


async def form_upload(client: httpx.AsyncClient, path: str) -> None:
    form = FormData()
    form.add_field("title", "two streamed files")
    for file_name, (size, seed) in FORM_FILES.items():
        # Each part streams another response's body, read only while the form is sent.
        source = stream_response(client, "GET", f"/bytes?size={size}&seed={seed}")
        form.add_field("files", source, file_name=file_name)
    response = await client.post(path, content=form, headers=form.headers)
    response.raise_for_status()


def verify_form(server: LoopbackServer, path: str, report: Report) -> None:
    received = single(server, path)
    content_type = received.headers.get("content-type", "")
    print(
        f"     server received {received.size:,} bytes of {content_type.split(';')[0]}, "
        f"sha256 {short(received.sha256)}"
    )
    assert received.body is not None
    parts = parse_multipart(received.body, content_type)
    expected: list[tuple[str, str | None, bytes]] = [("title", None, b"two streamed files")]
    expected += [
        ("files", file_name, pattern_bytes(size, seed))
        for file_name, (size, seed) in FORM_FILES.items()
    ]
    report.check(len(parts) == len(expected), f"python-multipart found {len(parts)} parts")
    for (headers, data), (name, file_name, content) in zip(parts, expected, strict=False):
        _, disposition = parse_options_header(headers.get(b"content-disposition", b""))
        got_name = disposition.get(b"name", b"").decode()
        got_file = disposition.get(b"filename")
        label = f"field {got_name!r}" + (f", file {got_file.decode()!r}" if got_file else "")
        report.check(
            got_name == name
            and (got_file.decode() if got_file else None) == file_name
            and data == content,
            f"{label}: {len(data):,} bytes, sha256 {short(sha(data))}",
        )


# --- 4. streaming zip ------------------------------------------------------------------


async def zip_upload(client: httpx.AsyncClient, path: str) -> None:
    archive = create_zip_stream_resource(
        [
            ZipStreamFile(
                name,
                stream_response(client, "GET", f"/bytes?size={size}&seed={seed}"),
                compression_method=COMPRESSION_METHOD_DEFLATE if index else 0,
            )
            for index, (name, (size, seed)) in enumerate(ZIP_FILES.items())
        ]
    )
    for _retry in range(5):
        response = await client.post(path, content=archive, headers=archive.headers)
        # Repeat on internal server error up to 4 more times
        if response.status_code < 500:
            break
    response.raise_for_status()


def verify_zip(server: LoopbackServer, path: str, report: Report) -> None:
    attempts = server.recorder.on(path)
    report.check(
        [attempt.status for attempt in attempts] == [500, 200]
        and len({attempt.sha256 for attempt in attempts}) == 1,
        f"{len(attempts)} attempts ({', '.join(str(a.status) for a in attempts)}), "
        f"each {attempts[-1].size:,} bytes, sha256 {short(attempts[-1].sha256)}: "
        "the retry resent the identical archive",
    )
    body = attempts[-1].body
    assert body is not None
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        report.check(archive.testzip() is None, "zipfile: every member's CRC-32 verified")
        infos = archive.infolist()
        report.check(
            [info.filename for info in infos] == list(ZIP_FILES),
            f"zipfile listing: {[info.filename for info in infos]}",
        )
        for info in infos:
            size, seed = ZIP_FILES.get(info.filename, (-1, -1))
            data = archive.read(info)
            method = "deflated" if info.compress_type == zipfile.ZIP_DEFLATED else "stored"
            report.check(
                data == pattern_bytes(size, seed),
                f"{info.filename}: {info.file_size:,} bytes ({method}, {info.compress_size:,} "
                f"in the archive), CRC-32 {info.CRC:08x}, sha256 {short(sha(data))}",
            )


# --- driver -----------------------------------------------------------------------------


async def run_scenarios(server: LoopbackServer, backend: str, report: Report) -> None:
    steps = [
        ("GET /bytes chained into a POST", chain_get_into_post, verify_chain, "/upload/chain"),
        ("the retry loop, server fails twice", retry_loop, verify_retry, "/flaky/retry"),
        ("streaming form-data, two streamed files", form_upload, verify_form, "/upload/form"),
        ("streaming zip of two responses, POSTed", zip_upload, verify_zip, "/flaky/zip"),
    ]
    failures = {"/flaky/retry": 2, "/flaky/zip": 1}
    async with httpx.AsyncClient(base_url=server.url) as client:
        for number, (title, run, verify, base) in enumerate(steps, 1):
            path = f"{base}-{backend}"
            query = f"?failures={failures[base]}" if base in failures else ""
            print(f"  {number}. {title}: POST {path}{query}")
            try:
                await run(client, path + query)
            except Exception as exc:
                report.check(False, f"the request failed: {type(exc).__name__}: {exc}")
                continue
            try:
                verify(server, path, report)
            except Exception as exc:
                report.check(False, f"verification failed: {type(exc).__name__}: {exc}")


def main() -> int:
    report = Report()
    with serve_in_thread() as server:
        for backend in ("asyncio", "trio"):
            print(f"[{backend}] loopback server at {server.url}")
            anyio.run(run_scenarios, server, backend, report, backend=backend)
    if report.failures:
        print(f"verification FAILED ({report.failures} checks)")
        return 1
    print("all verified")
    return 0


if __name__ == "__main__":
    sys.exit(main())
