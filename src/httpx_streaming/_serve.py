"""Serving a reusable body with byte ranges: ``serve_ranges`` decides, adapters send.

``serve_ranges`` turns a body and a request's ``Range``/``If-Range`` headers into
a status, response headers and the bytes to send (the body, or a
[byte_range][httpx_streaming.byte_range] of it); the arithmetic is the sans-IO
part of ``_ranges``. ``range_response`` wraps the answer in a Starlette
response (``_starlette``, imported only when used). The default ``ETag`` is
derived here from what pins a body's bytes without reading them.
"""

from __future__ import annotations

import functools
import hashlib
import re
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, final
from urllib.parse import quote

from ._byte_range import byte_range
from ._files import file_identity
from ._ranges import (
    content_range,
    http_date,
    if_range_holds,
    parse_range,
    satisfiable_range,
    unsatisfied_range,
)
from ._resource import ResourceStream
from ._sources import BytesSource, as_byte_source
from ._types import ByteSource
from ._validation import describe
from ._zip import ZipStreamResource
from ._zip_deflate import HAS_ISAL, HAS_ZLIB_NG
from ._zip_deflate import crc32 as compute_crc32
from ._zip_records import COMPRESSION_METHOD_DEFLATE

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import StreamingResponse

__all__ = ["RangedAnswer", "range_response", "serve_ranges"]


@final
@dataclass(frozen=True)
class RangedAnswer:
    """What to answer a request for a body, as [serve_ranges][httpx_streaming.serve_ranges]
    decided.

    Attributes:
        status: ``200`` (the whole body), ``206`` (one range of it) or ``416``
            (a range outside the body).
        headers: The response headers: ``Accept-Ranges``, ``Content-Length``
            when known, ``Content-Range`` (``206`` and ``416``), ``ETag`` and
            ``Last-Modified`` when known, ``Content-Type`` and
            ``Content-Disposition`` (``200`` and ``206``).
        body: What to send: the body itself, a
            [ByteRange][httpx_streaming.ByteRange] of it, or no bytes (``416``);
            an async iterable of bytes, reusable when the body is.
    """

    status: int
    headers: dict[str, str]
    body: ByteSource


