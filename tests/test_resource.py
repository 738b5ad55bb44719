"""ResourceStream and ResourceStreamFunction: reuse, validation, closing."""

from __future__ import annotations

import array
from collections.abc import AsyncIterator
from contextlib import aclosing

import anyio
import anyio.lowlevel
import pytest

from httpx_streaming import (
    LengthMismatchError,
    ResourceStream,
    ResourceStreamFunction,
)


async def collect(source: object) -> bytes:
    parts = []
    async for chunk in source:  # type: ignore[attr-defined]
        parts.append(bytes(chunk))
    return b"".join(parts)


async def numbers(count: int, *, prefix: bytes = b"") -> AsyncIterator[bytes]:
    for index in range(count):
        yield prefix + b"%d," % index


async def test_every_iteration_calls_the_function_afresh() -> None:
    calls: list[int] = []

    async def counted(count: int) -> AsyncIterator[bytes]:
        calls.append(count)
        for index in range(count):
            yield b"%d" % index

    resource = ResourceStream(counted, 3)
    assert calls == []
    assert await collect(resource) == b"012"
    assert await collect(resource) == b"012"
    assert calls == [3, 3]


def test_attributes_repr_and_equality() -> None:
    resource = ResourceStream(numbers, 3, prefix=b"x")
    assert resource.function is numbers
    assert resource.positional_parameters == (3,)
    assert resource.keyword_parameters == {"prefix": b"x"}
    assert resource.content_length is None
    assert repr(resource) == "<ResourceStream numbers(3, prefix=b'x')>"
    assert resource == ResourceStream(numbers, 3, prefix=b"x")
    assert hash(resource) == hash(ResourceStream(numbers, 3, prefix=b"x"))
    assert resource != ResourceStream(numbers, 4, prefix=b"x")
    assert resource != ResourceStream(numbers, 3)
    assert resource != "numbers"


async def test_decorator_returns_a_resource_without_starting_the_generator() -> None:
    started: list[str] = []

    @ResourceStreamFunction
    async def greeting(name: str) -> AsyncIterator[bytes]:
        """Say hello."""
        started.append(name)
        yield b"hello "
        yield name.encode()

    body = greeting("you")
    assert isinstance(body, ResourceStream)
    assert started == []
    assert greeting.__name__ == "greeting"
    assert greeting.__doc__ == "Say hello."
    assert body == greeting("you")
    assert await collect(body) == b"hello you"
    assert await collect(body) == b"hello you"
    assert started == ["you", "you"]


async def test_decorator_on_a_method_binds_the_instance() -> None:
    class Store:
        def __init__(self, data: bytes) -> None:
            self.data = data

        @ResourceStreamFunction
        async def read(self, repeat: int) -> AsyncIterator[bytes]:
            for _ in range(repeat):
                yield self.data

    resource = Store(b"ab").read(2)
    assert isinstance(resource, ResourceStream)
    assert await collect(resource) == b"abab"


@pytest.mark.parametrize(
    ("function", "message"),
    [
        (42, "expected an async generator function, got 42 (type int)"),
        (b"data", "got b'data' (type bytes)"),
    ],
)
def test_rejects_what_is_not_callable(function: object, message: str) -> None:
    with pytest.raises(TypeError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ResourceStream(function)  # type: ignore[arg-type]


def test_rejects_coroutine_and_sync_generator_functions_when_built() -> None:
    async def not_a_generator() -> bytes:
        return b""

    def sync_generator() -> object:
        yield b""

    with pytest.raises(TypeError, match="coroutine function"):
        ResourceStreamFunction(not_a_generator)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="coroutine function"):
        ResourceStream(not_a_generator)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="synchronous generator function"):
        ResourceStream(sync_generator)  # type: ignore[arg-type]


async def test_function_returning_a_non_iterable_fails_naming_the_type() -> None:
    resource = ResourceStream(lambda: 12)  # type: ignore[arg-type,return-value]
    with pytest.raises(TypeError, match=r"returned 12 \(type int\)"):
        await collect(resource)


@pytest.mark.parametrize(
    ("chunk", "type_name"), [("text", "str"), (7, "int"), (None, "NoneType"), ([1], "list")]
)
async def test_a_chunk_that_is_not_bytes_like_raises_naming_its_type(
    chunk: object, type_name: str
) -> None:
    async def bad() -> AsyncIterator[object]:
        yield b"fine"
        yield chunk

    with pytest.raises(TypeError, match=rf"\(type {type_name}\); chunks must be bytes-like"):
        await collect(ResourceStream(bad))


async def test_bytes_like_chunks_pass_and_wide_memoryviews_are_recast() -> None:
    data = bytearray(b"abc")

    async def mixed() -> AsyncIterator[object]:
        yield data
        yield memoryview(b"def")
        yield memoryview(array.array("H", [0x4847]))  # two bytes, itemsize 2
        yield array.array("B", b"ij")

    chunks = [chunk async for chunk in ResourceStream(mixed)]
    assert chunks[0] is data  # passed through, not copied
    assert (
        b"".join(bytes(chunk) for chunk in chunks)
        == b"abcdef" + array.array("H", [0x4847]).tobytes() + b"ij"
    )


async def test_declared_length_is_enforced() -> None:
    short = ResourceStream(numbers, 2)  # b"0,1," is 4 bytes
    short.content_length = 5
    with pytest.raises(LengthMismatchError, match="declared 5 bytes but yielded 4"):
        await collect(short)
    exact = ResourceStream(numbers, 2)
    exact.content_length = 4
    assert await collect(exact) == b"0,1,"


async def test_a_source_exception_reaches_the_consumer_unchanged() -> None:
    error = OSError("disk on fire")

    async def failing() -> AsyncIterator[bytes]:
        yield b"first"
        raise error

    with pytest.raises(OSError) as raised:
        await collect(ResourceStream(failing))
    assert raised.value is error


class Tracker:
    """An async generator function that records how its passes ended."""

    def __init__(self) -> None:
        self.closed = 0
        self.started = 0

    async def chunks(self, count: int = 1000) -> AsyncIterator[bytes]:
        self.started += 1
        try:
            for _ in range(count):
                await anyio.lowlevel.checkpoint()
                yield b"x" * 10
        finally:
            self.closed += 1


async def test_early_exit_with_aclose_closes_the_generator_now() -> None:
    tracker = Tracker()
    async with aclosing(ResourceStream(tracker.chunks).__aiter__()) as stream:
        async for _chunk in stream:
            break
        assert tracker.closed == 0
    assert tracker.closed == 1


async def test_cancellation_closes_the_generator() -> None:
    tracker = Tracker()
    with anyio.move_on_after(0.05):
        async with aclosing(ResourceStream(tracker.chunks, 10**9).__aiter__()) as stream:
            async for _chunk in stream:
                await anyio.sleep(0.001)
    assert tracker.started == 1
    assert tracker.closed == 1


async def test_cancellation_inside_the_source_closes_it_without_aclose() -> None:
    tracker = Tracker()
    with anyio.CancelScope() as scope:
        async for _chunk in ResourceStream(tracker.chunks, 10**9):
            scope.cancel()  # the next await, inside the generator, is cancelled
    assert tracker.closed == 1
