"""A chained body survives retries and redirects: every attempt fetches the source again."""

import anyio
import httpx

from httpx_streaming import stream_response


async def main(base_url: str) -> int:
    async with httpx.AsyncClient(base_url=base_url, follow_redirects=True) as client:
        body = stream_response(client, "GET", "/bytes?size=1000000")
        for _retry in range(5):
            # A 307 redirect resends the body too.
            response = await client.post("/redirect?to=/flaky/chained%3Ffailures%3D1", content=body)
            if response.status_code < 500:
                break
    return response.status_code


if __name__ == "__main__":
    print(anyio.run(main, "http://127.0.0.1:8000"))
