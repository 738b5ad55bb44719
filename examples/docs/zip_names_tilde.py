"""The default deduplicator with another naming scheme: `path~index.extension`."""

import io
import re
import zipfile

import anyio
import httpx

from httpx_streaming import ZipStreamFile, create_zip_stream_resource, name_deduplicator_default

NAME_REGEX = re.compile(r"((?:.*/)?.*?)(?:~(\d+))?(?:\.(.*?))?")


def name_reconstructor(path: str, index: int, extension: str | None) -> str:
    name_parts = [path]

    if index:
        name_parts.append("~")
        name_parts.append(str(index))

    if extension is not None:
        name_parts.append(".")
        name_parts.append(extension)

    return "".join(name_parts)


NAMES = ["report.txt", "report.txt", "report~1.txt", "photos/cat.jpg", "photos/cat.jpg"]


async def main(base_url: str) -> list[str]:
    files = [ZipStreamFile(name, b"file %d\n" % index) for index, name in enumerate(NAMES)]
    zip_stream = create_zip_stream_resource(
        files,
        name_deduplicator=name_deduplicator_default(NAME_REGEX, name_reconstructor),
    )
    async with httpx.AsyncClient(base_url=base_url) as client:
        response = await client.post(
            "/upload/tilde", content=zip_stream, headers=zip_stream.headers
        )
        response.raise_for_status()
    # The resource is reusable: read it once more, here, to list what it holds.
    archive = b"".join([bytes(chunk) async for chunk in zip_stream])
    return zipfile.ZipFile(io.BytesIO(archive)).namelist()


if __name__ == "__main__":
    names = anyio.run(main, "http://127.0.0.1:8000")  # or backend="trio"
    print(names)
    # ['report.txt', 'report~1.txt', 'report~2.txt', 'photos/cat.jpg', 'photos/cat~1.jpg']
