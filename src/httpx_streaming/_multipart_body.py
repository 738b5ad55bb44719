"""``MultipartBody``: multipart/related, mixed, alternative... with any part headers.

Parts are validated and their header blocks rendered when they are added (the
boundary is fixed for the body's lifetime); passes, faces, ranges and progress
are those of [FormData][httpx_streaming.FormData], from ``_parts``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from . import _multipart as mp
from ._parts import MultipartParts, Part
from ._sources import BytesSource, as_byte_source
from ._types import BytesLike
from ._validation import check_chunk, describe, utf8_bytes

_OCTET_STREAM = "application/octet-stream"
_TEXT_PLAIN = "text/plain; charset=utf-8"
_JSON = "application/json"

HeadersArgument = Mapping[str, str] | Iterable[tuple[str, str]] | None


class MultipartBody(MultipartParts):
    """A streaming multipart body of any subtype: ``related``, ``mixed``, ``alternative``...

    Each part is anything [as_byte_source][httpx_streaming.as_byte_source] takes
    (bytes, text, files, paths, streams, responses, another multipart body),
    or JSON, with the headers you give it. Send it with its headers:

    ```python
    upload = MultipartBody("related")
    upload.add_json({"name": "beach.jpg"})
    upload.add_part(pathlib.Path("beach.jpg"), content_type="image/jpeg")
    await client.post(url, content=upload, headers=upload.headers)
    ```

    Like a form, it is reusable when its parts are (every pass is byte-identical),
    has an exact ``Content-Length`` when every part's size is known, streams in
    constant memory, and has a synchronous face (``sync()``).

    Args:
        subtype: The multipart subtype, a token: ``"related"`` (RFC 2387),
            ``"mixed"``, ``"alternative"``, ``"form-data"``...
        boundary: The boundary; by default a random one of 48 characters. A
            given one is checked against RFC 2046, and in-memory parts are
            checked not to contain it.
        type: multipart/related only: the root part's media type
            (``type/subtype``, no parameters), written as the ``type`` parameter
            RFC 2387 requires; by default the root part's own.
        start: multipart/related only: the ``Content-ID`` of the root part
            (``"<root@example.org>"``) when it is not the first; it must be the
            ``Content-ID`` of one of the parts.

    Raises:
        TypeError: A subtype, boundary, type or start that is not a str.
        ValueError: A subtype that is not a token, an invalid boundary, or
            ``type``/``start`` given for a subtype other than ``related``.
    """

    __slots__ = ("_content_ids", "_media_types", "_start", "_subtype", "_type")

    def __init__(
        self,
        subtype: str,
        *,
        boundary: str | None = None,
        type: str | None = None,
        start: str | None = None,
    ) -> None:
        self._subtype = mp.check_token(subtype, "subtype").lower()
        if (type is not None or start is not None) and self._subtype != "related":
            raise ValueError(
                f"type= and start= are parameters of multipart/related (RFC 2387), not of "
                f"multipart/{self._subtype}"
            )
        if type is not None:
            mp.check_media_type(type, "type")
        if start is not None:
            start = mp.check_header("Content-ID", start)[1]
        self._type = type
        self._start = start
        super().__init__(boundary)
        # Per part, for multipart/related's parameters: its media type and Content-ID.
        self._media_types: list[str] = []
        self._content_ids: list[str | None] = []

    # --- building ------------------------------------------------------------------

    def add_part(
        self, value: Any, *, content_type: str | None = None, headers: HeadersArgument = None
    ) -> None:
        """Add a part; its headers are validated now, nothing is read yet.

        Args:
            value: ``str`` (sent as UTF-8), bytes-like, a ``pathlib.Path`` (opened
                afresh on every pass), a file object, a stream, a response, another
                ``MultipartBody`` or a ``FormData``... anything
                [as_byte_source][httpx_streaming.as_byte_source] takes. A nested
                body is added as it is then: add its own parts first (its length
                and type are taken now).
            content_type: The part's ``Content-Type``. By default: a header of that
                name in *headers*; else a nested body's own (with its boundary);
                ``text/plain; charset=utf-8`` for text; else
                ``application/octet-stream``.
            headers: Other part headers (``Content-ID``, ``Content-Location``,
                ``Content-Transfer-Encoding``, ``Content-Disposition``...), a mapping
                or ``(name, value)`` pairs, written in the order given after the
                ``Content-Type``.

        Raises:
            TypeError: A value of an unsupported type; a header name or value that
                is not a str.
            ValueError: A header name that is not a token, a value with CR, LF or
                another control character, ``Content-Type`` given twice (in any
                case, or also as ``content_type=``) or empty, in-memory data that
                contains a custom boundary (in a nested body too), a nested body
                with this body's boundary, or the same one-shot stream twice.
        """
        given = _checked_headers(headers)
        label = _label(given, len(self._parts))
        named_type = [value for name, value in given if name.lower() == "content-type"]
        if len(named_type) + (content_type is not None) > 1:
            raise ValueError(f"part {label!r}: Content-Type was given more than once")
        if named_type:
            content_type = named_type[0]
        if content_type is not None:
            mp.check_content_type(content_type)
        if isinstance(value, str):
            data = utf8_bytes(value, f"part {label!r}")
            self._add_data(label, data, content_type or _TEXT_PLAIN, given)
            return
        if isinstance(value, bytes | bytearray | memoryview):
            chunk = check_chunk(value, f"part {label!r}")
            self._add_data(label, chunk, content_type or _OCTET_STREAM, given)
            return
        if isinstance(value, MultipartParts):
            self._check_nested(label, value)
            if isinstance(value, MultipartBody):
                content_type = content_type or value.content_type
        try:
            source = as_byte_source(value)
        except TypeError as exc:
            raise TypeError(f"part {label!r}: {exc}") from None
        if isinstance(source, BytesSource):
            self._add_data(label, source.data, content_type or _OCTET_STREAM, given)
            return
        if not source.reusable:
            self._one_shot.claim(value, "part", label)
        content_type = content_type or _OCTET_STREAM
        self._add(
            Part(label, self._header(content_type, given), source=source), content_type, given
        )

    def add_json(self, value: Any, *, headers: HeadersArgument = None) -> None:
        """Add a part holding *value* as JSON (``application/json; charset=UTF-8``).

        The value is serialized now, so later changes to it are not sent.

        Raises:
            TypeError: A value JSON cannot represent; headers as for ``add_part``.
            ValueError: NaN or infinity in the value; headers as for ``add_part``.
        """
        given = _checked_headers(headers)
        label = _label(given, len(self._parts))
        if any(name.lower() == "content-type" for name, _ in given):
            raise ValueError(f"part {label!r}: add_json writes its own Content-Type")
        try:
            text = json.dumps(value, ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"part {label!r}: {exc}") from None
        self._add_data(label, text.encode("utf-8"), f"{_JSON}; charset=UTF-8", given)

    def _check_nested(self, label: str, nested: MultipartParts) -> None:
        """Refuse a nested body whose bytes could end this one early: its boundary is
        this body's, or (with a custom boundary) its in-memory bytes hold it."""
        if nested.boundary == self._boundary:
            raise ValueError(
                f"part {label!r}: a nested multipart body needs its own boundary, not "
                f"this body's {self._boundary!r}"
            )
        if not self._custom_boundary:
            return  # 128 random bits: no data guesses it
        for piece in _in_memory_bytes(nested):
            if mp.contains_delimiter(piece, self._boundary):
                raise ValueError(
                    f"part {label!r}: the nested body contains this body's boundary "
                    f"'--{self._boundary}'; choose another boundary or leave it random"
                )

    def _add_data(
        self, label: str, data: Any, content_type: str, given: list[tuple[str, str]]
    ) -> None:
        self._check_data(label, data)
        self._add(Part(label, self._header(content_type, given), data=data), content_type, given)

    def _add(self, part: Part, content_type: str, given: list[tuple[str, str]]) -> None:
        self._parts.append(part)
        self._media_types.append(mp.media_type_of(content_type))
        ids = [value for name, value in given if name.lower() == "content-id"]
        self._content_ids.append(ids[0] if ids else None)

    def _header(self, content_type: str, given: list[tuple[str, str]]) -> bytes:
        others = [(name, value) for name, value in given if name.lower() != "content-type"]
        return mp.render_header_block(self._boundary, [("Content-Type", content_type), *others])

    # --- describing --------------------------------------------------------------------

    @property
    def subtype(self) -> str:
        """The multipart subtype (lower-cased)."""
        return self._subtype

    @property
    def content_type(self) -> str:
        """The ``Content-Type`` header value, with ``type`` and ``start`` for related.

        Raises:
            ValueError: multipart/related without parts (no root to name), or a
                ``start`` that is no part's ``Content-ID``.
        """
        parameters: list[tuple[str, str]] = []
        if self._subtype == "related":
            parameters.append(("type", self._root_type()))
            if self._start is not None:
                parameters.append(("start", self._start))
        return mp.multipart_content_type(self._boundary, self._subtype, parameters)

    @property
    def headers(self) -> dict[str, str]:
        """``Content-Type`` and, when known, ``Content-Length``.

        Raises:
            SourceConsumedError: A one-shot part was already read (raised here,
                before any request goes out).
            ValueError: A body without parts (RFC 2046 asks for one at least), or
                as ``content_type`` says.
        """
        self._check_sendable()
        headers = {"Content-Type": self.content_type}
        length = self.content_length
        if length is not None:
            headers["Content-Length"] = str(length)
        return headers

    def __repr__(self) -> str:
        return f"<MultipartBody {self._subtype} parts={[part.name for part in self._parts]!r}>"

    def _root_type(self) -> str:
        root = self._root()
        return self._type if self._type is not None else self._media_types[root]

    def _root(self) -> int:
        """The index of the root part of a multipart/related body."""
        if not self._parts:
            raise ValueError("a multipart/related body needs a part to be its root")
        if self._start is None:
            return 0
        if self._start in self._content_ids:
            return self._content_ids.index(self._start)
        raise ValueError(f"start={self._start!r} is the Content-ID of none of the parts")

    def _check_sendable(self) -> None:
        if not self._parts:
            raise ValueError("a multipart body needs at least one part (RFC 2046)")
        if self._subtype == "related":
            self._root()
        self._check_not_consumed()

    def _segments(self, owners: list[int] | None = None) -> list[Any]:
        self._check_sendable()
        return super()._segments(owners)


