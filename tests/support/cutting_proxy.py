"""A TCP proxy on loopback that reads the HTTP/1.1 requests passing through it, counts
their body bytes, and cuts or stalls chosen ``PATCH`` requests part-way.

Between a client and a server (the tus server of ``tests/test_tus.py``): each
client connection gets its own connection upstream; answers pass back as they
come. Requests are parsed only as far as framing needs (request line,
``Content-Length`` or ``Transfer-Encoding: chunked``), so the proxy knows which
request each byte belongs to, however the client reuses its connections.

``PATCH`` requests are numbered from 0 in the order they reach the proxy. A
*cut* at ``{index: n}`` forwards the first *n* body bytes of that ``PATCH``,
then closes both of its connections: a dropped connection mid-upload. A
*stall* at ``{index: n}`` forwards *n* bytes and then swallows the rest without
answering, setting ``stalled`` (for a test that then cancels the client), and
closes upstream once the client goes away.

What "bytes sent" means here: the body bytes (data only, without chunked
framing) of each request as the proxy read them from the client, including
those read but not forwarded at a cut or stall. Bytes the client wrote that
were still in the kernel's buffers when a connection was cut are not counted.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

_READ = 65536


@dataclass
class Request:
    """One request seen by the proxy (its body bytes so far, while under way)."""

    method: str
    path: str
    body_bytes: int = 0
    cut: bool = False


@dataclass
class CuttingProxy:
    upstream_port: int
    cuts: dict[int, int] = field(default_factory=dict)
    stalls: dict[int, int] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    stalled: threading.Event = field(default_factory=threading.Event)
    port: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._patches = 0
        self._sockets: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self.port = self._listener.getsockname()[1]
        self._closing = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def plan(
        self, *, cuts: dict[int, int] | None = None, stalls: dict[int, int] | None = None
    ) -> None:
        """Forget the requests seen; number PATCHes from 0 again, with these cuts and stalls."""
        with self._lock:
            self.requests.clear()
            self._patches = 0
            self.cuts = dict(cuts or {})
            self.stalls = dict(stalls or {})
            self.stalled.clear()

    def patch_bytes(self) -> int:
        with self._lock:
            return sum(item.body_bytes for item in self.requests if item.method == "PATCH")

    def methods(self) -> list[str]:
        with self._lock:
            return [item.method for item in self.requests]

    def patch_paths(self) -> list[str]:
        with self._lock:
            return [item.path for item in self.requests if item.method == "PATCH"]

    def start(self) -> None:
        self._spawn(self._accept)

    def close(self) -> None:
        self._closing = True
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes accept()
        self._listener.close()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            _kill(sock)
        for thread in self._threads:
            thread.join(timeout=30)
            assert not thread.is_alive(), f"proxy thread {thread.name} did not stop"

    def __enter__(self) -> CuttingProxy:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- threads ------------------------------------------------------------------------

    def _spawn(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while not self._closing:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=30)
                upstream.settimeout(None)
            except OSError:
                _kill(client)
                continue
            with self._lock:
                self._sockets.update((client, upstream))
            self._spawn(self._pump, upstream, client)
            self._spawn(self._requests, client, upstream)

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        """Answers, as they come, until the server closes (then the client's side too)."""
        try:
            while data := source.recv(_READ):
                target.sendall(data)
        except OSError:
            pass
        finally:
            _kill(target)
            _kill(source)

    def _requests(self, client: socket.socket, upstream: socket.socket) -> None:
        reader = _Reader(client)
        try:
            while self._one_request(reader, upstream):
                pass
        except OSError:
            pass
        finally:
            _kill(upstream)
            _kill(client)

    def _one_request(self, reader: _Reader, upstream: socket.socket) -> bool:
        """Forward one request; False when the connection is done."""
        head = reader.until(b"\r\n\r\n")
        if head is None:
            return False
        lines = head.decode("latin-1").split("\r\n")
        method, path = lines[0].split(" ")[:2]
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        request = Request(method, path)
        with self._lock:
            self.requests.append(request)
            limit, stall = None, False
            if method == "PATCH":
                index = self._patches
                self._patches += 1
                if index in self.cuts:
                    limit = self.cuts[index]
                elif index in self.stalls:
                    limit, stall = self.stalls[index], True
        upstream.sendall(head)
        forward = _Forward(upstream, request, self._lock, limit)
        if "chunked" in headers.get("transfer-encoding", "").lower():
            done = _chunked_body(reader, forward)
        else:
            done = forward.data(reader, int(headers.get("content-length", "0")))
        if done:
            return True
        # The limit was reached: cut, or swallow the rest until the client goes away.
        request.cut = True
        if stall:
            self.stalled.set()
            while chunk := reader.recv():
                with self._lock:
                    request.body_bytes += len(chunk)
        return False


class _Reader:
    """Buffered reads from a socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = bytearray()

    def recv(self) -> bytes:
        if self.buffer:
            data = bytes(self.buffer)
            self.buffer.clear()
            return data
        return self.sock.recv(_READ)

    def until(self, marker: bytes) -> bytes | None:
        """Up to and including *marker*; None at the end of the stream."""
        while (end := self.buffer.find(marker)) < 0:
            data = self.sock.recv(_READ)
            if not data:
                return None
            self.buffer += data
        end += len(marker)
        piece = bytes(self.buffer[:end])
        del self.buffer[:end]
        return piece

    def some(self, most: int) -> bytes:
        """At most *most* bytes (at least one); empty at the end of the stream."""
        if not self.buffer:
            data = self.sock.recv(_READ)
            if not data:
                return b""
            self.buffer += data
        piece = bytes(self.buffer[:most])
        del self.buffer[: len(piece)]
        return piece


class _Forward:
    """Forwards a request's body data, counting it, up to an optional limit."""

    def __init__(
        self, upstream: socket.socket, request: Request, lock: threading.Lock, limit: int | None
    ) -> None:
        self.upstream = upstream
        self.request = request
        self.lock = lock
        self.limit = limit
        self.forwarded = 0

    def data(self, reader: _Reader, length: int, framing: bytes = b"") -> bool:
        """Forward *length* bytes of data (after *framing*); False once the limit is hit."""
        if framing:
            self.upstream.sendall(framing)
        while length > 0:
            piece = reader.some(length)
            if not piece:
                raise OSError("the client closed mid-request")
            with self.lock:
                self.request.body_bytes += len(piece)
            length -= len(piece)
            if self.limit is not None and self.forwarded + len(piece) >= self.limit:
                self.upstream.sendall(piece[: self.limit - self.forwarded])
                self.forwarded = self.limit
                return False
            self.upstream.sendall(piece)
            self.forwarded += len(piece)
        return True


def _chunked_body(reader: _Reader, forward: _Forward) -> bool:
    while True:
        size_line = reader.until(b"\r\n")
        if size_line is None:
            raise OSError("the client closed mid-request")
        size = int(size_line.split(b";")[0].strip(), 16)
        if size == 0:
            trailer = reader.until(b"\r\n")  # no trailers from httpx: the final CRLF
            forward.upstream.sendall(size_line + (trailer or b""))
            return True
        if not forward.data(reader, size, framing=size_line):
            return False
        end = reader.until(b"\r\n")
        if end is None:
            raise OSError("the client closed mid-request")
        forward.upstream.sendall(end)


def _kill(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


@contextlib.contextmanager
def cutting_proxy(upstream_port: int) -> Iterator[CuttingProxy]:
    with CuttingProxy(upstream_port) as proxy:
        yield proxy
