"""A zip with a program, and symbolic links to it that unzip and bsdtar recreate."""

import stat

import anyio
import httpx

from httpx_streaming import ZipStreamFile, create_zip_stream_resource

LINK = stat.S_IFLNK | 0o777


async def main(base_url: str) -> int:
    body = create_zip_stream_resource(
        [
            ZipStreamFile("lib/tool-1.2", b"#!/bin/sh\necho tool\n", mode=0o755),
            ZipStreamFile("lib/tool", "tool-1.2", mode=LINK),  # the data is the target
            ZipStreamFile("bin/tool", "../lib/tool", mode=LINK),  # inside the archive
        ]
    )
    async with httpx.AsyncClient(base_url=base_url) as client:
        response = await client.post("/upload/links", content=body, headers=body.headers)
    return response.status_code


if __name__ == "__main__":
    print(anyio.run(main, "http://127.0.0.1:8000"))  # or backend="trio"
