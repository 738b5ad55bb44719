"""An EPUB 3 book streamed as a zip: `mimetype` first, stored, with no extra field."""

from collections.abc import AsyncIterator
from contextlib import aclosing
from datetime import datetime, timezone
from typing import Any

import anyio

from httpx_streaming import (
    COMPRESSION_METHOD_DEFLATE,
    ResourceStreamFunction,
    ZipStreamFile,
    ZipStreamResource,
    create_zip_stream_resource,
)

CONTAINER = b"""<?xml version="1.0" encoding="UTF-8"?>
<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">
  <rootfiles>
    <rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>
  </rootfiles>
</container>
"""
XHTML = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE html>\n'
    '<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops"'
    ' lang="en" xml:lang="en">\n<head><title>{title}</title></head>\n<body>\n'
)


@ResourceStreamFunction
async def chapter(title: str, paragraphs: int) -> AsyncIterator[bytes]:
    # Rendered piece by piece, afresh on every pass (a retry sends the same book).
    yield (XHTML.format(title=title) + f"<h1>{title}</h1>\n").encode()
    for number in range(1, paragraphs + 1):
        yield f"<p>Paragraph {number} of {title}.</p>\n".encode()
    yield b"</body>\n</html>\n"


def package(titles: list[str], modified: datetime) -> bytes:
    items = "".join(
        f'<item id="c{n}" href="chapter-{n}.xhtml" media-type="application/xhtml+xml"/>'
        for n in range(1, len(titles) + 1)
    )
    spine = "".join(f'<itemref idref="c{n}"/>' for n in range(1, len(titles) + 1))
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="uid">
  <metadata xmlns:dc="http://purl.org/dc/elements/1.1/">
    <dc:identifier id="uid">urn:uuid:8a5c7b1e-2f7d-4c55-9a5e-3b1f0c9d2e41</dc:identifier>
    <dc:title>A streamed book</dc:title>
    <dc:language>en</dc:language>
    <meta property="dcterms:modified">{modified:%Y-%m-%dT%H:%M:%SZ}</meta>
  </metadata>
  <manifest>
    <item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>
    {items}
  </manifest>
  <spine>{spine}</spine>
</package>
""".encode()


def navigation(titles: list[str]) -> bytes:
    links = "".join(
        f'<li><a href="chapter-{n}.xhtml">{title}</a></li>'
        for n, title in enumerate(titles, start=1)
    )
    return (
        XHTML.format(title="Contents")
        + f'<nav epub:type="toc" id="toc"><h1>Contents</h1><ol>{links}</ol></nav>\n'
        + "</body>\n</html>\n"
    ).encode()


def book(titles: list[str], modified: datetime) -> ZipStreamResource:
    deflate: dict[str, Any] = {
        "compression_method": COMPRESSION_METHOD_DEFLATE,
        "modified_at": modified,
    }
    return create_zip_stream_resource(
        [
            # First, stored, and without the extended timestamp's extra field:
            # what EPUB asks of the mimetype member.
            ZipStreamFile(
                "mimetype",
                b"application/epub+zip",
                modified_at=modified,
                extended_timestamps=False,
            ),
            ZipStreamFile("META-INF/container.xml", CONTAINER, **deflate),
            ZipStreamFile("OEBPS/content.opf", package(titles, modified), **deflate),
            ZipStreamFile("OEBPS/nav.xhtml", navigation(titles), **deflate),
            *(
                ZipStreamFile(f"OEBPS/chapter-{n}.xhtml", chapter(title, 200), **deflate)
                for n, title in enumerate(titles, start=1)
            ),
        ]
    )


async def main(path: str = "book.epub") -> str:
    modified = datetime(2026, 12, 3, tzinfo=timezone.utc)
    body = book(["The beginning", "The middle", "The end"], modified)
    async with (
        await anyio.open_file(path, "wb") as output,
        aclosing(body.__aiter__()) as chunks,
    ):
        async for chunk in chunks:
            await output.write(chunk)
    return path


if __name__ == "__main__":
    print("wrote", anyio.run(main))  # or backend="trio"
