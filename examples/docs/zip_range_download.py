"""Serve a folder as a zip download that resumes: Range, If-Range, ETag, Content-Length."""

import pathlib

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from httpx_streaming import ZipStreamFile, create_zip_stream_resource, range_response


def make_app(folder: pathlib.Path) -> Starlette:
    # Stored members read from files: their sizes are known, so the archive's
    # length is too, and every download of it is the same bytes.
    archive = create_zip_stream_resource(
        [
            ZipStreamFile(
                path.relative_to(folder).as_posix(), path, modified_at=path.stat().st_mtime
            )
            for path in sorted(folder.rglob("*"))
            if path.is_file()
        ]
    )

    async def download(request: Request) -> Response:
        return await range_response(request, archive, filename=f"{folder.name}.zip")

    return Starlette(routes=[Route("/photos.zip", download, methods=["GET", "HEAD"])])


if __name__ == "__main__":
    import uvicorn

    # Then: curl -C - -O http://127.0.0.1:8000/photos.zip resumes where it stopped.
    uvicorn.run(make_app(pathlib.Path("photos")), port=8000)
