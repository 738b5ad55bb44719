"""On a synchronous client: print a download as it arrives, then chain it into a POST."""

import sys

import httpx

from httpx_streaming import stream_response


def main(base_url: str) -> dict[str, object]:
    with httpx.Client(base_url=base_url) as client:
        # A sync client gets a SyncResourceStream: `for` sends the GET afresh every time.
        body = stream_response(client, "GET", "/bytes?size=10000000")
        for chunk in stream_response(client, "GET", "/files/notes.txt?size=200"):
            sys.stdout.buffer.write(chunk)
        response = client.post("/upload/sync-copy", content=body)
        response.raise_for_status()
        return response.json()  # type: ignore[no-any-return]


if __name__ == "__main__":
    print(main("http://127.0.0.1:8000"))
