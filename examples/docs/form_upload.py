"""Upload a form of text, a local file, a chained download and JSON, retrying on 5xx."""

import pathlib

import anyio
import httpx

from httpx_streaming import FormData, stream_response


async def main(base_url: str) -> int:
    async with httpx.AsyncClient(base_url=base_url) as client:
        form = FormData()
        form.add_field("title", "Quarterly report")
        # A local file (this script): opened afresh on every attempt, its size known.
        form.add_field("script", pathlib.Path(__file__), content_type="text/x-python")
        # Another server's download, chained into the upload and never held in memory.
        form.add_field(
            "attachment",
            stream_response(client, "GET", "/files/export.bin"),
            file_name="data.bin",
        )
        form.add_json("meta", {"tags": ["q3", "finance"]})

        for _retry in range(5):  # every attempt sends the whole form again
            response = await client.post(
                "/flaky/form?failures=1", content=form, headers=form.headers
            )
            if response.status_code < 500:
                break
    return response.status_code


if __name__ == "__main__":
    print(anyio.run(main, "http://127.0.0.1:8000"))  # or backend="trio"
