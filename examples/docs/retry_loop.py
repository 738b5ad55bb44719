"""The seed's retry loop: a ResourceStream sends its full body on every attempt."""

from collections.abc import AsyncIterator

import anyio
import httpx

from httpx_streaming import ResourceStreamFunction


@ResourceStreamFunction
async def csv_rows(count: int) -> AsyncIterator[bytes]:
    yield b"id,square\n"
    # Yield batches, not single rows: every chunk becomes its own write.
    for start in range(0, count, 1000):
        rows = range(start, min(start + 1000, count))
        yield b"".join(b"%d,%d\n" % (index, index * index) for index in rows)


async def main(base_url: str) -> int:
    body = csv_rows(100_000)  # nothing runs yet: each attempt starts the generator afresh
    async with httpx.AsyncClient(base_url=base_url) as client:
        for _retry in range(5):
            response = await client.post("/flaky/report?failures=2", content=body)
            # Repeat on internal server error up to 4 more times
            if response.status_code < 500:
                break
    return response.status_code


if __name__ == "__main__":
    print(anyio.run(main, "http://127.0.0.1:8000", backend="trio"))
