"""Stream a GET response's body straight into a POST, never holding it in memory."""

import anyio
import httpx

from httpx_streaming import stream_response


async def main(base_url: str) -> dict[str, object]:
    async with httpx.AsyncClient(base_url=base_url) as client:
        body = stream_response(client, "GET", "/bytes?size=10000000")
        response = await client.post("/upload/copy", content=body)
        response.raise_for_status()
        return response.json()  # type: ignore[no-any-return]


if __name__ == "__main__":
    print(anyio.run(main, "http://127.0.0.1:8000"))  # or backend="trio"
