"""A zip on a synchronous client, with two members of one name (the second is renamed)."""

import pathlib

import httpx

from httpx_streaming import (
    COMPRESSION_METHOD_DEFLATE,
    ZipStreamFile,
    create_zip_stream_resource,
    stream_response,
)


def main(base_url: str) -> int:
    with httpx.Client(base_url=base_url) as client:
        archive = create_zip_stream_resource(
            [
                ZipStreamFile("example.py", pathlib.Path(__file__)),
                ZipStreamFile(
                    "logs/app.log",
                    stream_response(client, "GET", "/files/app.log?size=300000"),
                    compression_method=COMPRESSION_METHOD_DEFLATE,
                ),
                ZipStreamFile("logs/app.log", b"second log\n"),  # sent as logs/app (1).log
            ]
        )
        for _retry in range(5):
            response = client.post(
                "/flaky/sync-zip?failures=1", content=archive.sync(), headers=archive.headers
            )
            if response.status_code < 500:
                break
    return response.status_code


if __name__ == "__main__":
    print(main("http://127.0.0.1:8000"))
