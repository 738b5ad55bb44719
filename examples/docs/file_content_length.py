"""A local file sent with its Content-Length: pass the body's headers along."""

import pathlib

import anyio
import httpx

from httpx_streaming import FormData, stream_file


async def main(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        body = stream_file(__file__)
        await client.put("/upload/script", content=body, headers=body.headers)

        form = FormData.from_fields({"script": pathlib.Path(__file__)})
        # Also the Content-Type with the form's boundary.
        await client.post("/upload/form", content=form, headers=form.headers)


if __name__ == "__main__":
    anyio.run(main, "http://127.0.0.1:8000")