def serve_ranges(
    body: object,
    request_headers: Mapping[str, str] | Iterable[tuple[str | bytes, str | bytes]] = (),
    *,
    method: str = "GET",
    etag: str | None = None,
    last_modified: datetime | float | None = None,
    media_type: str | None = None,
    filename: str | None = None,
) -> RangedAnswer:
    """Decide how to answer a request for *body*, given its ``Range`` and ``If-Range``.

    Framework-neutral: the caller sends ``status``, ``headers`` and the bytes
    of ``body`` with its own server
    ([range_response][httpx_streaming.range_response] does it for Starlette
    and FastAPI). Ranges follow RFC 9110:

    - ``Range: bytes=a-b``, ``bytes=a-`` and ``bytes=-n`` (the last *n*
      bytes) of a ``GET`` get ``206`` with ``Content-Range`` and the range's
      ``Content-Length``; a last byte past the end is cut to the end.
    - A range that starts past the end (or ``bytes=-0``) gets ``416`` with
      ``Content-Range: bytes */length``.
    - Several ranges, an invalid or non-``bytes`` ``Range``, or a method other
      than ``GET`` get ``200`` and the whole body (servers may always ignore
      ``Range``; ``multipart/byteranges`` answers are not made).
    - ``If-Range`` lets the range through only when it is the current
      ``ETag`` (strong comparison: a weak tag never matches) or exactly the
      ``Last-Modified`` date; otherwise the answer is ``200`` and the whole
      body, so a client never splices two versions.

    Ranges need the body's length in advance and a body that every pass
    repeats: a zip resource whose members are all stored with a declared
    size (or folders), files, bytes, forms of such parts. Any other body is
    answered ``200`` in full with ``Accept-Ranges: none``.

    Without *etag*, a zip resource, a file (``pathlib.Path`` or
    [stream_file][httpx_streaming.stream_file]) or bytes get a strong
    ``ETag`` derived from what pins their bytes, without reading a file: for a
    zip, its members' names, times, modes, methods, sizes and options,
    each member's data pinned by its declared (or, for in-memory bytes,
    computed) CRC-32 or its file's size, modification time and inode, and the
    version of this library (and of its compressors, for deflated members).
    Any change of those changes the tag. A body whose bytes cannot be pinned
    that way (a member read from another response, a generator...) gets no
    ``ETag`` unless given one: ``If-Range`` then never matches.

    ```python
    answer = serve_ranges(archive, request.headers, filename="photos.zip")
    # send answer.status, answer.headers, then every chunk of answer.body
    ```

    Args:
        body: Anything [as_byte_source][httpx_streaming.as_byte_source]
            takes; reusable for ranges.
        request_headers: The request's headers: a mapping (Starlette's, httpx's
            or a dict, any case) or ``(name, value)`` pairs (ASGI's raw ones).
        method: The request's method: only ``GET`` is served ranges.
        etag: The ``ETag`` to send and compare ``If-Range`` with, quoted
            (``'"v2"'``, ``'W/"v2"'``) or not (``"v2"`` is sent as ``"v2"``).
            Default: derived from the body as described above, when it can be.
        last_modified: Sent as ``Last-Modified`` (an aware ``datetime``, or
            Unix time) and compared to an ``If-Range`` date, to the second.
        media_type: The ``Content-Type``; default ``application/zip`` for a
            zip resource, else ``application/octet-stream``.
        filename: Adds ``Content-Disposition: attachment`` with this name
            (RFC 6266: an ASCII ``filename`` and a UTF-8 ``filename*``).

    Returns:
        The [RangedAnswer][httpx_streaming.RangedAnswer].

    Raises:
        TypeError: An argument of the wrong type, or a body that is not a
            byte source.
        ValueError: An *etag*, *media_type* or *filename* that cannot go into
            a header (control characters, quotes inside an entity-tag), a
            naive *last_modified*.
        OSError: A file of the body cannot be looked at (for the default ``ETag``).
    """
    if not isinstance(method, str):
        raise TypeError(f"method must be a str, got {describe(method)}")
    tag = None if etag is None else _entity_tag(etag)
    modified = None if last_modified is None else _timestamp(last_modified)
    if media_type is not None:
        _check_header_value(media_type, "media_type")
    disposition = None if filename is None else content_disposition(filename)
    wanted, condition = _range_headers(request_headers)
    source = as_byte_source(body)
    if tag is None:
        tag = default_etag(body, source)

    headers: dict[str, str] = {}
    length = source.content_length
    ranges = source.reusable and length is not None
    headers["Accept-Ranges"] = "bytes" if ranges else "none"
    if tag is not None:
        headers["ETag"] = tag
    if modified is not None:
        headers["Last-Modified"] = http_date(modified)
    representation = {
        "Content-Type": media_type
        or (
            "application/zip" if isinstance(body, ZipStreamResource) else "application/octet-stream"
        )
    }
    if disposition is not None:
        representation["Content-Disposition"] = disposition
    full = dict(headers, **representation)
    if length is not None:
        full["Content-Length"] = str(length)
    whole = RangedAnswer(200, full, source)
    if not ranges or wanted is None or method.upper() != "GET":
        return whole
    assert length is not None
    if condition is not None and not if_range_holds(condition, tag, modified):
        return whole
    specs = parse_range(wanted)
    if specs is None or len(specs) != 1:
        return whole
    span = satisfiable_range(specs[0], length)
    if span is None:
        if length == 0 and specs[0].first is None:
            return whole  # a suffix of nothing: no Content-Range can say it
        headers["Content-Range"] = unsatisfied_range(length)
        headers["Content-Length"] = "0"
        return RangedAnswer(416, headers, BytesSource(b""))
    start, stop = span
    part = dict(headers, **representation)
    part["Content-Range"] = content_range(start, stop, length)
    part["Content-Length"] = str(stop - start)
    return RangedAnswer(206, part, byte_range(source, start, stop))


