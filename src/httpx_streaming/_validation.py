"""Small validators shared by every module: chunks, integers, what a source declares."""

from __future__ import annotations

from ._types import BytesLike


def describe(value: object, limit: int = 60) -> str:
    """A short ``repr`` and the type name of *value*, for error messages."""
    text = repr(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return f"{text} (type {type(value).__name__})"


def utf8_bytes(value: object, what: str, *, secret: bool = False) -> bytes:
    """*value* as bytes: a ``str`` encoded in UTF-8, bytes-like values as they are.

    Errors name *what*, and the value itself unless it is a *secret* (then only
    its type).

    Raises:
        TypeError: *value* is neither a ``str`` nor bytes-like.
        ValueError: *value* is a ``str`` that UTF-8 cannot encode (a lone surrogate).
    """
    shown = f"a value of type {type(value).__name__}" if secret else describe(value)
    if isinstance(value, str):
        try:
            return value.encode("utf-8")
        except UnicodeEncodeError as exc:
            reason = "" if secret else f": {exc}"
            raise ValueError(f"{what}, {shown}, is not valid UTF-8{reason}") from None
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    raise TypeError(f"{what} must be a str or bytes, got {shown}")


def check_int(
    value: object, what: str, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    """Return *value* if it is an ``int`` (not a ``bool``) within the bounds, else raise.

    Raises:
        TypeError: *value* is not an int, or is a bool.
        ValueError: *value* is below *minimum* or above *maximum*.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int, got {describe(value)}")
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        if maximum is not None:
            bounds = f"an int from {minimum} to {maximum}"
        elif minimum == 1:
            bounds = "a positive int"
        elif minimum == 0:
            bounds = "a non-negative int"
        else:
            bounds = f"an int of at least {minimum}"
        raise ValueError(f"{what} must be {bounds}, got {describe(value)}")
    return value


def kept(chunk: BytesLike) -> BytesLike:
    """*chunk*, safe to keep after its source yields the next one: ``bytes`` and views
    of ``bytes`` as they are, a copy of anything else (a source may reuse a mutable
    buffer for its next chunk)."""
    if isinstance(chunk, bytes) or (isinstance(chunk, memoryview) and isinstance(chunk.obj, bytes)):
        return chunk
    return bytes(chunk)


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


def source_length(source: object) -> int | None:
    """The length a source declares in advance, or ``None`` when unknown."""
    length = getattr(source, "content_length", None)
    return length if isinstance(length, int) and not isinstance(length, bool) else None


def is_reusable(source: object) -> bool:
    """Whether a source can be iterated more than once."""
    return getattr(source, "reusable", False) is True
