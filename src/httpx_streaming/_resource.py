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
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator
from typing import Any, Generic, ParamSpec, TypeVar, final, overload

from ._passes import SourcePass, SyncSourcePass
from ._validation import describe, is_reusable, source_length

P = ParamSpec("P")
StreamT = TypeVar("StreamT", "ResourceStream", "SyncResourceStream")


class _BoundFunction:
    """A function bound to its arguments, called afresh for every pass."""

    __slots__ = ("content_length", "function", "keyword_parameters", "positional_parameters")

    def __init__(self, function: Callable[..., Any], args: tuple[Any, ...], kwargs: Any) -> None:
        self.function = function
        self.positional_parameters: tuple[Any, ...] = args
        self.keyword_parameters: dict[str, Any] = kwargs
        self.content_length: int | None = None

    def _produce(self) -> Any:
        return self.function(*self.positional_parameters, **self.keyword_parameters)

    @property
    def headers(self) -> dict[str, str]:
        """``Content-Length`` when ``content_length`` is known, else nothing.

        ```python
        body = stream_file("video.mp4")
        await client.put(url, content=body, headers=body.headers)
        ```
        """
        if self.content_length is None:
            return {}
        return {"Content-Length": str(self.content_length)}

    def __repr__(self) -> str:
        # Arguments are shortened: a resource bound to megabytes of data is named in
        # error messages, which should fit on a screen.
        arguments = [_shortened(value) for value in self.positional_parameters]
        arguments.extend(
            f"{key}={_shortened(value)}" for key, value in self.keyword_parameters.items()
        )
        length = "" if self.content_length is None else f" content_length={self.content_length}"
        call = f"{_function_name(self.function)}({', '.join(arguments)})"
        return f"<{type(self).__name__} {call}{length}>"

    def __eq__(self, other: object) -> bool:
        # A resource equals another of its kind (a subclass too), never its other face.
        if not isinstance(other, _BoundFunction) or isinstance(other, SyncResourceStream) != (
            isinstance(self, SyncResourceStream)
        ):
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


