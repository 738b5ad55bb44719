"""A form on an httpx2 client; a one-shot form sent twice fails with httpx2's own error."""

import pathlib
from collections.abc import AsyncIterator

import anyio
import httpx2

from httpx_streaming import FormData


async def live_log() -> AsyncIterator[bytes]:  # a plain async generator: one pass only
    yield b"started\n"
    yield b"finished\n"


async def main(base_url: str) -> tuple[int, str]:
    async with httpx2.AsyncClient(base_url=base_url) as client:
        form = FormData()
        form.add_field("title", "Quarterly report")
        form.add_field("script", pathlib.Path(__file__), content_type="text/x-python")
        form.add_field("log", live_log(), file_name="log.txt")
        response = await client.post("/upload/httpx2-form", content=form, headers=form.headers)
        try:
            await client.post("/upload/httpx2-form", content=form, headers=form.headers)
        except httpx2.StreamConsumed as error:  # SourceConsumedError is httpx2's too
            return response.status_code, type(error).__name__
    return response.status_code, "sent twice"


if __name__ == "__main__":
    print(anyio.run(main, "http://127.0.0.1:8000"))  # or backend="trio"
