"""A zip on an httpx2 client, with two members of one name (the second is renamed)."""

import pathlib

import anyio
import httpx2

from httpx_streaming import ZipStreamFile, create_zip_stream_resource, stream_response


async def main(base_url: str) -> int:
    async with httpx2.AsyncClient(base_url=base_url) as client:
        archive = create_zip_stream_resource(
            [
                ZipStreamFile("example.py", pathlib.Path(__file__)),
                ZipStreamFile("data.bin", stream_response(client, "GET", "/files/data.bin")),
                ZipStreamFile("data.bin", b"second\n"),  # sent as data (1).bin
            ]
        )
        for _retry in range(5):
            response = await client.post(
                "/flaky/httpx2-zip?failures=1", content=archive, headers=archive.headers
            )
            if response.status_code < 500:
                break
    return response.status_code


if __name__ == "__main__":
    print(anyio.run(main, "http://127.0.0.1:8000"))  # or backend="trio"
