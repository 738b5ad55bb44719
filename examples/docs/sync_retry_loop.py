"""The seed's retry loop on a synchronous client: a generator body sent in full every time."""

from collections.abc import Iterator

import httpx

from httpx_streaming import ResourceStreamFunction


@ResourceStreamFunction  # over a plain generator function: a body for sync clients
def csv_rows(count: int) -> Iterator[bytes]:
    yield b"id,square\n"
    for start in range(0, count, 1000):
        rows = range(start, min(start + 1000, count))
        yield b"".join(b"%d,%d\n" % (index, index * index) for index in rows)


def main(base_url: str) -> int:
    body = csv_rows(100_000)  # nothing runs yet: each attempt starts the generator afresh
    with httpx.Client(base_url=base_url) as client:
        for _retry in range(5):
            response = client.post("/flaky/sync-report?failures=2", content=body)
            if response.status_code < 500:
                break
    return response.status_code


if __name__ == "__main__":
    print(main("http://127.0.0.1:8000"))
