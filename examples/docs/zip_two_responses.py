"""The seed's zip: two GET responses as one archive, posted with the retry loop."""

import anyio
import httpx

from httpx_streaming import ZipStreamFile, create_zip_stream_resource, stream_response


async def main(base_url: str) -> int:
    async with httpx.AsyncClient(base_url=base_url) as client:
        data = create_zip_stream_resource(
            [
                ZipStreamFile(
                    "sister.txt", stream_response(client, "GET", "/files/sister.txt?size=1000000")
                ),
                ZipStreamFile(
                    "love.txt", stream_response(client, "GET", "/files/love.txt?size=5000000")
                ),
            ]
        )

        for _retry in range(5):
            response = await client.post(
                "/flaky/zip-two?failures=2", content=data, headers=data.headers
            )
            # Repeat on internal server error up to 4 more times
            if response.status_code < 500:
                break
    return response.status_code


if __name__ == "__main__":
    print(anyio.run(main, "http://127.0.0.1:8000", backend="trio"))  # or backend="asyncio"
