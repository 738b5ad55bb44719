"""How a user's own respx tests read and assert a streamed body."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import respx

from httpx_streaming import ResourceStreamFunction, stream_response


@ResourceStreamFunction
async def report(lines: int) -> AsyncIterator[bytes]:
    for index in range(lines):
        yield b"line %d\n" % index


async def test_a_side_effect_reads_the_streamed_body() -> None:
    bodies: list[bytes] = []

    async def receive(request: httpx.Request) -> httpx.Response:
        bodies.append(await request.aread())
        return httpx.Response(201)

    async with respx.mock(base_url="https://api.example") as router:
        router.post("/reports").mock(side_effect=receive)
        async with httpx.AsyncClient(base_url="https://api.example") as client:
            response = await client.post("/reports", content=report(3))
    assert response.status_code == 201
    assert bodies == [b"line 0\nline 1\nline 2\n"]


async def test_retries_are_asserted_attempt_by_attempt() -> None:
    bodies: list[bytes] = []

    async def flaky(request: httpx.Request) -> httpx.Response:
        bodies.append(await request.aread())
        return httpx.Response(500 if len(bodies) < 3 else 200)

    async with respx.mock(base_url="https://api.example") as router:
        route = router.post("/reports").mock(side_effect=flaky)
        async with httpx.AsyncClient(base_url="https://api.example") as client:
            for _retry in range(5):
                response = await client.post("/reports", content=report(2))
                if response.status_code < 500:
                    break
    assert route.call_count == 3
    assert bodies == [b"line 0\nline 1\n"] * 3


async def test_a_mocked_download_chained_into_a_mocked_upload() -> None:
    received: list[bytes] = []

    async def upload(request: httpx.Request) -> httpx.Response:
        received.append(await request.aread())
        return httpx.Response(200)

    async with respx.mock(base_url="https://files.example") as router:
        router.get("/source.bin").mock(return_value=httpx.Response(200, content=b"payload" * 100))
        router.put("/target.bin").mock(side_effect=upload)
        async with httpx.AsyncClient(base_url="https://files.example") as client:
            body = stream_response(client, "GET", "/source.bin")
            await client.put("/target.bin", content=body)
            await client.put("/target.bin", content=body)
    assert received == [b"payload" * 100] * 2


async def test_a_mocked_error_status_stops_the_upload_before_it_starts() -> None:
    async with respx.mock(base_url="https://files.example", assert_all_called=False) as router:
        router.get("/gone").mock(return_value=httpx.Response(410))
        upload = router.put("/target.bin").mock(return_value=httpx.Response(200))
        async with httpx.AsyncClient(base_url="https://files.example") as client:
            body = stream_response(client, "GET", "/gone")
            with pytest.raises(httpx.HTTPStatusError, match="410"):
                await client.put("/target.bin", content=body)
    assert not upload.called
