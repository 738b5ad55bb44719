"""compress(): every encoding decoded by its reference tool, deterministic passes, a server
that decodes Content-Encoding, retries, bad input, and cancellation."""

from __future__ import annotations

import hashlib
import random
import subprocess
import sys
import threading
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Iterable, Iterator

import anyio
import httpx
import pytest
from conftest import require_tool
from loopback import LoopbackServer
from test_compression import text

from httpx_streaming import (
    CompressedBody,
    FormData,
    ResourceStream,
    ResourceStreamFunction,
    SourceConsumedError,
    SyncResourceStream,
    _compress,
    compress,
)

MiB = 1 << 20
ENCODINGS = ["gzip", "deflate", "br", "zstd"]

INPUTS = {
    "empty": b"",
    "small": b"a few bytes\n",
    "text": text(5 * MiB + 321, seed=5),
    "random": random.Random(3).randbytes(3 * MiB + 17),
}

TOOLS = {"gzip": ("gzip", "gzip"), "zstd": ("zstd", "zstd"), "br": ("brotli", "brotli")}


def tool_decode(encoding: str, packed: bytes) -> bytes:
    """*packed* decoded by the encoding's reference tool (Python's zlib for deflate)."""
    if encoding == "deflate":
        return zlib.decompress(packed)
    name, package = TOOLS[encoding]
    path = require_tool(name, package)
    if encoding == "gzip":
        tested = subprocess.run([path, "-t"], input=packed, capture_output=True)
        assert tested.returncode == 0, tested.stderr
    command = {"gzip": [path, "-dc"], "zstd": [path, "-d", "-c"], "br": [path, "-d", "-c"]}
    decoded = subprocess.run(command[encoding], input=packed, capture_output=True)
    assert decoded.returncode == 0, decoded.stderr
    return decoded.stdout


async def collect(body: object) -> bytes:
    return b"".join([bytes(chunk) async for chunk in body])  # type: ignore[attr-defined]


def collect_sync(body: Iterable[bytes]) -> bytes:
    return b"".join(bytes(chunk) for chunk in body)


