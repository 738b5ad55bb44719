"""The seed's retry loop on an httpx2 client: the same stream resources, unchanged."""

from collections.abc import AsyncIterator

import anyio
import httpx2

from httpx_streaming import ResourceStreamFunction


@ResourceStreamFunction
async def csv_rows(count: int) -> AsyncIterator[bytes]:
    yield b"id,square\n"
    for start in range(0, count, 1000):
        rows = range(start, min(start + 1000, count))
        yield b"".join(b"%d,%d\n" % (index, index * index) for index in rows)


async def main(base_url: str) -> int:
    body = csv_rows(100_000)
    async with httpx2.AsyncClient(base_url=base_url) as client:
        for _retry in range(5):
            response = await client.post("/flaky/httpx2-report?failures=2", content=body)
            if response.status_code < 500:
                break
    return response.status_code


if __name__ == "__main__":
    print(anyio.run(main, "http://127.0.0.1:8000"))  # or backend="trio"
