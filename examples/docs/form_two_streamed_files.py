"""The seed's form: two files, each streamed from a GET, uploaded with the retry loop."""

from collections.abc import AsyncIterator

import anyio
import httpx

from httpx_streaming import FormData, ResourceStreamFunction


@ResourceStreamFunction
async def create_get_request_stream_resource(
    client: httpx.AsyncClient, url: str
) -> AsyncIterator[bytes]:
    # The same as stream_response(client, "GET", url), written out.
    async with client.stream("GET", url) as response:
        response.raise_for_status()
        async for chunk in response.aiter_bytes():
            yield chunk


async def main(base_url: str) -> int:
    async with httpx.AsyncClient(base_url=base_url) as client:
        form = FormData()
        form.add_field(
            "files[0]",
            create_get_request_stream_resource(client, "/files/sister.txt?size=1000000"),
            file_name="sister.txt",
            content_type="application/octet-stream",
        )
        form.add_field(
            "files[1]",
            create_get_request_stream_resource(client, "/files/love.txt?size=2000000"),
            file_name="love.txt",
            content_type="application/octet-stream",
        )

        for _retry in range(5):
            response = await client.post(
                "/flaky/two-files?failures=2", content=form, headers=form.headers
            )
            # Repeat on internal server error up to 4 more times
            if response.status_code < 500:
                break
    return response.status_code


if __name__ == "__main__":
    print(anyio.run(main, "http://127.0.0.1:8000", backend="trio"))  # or backend="asyncio"
