"""A deduplicator of your own: every name (repeated or not) gets a `_0000` postfix."""

import io
import re
import zipfile
from collections.abc import Generator
from itertools import count

import anyio
import httpx

from httpx_streaming import ZipStreamFile, create_zip_stream_resource

NAME_REGEX = re.compile(r"((?:.*/)?.*?)(?:\.(.*?))?")


def name_reconstructor(path: str, index: int, extension: str | None) -> str:
    name_parts = [path, "_", str(index).rjust(4, "0")]

    if extension is not None:
        name_parts.append(".")
        name_parts.append(extension)

    return "".join(name_parts)


def name_deduplicator_postfixed() -> Generator[str | None, str, None]:
    # The send protocol: primed with next(), then send(name) answers the name to use.
    name = yield None

    for index in count():
        match = NAME_REGEX.fullmatch(name)
        if match is None:
            path = name
            extension = None
        else:
            path, extension = match.groups()

        name = yield name_reconstructor(path, index, extension)


NAMES = ["report.txt", "report.txt", "notes.md", "photos/cat.jpg"]


async def main(base_url: str) -> list[str]:
    files = [ZipStreamFile(name, b"file %d\n" % index) for index, name in enumerate(NAMES)]
    zip_stream = create_zip_stream_resource(
        files,
        name_deduplicator=name_deduplicator_postfixed(),
    )
    async with httpx.AsyncClient(base_url=base_url) as client:
        response = await client.post(
            "/upload/postfixed", content=zip_stream, headers=zip_stream.headers
        )
        response.raise_for_status()
    # The resource is reusable: read it once more, here, to list what it holds.
    archive = b"".join([bytes(chunk) async for chunk in zip_stream])
    return zipfile.ZipFile(io.BytesIO(archive)).namelist()


if __name__ == "__main__":
    names = anyio.run(main, "http://127.0.0.1:8000")  # or backend="trio"
    print(names)
    # ['report_0000.txt', 'report_0001.txt', 'notes_0002.md', 'photos/cat_0003.jpg']
