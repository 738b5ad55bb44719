"""Read only the start of a form, and close its open source at once when leaving early."""

from contextlib import aclosing

import anyio
import httpx

from httpx_streaming import FormData, stream_response


async def main(base_url: str) -> bytes:
    async with httpx.AsyncClient(base_url=base_url) as client:
        form = FormData()
        form.add_field("title", "a slow feed")
        form.add_field(
            "feed",
            stream_response(client, "GET", "/slow?chunks=1000&delay=0.01"),
            file_name="feed.bin",
        )
        head = bytearray()
        async with aclosing(form.__aiter__()) as chunks:
            async for chunk in chunks:
                head += chunk
                if len(head) >= 4096:
                    break  # leaving the block closes the pass, and with it the GET
    return bytes(head)


if __name__ == "__main__":
    print(anyio.run(main, "http://127.0.0.1:8000")[:200])  # or backend="trio"
