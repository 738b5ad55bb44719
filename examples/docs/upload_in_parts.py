"""A zip archive sent in parts of 5 MiB, each with its Content-Length, as object stores'
multipart uploads want: the archive is never held whole, and each part skips the members
wholly before it (it reads only the members it holds bytes of)."""

import pathlib

import anyio
import httpx

from httpx_streaming import ZipStreamFile, byte_range, create_zip_stream_resource

PART_SIZE = 5 * 1024 * 1024


async def main(base_url: str, folder: pathlib.Path) -> list[int]:
    archive = create_zip_stream_resource(
        ZipStreamFile(path.name, path) for path in sorted(folder.iterdir()) if path.is_file()
    )
    # Stored members of known size: the archive's length is known before any byte.
    length = archive.content_length
    assert length is not None
    statuses = []
    async with httpx.AsyncClient(base_url=base_url) as client:
        for number, start in enumerate(range(0, length, PART_SIZE), start=1):
            part = byte_range(archive, start, min(start + PART_SIZE, length))
            response = await client.put(
                f"/upload/part-{number}", content=part, headers=part.headers
            )
            statuses.append(response.status_code)
    return statuses


if __name__ == "__main__":
    print(anyio.run(main, "http://127.0.0.1:8000", pathlib.Path(".")))
