"""A form holding a plain async generator is sent once; a second send fails before any byte."""

from collections.abc import AsyncIterator

import anyio
import httpx

from httpx_streaming import FormData, SourceConsumedError


async def log_lines() -> AsyncIterator[bytes]:
    for index in range(3):
        yield b"line %d\n" % index


async def main(base_url: str) -> str:
    form = FormData()
    form.add_field("log", log_lines(), file_name="log.txt")  # a generator object: one-shot
    print(form.reusable)  # False
    async with httpx.AsyncClient(base_url=base_url) as client:
        response = await client.post("/upload/log", content=form, headers=form.headers)
        response.raise_for_status()
        try:
            await client.post("/upload/log", content=form, headers=form.headers)
        except SourceConsumedError as error:  # an httpx.StreamConsumed
            return f"second send refused: {error}"
    return "second send went out"


if __name__ == "__main__":
    print(anyio.run(main, "http://127.0.0.1:8000"))  # or backend="trio"
