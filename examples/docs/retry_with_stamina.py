"""stamina retries a form upload: every attempt sends the whole form again."""

import pathlib

import anyio
import httpx
import stamina

from httpx_streaming import FormData, stream_response


def is_server_error(error: Exception) -> bool:
    # 5xx answers only. A one-shot body sent twice raises SourceConsumedError, which is no
    # httpx.HTTPError: it is never retried, and propagates from the first failed resend.
    return isinstance(error, httpx.HTTPStatusError) and error.response.status_code >= 500


@stamina.retry(on=is_server_error, attempts=3, wait_initial=0.05, wait_jitter=0.1)
async def upload(client: httpx.AsyncClient, form: FormData) -> httpx.Response:
    response = await client.post("/flaky/stamina?failures=2", content=form, headers=form.headers)
    response.raise_for_status()
    return response


async def main(base_url: str) -> int:
    async with httpx.AsyncClient(base_url=base_url) as client:
        form = FormData()
        form.add_field("title", "Quarterly report")
        form.add_field("script", pathlib.Path(__file__), content_type="text/x-python")
        form.add_field(
            "attachment",
            stream_response(client, "GET", "/files/export.bin"),  # fetched again per attempt
            file_name="data.bin",
        )
        response = await upload(client, form)  # stamina waits with asyncio's or trio's sleep
    return response.status_code


if __name__ == "__main__":
    print(anyio.run(main, "http://127.0.0.1:8000"))  # or backend="trio"
