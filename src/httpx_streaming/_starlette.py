"""The Starlette side of ``range_response``: imported only when it is used."""

from __future__ import annotations

from collections.abc import AsyncIterable
from typing import Any, cast

from starlette.responses import StreamingResponse
from starlette.types import Send

from ._passes import close_pass
from ._serve import RangedAnswer


class RangedStreamingResponse(StreamingResponse):
    """A ``StreamingResponse`` of a ``RangedAnswer``: every pass over its body is closed
    when the response ends, fails or the client goes away (Starlette's own leaves an
    interrupted iterator to the garbage collector), and a ``HEAD`` reads nothing."""

    def __init__(self, answer: RangedAnswer, *, head: bool) -> None:
        # Chunks may be bytearrays or memoryviews too: stream_response makes them bytes.
        content = cast("AsyncIterable[bytes]", answer.body)
        super().__init__(content, status_code=answer.status, headers=answer.headers)
        self.answer = answer
        self._head = head

    async def stream_response(self, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        if not self._head:
            chunks: Any = self.body_iterator.__aiter__()
            try:
                async for chunk in chunks:
                    body = chunk if type(chunk) is bytes else bytes(chunk)  # ASGI says bytes
                    await send({"type": "http.response.body", "body": body, "more_body": True})
            except BaseException as error:
                await close_pass(chunks, error)
                raise
            await close_pass(chunks)
        await send({"type": "http.response.body", "body": b"", "more_body": False})


def answer_response(answer: RangedAnswer, *, head: bool) -> StreamingResponse:
    return RangedStreamingResponse(answer, head=head)
