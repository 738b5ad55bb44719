"""A zip archive's upload on a rich progress bar, naming the member being sent."""

import pathlib

import anyio
import httpx
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

from httpx_streaming import ZipStreamFile, create_zip_stream_resource, with_progress


async def main(base_url: str, folder: pathlib.Path, console: Console | None = None) -> int:
    archive = create_zip_stream_resource(
        ZipStreamFile(path.name, path) for path in sorted(folder.iterdir()) if path.is_file()
    )
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
    )
    with Progress(*columns, console=console) as bars:
        task = bars.add_task("upload", total=archive.content_length)

        def show(progress):  # restarts at 0 on every attempt
            bars.update(
                task,
                completed=progress.sent,
                total=progress.total,
                description=progress.part or "upload",
            )

        body = with_progress(archive, show)
        async with httpx.AsyncClient(base_url=base_url) as client:
            response = await client.post("/upload/archive.zip", content=body, headers=body.headers)
    return response.status_code


if __name__ == "__main__":
    print(anyio.run(main, "http://127.0.0.1:8000", pathlib.Path(".")))
