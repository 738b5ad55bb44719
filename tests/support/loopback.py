"""A small ASGI app served by hypercorn on loopback, for the tests, demo and benchmarks.

Endpoints (all record what they received in ``Recorder``):

* ``GET /bytes?size=N&seed=S&gzip=1&chunked=1`` — N deterministic bytes
  (``pattern_bytes``), with a Content-Length unless ``chunked=1``.
* ``GET /slow?chunks=N&delay=S`` — N chunks of 1 KiB, ``delay`` seconds apart;
  records the chunks sent so far (``recorder.sending``) and whether the client
  went away before the end (``recorder.disconnects``).
* ``GET /status/CODE`` — an empty answer with that status.
* ``POST|PUT /upload/...`` — reads the body, answers JSON with its size and sha256.
* ``POST /flaky/KEY?failures=N`` — reads the body, answers 500 for the first N
  attempts on KEY, then 200 like ``/upload``.
* ``POST|PUT /decoded/KEY?failures=N`` — reads the body and decodes its
  ``Content-Encoding`` (gzip, deflate, br, zstd, in the order listed) as it
  arrives, with Python's gzip/zlib, brotli and zstandard decoders; records the
  decoded size and sha256 (``decoded_size``, ``decoded_sha256``, and the
  decoded bytes up to ``KEEP_LIMIT`` in ``decoded``); answers 500 for the
  first N attempts on KEY (default 0), then 200 with both sizes and hashes.
  A body that does not decode is answered 400 with the decoder's error.
* ``POST /redirect?to=PATH&status=307`` — reads the body, then redirects.
* ``GET /files/NAME?size=N`` — N bytes (default ``FILE_SIZE``) of
  ``pattern_bytes(N, file_seed(NAME))`` with a Content-Length: a named download
  (no ``Range`` support: a server that ignores ranges).
* ``GET /static/NAME`` — the file NAME of ``app.static_dir`` served by Starlette's
  ``FileResponse``: a real implementation of ``Range``, ``If-Range`` and ``ETag``.
  The body bytes it sent are counted in ``recorder.served`` by path.

Bodies up to ``KEEP_LIMIT`` bytes are kept so tests can parse them with real
parsers; larger ones keep only size and hash.
"""

from __future__ import annotations

import contextlib
import gzip as gzip_module
import hashlib
import json
import random
import shutil
import socket
import tempfile
import threading
import time
import zlib
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import anyio

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

KEEP_LIMIT = 8 * 1024 * 1024
_BLOCK = 65536


def _block(seed: int) -> bytes:
    return random.Random(seed).randbytes(_BLOCK)


def pattern_chunks(size: int, seed: int = 0, chunk_size: int = _BLOCK) -> Iterator[bytes]:
    """The deterministic bytes ``/bytes`` serves, in chunks (cheap for many GiB)."""
    block = _block(seed) * 2
    offset = 0
    while offset < size:
        length = min(chunk_size, size - offset, _BLOCK)
        start = offset % _BLOCK
        yield block[start : start + length]
        offset += length


def pattern_bytes(size: int, seed: int = 0) -> bytes:
    return b"".join(pattern_chunks(size, seed))


FILE_SIZE = 10_000


def file_seed(name: str) -> int:
    """The seed ``/files/NAME`` serves ``pattern_bytes`` with."""
    return zlib.crc32(name.encode())


def parse_multipart(
    body: bytes, content_type: str, chunk_size: int = 65536
) -> list[tuple[dict[bytes, bytes], bytes]]:
    """A multipart body's parts as (headers, data), read by python-multipart.

    That is the parser Starlette and FastAPI servers use; it is fed in pieces of
    *chunk_size* bytes, as a server receives them.
    """
    from python_multipart.multipart import MultipartParser, parse_options_header

    media_type, options = parse_options_header(content_type)
    if media_type != b"multipart/form-data":
        raise ValueError(f"not a multipart/form-data body: {content_type!r}")
    parts: list[tuple[dict[bytes, bytes], bytes]] = []
    headers: dict[bytes, bytes] = {}
    name, value, data = bytearray(), bytearray(), bytearray()

    def on_part_begin() -> None:
        headers.clear()
        data.clear()

    def on_header_field(buffer: bytes, start: int, end: int) -> None:
        name.extend(buffer[start:end])

    def on_header_value(buffer: bytes, start: int, end: int) -> None:
        value.extend(buffer[start:end])

    def on_header_end() -> None:
        headers[bytes(name).lower()] = bytes(value)
        name.clear()
        value.clear()

    def on_part_data(buffer: bytes, start: int, end: int) -> None:
        data.extend(buffer[start:end])

    def on_part_end() -> None:
        parts.append((dict(headers), bytes(data)))

    parser = MultipartParser(
        options[b"boundary"],
        callbacks={
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        },
    )
    for start in range(0, len(body), chunk_size):
        parser.write(body[start : start + chunk_size])
    parser.finalize()
    return parts


