"""Upload application logs as gzip-compressed NDJSON, compressed as they stream, retrying on 5xx."""

import json

import anyio
import httpx

from httpx_streaming import ResourceStreamFunction, compress


@ResourceStreamFunction
async def log_lines(count: int):
    # Each retry calls the function again: the same lines, in the same order.
    for number in range(count):
        record = {"n": number, "level": "INFO" if number % 10 else "WARN", "msg": "request served"}
        yield json.dumps(record).encode() + b"\n"


async def main(base_url: str) -> int:
    body = compress(log_lines(50_000), "gzip")  # Content-Encoding: gzip, chunked
    async with httpx.AsyncClient(base_url=base_url) as client:
        for _retry in range(5):
            response = await client.post(
                "/decoded/logs?failures=1",
                content=body,
                headers={**body.headers, "Content-Type": "application/x-ndjson"},
            )
            if response.status_code < 500:
                break
    return response.status_code


if __name__ == "__main__":
    print(anyio.run(main, "http://127.0.0.1:8000"))  # or backend="trio"
