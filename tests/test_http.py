"""Stream resources and stream_response against a real HTTP server on loopback."""

from __future__ import annotations

import functools
import gzip
import hashlib
from collections.abc import AsyncIterator
from contextlib import aclosing
from pathlib import Path

import anyio
import httpx
import pytest
from loopback import LoopbackServer, pattern_bytes

from httpx_streaming import ResourceStreamFunction, stream_file, stream_response
from httpx_streaming._response import failed_upstream


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@ResourceStreamFunction
async def generated(count: int, size: int) -> AsyncIterator[bytes]:
    for index in range(count):
        yield bytes([index % 256]) * size


def generated_bytes(count: int, size: int) -> bytes:
    return b"".join(bytes([index % 256]) * size for index in range(count))


async def wait_for(condition: object, timeout: float = 5.0) -> None:
    with anyio.fail_after(timeout):
        while not condition():  # type: ignore[operator]
            await anyio.sleep(0.01)


async def test_get_response_chained_into_a_post(server: LoopbackServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as client:
        body = stream_response(client, "GET", "/bytes?size=3000000&seed=7")
        response = await client.post("/upload/chained", content=body)
    assert response.status_code == 200
    assert response.json()["sha256"] == sha256(pattern_bytes(3_000_000, 7))
    (received,) = server.recorder.on("/upload/chained")
    assert received.size == 3_000_000


async def test_response_length_is_announced_when_the_body_passes_undecoded(
    server: LoopbackServer,
) -> None:
    async with httpx.AsyncClient(base_url=server.url) as client:
        plain = stream_response(client, "GET", "/bytes?size=1000")
        async with aclosing(plain.__aiter__()) as stream:
            assert stream.content_length is None  # not sent yet
            first = await stream.__anext__()
            assert stream.content_length == 1000
            rest = b"".join([chunk async for chunk in stream])
        assert bytes(first) + rest == pattern_bytes(1000)

        chunked = stream_response(client, "GET", "/bytes?size=1000&chunked=1")
        async with aclosing(chunked.__aiter__()) as stream:
            await stream.__anext__()
            assert stream.content_length is None

        compressed = gzip.compress(pattern_bytes(5000), mtime=0)  # as the server sends it
        decoded = stream_response(client, "GET", "/bytes?size=5000&gzip=1")
        async with aclosing(decoded.__aiter__()) as stream:
            assert b"".join([bytes(chunk) async for chunk in stream]) == pattern_bytes(5000)
            assert stream.content_length is None  # the decoded size is not what was sent

        raw = stream_response(client, "GET", "/bytes?size=5000&gzip=1", raw=True)
        async with aclosing(raw.__aiter__()) as stream:
            assert b"".join([bytes(chunk) async for chunk in stream]) == compressed
            assert stream.content_length == len(compressed)


async def test_error_status_raises_before_any_byte(server: LoopbackServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as client:
        received: list[bytes] = []
        with pytest.raises(httpx.HTTPStatusError) as raised:
            async for chunk in stream_response(client, "GET", "/status/404"):
                received.append(chunk)
        assert received == []
        assert raised.value.response.status_code == 404
        # The failed response was closed: the pool is free for the next request.
        tolerated = stream_response(client, "GET", "/status/503", raise_for_status=False)
        assert [chunk async for chunk in tolerated] == []
        with pytest.raises(httpx.HTTPStatusError):
            await client.post("/upload/x", content=stream_response(client, "GET", "/status/500"))
    assert server.recorder.on("/upload/x") == []


def test_stream_response_validates_its_arguments() -> None:
    client = httpx.AsyncClient()
    with pytest.raises(TypeError, match=r"unexpected keyword arguments: \[.stream.\]"):
        stream_response(client, "GET", "http://example.invalid/", stream=True)
    with pytest.raises(
        TypeError, match=r"needs an httpx or httpx2 client \(AsyncClient or Client\), got .*Transp"
    ):
        stream_response(httpx.AsyncHTTPTransport(), "GET", "http://x.invalid/")  # type: ignore[call-overload]
    with pytest.raises(ValueError, match="chunk_size"):
        stream_response(client, "GET", "http://example.invalid/", chunk_size=-1)
    with pytest.raises(TypeError, match=r"chunk_size must be an int, got True \(type bool\)"):
        stream_response(client, "GET", "http://example.invalid/", chunk_size=True)


async def test_the_seed_retry_loop_sends_the_full_body_on_every_attempt(
    server: LoopbackServer,
) -> None:
    body = generated(50, 10_000)
    expected = sha256(generated_bytes(50, 10_000))
    async with httpx.AsyncClient(base_url=server.url) as client:
        for _retry in range(5):
            response = await client.post("/flaky/retry?failures=2", content=body)
            if response.status_code < 500:
                break
    assert response.status_code == 200
    attempts = server.recorder.on("/flaky/retry")
    assert [attempt.status for attempt in attempts] == [500, 500, 200]
    assert all(attempt.size == 500_000 for attempt in attempts)
    assert all(attempt.sha256 == expected for attempt in attempts)


async def test_a_chained_response_is_fetched_again_on_every_retry(server: LoopbackServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as client:
        body = stream_response(client, "GET", "/bytes?size=200000&seed=3")
        for _retry in range(5):
            response = await client.post("/flaky/chain?failures=2", content=body)
            if response.status_code < 500:
                break
    attempts = server.recorder.on("/flaky/chain")
    assert len(attempts) == 3
    assert {attempt.sha256 for attempt in attempts} == {sha256(pattern_bytes(200_000, 3))}
    assert len(server.recorder.on("/bytes")) == 0  # GETs are not recorded as uploads


async def test_a_plain_async_generator_fails_a_redirect(server: LoopbackServer) -> None:
    async def one_shot() -> AsyncIterator[bytes]:
        yield b"only once"

    async with httpx.AsyncClient(base_url=server.url, follow_redirects=True) as client:
        with pytest.raises(httpx.StreamConsumed):
            await client.post("/redirect?to=/upload/moved", content=one_shot())
    assert server.recorder.on("/upload/moved") == []


async def test_a_plain_async_generator_retried_by_hand_sends_an_empty_body(
    server: LoopbackServer,
) -> None:
    # Why the docs insist on ResourceStream: a new request around an exhausted
    # generator is not an error in httpx, it is silently an empty body.
    async def one_shot() -> AsyncIterator[bytes]:
        yield b"only once"

    body = one_shot()
    async with httpx.AsyncClient(base_url=server.url) as client:
        for _retry in range(5):
            response = await client.post("/flaky/plain?failures=1", content=body)
            if response.status_code < 500:
                break
    assert [attempt.size for attempt in server.recorder.on("/flaky/plain")] == [9, 0]


@pytest.mark.parametrize("status", [307, 308])
async def test_redirects_resend_the_complete_body(server: LoopbackServer, status: int) -> None:
    body = generated(20, 5000)
    async with httpx.AsyncClient(base_url=server.url, follow_redirects=True) as client:
        response = await client.post(f"/redirect?to=/upload/moved&status={status}", content=body)
    assert response.status_code == 200
    expected = sha256(generated_bytes(20, 5000))
    (first,) = server.recorder.on("/redirect")
    (second,) = server.recorder.on("/upload/moved")
    assert first.sha256 == second.sha256 == expected
    assert first.status == status


async def test_a_file_is_sent_with_content_length(server: LoopbackServer, tmp_path: Path) -> None:
    path = tmp_path / "upload.bin"
    path.write_bytes(pattern_bytes(300_000, 9))
    body = stream_file(path)
    async with httpx.AsyncClient(base_url=server.url) as client:
        response = await client.post("/upload/file", content=body, headers=body.headers)
        # Without the headers httpx sends any async iterable chunked.
        chunked = await client.post("/upload/chunked", content=body)
    assert (
        response.json()["sha256"] == chunked.json()["sha256"] == sha256(pattern_bytes(300_000, 9))
    )
    (received,) = server.recorder.on("/upload/file")
    assert received.headers["content-length"] == "300000"
    assert "transfer-encoding" not in received.headers
    (without,) = server.recorder.on("/upload/chunked")
    assert without.headers["transfer-encoding"] == "chunked"


async def test_early_exit_closes_the_upstream_response(server: LoopbackServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as client:
        body = stream_response(client, "GET", "/slow?chunks=1000&delay=0.01")
        async with aclosing(body.__aiter__()) as stream:
            async for _chunk in stream:
                break
        await wait_for(lambda: server.recorder.disconnects == ["chunks=1000&delay=0.01"])
        # The connection was released: the client still works.
        response = await client.post("/upload/after", content=b"ok")
        assert response.status_code == 200
    assert server.recorder.completed == []


async def test_cancellation_closes_the_upstream_response(server: LoopbackServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as client:
        body = stream_response(client, "GET", "/slow?chunks=1000&delay=0.01")
        received = 0
        # Cancelled once data flows (a deadline could expire before the first chunk under load).
        with anyio.CancelScope() as scope:
            async with aclosing(body.__aiter__()) as stream:
                async for chunk in stream:
                    received += len(chunk)
                    if received >= 3 * 1024:
                        scope.cancel()  # lands in the next read from the upstream
        assert scope.cancelled_caught
        assert received >= 3 * 1024
        await wait_for(lambda: server.recorder.disconnects == ["chunks=1000&delay=0.01"])
    assert server.recorder.completed == []


async def test_upload_of_a_chained_body_cancelled_midway_closes_the_upstream(
    server: LoopbackServer,
) -> None:
    # The upstream sends 1 KiB, then stalls. Once the server has read that KiB of the upload,
    # httpx has written it and is waiting for the body's next chunk: the cancellation lands
    # inside the upstream's read, whatever the timing. (One that lands while httpx writes is
    # httpx's to handle: it drops the body unclosed, see docs/limitations.md.)
    upstreams: list[httpx.Response] = []

    async def record(response: httpx.Response) -> None:
        upstreams.append(response)

    async with httpx.AsyncClient(base_url=server.url, event_hooks={"response": [record]}) as client:
        body = stream_response(client, "GET", "/slow?chunks=2&delay=60")
        async with anyio.create_task_group() as group:
            group.start_soon(functools.partial(client.post, "/upload/cancelled", content=body))
            await wait_for(lambda: server.recorder.receiving.get("/upload/cancelled", 0) >= 1024)
            group.cancel_scope.cancel()
        [upstream] = upstreams
        assert upstream.url.path == "/slow"
        # Closed by the cancellation itself, not later by the garbage collector.
        assert upstream.is_closed
        await wait_for(lambda: server.recorder.disconnects == ["chunks=2&delay=60"])
    assert server.recorder.completed == []
    assert server.recorder.on("/upload/cancelled") == []  # the upload never completed


async def test_a_failing_upstream_is_named_in_the_error(server: LoopbackServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as client:
        body = stream_response(client, "GET", "http://127.0.0.1:9/unreachable")
        with pytest.raises(httpx.ConnectError) as raised:
            await client.post("/upload/never", content=body)
    # Notes on every Python (3.10 has no add_note, but keeps __notes__).
    assert raised.value.__notes__ == [  # type: ignore[attr-defined]
        "raised while streaming the response of GET http://127.0.0.1:9/unreachable"
    ]
    assert failed_upstream(raised.value) == (
        "GET",
        httpx.URL("http://127.0.0.1:9/unreachable"),
    )
