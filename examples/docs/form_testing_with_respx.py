"""A respx test asserting that every retry of a streamed form carries the whole form."""

from collections.abc import AsyncIterator

import httpx
import respx

from httpx_streaming import FormData, ResourceStreamFunction


@ResourceStreamFunction
async def payload() -> AsyncIterator[bytes]:
    yield b"x" * 10


@respx.mock
async def test_upload_retries_send_the_whole_form() -> None:
    bodies = []

    async def upload(request: httpx.Request) -> httpx.Response:
        bodies.append(await request.aread())  # the streamed form, in full
        return httpx.Response(500 if len(bodies) < 3 else 201)

    respx.post("https://api.example/upload").mock(side_effect=upload)
    form = FormData()
    form.add_field("file", payload(), file_name="data.bin")
    async with httpx.AsyncClient() as client:
        for _retry in range(5):
            response = await client.post(
                "https://api.example/upload", content=form, headers=form.headers
            )
            if response.status_code < 500:
                break
    assert response.status_code == 201
    assert len(bodies) == 3 and bodies[0] == bodies[1] == bodies[2]
