"""Our reusable bodies under the retry libraries users already have, on asyncio and trio.

httpx-retries' ``RetryTransport``, stamina and tenacity each post a ``FormData``, a zip resource
and a ``stream_response`` body to ``/flaky/KEY?failures=2``: the server answers 500 twice, then
200, and every one of the three requests it read must carry the whole body, byte for byte the
same as a full pass of that body made beforehand. A body holding a one-shot source fails with
``SourceConsumedError`` out of each library instead of sending a short or empty body.

What each library needs (docs/retries.md says the same):

* httpx-retries 0.6 sleeps between attempts with ``asyncio.sleep`` (even for 0 seconds), which
  raises ``TypeError`` under trio; a ``Retry`` subclass whose ``asleep`` runs the library's own
  ``sleep`` in a worker thread works on both (``increment`` copies with ``self.__class__``, so
  the subclass survives every attempt).
* stamina picks ``trio.sleep`` or ``asyncio.sleep`` itself (sniffio).
* tenacity 9.2 picks ``trio.sleep`` under trio by itself too; ``sleep=anyio.sleep`` works with
  every release. ``reraise=True`` makes running out of attempts raise the last
  ``HTTPStatusError`` rather than tenacity's ``RetryError``.

The waits are real but tiny (10-40 ms), so each library's own sleep runs on each backend.
"""

from __future__ import annotations

import hashlib
import io
import uuid
import zipfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import httpx
import pytest
import stamina
from httpx_retries import Retry, RetryTransport
from loopback import LoopbackServer, Received, pattern_bytes
from multipart_parsers import parse_email, parse_python_multipart
from tenacity import (
    AsyncRetrying,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_fixed,
)

from httpx_streaming import (
    COMPRESSION_METHOD_DEFLATE,
    COMPRESSION_METHOD_NONE,
    FormData,
    SourceConsumedError,
    ZipStreamFile,
    create_zip_stream_resource,
    stream_zip,
)
from httpx_streaming import stream_response as stream_response_of

ATTEMPTS = 3  # the budget every library is given: two failures, then the answer
WAIT = 0.01
PATH_SIZE = 300_000
BYTES_SIZE = 100_000
RESPONSE_SIZE = 1_000_000
RESPONSE_SEED = 13


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def flaky_path() -> str:
    return f"/flaky/{uuid.uuid4().hex}"


# --- the bodies ---------------------------------------------------------------------------


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    path = tmp_path / "data.bin"
    path.write_bytes(pattern_bytes(PATH_SIZE, 5))  # random: stored even when deflated
    rows = b"".join(b"%d,%d\n" % (index, index * index) for index in range(20_000))
    (tmp_path / "rows.csv").write_bytes(rows)  # deflates well, beside it
    return path


def make_body(kind: str, client: httpx.AsyncClient | httpx.Client, url: str, path: Path) -> Any:
    """A reusable body of *kind*: async, or a synchronous one when *client* is synchronous
    (the caller then sends ``body.sync()``; ``stream_response``'s is the body itself)."""
    if kind == "form":
        form = FormData()
        form.add_field("title", "Quarterly report")
        form.add_field("blob", pattern_bytes(BYTES_SIZE, 3), file_name="blob.bin")
        form.add_field("data", path)
        return form
    if kind == "zip":
        return create_zip_stream_resource(
            [
                ZipStreamFile("stored.bin", pattern_bytes(BYTES_SIZE, 3)),
                ZipStreamFile("dir/data.bin", path, compression_method=COMPRESSION_METHOD_NONE),
                ZipStreamFile(
                    "dir/rows.csv",
                    path.with_name("rows.csv"),
                    compression_method=COMPRESSION_METHOD_DEFLATE,
                ),
                ZipStreamFile(
                    "text.txt",
                    b"hello, retries\n" * 1000,
                    compression_method=COMPRESSION_METHOD_DEFLATE,
                ),
            ]
        )
    assert kind == "response"
    return stream_response_of(
        client, "GET", f"{url}/bytes?size={RESPONSE_SIZE}&seed={RESPONSE_SEED}"
    )


BODIES = ["form", "zip", "response"]


