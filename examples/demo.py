"""`make demo`: stream one GET response into a POST against a loopback server.

Starts the loopback server itself, so there is nothing to set up. Runs on
asyncio and on trio, and exits non-zero unless the server verified the body.
"""

from __future__ import annotations

import hashlib
import sys

import anyio
import httpx
from loopback import pattern_bytes, serve_in_thread

from httpx_streaming import stream_response

SIZE = 8 * 1024 * 1024


async def chain_get_into_post(base_url: str) -> bool:
    async with httpx.AsyncClient(base_url=base_url) as client:
        body = stream_response(client, "GET", f"/bytes?size={SIZE}&seed=1")
        response = await client.post("/upload/demo", content=body)
    arrived = response.json()
    expected = hashlib.sha256(pattern_bytes(SIZE, 1)).hexdigest()
    verified = arrived["size"] == SIZE and arrived["sha256"] == expected
    print(
        f"  GET /bytes -> POST /upload/demo: server received {arrived['size']:,} bytes, "
        f"sha256 {arrived['sha256'][:16]}… {'verified' if verified else 'MISMATCH'}"
    )
    return verified


def main() -> int:
    ok = True
    with serve_in_thread() as server:
        for backend in ("asyncio", "trio"):
            print(f"[{backend}] loopback server at {server.url}")
            ok &= anyio.run(chain_get_into_post, server.url, backend=backend)
    print("all verified" if ok else "verification FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
