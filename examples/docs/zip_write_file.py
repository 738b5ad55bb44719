"""Write a zip of two downloads to a local file, without holding either in memory."""

from contextlib import aclosing

import anyio
import httpx

from httpx_streaming import ZipStreamFile, stream_response, stream_zip


async def main(base_url: str, path: str = "downloads.zip") -> str:
    async with httpx.AsyncClient(base_url=base_url) as client:
        files = [
            ZipStreamFile(name, stream_response(client, "GET", f"/files/{name}"))
            for name in ("january.csv", "february.csv")
        ]
        async with (
            await anyio.open_file(path, "wb") as output,
            aclosing(stream_zip(files)) as chunks,
        ):
            async for chunk in chunks:
                await output.write(chunk)
    return path


if __name__ == "__main__":
    print("wrote", anyio.run(main, "http://127.0.0.1:8000"))  # or backend="trio"
