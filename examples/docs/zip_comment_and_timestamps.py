"""A zip with a comment and without extended timestamps (as EPUB and OpenDocument want),
one member keeping its own, posted with its Content-Length."""

import anyio
import httpx

from httpx_streaming import ZipStreamFile, create_zip_stream_resource


async def main(base_url: str) -> int:
    body = create_zip_stream_resource(
        [
            ZipStreamFile("mimetype", b"application/epub+zip"),  # no extra field at all
            ZipStreamFile("notes.txt", b"kept with its UTC time\n", extended_timestamps=True),
        ],
        comment="Nightly export, 2026-12-03",
        extended_timestamps=False,  # for every member that does not say otherwise
    )
    async with httpx.AsyncClient(base_url=base_url) as client:
        response = await client.post("/upload/commented", content=body, headers=body.headers)
    return response.status_code


if __name__ == "__main__":
    print(anyio.run(main, "http://127.0.0.1:8000"))  # or backend="trio"
