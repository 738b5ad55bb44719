"""An httpx2 client's upload, tested with the pytest-httpx2 plugin (respx routes for httpx2)."""

from collections.abc import AsyncIterator

import httpx
import httpx2
import respx

from httpx_streaming import ResourceStreamFunction


@ResourceStreamFunction
async def measurements(count: int) -> AsyncIterator[bytes]:
    yield b"".join(b"%d\n" % value for value in range(count))


async def upload_measurements(client: httpx2.AsyncClient, count: int) -> httpx2.Response:
    body = measurements(count)
    for _retry in range(5):
        response = await client.post("https://metrics.example/ingest", content=body)
        if response.status_code < 500:
            break
    return response


# --- the test: `httpx2_mock` is the plugin's fixture, a respx router --------------------


async def test_upload_is_retried_with_the_full_body(httpx2_mock: respx.Router) -> None:
    received: list[bytes] = []

    async def ingest(request: httpx.Request) -> httpx.Response:
        # respx hands over an httpx.Request and takes an httpx.Response; the
        # plugin turns them into httpx2's.
        received.append(await request.aread())
        return httpx.Response(503 if len(received) < 3 else 202)

    route = httpx2_mock.post("https://metrics.example/ingest").mock(side_effect=ingest)
    async with httpx2.AsyncClient() as client:
        response = await upload_measurements(client, 3)

    assert response.status_code == 202
    assert route.call_count == 3
    assert received == [b"0\n1\n2\n"] * 3
