"""Reusable stream resources: an async generator function bound to its arguments.

A plain async generator object can be iterated once; httpx raises
``httpx.StreamConsumed`` when a retry or a 307/308 redirect needs the body again.
A [ResourceStream][httpx_streaming.ResourceStream] instead calls its function
afresh on every ``async for``, so every attempt gets the complete body.
"""

from __future__ import annotations

import functools
import inspect
import types
from collections.abc import AsyncIterable, AsyncIterator, Callable
from typing import Any, Generic, ParamSpec, final

P = ParamSpec("P")

BytesLike = bytes | bytearray | memoryview


def describe(value: object, limit: int = 60) -> str:
    """A short ``repr`` and the type name of *value*, for error messages."""
    text = repr(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return f"{text} (type {type(value).__name__})"


def check_chunk(chunk: object, source: object) -> BytesLike:
    """Return *chunk* as a bytes-like object of single bytes, or raise TypeError.

    ``bytes`` and ``bytearray`` pass through untouched; a memoryview of wider
    items is recast to bytes without copying.
    """
    if isinstance(chunk, bytes | bytearray):
        return chunk
    if isinstance(chunk, memoryview):
        if chunk.itemsize == 1 and chunk.ndim == 1:
            return chunk
        try:
            return chunk.cast("B")
        except TypeError as exc:
            raise TypeError(
                f"{source!r} yielded a memoryview that is not contiguous: {exc}"
            ) from None
    if not isinstance(chunk, str | int):
        try:
            view = memoryview(chunk)  # type: ignore[arg-type]
        except TypeError:
            pass
        else:
            return view.cast("B") if view.ndim != 1 or view.itemsize != 1 else view
    raise TypeError(
        f"{source!r} yielded {describe(chunk)}; chunks must be bytes-like "
        "(bytes, bytearray or memoryview)"
    )


class LengthMismatchError(ValueError):
    """A source yielded a different number of bytes than it declared in advance.

    Sending it on would make a ``Content-Length`` (or a zip's sizes) lie, so the
    body is aborted instead.
    """


@final
class ByteStream(AsyncIterator[BytesLike]):
    """One pass over a byte source: checks chunk types and closes what it wraps.

    ``content_length`` is the number of bytes this pass will yield when it is
    known. It may become known only once the first chunk has been requested
    (for example when a response's headers arrive), so readers that want it
    look after their first ``__anext__``.
    """

    __slots__ = ("_declared", "_iterator", "_seen", "_source")

    def __init__(
        self,
        iterator: AsyncIterator[Any],
        source: object,
        content_length: int | None = None,
    ) -> None:
        self._iterator = iterator
        self._source = source
        self._declared = content_length
        self._seen = 0

    @property
    def content_length(self) -> int | None:
        if self._declared is not None:
            return self._declared
        announced = getattr(self._iterator, "content_length", None)
        return announced if isinstance(announced, int) else None

    @property
    def iterator(self) -> AsyncIterator[Any]:
        """The iterator this stream wraps, unchecked.

        For encoders on a hot path that run the same checks inline (chunk type
        with ``check_chunk``, declared length) to save a coroutine per chunk;
        everyone else iterates the stream itself.
        """
        return self._iterator

    def __aiter__(self) -> ByteStream:
        return self

    async def __anext__(self) -> BytesLike:
        try:
            chunk = await self._iterator.__anext__()
        except StopAsyncIteration:
            expected = self.content_length
            if expected is not None and expected != self._seen:
                raise LengthMismatchError(
                    f"{self._source!r} declared {expected} bytes but yielded {self._seen}"
                ) from None
            raise
        if type(chunk) is not bytes:
            try:
                chunk = check_chunk(chunk, self._source)
            except TypeError:
                await self.aclose()  # the source must not be left suspended
                raise
        self._seen += len(chunk)
        limit = self._declared if self._declared is not None else self.content_length
        if limit is not None and self._seen > limit:
            # Caught before the extra bytes go out, not by the peer's parser.
            await self.aclose()
            raise LengthMismatchError(
                f"{self._source!r} declared {limit} bytes but yielded more ({self._seen} so far)"
            )
        return chunk  # type: ignore[no-any-return]

    async def aclose(self) -> None:
        """Close the underlying iterator (its ``finally`` blocks run now)."""
        aclose = getattr(self._iterator, "aclose", None)
        if aclose is not None:
            await aclose()

    def __repr__(self) -> str:
        return f"<ByteStream of {self._source!r}>"


class ResourceStream(AsyncIterable[BytesLike]):
    """A reusable async iterable of bytes: every ``async for`` starts afresh.

    Each iteration calls ``function(*args, **kwargs)`` and iterates what it
    returns, so the stream can be sent again on a retry or a redirect. Pass it
    as httpx's ``content=``.

    A resource may declare its length in advance by setting
    ``content_length`` (``None`` means unknown); the form-data and zip encoders
    use it to compute their own ``Content-Length``. A pass that yields another
    number of bytes than declared raises
    [LengthMismatchError][httpx_streaming.LengthMismatchError].

    Attributes:
        function: The async generator function (or any callable returning an
            async iterable of bytes).
        positional_parameters: Positional arguments passed on every call.
        keyword_parameters: Keyword arguments passed on every call.
        content_length: Bytes per pass when known in advance, else ``None``.
    """

    __slots__ = ("content_length", "function", "keyword_parameters", "positional_parameters")

    reusable = True

    def __init__(
        self, function: Callable[..., AsyncIterable[Any]], /, *args: Any, **kwargs: Any
    ) -> None:
        _check_stream_function(function)
        self.function = function
        self.positional_parameters: tuple[Any, ...] = args
        self.keyword_parameters: dict[str, Any] = kwargs
        self.content_length: int | None = None

    def __aiter__(self) -> ByteStream:
        produced = self.function(*self.positional_parameters, **self.keyword_parameters)
        if isinstance(produced, AsyncIterator):
            iterator: AsyncIterator[Any] = produced
        elif isinstance(produced, AsyncIterable):
            iterator = produced.__aiter__()
        else:
            if inspect.iscoroutine(produced):
                produced.close()
            raise TypeError(
                f"{_function_name(self.function)} returned {describe(produced)}; "
                "a ResourceStream function must return an async iterable of bytes"
            )
        return ByteStream(iterator, self, self.content_length)

    def __repr__(self) -> str:
        arguments = [repr(value) for value in self.positional_parameters]
        arguments.extend(f"{key}={value!r}" for key, value in self.keyword_parameters.items())
        length = "" if self.content_length is None else f" content_length={self.content_length}"
        return f"<ResourceStream {_function_name(self.function)}({', '.join(arguments)}){length}>"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ResourceStream):
            return NotImplemented
        return (
            self.function == other.function
            and self.positional_parameters == other.positional_parameters
            and self.keyword_parameters == other.keyword_parameters
        )

    def __hash__(self) -> int:
        return hash(
            (self.function, self.positional_parameters, frozenset(self.keyword_parameters.items()))
        )