async def range_response(
    request: Request,
    body: object,
    *,
    etag: str | None = None,
    last_modified: datetime | float | None = None,
    media_type: str | None = None,
    filename: str | None = None,
) -> StreamingResponse:
    """A Starlette (or FastAPI) response serving *body* with byte ranges.

    [serve_ranges][httpx_streaming.serve_ranges]'s answer to *request*, as a
    ``StreamingResponse``: ``206`` for a range, ``200`` in full, ``416``
    outside the body; a ``HEAD`` gets the headers of a ``GET`` and no bytes.
    The default ``ETag`` is derived in a worker thread (it may look at files).
    Every pass over the body is closed when the response ends, fails or the
    client goes away.

    ```python
    @app.get("/photos.zip")
    async def photos(request: Request) -> StreamingResponse:
        return await range_response(request, archive, filename="photos.zip")
    ```

    Args:
        request: The Starlette ``Request`` being answered.
        body: As for [serve_ranges][httpx_streaming.serve_ranges].
        etag: As for [serve_ranges][httpx_streaming.serve_ranges].
        last_modified: As for [serve_ranges][httpx_streaming.serve_ranges].
        media_type: As for [serve_ranges][httpx_streaming.serve_ranges].
        filename: As for [serve_ranges][httpx_streaming.serve_ranges].

    Returns:
        A ``starlette.responses.StreamingResponse``.

    Raises:
        ImportError: Starlette is not installed (the ``starlette`` extra).
        TypeError: As for [serve_ranges][httpx_streaming.serve_ranges].
        ValueError: As for [serve_ranges][httpx_streaming.serve_ranges].
    """
    try:
        from ._starlette import answer_response
    except ImportError as error:
        raise ImportError(
            f"range_response needs Starlette: pip install 'httpx-streaming[starlette]' ({error})"
        ) from error
    decide = functools.partial(
        serve_ranges,
        body,
        request.headers,
        method=request.method,
        etag=etag,
        last_modified=last_modified,
        media_type=media_type,
        filename=filename,
    )
    if etag is None:
        import anyio.to_thread

        answer = await anyio.to_thread.run_sync(decide)
    else:
        answer = decide()
    return answer_response(answer, head=request.method.upper() == "HEAD")


# --- request and response headers ------------------------------------------------------


def _range_headers(headers: object) -> tuple[str | None, str | None]:
    """The request's ``Range`` and ``If-Range`` values (repeated fields joined by commas)."""
    if isinstance(headers, Mapping):
        items: Iterable[Any] = headers.items()
    elif isinstance(headers, Iterable) and not isinstance(headers, str | bytes):
        items = headers
    else:
        raise TypeError(
            f"request_headers must be a mapping or (name, value) pairs, got {describe(headers)}"
        )
    found: dict[str, list[str]] = {"range": [], "if-range": []}
    for item in items:
        if not (isinstance(item, tuple) and len(item) == 2):
            raise TypeError(f"request_headers must hold (name, value) pairs, got {describe(item)}")
        name, value = (_text(part) for part in item)
        values = found.get(name.lower())
        if values is not None:
            values.append(value)
    wanted, condition = found["range"], found["if-range"]
    return (", ".join(wanted) if wanted else None, ", ".join(condition) if condition else None)