def check_content(kind: str, full: bytes, content_type: str | None, path: Path) -> None:
    """A full pass of the body holds what was put in, as real parsers read it."""
    if kind == "form":
        assert content_type is not None
        parts = parse_python_multipart(full, content_type)
        assert parts == parse_email(full, content_type)
        assert [(part.name, part.filename, part.data) for part in parts] == [
            ("title", None, b"Quarterly report"),
            ("blob", "blob.bin", pattern_bytes(BYTES_SIZE, 3)),
            ("data", "data.bin", path.read_bytes()),
        ]
    elif kind == "zip":
        assert content_type == "application/zip"
        with zipfile.ZipFile(io.BytesIO(full)) as archive:
            assert archive.testzip() is None
            members = {
                info.filename: (info.compress_type, archive.read(info))
                for info in archive.infolist()
            }
        assert members == {
            "stored.bin": (zipfile.ZIP_STORED, pattern_bytes(BYTES_SIZE, 3)),
            "dir/data.bin": (zipfile.ZIP_STORED, path.read_bytes()),
            "dir/rows.csv": (zipfile.ZIP_DEFLATED, path.with_name("rows.csv").read_bytes()),
            "text.txt": (zipfile.ZIP_DEFLATED, b"hello, retries\n" * 1000),
        }
    else:
        assert full == pattern_bytes(RESPONSE_SIZE, RESPONSE_SEED)


def check_attempts(server: LoopbackServer, path: str, full: bytes) -> list[Received]:
    """Three complete requests on *path* (500, 500, 200), each carrying the whole body."""
    attempts = server.recorder.on(path)
    assert [attempt.status for attempt in attempts] == [500, 500, 200]
    for attempt in attempts:
        assert (attempt.size, attempt.sha256) == (len(full), sha256(full))
        assert attempt.body == full
    return attempts


def check_answer(response: httpx.Response, full: bytes) -> None:
    assert response.status_code == 200
    answer = response.json()
    assert (answer["attempt"], answer["size"], answer["sha256"]) == (3, len(full), sha256(full))


# --- the libraries, as users call them -------------------------------------------------------


class AnyioRetry(Retry):
    """httpx-retries' ``Retry`` sleeping without asyncio: on asyncio and trio alike.

    ``Retry.asleep`` awaits ``asyncio.sleep``, which trio refuses; the library's synchronous
    ``sleep`` (Retry-After, backoff and ``total_timeout`` accounting included) runs in a
    worker thread instead, abandoned if the request is cancelled.
    """

    async def asleep(self, response: httpx.Response | Exception) -> None:
        await anyio.to_thread.run_sync(self.sleep, response, abandon_on_cancel=True)


def retry_policy(retry_class: type[Retry] = Retry) -> Retry:
    # total counts retries, not attempts: 2 retries are the 3 attempts the others get.
    return retry_class(
        total=ATTEMPTS - 1,
        backoff_factor=WAIT,
        backoff_jitter=0,
        status_forcelist=[500],
        allowed_methods=["GET", "POST"],  # POST is not retried by default
    )


async def send_once(client: httpx.AsyncClient, url: str, body: Any) -> httpx.Response:
    """With httpx-retries the transport retries: one call, the final answer returned."""
    return await client.post(url, content=body, headers=body.headers)


async def send_with_stamina(client: httpx.AsyncClient, url: str, body: Any) -> httpx.Response:
    # Only HTTPStatusError is retried: SourceConsumedError (a RuntimeError) propagates.
    async for attempt in stamina.retry_context(
        on=httpx.HTTPStatusError,
        attempts=ATTEMPTS,
        wait_initial=WAIT,
        wait_max=WAIT,
        wait_jitter=0,
    ):
        with attempt:
            response = await client.post(url, content=body, headers=body.headers)
            response.raise_for_status()
    return response


def tenacity_async(**sleep: Any) -> AsyncRetrying:
    return AsyncRetrying(
        stop=stop_after_attempt(ATTEMPTS),
        retry=retry_if_exception_type(httpx.HTTPStatusError),
        wait=wait_fixed(WAIT),
        reraise=True,  # the last HTTPStatusError when attempts run out, not a RetryError
        **sleep,
    )


