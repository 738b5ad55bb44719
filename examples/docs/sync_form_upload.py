"""A form on a synchronous client: `form.sync()` is the same bytes without an event loop."""

import pathlib

import httpx

from httpx_streaming import FormData, stream_response


def main(base_url: str) -> int:
    with httpx.Client(base_url=base_url) as client:
        form = FormData()
        form.add_field("title", "Quarterly report")
        form.add_field("script", pathlib.Path(__file__), content_type="text/x-python")
        form.add_field(
            "attachment",
            stream_response(client, "GET", "/files/export.bin"),  # a sync client's download
            file_name="data.bin",
        )
        form.add_json("meta", {"tags": ["q3", "finance"]})

        for _retry in range(5):  # every attempt sends the whole form again
            response = client.post(
                "/flaky/sync-form?failures=1", content=form.sync(), headers=form.headers
            )
            if response.status_code < 500:
                break
    return response.status_code


if __name__ == "__main__":
    print(main("http://127.0.0.1:8000"))