def _text(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("latin-1")
    raise TypeError(f"header names and values must be str or bytes, got {describe(value)}")


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ETAG_CHARS = re.compile(r"[\x21\x23-\x7e\x80-\xff]*")


def _check_header_value(value: str, what: str) -> None:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, got {describe(value)}")
    if _CONTROL.search(value):
        raise ValueError(f"{what} must not hold control characters, got {describe(value)}")


def _entity_tag(value: object) -> str:
    """*value* as an entity-tag: quoted as given (strong or weak), else quoted here."""
    if not isinstance(value, str):
        raise TypeError(f"etag must be a str, got {describe(value)}")
    weak = value.startswith("W/")
    opaque = value[2:] if weak else value
    if len(opaque) >= 2 and opaque.startswith('"') and opaque.endswith('"'):
        inner = opaque[1:-1]
    elif weak or opaque.startswith('"'):
        raise ValueError(f'etag must be "quoted" after W/, got {describe(value)}')
    else:
        inner, opaque = opaque, f'"{opaque}"'
    if _ETAG_CHARS.fullmatch(inner) is None:
        raise ValueError(
            f"etag may hold no quotes, spaces or control characters, got {describe(value)}"
        )
    return ("W/" if weak else "") + opaque


def _timestamp(value: object) -> int:
    """*value* (an aware datetime or Unix time) in whole Unix seconds, as headers say it."""
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(
                f"last_modified must be an aware datetime (one with a tzinfo), got {value!r}"
            )
        return int(value.timestamp())
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    raise TypeError(
        f"last_modified must be a datetime, a Unix timestamp or None, got {describe(value)}"
    )


def content_disposition(filename: str) -> str:
    """``attachment`` with *filename* (RFC 6266): an ASCII fallback and the UTF-8 name."""
    _check_header_value(filename, "filename")
    if not filename:
        raise ValueError("filename must not be empty")
    fallback = "".join(
        char if " " <= char <= "~" and char not in '"\\%' else "_" for char in filename
    )
    disposition = f'attachment; filename="{fallback}"'
    if fallback != filename:
        disposition += f"; filename*=UTF-8''{quote(filename, safe='')}"
    return disposition


# --- the default ETag --------------------------------------------------------------------


def default_etag(body: object, source: ByteSource) -> str | None:
    """A strong entity-tag for *body* (*source* is what it made), or ``None``.

    A zip resource hashes its layout and a pin of every member's data; other
    bodies a pin of their own. A pin is what fixes the bytes without reading
    them: a CRC-32 the encoder checks as the data passes, a file's size,
    modification time and inode, immutable bytes' CRC-32.
    """
    if isinstance(body, ZipStreamResource):
        description = _zip_description(body)
    else:
        pin = _pin(source)
        description = None if pin is None else ("body", pin)
    if description is None:
        return None
    from . import __version__

    text = repr(("httpx-streaming", __version__, description)).encode()
    return f'"{hashlib.blake2b(text, digest_size=16).hexdigest()}"'


def _zip_description(archive: ZipStreamResource) -> tuple[object, ...] | None:
    """Everything an archive's bytes depend on, or ``None`` if some member's data is not
    pinned (or the members come from an async iterable, read as the archive streams)."""
    # The plan and options are the resource's own: what every pass encodes from.
    named = archive._named
    if named is None:
        return None
    options = archive._archive
    parts: list[object] = [options.comment, options.hold_back_size]
    deflated = False
    for member, _, planned in named:
        if member.is_dir:
            pin: tuple[object, ...] | None = ()
        elif planned.crc32 is not None:  # checked as the data passes: a pass fails, or matches
            pin = ("crc32", planned.crc32)
        else:
            pin = _pin(member.source)
            if pin is None:
                return None
        deflated = deflated or planned.method == COMPRESSION_METHOD_DEFLATE
        salt = None if planned.encryption is None else planned.encryption.salt
        parts.append((planned.entry, planned.method, planned.level, member.size, salt, pin))
    if deflated:  # deflate's output depends on the compressor
        parts.append(_compressors())
    return tuple(parts)


def _pin(source: ByteSource) -> tuple[object, ...] | None:
    if type(source) is BytesSource and type(source.data) is bytes:
        return ("bytes", len(source.data), compute_crc32(source.data))
    identity = file_identity(source)
    if identity is not None:
        assert isinstance(source, ResourceStream)
        return ("file", str(source.positional_parameters[0]), *identity)
    return None


@functools.cache
def _compressors() -> tuple[object, ...]:
    from importlib.metadata import PackageNotFoundError, version

    versions: list[object] = [zlib.ZLIB_RUNTIME_VERSION]
    for present, package in ((HAS_ISAL, "isal"), (HAS_ZLIB_NG, "zlib-ng")):
        if present:
            try:
                versions.append(version(package))
            except PackageNotFoundError:  # pragma: no cover - imported, yet not installed
                versions.append(package)
    return tuple(versions)