async def send_with_tenacity(client: httpx.AsyncClient, url: str, body: Any) -> httpx.Response:
    async for attempt in tenacity_async(sleep=anyio.sleep):
        with attempt:
            response = await client.post(url, content=body, headers=body.headers)
            response.raise_for_status()
    return response


async def send_with_tenacity_default_sleep(
    client: httpx.AsyncClient, url: str, body: Any
) -> httpx.Response:
    async for attempt in tenacity_async():
        with attempt:
            response = await client.post(url, content=body, headers=body.headers)
            response.raise_for_status()
    return response


@dataclass(frozen=True)
class Library:
    name: str
    make_client: Callable[[], httpx.AsyncClient]
    send: Callable[[httpx.AsyncClient, str, Any], Awaitable[httpx.Response]]

    def __repr__(self) -> str:
        return self.name


def retrying_transport_client(retry_class: type[Retry] = AnyioRetry) -> httpx.AsyncClient:
    transport = RetryTransport(httpx.AsyncHTTPTransport(), retry=retry_policy(retry_class))
    return httpx.AsyncClient(transport=transport)


LIBRARIES = [
    Library("httpx-retries", retrying_transport_client, send_once),
    Library("stamina", httpx.AsyncClient, send_with_stamina),
    Library("tenacity", httpx.AsyncClient, send_with_tenacity),
]
LIBRARY_IDS = [library.name for library in LIBRARIES]


# --- every body, resent in full by every library ------------------------------------------


@pytest.mark.parametrize("kind", BODIES)
@pytest.mark.parametrize("library", LIBRARIES, ids=LIBRARY_IDS)
async def test_async_bodies_are_resent_in_full(
    library: Library, kind: str, server: LoopbackServer, data_file: Path
) -> None:
    path = flaky_path()
    async with library.make_client() as client:
        body = make_body(kind, client, server.url, data_file)
        full = b"".join([bytes(chunk) async for chunk in body])
        response = await library.send(client, f"{server.url}{path}?failures=2", body)
    check_answer(response, full)
    attempts = check_attempts(server, path, full)
    check_content(kind, full, attempts[0].headers.get("content-type"), data_file)


@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # see the trio test below
@pytest.mark.parametrize("kind", BODIES)
async def test_httpx_retries_plain_retry_on_asyncio(
    kind: str, server: LoopbackServer, data_file: Path
) -> None:
    path = flaky_path()
    async with retrying_transport_client(Retry) as client:
        body = make_body(kind, client, server.url, data_file)
        full = b"".join([bytes(chunk) async for chunk in body])
        response = await client.post(
            f"{server.url}{path}?failures=2", content=body, headers=body.headers
        )
    check_answer(response, full)
    check_attempts(server, path, full)


@pytest.mark.parametrize("anyio_backend", ["trio"])
async def test_httpx_retries_plain_retry_fails_on_trio(server: LoopbackServer) -> None:
    """httpx-retries 0.6's async transport awaits ``asyncio.sleep`` before every retry, even
    a 0-second one, and trio refuses an asyncio future: the first retry raises ``TypeError``.
    When this test fails, httpx-retries sleeps portably: update docs/retries.md."""
    path = flaky_path()
    transport = RetryTransport(
        httpx.AsyncHTTPTransport(),
        retry=Retry(total=2, status_forcelist=[500], allowed_methods=["POST"]),  # no backoff
    )
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(TypeError, match=r"trio\.run received unrecognized yield message"):
            await client.post(f"{server.url}{path}?failures=2", content=b"payload")
    assert [attempt.status for attempt in server.recorder.on(path)] == [500]


async def test_tenacity_default_sleep_works_on_both_backends(
    server: LoopbackServer, data_file: Path
) -> None:
    """tenacity 9.2 sleeps with ``trio.sleep`` under trio by itself (sniffio)."""
    path = flaky_path()
    async with httpx.AsyncClient() as client:
        body = make_body("form", client, server.url, data_file)
        full = b"".join([bytes(chunk) async for chunk in body])
        response = await send_with_tenacity_default_sleep(
            client, f"{server.url}{path}?failures=2", body
        )
    check_answer(response, full)
    check_attempts(server, path, full)


# --- running out of attempts: what each library hands back -------------------------------


