"""Not run: type-checked by tests/test_typing.py as if httpx2 were not installed."""

import httpx

from httpx_streaming import ResourceStream, SyncResourceStream, stream_response


def each_client_gets_its_body(sync_client: httpx.Client, async_client: httpx.AsyncClient) -> None:
    synchronous: SyncResourceStream = stream_response(sync_client, "GET", "https://example.org/")
    asynchronous: ResourceStream = stream_response(async_client, "GET", "https://example.org/")
    sync_client.post("https://example.org/", content=synchronous)
    del asynchronous
