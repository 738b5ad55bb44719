"""tenacity retries a download chained into an upload: each attempt fetches it again."""

from typing import Any

import anyio
import httpx
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential

from httpx_streaming import stream_response


def is_server_error(error: BaseException) -> bool:
    return isinstance(error, httpx.HTTPStatusError) and error.response.status_code >= 500


async def main(base_url: str) -> Any:
    async with httpx.AsyncClient(base_url=base_url) as client:
        body = stream_response(client, "GET", "/files/export.bin?size=1000000")
        async for attempt in AsyncRetrying(
            stop=stop_after_attempt(3),
            retry=retry_if_exception(is_server_error),
            wait=wait_exponential(multiplier=0.05, max=1),
            sleep=anyio.sleep,  # asyncio or trio, with every tenacity release
            reraise=True,  # out of attempts: the last HTTPStatusError, not a RetryError
        ):
            with attempt:
                response = await client.post(
                    "/flaky/tenacity?failures=2", content=body, headers=body.headers
                )
                response.raise_for_status()
    return response.json()


if __name__ == "__main__":
    print(anyio.run(main, "http://127.0.0.1:8000"))  # or backend="trio"
