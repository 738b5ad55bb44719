"""The command line's progress bar (``_progress``): formatting, drawing at most every interval
and only on a terminal, and the counting wrapper that passes a body's own chunks through.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import httpx
from fake_terminal import FakeTTY
from loopback import LoopbackServer

from httpx_streaming import ResourceStreamFunction, stream_response, with_progress
from httpx_streaming._progress import (
    ProgressBar,
    format_bytes,
    format_duration,
    render_line,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_formatting() -> None:
    assert [format_bytes(n) for n in (0, 1023, 1024, 1536, 10 * 2**20, 3 * 2**40)] == [
        "0 B",
        "1023 B",
        "1.0 KiB",
        "1.5 KiB",
        "10.0 MiB",
        "3.0 TiB",
    ]
    assert [format_duration(s) for s in (0, 0.2, 59.5, 61, 3725)] == [
        "0:00",
        "0:01",
        "1:00",
        "1:01",
        "1:02:05",
    ]
    assert render_line("upload", 5 * 2**20, 10 * 2**20, 2.0) == (
        "upload [##########..........]  50%  5.0 MiB / 10.0 MiB  2.5 MiB/s  ETA 0:02"
    )
    assert render_line("upload", 3 * 2**20, None, 2.0) == "upload  3.0 MiB  1.5 MiB/s"
    assert render_line("zip", 10, 10, 1.0).endswith(
        "[####################] 100%  10 B / 10 B  10 B/s  done"
    )
    assert (
        render_line("", 0, 100, 0.0) == "[....................]   0%  0 B / 100 B  --/s  ETA --:--"
    )


def test_progress_bar_draws_at_most_every_interval() -> None:
    stream, clock = FakeTTY(), FakeClock()
    bar = ProgressBar(4 * 2**20, label="upload", stream=stream, clock=clock)
    assert bar.enabled
    clock.now += 1.0
    bar.advance(2**20)  # first chunk: drawn
    for _ in range(100):  # same instant: not drawn again
        bar.advance(10)
    clock.now += 0.05
    bar.advance(2**20 - 1000)
    draws = stream.getvalue().split("\r")[1:]
    assert draws == [
        "upload [#####...............]  25%  1.0 MiB / 4.0 MiB  1.0 MiB/s  ETA 0:03\x1b[K"
    ]
    clock.now += 0.1
    bar.advance(0)
    assert stream.getvalue().count("\r") == 2
    assert stream.getvalue().endswith("  50%  2.0 MiB / 4.0 MiB  1.7 MiB/s  ETA 0:02\x1b[K")
    bar.note("httpx-streaming: retrying")
    assert stream.getvalue().endswith("\r\x1b[Khttpx-streaming: retrying\n")
    bar.restart()
    bar.advance(4 * 2**20)
    bar.close()
    assert stream.getvalue().endswith("100%  4.0 MiB / 4.0 MiB  --/s  done\x1b[K\n")
    before = stream.getvalue()
    bar.advance(1)
    bar.close()
    assert stream.getvalue() == before  # closed: silent


def test_progress_bar_is_quiet_off_a_terminal() -> None:
    stream = io.StringIO()
    bar = ProgressBar(100, stream=stream)
    assert not bar.enabled
    bar.advance(50)
    bar.note("retrying")
    bar.close()
    assert stream.getvalue() == ""
    assert bar.done == 50


@ResourceStreamFunction
async def chunks(count: int, size: int) -> AsyncIterator[bytes]:
    for index in range(count):
        yield bytes([index]) * size


async def test_the_bar_follows_with_progress() -> None:
    stream, clock = FakeTTY(), FakeClock()
    bar = ProgressBar(None, stream=stream, clock=clock)
    source = chunks(3, 1000)
    source.content_length = 3000
    counted = with_progress(source, bar.show)
    assert counted.content_length == 3000 and counted.reusable
    for _attempt in range(2):  # each pass restarts the count
        passed = [chunk async for chunk in counted]
        assert passed == [bytes([index]) * 1000 for index in range(3)]
        assert bar.done == 3000 and bar.total == 3000


async def test_the_bar_learns_the_total(server: LoopbackServer) -> None:
    bar = ProgressBar(None, stream=FakeTTY())
    async with httpx.AsyncClient() as client:
        body = with_progress(
            stream_response(client, "GET", f"{server.url}/bytes?size=5000"), bar.show
        )
        assert body.content_length is None
        iterator = body.__aiter__()
        try:
            await iterator.__anext__()
            assert bar.total == 5000  # the response's Content-Length
        finally:
            await iterator.aclose()
