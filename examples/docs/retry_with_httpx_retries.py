"""httpx-retries' RetryTransport resends a zip resource in full on every retry."""

import pathlib

import anyio
import anyio.to_thread
import httpx
from httpx_retries import Retry, RetryTransport

from httpx_streaming import (
    COMPRESSION_METHOD_DEFLATE,
    ZipStreamFile,
    create_zip_stream_resource,
    stream_response,
)


class AnyioRetry(Retry):
    """httpx-retries' Retry, waiting on trio as well as asyncio.

    httpx-retries 0.6 waits with asyncio.sleep, which trio refuses (TypeError); on asyncio
    alone, plain Retry does. This runs the library's own sleep (backoff, Retry-After) in a
    worker thread, and the copies it makes for each attempt keep the subclass.
    """

    async def asleep(self, response: httpx.Response | Exception) -> None:
        await anyio.to_thread.run_sync(self.sleep, response, abandon_on_cancel=True)


async def main(base_url: str) -> int:
    retry = AnyioRetry(
        total=2,  # retries: 3 attempts in all
        backoff_factor=0.05,
        status_forcelist=[500, 502, 503, 504],  # 500 is not among the defaults
        allowed_methods=Retry.RETRYABLE_METHODS | {"POST"},  # nor is POST
    )
    transport = RetryTransport(httpx.AsyncHTTPTransport(), retry=retry)
    async with httpx.AsyncClient(base_url=base_url, transport=transport) as client:
        archive = create_zip_stream_resource(
            [
                ZipStreamFile("example.py", pathlib.Path(__file__)),
                ZipStreamFile(
                    "logs/app.log",
                    stream_response(client, "GET", "/files/app.log?size=300000"),
                    compression_method=COMPRESSION_METHOD_DEFLATE,
                ),
            ]
        )
        # One call: the transport sends the archive again after each 5xx, and returns the
        # last answer (a 5xx too, once the attempts run out).
        response = await client.post(
            "/flaky/retry-transport?failures=2", content=archive, headers=archive.headers
        )
    return response.status_code


if __name__ == "__main__":
    print(anyio.run(main, "http://127.0.0.1:8000"))  # or backend="trio"