@dataclass
class Received:
    """One request the server read in full."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    size: int
    sha256: str
    body: bytes | None
    complete: bool = True  # False when the client went away before the body's end
    status: int = 200
    # /decoded: the body with its Content-Encoding undone.
    decoded_size: int | None = None
    decoded_sha256: str | None = None
    decoded: bytes | None = None


@dataclass
class Recorder:
    requests: list[Received] = field(default_factory=list)
    disconnects: list[str] = field(default_factory=list)
    completed: list[str] = field(default_factory=list)
    attempts: dict[str, int] = field(default_factory=dict)
    # Body bytes read so far by path, updated as they arrive (for an upload still under way).
    receiving: dict[str, int] = field(default_factory=dict)
    # Chunks of a /slow answer sent so far, by query string.
    sending: dict[str, int] = field(default_factory=dict)
    # Body bytes of /static answers sent, by path.
    served: dict[str, int] = field(default_factory=dict)

    def on(self, path: str) -> list[Received]:
        """The requests on *path* whose body arrived complete."""
        return [item for item in self.requests if item.path == path and item.complete]

    def clear(self) -> None:
        self.requests.clear()
        self.disconnects.clear()
        self.completed.clear()
        self.attempts.clear()
        self.receiving.clear()
        self.sending.clear()
        self.served.clear()


class LoopbackApp:
    def __init__(self, static_dir: Path) -> None:
        self.recorder = Recorder()
        self.static_dir = static_dir

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        path: str = scope["path"]
        query = parse_qs(scope["query_string"].decode())

        def number(name: str, default: float) -> float:
            return float(query[name][0]) if name in query else default

        if path == "/bytes":
            await self._bytes(
                send,
                int(number("size", 0)),
                int(number("seed", 0)),
                gzip=number("gzip", 0) == 1,
                chunked=number("chunked", 0) == 1,
            )
        elif path == "/slow":
            await self._slow(
                scope, receive, send, int(number("chunks", 100)), number("delay", 0.05)
            )
        elif path.startswith("/status/"):
            await _respond(send, int(path.removeprefix("/status/")), b"")
        elif path.startswith("/upload"):
            received = await self._read(scope, receive)
            await _respond_json(send, 200, _summary(received))
        elif path.startswith("/flaky/"):
            received = await self._read(scope, receive)
            attempt = self.recorder.attempts.get(path, 0) + 1
            self.recorder.attempts[path] = attempt
            status = 500 if attempt <= number("failures", 2) else 200
            received.status = status
            await _respond_json(send, status, {**_summary(received), "attempt": attempt})
        elif path.startswith("/decoded/"):
            try:
                received = await self._read(scope, receive, decode=True)
            except DecodeFailed as error:
                await _respond(send, 400, str(error).encode())
                return
            attempt = self.recorder.attempts.get(path, 0) + 1
            self.recorder.attempts[path] = attempt
            status = 500 if attempt <= number("failures", 0) else 200
            received.status = status
            await _respond_json(
                send,
                status,
                {
                    **_summary(received),
                    "attempt": attempt,
                    "decoded_size": received.decoded_size,
                    "decoded_sha256": received.decoded_sha256,
                },
            )
        elif path == "/redirect":
            received = await self._read(scope, receive)
            received.status = int(number("status", 307))
            await _respond(
                send,
                received.status,
                b"",
                [(b"location", query.get("to", ["/upload"])[0].encode())],
            )
        elif path.startswith("/files/") and len(path) > len("/files/"):
            # Named downloads for the command line's docs examples.
            await self._bytes(
                send,
                int(number("size", FILE_SIZE)),
                file_seed(path.removeprefix("/files/")),
                gzip=False,
                chunked=False,
            )
        elif path.startswith("/static/"):
            await self._static(scope, receive, send, path.removeprefix("/static/"))
        else:
            await _respond(send, 404, b"not found")

    async def _static(self, scope: Scope, receive: Receive, send: Send, name: str) -> None:
        from starlette.responses import FileResponse

        path = scope["path"]
        self.recorder.requests.append(
            Received(
                method=scope["method"],
                path=path,
                query=scope["query_string"].decode(),
                headers={key.decode().lower(): value.decode() for key, value in scope["headers"]},
                size=0,
                sha256="",
                body=None,
            )
        )

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.body":
                served = self.recorder.served
                served[path] = served.get(path, 0) + len(message.get("body", b""))
            await send(message)

        response = FileResponse(self.static_dir / name)
        await response(scope, receive, counting_send)

    async def _read(self, scope: Scope, receive: Receive, *, decode: bool = False) -> Received:
        digest = hashlib.sha256()
        size = 0
        kept: list[bytes] = []
        complete = False
        headers = {key.decode().lower(): value.decode() for key, value in scope["headers"]}
        decoder = Decoder(headers.get("content-encoding", "")) if decode else None
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            digest.update(chunk)
            size += len(chunk)
            self.recorder.receiving[scope["path"]] = size
            if size <= KEEP_LIMIT:
                kept.append(chunk)
            if decoder is not None:
                decoder.feed(chunk)
            if not message.get("more_body", False):
                complete = True
                break
        if decoder is not None and complete:
            decoder.end()
        received = Received(
            method=scope["method"],
            path=scope["path"],
            query=scope["query_string"].decode(),
            headers={key.decode().lower(): value.decode() for key, value in scope["headers"]},
            size=size,
            sha256=digest.hexdigest(),
            body=b"".join(kept) if size <= KEEP_LIMIT else None,
            complete=complete,
        )
        if decoder is not None:
            received.decoded_size = decoder.size
            received.decoded_sha256 = decoder.digest.hexdigest()
            received.decoded = decoder.kept()
        self.recorder.requests.append(received)
        return received

    async def _bytes(self, send: Send, size: int, seed: int, *, gzip: bool, chunked: bool) -> None:
        headers = [(b"content-type", b"application/octet-stream")]
        if gzip:
            body = gzip_module.compress(pattern_bytes(size, seed), mtime=0)  # reproducible
            headers.append((b"content-encoding", b"gzip"))
            chunks: Iterator[bytes] = iter([body])
            length = len(body)
        else:
            chunks = pattern_chunks(size, seed)
            length = size
        if not chunked:
            headers.append((b"content-length", str(length).encode()))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for chunk in chunks:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    async def _slow(
        self, scope: Scope, receive: Receive, send: Send, count: int, delay: float
    ) -> None:
        key = scope["query_string"].decode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/octet-stream")],
            }
        )
        try:
            async with anyio.create_task_group() as group:

                async def watch_disconnect() -> None:
                    while (await receive())["type"] != "http.disconnect":
                        pass
                    self.recorder.disconnects.append(key)
                    group.cancel_scope.cancel()

                group.start_soon(watch_disconnect)
                for index in range(count):
                    await send(
                        {
                            "type": "http.response.body",
                            "body": bytes([index % 256]) * 1024,
                            "more_body": True,
                        }
                    )
                    self.recorder.sending[key] = index + 1
                    await anyio.sleep(delay)
                await send({"type": "http.response.body", "body": b""})
                self.recorder.completed.append(key)
                group.cancel_scope.cancel()
        except OSError:
            self.recorder.disconnects.append(key)


class DecodeFailed(Exception):
    """A /decoded body that its Content-Encoding does not describe."""


class Decoder:
    """Undoes a ``Content-Encoding`` (a comma-separated list) as the body arrives."""

    def __init__(self, header: str) -> None:
        names = [name.strip().lower() for name in header.split(",") if name.strip()]
        # The last encoding applied is undone first.
        self.stages = [self._stage(name) for name in reversed(names)]
        self.digest = hashlib.sha256()
        self.size = 0
        self._kept: list[bytes] = []

    @staticmethod
    def _stage(name: str) -> Any:
        if name == "gzip":
            return zlib.decompressobj(16 + zlib.MAX_WBITS)
        if name == "deflate":
            return zlib.decompressobj()
        if name == "br":
            import brotli

            return brotli.Decompressor()
        if name == "zstd":
            import zstandard

            return zstandard.ZstdDecompressor().decompressobj()
        raise DecodeFailed(f"unknown content-encoding {name!r}")

    def feed(self, data: bytes) -> None:
        try:
            for stage in self.stages:
                if not data:
                    return
                data = stage.process(data) if hasattr(stage, "process") else stage.decompress(data)
        except Exception as error:
            raise DecodeFailed(f"does not decode: {error!r}") from error
        self._out(data)

    def end(self) -> None:
        data = b""
        try:
            for stage in self.stages:
                if hasattr(stage, "process"):  # brotli
                    data = stage.process(data)
                    if not stage.is_finished():
                        raise DecodeFailed("brotli stream ends early")
                else:
                    # zstandard's decompressor refuses any call after its frame's end.
                    if data or not stage.eof:
                        data = stage.decompress(data)
                    flush = getattr(stage, "flush", None)
                    if flush is not None:
                        data += flush()
                    if getattr(stage, "eof", True) is False:
                        raise DecodeFailed(f"{stage!r} stream ends early")
                    if getattr(stage, "unused_data", b""):
                        raise DecodeFailed("data after the end of the stream")
        except DecodeFailed:
            raise
        except Exception as error:
            raise DecodeFailed(f"does not decode: {error!r}") from error
        self._out(data)

    def _out(self, data: bytes) -> None:
        self.digest.update(data)
        self.size += len(data)
        if self.size <= KEEP_LIMIT:
            self._kept.append(data)

    def kept(self) -> bytes | None:
        return b"".join(self._kept) if self.size <= KEEP_LIMIT else None


def _summary(received: Received) -> dict[str, Any]:
    return {
        "size": received.size,
        "sha256": received.sha256,
        "content_type": received.headers.get("content-type"),
    }


async def _respond(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    all_headers = [(b"content-length", str(len(body)).encode()), *(headers or [])]
    await send({"type": "http.response.start", "status": status, "headers": all_headers})
    await send({"type": "http.response.body", "body": body})


async def _respond_json(send: Send, status: int, value: object) -> None:
    await _respond(
        send, status, json.dumps(value).encode(), [(b"content-type", b"application/json")]
    )


@dataclass
class LoopbackServer:
    url: str
    app: LoopbackApp

    @property
    def recorder(self) -> Recorder:
        return self.app.recorder


@contextlib.contextmanager
def serve_in_thread() -> Iterator[LoopbackServer]:
    """Run the app with hypercorn (asyncio worker) in a thread on a free loopback port."""
    import asyncio

    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    static_dir = Path(tempfile.mkdtemp(prefix="loopback-static-"))
    app = LoopbackApp(static_dir)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    config = Config()
    config.bind = [f"fd://{listener.fileno()}"]
    config.accesslog = None
    config.errorlog = None
    config.loglevel = "ERROR"
    config.h11_max_incomplete_size = 1024 * 1024
    started = threading.Event()
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    async def main() -> None:
        started.set()
        await serve(app, config, shutdown_trigger=stop.wait)  # type: ignore[arg-type]

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    started.wait()
    url = f"http://127.0.0.1:{port}"
    _wait_until_listening(port)
    try:
        yield LoopbackServer(url, app)
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=10)
        loop.close()
        with contextlib.suppress(OSError):  # hypercorn closes the socket it was given
            listener.close()
        shutil.rmtree(static_dir, ignore_errors=True)


def _wait_until_listening(port: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return
        time.sleep(0.01)
    raise RuntimeError(f"loopback server did not start on port {port}")
