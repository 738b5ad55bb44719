"""A resumable upload (tus 1.0) of a zip archive streamed from local files."""

import pathlib

import anyio
import httpx

from httpx_streaming import (
    COMPRESSION_METHOD_DEFLATE,
    ZipStreamFile,
    create_zip_stream_resource,
    tus_upload,
)


async def main(tus_url: str) -> str:
    archive = create_zip_stream_resource(
        [
            # This script, read afresh from disk by every PATCH that needs its bytes.
            ZipStreamFile("example.py", pathlib.Path(__file__)),
            ZipStreamFile(
                "notes.txt",
                b"Made by httpx-streaming.\n" * 10_000,
                compression_method=COMPRESSION_METHOD_DEFLATE,
            ),
        ]
    )
    async with httpx.AsyncClient(timeout=60) as client:
        # Created with the archive's length (or Upload-Defer-Length when unknown), then
        # sent 64 KiB per PATCH; after a dropped connection or a 5xx it asks the server
        # where it stopped (HEAD) and goes on from there.
        upload_url = await tus_upload(
            client,
            tus_url,
            archive,
            metadata={"filename": "example.zip", "filetype": "application/zip"},
            chunk_size=64 * 1024,
        )
    return upload_url  # give it as upload_url= to resume the upload from another process


if __name__ == "__main__":
    print(anyio.run(main, "http://127.0.0.1:1080/files/"))  # or backend="trio"
