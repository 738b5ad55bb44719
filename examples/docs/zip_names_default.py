"""Repeated member names: renamed `path (index).extension` by default, or kept as given."""

import io
import zipfile

import anyio
import httpx

from httpx_streaming import ZipStreamFile, ZipStreamResource, create_zip_stream_resource

NAMES = ["report.txt", "report.txt", "report.txt", "photos/cat.jpg", "photos/cat.jpg"]


async def names_in(body: ZipStreamResource) -> list[str]:
    # The resource is reusable: read it once more, here, to list what it holds.
    archive = b"".join([bytes(chunk) async for chunk in body])
    return zipfile.ZipFile(io.BytesIO(archive)).namelist()


async def main(base_url: str) -> tuple[list[str], list[str]]:
    files = [ZipStreamFile(name, b"file %d\n" % index) for index, name in enumerate(NAMES)]
    renamed = create_zip_stream_resource(files)
    as_given = create_zip_stream_resource(files, name_deduplicator=None)
    async with httpx.AsyncClient(base_url=base_url) as client:
        response = await client.post("/upload/renamed", content=renamed, headers=renamed.headers)
        response.raise_for_status()
    return await names_in(renamed), await names_in(as_given)


if __name__ == "__main__":
    renamed, as_given = anyio.run(main, "http://127.0.0.1:8000")  # or backend="trio"
    print(renamed)
    # ['report.txt', 'report (1).txt', 'report (2).txt', 'photos/cat.jpg', 'photos/cat (1).jpg']
    print(as_given)
    # ['report.txt', 'report.txt', 'report.txt', 'photos/cat.jpg', 'photos/cat.jpg']