@pytest.mark.parametrize("library", LIBRARIES, ids=LIBRARY_IDS)
async def test_attempts_run_out(library: Library, server: LoopbackServer, data_file: Path) -> None:
    """Three full attempts, then httpx-retries returns the last 500; stamina and tenacity
    (``reraise=True``) raise its ``HTTPStatusError``."""
    path = flaky_path()
    async with library.make_client() as client:
        body = make_body("form", client, server.url, data_file)
        full = b"".join([bytes(chunk) async for chunk in body])
        url = f"{server.url}{path}?failures=5"
        if library.name == "httpx-retries":
            response = await library.send(client, url, body)
            assert response.status_code == 500
        else:
            with pytest.raises(httpx.HTTPStatusError) as raised:
                await library.send(client, url, body)
            response = raised.value.response
        assert response.json()["attempt"] == 3
    attempts = server.recorder.on(path)
    assert [attempt.status for attempt in attempts] == [500, 500, 500]
    assert {(attempt.size, attempt.sha256) for attempt in attempts} == {(len(full), sha256(full))}


# --- one-shot bodies fail loudly -----------------------------------------------------------


async def log_lines() -> AsyncIterator[bytes]:
    for index in range(1000):
        yield b"line %d\n" % index


LOG = b"".join(b"line %d\n" % index for index in range(1000))


def one_shot_body(kind: str) -> Any:
    """A body holding a plain async generator: one pass, then SourceConsumedError."""
    if kind == "form":
        form = FormData()
        form.add_field("title", "Nightly log")
        form.add_field("log", log_lines(), file_name="log.txt")
        return form
    return create_zip_stream_resource(
        [
            ZipStreamFile("title.txt", b"Nightly log"),
            ZipStreamFile("log.txt", log_lines(), compression_method=COMPRESSION_METHOD_DEFLATE),
        ]
    )


def check_one_shot_received(kind: str, received: Received) -> None:
    """The one request that went out was whole."""
    assert received.body is not None and received.size == len(received.body)
    if kind == "form":
        parts = parse_python_multipart(received.body, received.headers["content-type"])
        assert [(part.name, part.data) for part in parts] == [
            ("title", b"Nightly log"),
            ("log", LOG),
        ]
    else:
        with zipfile.ZipFile(io.BytesIO(received.body)) as archive:
            assert archive.testzip() is None
            assert {name: archive.read(name) for name in archive.namelist()} == {
                "title.txt": b"Nightly log",
                "log.txt": LOG,
            }


@pytest.mark.parametrize("kind", ["form", "zip"])
@pytest.mark.parametrize("library", LIBRARIES, ids=LIBRARY_IDS)
async def test_one_shot_bodies_raise_source_consumed(
    library: Library, kind: str, server: LoopbackServer
) -> None:
    path = flaky_path()
    body = one_shot_body(kind)
    async with library.make_client() as client:
        with pytest.raises(SourceConsumedError):
            await library.send(client, f"{server.url}{path}?failures=2", body)
    # One complete request, and whole. No second one completes: under stamina and tenacity
    # it never goes out; under httpx-retries its headers do, then the connection is closed.
    [received] = server.recorder.on(path)
    assert received.status == 500
    check_one_shot_received(kind, received)


@pytest.mark.parametrize("library", LIBRARIES, ids=LIBRARY_IDS)
async def test_stream_zip_under_retries(library: Library, server: LoopbackServer) -> None:
    """``stream_zip`` is one-shot, and says so on a second pass.

    A plain async generator read again yields nothing: httpx, given it in a new request
    (stamina, tenacity, a hand-written loop), would send an empty body. The archive
    ``stream_zip`` returns refuses instead, under every library.
    """
    path = flaky_path()
    body = stream_zip([ZipStreamFile("log.txt", LOG)])
    async with library.make_client() as client:
        url = f"{server.url}{path}?failures=2"
        if library.name == "httpx-retries":
            with pytest.raises(SourceConsumedError):
                await client.post(url, content=body)
        else:  # the library's loop, as in send_with_stamina and send_with_tenacity
            if library.name == "stamina":
                retrying: Any = stamina.retry_context(
                    on=httpx.HTTPStatusError,
                    attempts=ATTEMPTS,
                    wait_initial=WAIT,
                    wait_max=WAIT,
                    wait_jitter=0,
                )
            else:
                retrying = tenacity_async(sleep=anyio.sleep)
            with pytest.raises(SourceConsumedError, match="already streamed"):
                async for attempt in retrying:
                    with attempt:
                        response = await client.post(url, content=body)
                        response.raise_for_status()
    # One request arrived whole; no other completed (none had a body to send).
    [first] = server.recorder.on(path)
    assert first.status == 500 and first.body is not None
    with zipfile.ZipFile(io.BytesIO(first.body)) as archive:
        assert archive.read("log.txt") == LOG


