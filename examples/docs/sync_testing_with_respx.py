"""A synchronous client's upload and the respx test that checks every attempt's body."""

from collections.abc import Iterator

import httpx
import respx

from httpx_streaming import FormData, ResourceStreamFunction


@ResourceStreamFunction
def measurements(count: int) -> Iterator[bytes]:
    yield b"".join(b"%d\n" % value for value in range(count))


def upload_measurements(client: httpx.Client, count: int) -> httpx.Response:
    form = FormData()
    form.add_field("readings", measurements(count), file_name="readings.txt")
    for _retry in range(5):
        response = client.post(
            "https://metrics.example/ingest", content=form.sync(), headers=form.headers
        )
        if response.status_code < 500:
            break
    return response


# --- the test ---------------------------------------------------------------------


def test_upload_is_retried_with_the_full_body() -> None:
    received: list[bytes] = []

    def ingest(request: httpx.Request) -> httpx.Response:
        received.append(request.read())  # a streamed body is read with `read()`
        return httpx.Response(503 if len(received) < 3 else 202)

    with respx.mock:
        route = respx.post("https://metrics.example/ingest").mock(side_effect=ingest)
        with httpx.Client() as client:
            response = upload_measurements(client, 3)

    assert response.status_code == 202
    assert route.call_count == 3
    assert len(set(received)) == 1 and b"\r\n\r\n0\n1\n2\n\r\n" in received[0]
