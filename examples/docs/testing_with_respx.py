"""A user's code and the respx test that checks what it streams, retries included."""

from collections.abc import AsyncIterator

import httpx
import respx

from httpx_streaming import ResourceStreamFunction


@ResourceStreamFunction
async def measurements(count: int) -> AsyncIterator[bytes]:
    yield b"".join(b"%d\n" % value for value in range(count))


async def upload_measurements(client: httpx.AsyncClient, count: int) -> httpx.Response:
    body = measurements(count)
    for _retry in range(5):
        response = await client.post("https://metrics.example/ingest", content=body)
        if response.status_code < 500:
            break
    return response


# --- the test ---------------------------------------------------------------------


async def test_upload_is_retried_with_the_full_body() -> None:
    received: list[bytes] = []

    async def ingest(request: httpx.Request) -> httpx.Response:
        # A streamed body is read with `aread()`; `request.content` would raise.
        received.append(await request.aread())
        return httpx.Response(503 if len(received) < 3 else 202)

    async with respx.mock:
        route = respx.post("https://metrics.example/ingest").mock(side_effect=ingest)
        async with httpx.AsyncClient() as client:
            response = await upload_measurements(client, 3)

    assert response.status_code == 202
    assert route.call_count == 3
    assert received == [b"0\n1\n2\n"] * 3
