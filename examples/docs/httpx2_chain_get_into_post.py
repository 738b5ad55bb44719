"""On an httpx2 client: print a download as it arrives, then chain it into a POST."""

import sys

import anyio
import httpx2

from httpx_streaming import stream_response


async def main(base_url: str) -> dict[str, object]:
    async with httpx2.AsyncClient(base_url=base_url) as client:
        body = stream_response(client, "GET", "/bytes?size=10000000")
        async for chunk in stream_response(client, "GET", "/files/notes.txt?size=200"):
            sys.stdout.buffer.write(chunk)
        response = await client.post("/upload/httpx2-copy", content=body)
        response.raise_for_status()  # errors are httpx2's own: httpx2.HTTPStatusError
        return response.json()  # type: ignore[no-any-return]


if __name__ == "__main__":
    print(anyio.run(main, "http://127.0.0.1:8000"))  # or backend="trio"
