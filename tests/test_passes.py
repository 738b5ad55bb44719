"""The passes toolkit: one rule for a source's error and a failed close, in every driver."""

from __future__ import annotations

import gc
import io
import weakref
import zipfile
from collections.abc import AsyncIterator
from typing import Any

import pytest

from httpx_streaming import (
    FormData,
    ResourceStream,
    SourceConsumedError,
    ZipStreamFile,
    as_byte_source,
    create_zip_stream_resource,
    stream_zip,
)


class SourceError(Exception):
    pass


class CloseError(Exception):
    pass


class FailsThenFailsToClose:
    """A one-shot source that yields *good* chunks, raises, and then fails to close."""

    def __init__(self, *good: bytes) -> None:
        self.good = list(good)
        self.close_calls = 0

    def __aiter__(self) -> FailsThenFailsToClose:
        return self

    async def __anext__(self) -> bytes:
        if self.good:
            return self.good.pop(0)
        raise SourceError("the disk went away")

    async def aclose(self) -> None:
        self.close_calls += 1
        raise CloseError("and closing failed")


def assert_close_error_noted(error: BaseException, source: FailsThenFailsToClose) -> None:
    assert source.close_calls == 1
    notes = error.__notes__  # type: ignore[attr-defined]
    assert len(notes) == 1
    assert "after this error failed too: CloseError('and closing failed')" in notes[0]


async def drain(body: Any) -> bytes:
    return b"".join([bytes(chunk) async for chunk in body])


async def test_form_source_error_wins_over_its_close_error() -> None:
    source = FailsThenFailsToClose(b"first chunk")
    form = FormData()
    form.add_field("text", "before")
    form.add_field("file", source)
    with pytest.raises(SourceError, match="the disk went away") as raised:
        await drain(form)
    assert_close_error_noted(raised.value, source)


async def test_zip_source_error_wins_over_its_close_error() -> None:
    source = FailsThenFailsToClose(b"first chunk")
    with pytest.raises(SourceError, match="the disk went away") as raised:
        await drain(stream_zip([ZipStreamFile("a.txt", b"a"), ZipStreamFile("b.bin", source)]))
    assert_close_error_noted(raised.value, source)


async def test_a_pass_closes_its_source_on_a_bad_chunk_and_keeps_the_chunk_error() -> None:
    source = FailsThenFailsToClose()

    def produce() -> FailsThenFailsToClose:
        return source

    stream = ResourceStream(produce).__aiter__()  # type: ignore[arg-type]
    source.good = [b"x", "not bytes"]  # type: ignore[list-item]
    assert await stream.__anext__() == b"x"
    with pytest.raises(TypeError, match="chunks must be bytes-like") as bad_chunk:
        await stream.__anext__()
    assert_close_error_noted(bad_chunk.value, source)


async def test_a_close_error_after_a_complete_pass_is_the_error() -> None:
    class ClosesBadly:
        def __init__(self) -> None:
            self.chunks = [b"all", b" data"]

        def __aiter__(self) -> ClosesBadly:
            return self

        async def __anext__(self) -> bytes:
            if not self.chunks:
                raise StopAsyncIteration
            return self.chunks.pop(0)

        async def aclose(self) -> None:
            raise CloseError("nothing else went wrong")

    form = FormData()
    form.add_field("file", ClosesBadly())
    with pytest.raises(CloseError):
        await drain(form)


async def one_shot(*chunks: bytes) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


@pytest.mark.parametrize("body", ["form", "zip"])
async def test_one_shot_values_cannot_be_given_twice_to_one_body(body: str) -> None:
    generator = one_shot(b"a")
    with pytest.raises(ValueError, match=r"'a' and .*'b' share the one-shot source"):
        if body == "form":
            form = FormData()
            form.add_field("a", generator)
            form.add_field("b", generator)
        else:
            create_zip_stream_resource(
                [ZipStreamFile("a", generator), ZipStreamFile("b", generator)]
            )
    await generator.aclose()


async def test_consumed_is_known_before_a_pass_and_refused_by_headers() -> None:
    generator = one_shot(b"data")
    source = as_byte_source(generator)
    assert (source.reusable, source.consumed) == (False, False)
    form = FormData()
    form.add_field("once", generator)
    archive = create_zip_stream_resource([ZipStreamFile("once", one_shot(b"zip data"))])
    assert not form.consumed and not archive.consumed
    await drain(form)
    data = await drain(archive)
    assert zipfile.ZipFile(io.BytesIO(data)).read("once") == b"zip data"
    assert source.consumed and form.consumed and archive.consumed
    for body, what in ((form, "field 'once'"), (archive, "zip member 'once'")):
        with pytest.raises(SourceConsumedError, match=f"{what} holds a one-shot stream"):
            body.headers  # noqa: B018 - reading it is the point
        with pytest.raises(SourceConsumedError, match=f"{what} holds a one-shot stream"):
            body.__aiter__()


async def test_a_finished_one_shot_member_is_not_kept_alive() -> None:
    # Held only weakly once its pass started: 10,000 finished generators are freed as the
    # archive goes, not kept to the end (and closed again by asyncio at loop shutdown).
    generator = one_shot(b"data")
    freed = weakref.ref(generator)
    member = ZipStreamFile("a.txt", generator)
    del generator
    archive = stream_zip([member])
    assert freed() is not None  # not started yet: the member holds it
    assert b"data" in b"".join([chunk async for chunk in archive])
    gc.collect()
    assert freed() is None
    assert member.source.consumed
    assert repr(member.source) == "<OneShotSource the async_generator 'one_shot'>"
    with pytest.raises(SourceConsumedError, match=r"^the async_generator 'one_shot' is a one-shot"):
        member.source.__aiter__()