# --- synchronous clients: the same bodies through .sync() ----------------------------------


def send_once_sync(client: httpx.Client, url: str, body: Any) -> httpx.Response:
    return client.post(url, content=body.sync(), headers=body.headers)


def send_with_stamina_sync(client: httpx.Client, url: str, body: Any) -> httpx.Response:
    for attempt in stamina.retry_context(
        on=httpx.HTTPStatusError,
        attempts=ATTEMPTS,
        wait_initial=WAIT,
        wait_max=WAIT,
        wait_jitter=0,
    ):
        with attempt:
            response = client.post(url, content=body.sync(), headers=body.headers)
            response.raise_for_status()
    return response


def send_with_tenacity_sync(client: httpx.Client, url: str, body: Any) -> httpx.Response:
    for attempt in Retrying(
        stop=stop_after_attempt(ATTEMPTS),
        retry=retry_if_exception_type(httpx.HTTPStatusError),
        wait=wait_fixed(WAIT),
        reraise=True,
    ):
        with attempt:
            response = client.post(url, content=body.sync(), headers=body.headers)
            response.raise_for_status()
    return response


@dataclass(frozen=True)
class SyncLibrary:
    name: str
    make_client: Callable[[], httpx.Client]
    send: Callable[[httpx.Client, str, Any], httpx.Response]


def retrying_transport_sync_client() -> httpx.Client:
    # The sync transport sleeps with time.sleep: plain Retry is right here.
    return httpx.Client(transport=RetryTransport(httpx.HTTPTransport(), retry=retry_policy()))


SYNC_LIBRARIES = [
    SyncLibrary("httpx-retries", retrying_transport_sync_client, send_once_sync),
    SyncLibrary("stamina", httpx.Client, send_with_stamina_sync),
    SyncLibrary("tenacity", httpx.Client, send_with_tenacity_sync),
]


@pytest.mark.parametrize("kind", BODIES)
@pytest.mark.parametrize("library", SYNC_LIBRARIES, ids=LIBRARY_IDS)
def test_sync_bodies_are_resent_in_full(
    library: SyncLibrary, kind: str, server: LoopbackServer, data_file: Path
) -> None:
    path = flaky_path()
    with library.make_client() as client:
        body = make_body(kind, client, server.url, data_file)
        full = b"".join(bytes(chunk) for chunk in body.sync())
        response = library.send(client, f"{server.url}{path}?failures=2", body)
    check_answer(response, full)
    attempts = check_attempts(server, path, full)
    check_content(kind, full, attempts[0].headers.get("content-type"), data_file)


def sync_log_lines() -> Iterator[bytes]:
    for index in range(1000):
        yield b"line %d\n" % index


@pytest.mark.parametrize("kind", ["form", "zip"])
@pytest.mark.parametrize("library", SYNC_LIBRARIES, ids=LIBRARY_IDS)
def test_sync_one_shot_bodies_raise_source_consumed(
    library: SyncLibrary, kind: str, server: LoopbackServer
) -> None:
    path = flaky_path()
    body: Any
    if kind == "form":
        body = FormData()
        body.add_field("title", "Nightly log")
        body.add_field("log", sync_log_lines(), file_name="log.txt")  # a generator: one pass
    else:
        body = create_zip_stream_resource(
            [
                ZipStreamFile("title.txt", b"Nightly log"),
                ZipStreamFile(
                    "log.txt", sync_log_lines(), compression_method=COMPRESSION_METHOD_DEFLATE
                ),
            ]
        )
    with library.make_client() as client, pytest.raises(SourceConsumedError):
        library.send(client, f"{server.url}{path}?failures=2", body)
    [received] = server.recorder.on(path)
    assert received.status == 500
    check_one_shot_received(kind, received)