@ResourceStreamFunction
async def chunked(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


@ResourceStreamFunction
def sync_chunked(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


# --- every encoding, decoded by its reference tool -------------------------------------


@pytest.mark.parametrize("name", list(INPUTS))
@pytest.mark.parametrize("encoding", ENCODINGS)
async def test_reference_tools_decode_every_input(encoding: str, name: str) -> None:
    data = INPUTS[name]
    body = compress(data, encoding)
    packed = await collect(body)
    assert tool_decode(encoding, packed) == data
    # Another pass, another chunking of the source, the synchronous face: the same bytes.
    assert await collect(body) == packed
    assert await collect(compress(chunked(data, 77_777), encoding)) == packed
    assert collect_sync(compress(sync_chunked(data, 100_003), encoding).sync()) == packed
    assert collect_sync(body.sync()) == packed


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_sync_face_decodes(encoding: str) -> None:
    data = INPUTS["text"]
    body = compress(sync_chunked(data, 65536), encoding)
    face = body.sync()
    assert isinstance(face, SyncResourceStream) and face.headers == body.headers
    assert face.reusable
    assert tool_decode(encoding, collect_sync(face)) == data


@pytest.mark.parametrize("level", [0, 1, 9])
@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
async def test_levels(encoding: str, level: int) -> None:
    data = INPUTS["text"]
    assert tool_decode(encoding, await collect(compress(data, encoding, level=level))) == data


async def test_br_and_zstd_levels() -> None:
    data = INPUTS["text"][: MiB + 5]
    for encoding, level in [("br", 0), ("br", 11), ("zstd", 1), ("zstd", 19)]:
        body = compress(data, encoding, level=level)
        assert body.level == level
        assert tool_decode(encoding, await collect(body)) == data


# --- determinism ---------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
async def test_worker_counts_and_chunkings_give_the_same_bytes(
    encoding: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = INPUTS["text"]
    outputs = set()
    for workers in (1, 2, 3, 8):
        monkeypatch.setattr(_compress, "worker_count", lambda workers=workers: workers)
        for size in (4096, 1_000_001, len(data)):
            outputs.add(await collect(compress(chunked(data, size), encoding)))
        outputs.add(collect_sync(compress(sync_chunked(data, 333_333), encoding).sync()))
    assert len(outputs) == 1
    (packed,) = outputs
    assert tool_decode(encoding, packed) == data


async def test_no_time_stamp() -> None:
    first = await collect(compress(b"same", "gzip"))
    await anyio.sleep(1.1)  # gzip's time stamp counts seconds
    second = await collect(compress(b"same", "gzip"))
    assert first == second
    assert first[4:8] == b"\0\0\0\0" and first[3] == 0  # MTIME 0, no FNAME


# --- the body --------------------------------------------------------------------------


def test_headers_and_kind() -> None:
    body = compress(b"data", "GZIP")
    assert isinstance(body, CompressedBody)
    assert body.encoding == "gzip" and body.level == 6
    assert body.headers == {"Content-Encoding": "gzip"}
    assert body.content_length is None and body.reusable and not body.consumed
    with pytest.raises(TypeError, match="no public constructor"):
        CompressedBody(b"", None, "gzip", 6)  # type: ignore[arg-type]
    form = FormData()
    form.add_field("log", b"line\n", file_name="app.log")
    headers = compress(form, "br").headers
    assert headers["Content-Type"] == form.content_type
    assert "Content-Length" not in headers and headers["Content-Encoding"] == "br"
    # Compressed twice: both encodings, in the order they were applied.
    assert compress(compress(b"x", "zstd"), "gzip").headers == {"Content-Encoding": "zstd, gzip"}
    assert "gzip level 6" in repr(body)


async def test_one_shot_bodies() -> None:
    async def lines() -> AsyncIterator[bytes]:
        yield b"one\n"
        yield b"two\n"

    body = compress(lines(), "gzip")
    assert not body.reusable
    assert tool_decode("gzip", await collect(body)) == b"one\ntwo\n"
    assert body.consumed
    with pytest.raises(SourceConsumedError):
        await collect(body)


def test_async_only_body_has_no_sync_face() -> None:
    async def lines() -> AsyncIterator[bytes]:
        yield b"x"

    with pytest.raises(TypeError, match="can only be read by async code"):
        compress(ResourceStream(lines), "gzip").sync()


# --- bad input fails before the first byte -----------------------------------------------


def test_bad_input_fails_at_compress() -> None:
    with pytest.raises(
        ValueError, match=r"unknown encoding 'lzma'.*'gzip', 'deflate', 'br', 'zstd'"
    ):
        compress(b"x", "lzma")
    with pytest.raises(TypeError, match=r"encoding must be a str, got None \(type NoneType\)"):
        compress(b"x", None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="level must be from 0 to 9 for 'gzip', got 12"):
        compress(b"x", "gzip", level=12)
    with pytest.raises(ValueError, match="from 0 to 11 for 'br', got -1"):
        compress(b"x", "br", level=-1)
    with pytest.raises(TypeError, match=r"level must be an int or None, got '9' \(type str\)"):
        compress(b"x", "zstd", level="9")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="42"):
        compress(42, "gzip")


@pytest.mark.parametrize(("encoding", "extra"), [("br", "brotli"), ("zstd", "zstd")])
def test_missing_extra_fails_at_compress(
    monkeypatch: pytest.MonkeyPatch, encoding: str, extra: str
) -> None:
    for name in ("brotli", "brotlicffi", "zstandard", "compression", "compression.zstd"):
        monkeypatch.setitem(sys.modules, name, None)  # import raises ImportError
    with pytest.raises(ModuleNotFoundError, match=rf"pip install 'httpx-streaming\[{extra}\]'"):
        compress(b"x", encoding)
    compress(b"x", "gzip")


# --- the server receives the original bytes -----------------------------------------------


@pytest.mark.parametrize("encoding", ENCODINGS)
async def test_server_decodes_the_original(server: LoopbackServer, encoding: str) -> None:
    data = INPUTS["text"]
    body = compress(chunked(data, 65536), encoding)
    async with httpx.AsyncClient(base_url=server.url) as client:
        response = await client.post(f"/decoded/{encoding}", content=body, headers=body.headers)
    assert response.status_code == 200, response.text
    (received,) = server.recorder.on(f"/decoded/{encoding}")
    assert received.headers["content-encoding"] == encoding
    assert received.decoded == data
    assert response.json()["decoded_sha256"] == hashlib.sha256(data).hexdigest()


def test_sync_client_form_upload(server: LoopbackServer) -> None:
    from multipart_parsers import parse_python_multipart

    log = INPUTS["text"][: 2 * MiB]
    form = FormData()
    form.add_field("service", "api")
    form.add_field("log", log, file_name="app.log", content_type="text/plain")
    body = compress(form, "zstd")
    with httpx.Client(base_url=server.url) as client:
        response = client.post("/decoded/form", content=body.sync(), headers=body.headers)
    assert response.status_code == 200, response.text
    (received,) = server.recorder.on("/decoded/form")
    assert received.decoded is not None
    parts = {
        part.name: part.data for part in parse_python_multipart(received.decoded, form.content_type)
    }
    assert parts == {"service": b"api", "log": log}


@pytest.mark.parametrize("encoding", ENCODINGS)
async def test_retries_send_the_same_compressed_bytes(
    server: LoopbackServer, encoding: str
) -> None:
    data = INPUTS["text"][: 3 * MiB]
    body = compress(chunked(data, 100_000), encoding)
    path = f"/decoded/retry-{encoding}"
    async with httpx.AsyncClient(base_url=server.url) as client:
        for _ in range(3):
            response = await client.post(f"{path}?failures=2", content=body, headers=body.headers)
            if response.status_code == 200:
                break
    assert response.status_code == 200
    attempts = server.recorder.on(path)
    assert [attempt.status for attempt in attempts] == [500, 500, 200]
    assert len({attempt.sha256 for attempt in attempts}) == 1
    assert all(attempt.decoded == data for attempt in attempts)


def test_sync_retries_send_the_same_compressed_bytes(server: LoopbackServer) -> None:
    data = INPUTS["text"][: 2 * MiB]
    body = compress(sync_chunked(data, 50_000), "gzip")
    with httpx.Client(base_url=server.url) as client:
        for _ in range(3):
            response = client.post(
                "/decoded/sync-retry?failures=1", content=body.sync(), headers=body.headers
            )
            if response.status_code == 200:
                break
    attempts = server.recorder.on("/decoded/sync-retry")
    assert [attempt.status for attempt in attempts] == [500, 200]
    assert attempts[0].sha256 == attempts[1].sha256 and attempts[1].decoded == data


# --- cancellation: workers joined, source closed -------------------------------------------


def compress_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("httpx-streaming-compress")]


@pytest.mark.parametrize("encoding", ["gzip", "zstd"])
async def test_closing_mid_stream_joins_workers_and_closes_the_source(encoding: str) -> None:
    events: list[str] = []

    @ResourceStreamFunction
    async def endless() -> AsyncIterator[bytes]:
        block = text(MiB, seed=9)
        try:
            while True:
                yield block
        finally:
            events.append("closed")

    stream = compress(endless(), encoding).__aiter__()
    for _ in range(3):
        await stream.__anext__()
    assert compress_threads()
    await stream.aclose()
    assert events == ["closed"]
    assert compress_threads() == []


async def test_cancelling_mid_stream_joins_workers_and_closes_the_source() -> None:
    events: list[str] = []

    @ResourceStreamFunction
    async def endless() -> AsyncIterator[bytes]:
        block = text(MiB, seed=9)
        try:
            while True:
                yield block
        finally:
            events.append("closed")

    received = 0
    with anyio.move_on_after(0.5):
        async with anyio.create_task_group():
            stream = compress(endless(), "deflate").__aiter__()
            try:
                async for chunk in stream:
                    received += len(chunk)
            finally:
                with anyio.CancelScope(shield=True):
                    await stream.aclose()
    assert received > 0
    assert events == ["closed"]
    assert compress_threads() == []


def test_closing_the_sync_face_mid_stream() -> None:
    events: list[str] = []

    @ResourceStreamFunction
    def endless() -> Iterator[bytes]:
        block = text(MiB, seed=9)
        try:
            while True:
                yield block
        finally:
            events.append("closed")

    passes = iter(compress(endless(), "gzip").sync())
    for _ in range(3):
        next(passes)
    passes.close()  # type: ignore[attr-defined]
    assert events == ["closed"]
    assert compress_threads() == []


async def test_a_source_error_reaches_the_caller_and_workers_end() -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield text(3 * MiB)
        raise OSError("disk gone")

    with pytest.raises(OSError, match="disk gone"):
        await collect(compress(broken(), "gzip"))
    assert compress_threads() == []


# --- 1 GiB in constant memory ---------------------------------------------------------------

GiB = 1 << 30


def gib_chunks() -> Iterator[bytes]:
    """1 GiB of log-like text, made as it goes: 1 MiB of lines, each chunk numbered."""
    base = text(MiB, seed=21)
    for index in range(GiB // MiB):
        yield b"%08d" % index + base[8:]


def gib_digest() -> str:
    digest = hashlib.sha256()
    for chunk in gib_chunks():
        digest.update(chunk)
    return digest.hexdigest()


def decode_with_pipe(encoding: str, chunks: Iterable[bytes]) -> str:
    """sha256 of what the reference tool decodes from *chunks*, fed through a pipe."""
    digest = hashlib.sha256()
    if encoding == "deflate":
        decompressor = zlib.decompressobj()
        for chunk in chunks:
            digest.update(decompressor.decompress(chunk))
        digest.update(decompressor.flush())
        assert decompressor.eof
        return digest.hexdigest()
    name, package = TOOLS[encoding]
    path = require_tool(name, package)
    command = {"gzip": [path, "-dc"], "zstd": [path, "-d", "-c"], "br": [path, "-d", "-c"]}
    process = subprocess.Popen(command[encoding], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert process.stdin is not None and process.stdout is not None
    output = process.stdout

    def read() -> None:
        while block := output.read(MiB):
            digest.update(block)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for chunk in chunks:
            process.stdin.write(chunk)
    finally:
        process.stdin.close()
        reader.join()
        output.close()
    assert process.wait() == 0
    return digest.hexdigest()


@pytest.mark.slow
@pytest.mark.parametrize("encoding", ENCODINGS)
def test_one_gib_in_constant_memory(encoding: str) -> None:
    expected = gib_digest()
    body = compress(SyncResourceStream(gib_chunks), encoding)
    tracemalloc.start()
    try:
        assert decode_with_pipe(encoding, body.sync()) == expected
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 48 * MiB, peak


@pytest.mark.slow
async def test_one_gib_gzip_async() -> None:
    @ResourceStreamFunction
    async def source() -> AsyncIterator[bytes]:
        for chunk in gib_chunks():
            yield chunk

    expected = gib_digest()
    tool = require_tool("gzip", "gzip")
    process = subprocess.Popen([tool, "-t"], stdin=subprocess.PIPE)  # noqa: ASYNC220
    assert process.stdin is not None
    digest = hashlib.sha256()
    decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        async for chunk in compress(source(), "gzip"):
            process.stdin.write(chunk)
            digest.update(decompressor.decompress(chunk))
    finally:
        process.stdin.close()
    assert process.wait() == 0
    assert decompressor.eof and digest.hexdigest() == expected