@final
class ResourceStreamFunction(Generic[P]):
    """Decorator: the decorated function returns a reusable stream resource.

    Calling it returns a [ResourceStream][httpx_streaming.ResourceStream].

    The generator does not start when the function is called; it starts (again)
    each time the returned resource is iterated.

    ```python
    @ResourceStreamFunction
    async def numbers(count):
        for index in range(count):
            yield b"%d\\n" % index

    body = numbers(3)  # reusable: every `async for` yields b"0\\n1\\n2\\n"
    ```
    """

    def __init__(self, function: Callable[P, AsyncIterable[Any]]) -> None:
        _check_stream_function(function)
        self.function = function
        functools.update_wrapper(self, function)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> ResourceStream:
        return ResourceStream(self.function, *args, **kwargs)

    def __get__(self, instance: object, owner: type | None = None) -> Any:
        # Lets the decorator wrap methods: `obj.method(...)` binds `obj` first.
        if instance is None:
            return self
        return types.MethodType(self, instance)

    def __repr__(self) -> str:
        return f"<ResourceStreamFunction {_function_name(self.function)}>"


def _function_name(function: object) -> str:
    return getattr(function, "__qualname__", None) or repr(function)


def _check_stream_function(function: object) -> None:
    if not callable(function):
        raise TypeError(f"expected an async generator function, got {describe(function)}")
    if inspect.iscoroutinefunction(function):
        raise TypeError(
            f"{_function_name(function)} is a coroutine function (async def without "
            "yield); a stream resource needs an async generator function"
        )
    if inspect.isgeneratorfunction(function):
        raise TypeError(
            f"{_function_name(function)} is a synchronous generator function; "
            "a stream resource needs an async generator function (async def with yield)"
        )
