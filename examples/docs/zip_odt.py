"""An OpenDocument text (.odt) streamed as a zip: `mimetype` first, stored, no extra field;
the document's body rendered row by row."""

from collections.abc import AsyncIterator
from contextlib import aclosing

import anyio

from httpx_streaming import (
    COMPRESSION_METHOD_DEFLATE,
    ResourceStreamFunction,
    ZipStreamFile,
    create_zip_stream_resource,
)

MEDIA_TYPE = b"application/vnd.oasis.opendocument.text"
MANIFEST = b"""<?xml version="1.0" encoding="UTF-8"?>
<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"
    manifest:version="1.3">
  <manifest:file-entry manifest:full-path="/" manifest:version="1.3"
      manifest:media-type="application/vnd.oasis.opendocument.text"/>
  <manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>
</manifest:manifest>
"""


@ResourceStreamFunction
async def content(title: str, rows: int) -> AsyncIterator[bytes]:
    # The body, a paragraph at a time, afresh on every pass.
    yield (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<office:document-content office:version="1.3"'
        ' xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"'
        ' xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0">\n'
        f'<office:body><office:text><text:h text:outline-level="1">{title}</text:h>\n'
    ).encode()
    for row in range(1, rows + 1):
        yield f"<text:p>Row {row}: {row * row} units</text:p>\n".encode()
    yield b"</office:text></office:body></office:document-content>\n"


async def main(path: str = "report.odt") -> str:
    deflate = COMPRESSION_METHOD_DEFLATE
    document = create_zip_stream_resource(
        [
            # First, stored, without an extra field: how ODF readers recognise the file.
            ZipStreamFile("mimetype", MEDIA_TYPE, extended_timestamps=False),
            ZipStreamFile("META-INF/manifest.xml", MANIFEST, compression_method=deflate),
            ZipStreamFile(
                "content.xml", content("Monthly report", 500), compression_method=deflate
            ),
        ]
    )
    async with (
        await anyio.open_file(path, "wb") as output,
        aclosing(document.__aiter__()) as chunks,
    ):
        async for chunk in chunks:
            await output.write(chunk)
    return path


if __name__ == "__main__":
    print("wrote", anyio.run(main))  # or backend="trio"