class ResourceStream(_BoundFunction):
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
        reusable: Always ``True``.
        consumed: Always ``False``: every pass starts afresh.

    httpx sends an async iterable chunked unless told its length: pass
    ``headers=stream.headers`` to send ``Content-Length`` (some servers, presigned
    object-store URLs among them, refuse chunked uploads).
    """

    __slots__ = ("_range_from", "_sync", "_sync_range_from")

    reusable = True
    consumed = False

    def __init__(
        self, function: Callable[..., AsyncIterable[Any]], /, *args: Any, **kwargs: Any
    ) -> None:
        _check_stream_function(function)
        super().__init__(function, args, kwargs)
        # The same bytes without an event loop, when the resource has such a face.
        self._sync: Callable[[], SyncResourceStream] | None = None
        # Where the resource can start a pass past byte 0 (a file, a response):
        # see byte_range. None: read from the start and discard.
        self._range_from: Callable[[int, int | None], tuple[AsyncIterator[Any], int]] | None = None
        self._sync_range_from: Callable[[int, int | None], tuple[Iterator[Any], int]] | None = None

    def __aiter__(self) -> SourcePass:
        produced = self._produce()
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
        return SourcePass(iterator, self, self.content_length)

    def sync(self) -> SyncResourceStream:
        """The same bytes as a synchronous iterable, for when the resource has that face.

        Raises:
            TypeError: The resource's function is async only.
        """
        if self._sync is None:
            raise TypeError(f"{self!r} can only be read by async code")
        return self._sync()


@final
class SyncResourceStream(_BoundFunction):
    """A reusable iterable of bytes: every ``for`` calls its function afresh.

    What a synchronous client (``httpx.Client``, ``httpx2.Client``) sends as
    ``content=``, in full on every attempt of a retry and on a 307/308
    redirect. [ResourceStreamFunction][httpx_streaming.ResourceStreamFunction]
    over a generator function makes one, and so does every body's ``.sync()``
    (the body's synchronous face, without an event loop or worker threads: its
    ``headers`` and ``consumed`` are the body's).

    ```python
    def numbers(count):
        for index in range(count):
            yield b"%d\\n" % index

    body = SyncResourceStream(numbers, 3)  # every `for` yields b"0\\n1\\n2\\n"
    httpx.Client().post(url, content=body)
    ```

    Attributes:
        function: The generator function (or any callable returning an
            iterable of bytes).
        positional_parameters: Positional arguments passed on every call.
        keyword_parameters: Keyword arguments passed on every call.
        content_length: Bytes per pass when known in advance, else ``None``.
        reusable: ``True``, except for the face of a one-shot body.
    """

    __slots__ = ("_body", "_sync_range_from", "reusable")

    def __init__(
        self, function: Callable[..., Iterable[Any]], /, *args: Any, **kwargs: Any
    ) -> None:
        _check_sync_stream_function(function)
        super().__init__(function, args, kwargs)
        self.reusable = True
        self._body: object = None
        # Where a pass can start past byte 0 (see byte_range); None: read and discard.
        self._sync_range_from: Callable[[int, int | None], tuple[Iterator[Any], int]] | None = None

    def face_of(self, body: object) -> SyncResourceStream:
        """Make this the synchronous face of *body*: its length and reusability now,
        its ``headers`` and ``consumed`` as they change. Returns the view."""
        self._body = body
        self.content_length = source_length(body)
        self.reusable = is_reusable(body)
        self._sync_range_from = getattr(body, "_sync_range_from", None)
        return self

    @property
    def consumed(self) -> bool:
        """Whether the body it shows cannot be sent in full again."""
        return getattr(self._body, "consumed", False) is True

    @property
    def headers(self) -> dict[str, str]:
        """The body's headers (``Content-Length`` of its own when the body has none)."""
        headers = getattr(self._body, "headers", None)
        return headers if isinstance(headers, dict) else super().headers

    def __repr__(self) -> str:
        if self._body is not None:
            return f"<synchronous face of {self._body!r}>"
        return super().__repr__()

    def __iter__(self) -> SyncSourcePass:
        produced = self._produce()
        if isinstance(produced, Iterable) and not isinstance(produced, str | bytes):
            return SyncSourcePass(iter(produced), self, self.content_length)
        if inspect.isasyncgen(produced):
            produced.aclose().close()  # never started: nothing to run, no warning
        raise TypeError(
            f"{_function_name(self.function)} returned {describe(produced)}; "
            "a SyncResourceStream function must return an iterable of bytes"
        )

    def sync(self) -> SyncResourceStream:
        """This stream itself: it is already synchronous."""
        return self


@final
class ResourceStreamFunction(Generic[P, StreamT]):
    """Decorator: the decorated function returns a reusable stream resource.

    Over an async generator function, calling it returns a
    [ResourceStream][httpx_streaming.ResourceStream] (for async clients); over
    a generator function, a
    [SyncResourceStream][httpx_streaming.SyncResourceStream] (for ``httpx.Client``).

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

    @overload
    def __init__(
        self: ResourceStreamFunction[P, ResourceStream],
        function: Callable[P, AsyncIterable[Any]],
    ) -> None: ...

    @overload
    def __init__(
        self: ResourceStreamFunction[P, SyncResourceStream],
        function: Callable[P, Iterable[Any]],
    ) -> None: ...

    def __init__(self, function: Callable[P, Any]) -> None:
        # A generator function (also behind functools.wraps decorators) makes
        # synchronous bodies; anything else is an async one, as before.
        self._synchronous = inspect.isgeneratorfunction(inspect.unwrap(function))
        if not self._synchronous:
            _check_stream_function(function)
        self.function = function
        functools.update_wrapper(self, function)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> StreamT:
        kind = SyncResourceStream if self._synchronous else ResourceStream
        return kind(self.function, *args, **kwargs)  # type: ignore[return-value]

    def __get__(self, instance: object, owner: type | None = None) -> Any:
        # Lets the decorator wrap methods: `obj.method(...)` binds `obj` first.
        if instance is None:
            return self
        return types.MethodType(self, instance)

    def __repr__(self) -> str:
        return f"<ResourceStreamFunction {_function_name(self.function)}>"


def _shortened(value: object, limit: int = 80) -> str:
    # Both ends are kept: a path's file name is at its end.
    text = repr(value)
    if len(text) <= limit:
        return text
    keep = (limit - 3) // 2
    return text[:keep] + "..." + text[-keep:]


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
            f"{_function_name(function)} is a synchronous generator function; a "
            "ResourceStream needs an async generator function (async def with yield): "
            "use SyncResourceStream, or ResourceStreamFunction, for a synchronous client"
        )


def _check_sync_stream_function(function: object) -> None:
    if not callable(function):
        raise TypeError(f"expected a generator function, got {describe(function)}")
    if inspect.iscoroutinefunction(function) or inspect.isasyncgenfunction(function):
        raise TypeError(
            f"{_function_name(function)} is async; a SyncResourceStream needs a generator "
            "function (def with yield): use ResourceStream for an async client"
        )
