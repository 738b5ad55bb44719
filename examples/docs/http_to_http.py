"""The seed's three http→http steps in plain httpx: read a response, post a generator, chain."""

from collections.abc import AsyncIterator

import anyio
import httpx


async def stream_data() -> AsyncIterator[bytes]:
    yield b"hello\n"
    yield b"there\n"


async def stream_data_from_get_request(client: httpx.AsyncClient, url: str) -> AsyncIterator[bytes]:
    async with client.stream("GET", url) as response:
        response.raise_for_status()
        async for chunk in response.aiter_bytes():
            yield chunk


async def main(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        # 1. Read a response's body as it arrives.
        async with client.stream("GET", "/bytes?size=200000") as response:
            async for chunk in response.aiter_bytes():
                print(len(chunk), "bytes")

        # 2. Stream a request body from an async generator.
        await client.post("/upload/hello", content=stream_data())

        # 3. Chain a GET's body into a POST, a chunk at a time.
        await client.post(
            "/upload/chained", content=stream_data_from_get_request(client, "/bytes?size=300000")
        )


if __name__ == "__main__":
    anyio.run(main, "http://127.0.0.1:8000")  # or anyio.run(..., backend="trio")
