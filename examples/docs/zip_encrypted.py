"""An encrypted zip (WinZip AES-256): every file under the archive's password, one under
its own, posted with retries; each retry resends the very same encrypted bytes."""

import pathlib

import anyio
import httpx

from httpx_streaming import COMPRESSION_METHOD_DEFLATE, ZipStreamFile, create_zip_stream_resource


async def main(base_url: str) -> int:
    body = create_zip_stream_resource(
        [
            ZipStreamFile("example.py", pathlib.Path(__file__)),
            ZipStreamFile(
                "report.csv",
                b"month,total\njanuary,10\n" * 1000,
                compression_method=COMPRESSION_METHOD_DEFLATE,  # compressed, then encrypted
            ),
            ZipStreamFile("for-alice.txt", b"only for Alice\n", password="alice's own"),
            ZipStreamFile("empty-folder/"),  # folders hold nothing to encrypt
        ],
        password="correct horse battery staple",  # needs: pip install 'httpx-streaming[aes]'
    )
    async with httpx.AsyncClient(base_url=base_url) as client:
        for _retry in range(5):
            response = await client.post(
                "/flaky/encrypted?failures=1", content=body, headers=body.headers
            )
            if response.status_code < 500:
                break
    return response.status_code


if __name__ == "__main__":
    print(anyio.run(main, "http://127.0.0.1:8000"))  # or backend="trio"