def _in_memory_bytes(body: MultipartParts) -> Iterator[BytesLike]:
    """Every byte a multipart body holds in memory: its framing and in-memory parts, and
    those of the bodies nested in it."""
    yield mp.closing_delimiter(body.boundary)
    for part in body._parts:
        yield part.header
        if part.data is not None:
            yield part.data
        nested = _nested_body(part.source)
        if nested is not None:
            yield from _in_memory_bytes(nested)


def _nested_body(source: object) -> MultipartParts | None:
    # A body given as a part is wrapped by as_byte_source in a resource that asks it
    # for a fresh pass each time: the body is that resource's argument.
    parameters: tuple[object, ...] = getattr(source, "positional_parameters", ())
    if len(parameters) == 1 and isinstance(parameters[0], MultipartParts):
        return parameters[0]
    return None


def _checked_headers(headers: HeadersArgument) -> list[tuple[str, str]]:
    if headers is None:
        return []
    if isinstance(headers, Mapping):
        pairs: Iterable[Any] = headers.items()
    elif isinstance(headers, str | bytes) or not isinstance(headers, Iterable):
        raise TypeError(
            f"headers must be a mapping or (name, value) pairs, got {describe(headers)}"
        )
    else:
        pairs = headers
    checked = []
    for pair in pairs:
        if not (isinstance(pair, tuple) and len(pair) == 2):
            raise TypeError(f"each header must be a (name, value) pair, got {describe(pair)}")
        checked.append(mp.check_header(*pair))
    return checked


def _label(headers: list[tuple[str, str]], index: int) -> str:
    """What messages and progress reports call a part: its Content-ID, else its place."""
    for name, value in headers:
        if name.lower() == "content-id":
            return value.strip("<>")
    return f"#{index + 1}"
