"""Streaming, reusable multipart/form-data (and urlencoded) request bodies.

[FormData][httpx_streaming.FormData] validates every field when it is added,
renders its part header right away (the boundary is fixed for the form's
lifetime), and on each ``async for`` lays the body out with the sans-IO
helpers of ``_multipart`` and pulls the sources in order, passing their chunks
through untouched.
"""

from __future__ import annotations

import json
import os
import pathlib
from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Iterator, Mapping
from typing import Any, cast, final

from . import _multipart as mp
from ._byte_range import ByteRange
from ._errors import check_length, length_error
from ._passes import (
    OneShotValues,
    open_pass,
    open_sync_pass,
    refuse_async_only,
    refuse_consumed,
)
from ._ranges import skip_segments
from ._resource import SyncResourceStream
from ._sources import BytesSource, as_byte_source
from ._types import BytesLike, ByteSource, Chunk
from ._upload_progress import PartTracker
from ._validation import check_chunk, describe, source_length

_OCTET_STREAM = "application/octet-stream"
_TEXT_PLAIN = "text/plain; charset=utf-8"
_JSON = "application/json"


@final
class _Field:
    """One validated field: its header bytes and either in-memory data or a source."""

    __slots__ = ("data", "header", "multipart", "name", "source", "text")

    def __init__(
        self,
        name: str,
        header: bytes,
        *,
        text: str | None = None,
        data: BytesLike | None = None,
        source: ByteSource | None = None,
        multipart: bool = True,
    ) -> None:
        self.name = name
        self.header = header
        # A plain text field keeps its str for the urlencoded form.
        self.text = text
        self.data = data
        self.source = source
        # Whether this field alone makes the form multipart.
        self.multipart = multipart

    @property
    def length(self) -> int | None:
        if self.data is not None:
            return len(self.data)
        return source_length(self.source)

    def __repr__(self) -> str:
        return f"<field {self.name!r}>"


class FormData:
    """A streaming multipart/form-data (or urlencoded) body for httpx.

    Values can be text, bytes, files, paths and streams of any size; they are
    read only while the body is sent. Pass the form as ``content=`` together
    with its headers:

    ```python
    form = FormData()
    form.add_field("title", "holiday")
    form.add_field("photo", pathlib.Path("beach.jpg"), content_type="image/jpeg")
    form.add_field("log", stream_response(client, "GET", log_url), file_name="log.txt")
    response = await client.post(url, content=form, headers=form.headers)
    ```

    The form is multipart/form-data when any field has a file name, a content
    type or a transfer encoding, holds bytes, a file or a stream, or was added
    with [add_json][httpx_streaming.FormData.add_json]; a form of plain text
    fields only is sent as ``application/x-www-form-urlencoded``, as a browser
    would.

    A form is reusable when all its values are: every ``async for`` then
    yields byte-identical output, so retries and 307/308 redirects resend it
    in full. A form holding a one-shot stream (a plain async generator, an
    async file) that was already sent raises
    [SourceConsumedError][httpx_streaming.SourceConsumedError] on the next
    pass, before yielding a single byte.

    Args:
        boundary: The multipart boundary; by default a random one of 48
            characters. A given boundary is checked against RFC 2046 (at most
            70 characters of ``bchars``), and in-memory values are checked not
            to contain it.
        quote_fields: Escape field and file names as browsers do (``"`` as
            ``%22``, CR as ``%0D``, LF as ``%0A``, non-ASCII text as UTF-8).
            With ``False`` names are written verbatim and names holding those
            three characters are refused.
    """

    __slots__ = ("_boundary", "_custom_boundary", "_fields", "_one_shot", "_quote_fields")

    def __init__(self, *, boundary: str | None = None, quote_fields: bool = True) -> None:
        if boundary is None:
            self._boundary = mp.generate_boundary()
            self._custom_boundary = False
        else:
            self._boundary = mp.check_boundary(boundary)
            self._custom_boundary = True
        self._quote_fields = bool(quote_fields)
        self._fields: list[_Field] = []
        self._one_shot = OneShotValues()

    # --- building ----------------------------------------------------------------

    @classmethod
    def from_fields(
        cls,
        fields: Mapping[str, Any] | Iterable[Any],
        *,
        boundary: str | None = None,
        quote_fields: bool = True,
    ) -> FormData:
        """Build a form from a dict, a list of ``(name, value)`` pairs, or file objects.

        A file object on its own (not in a pair) is added under the base name
        of its ``name`` attribute, which is also its file name.

        ```python
        FormData.from_fields({"user": "ada", "avatar": pathlib.Path("ada.png")})
        FormData.from_fields([("tag", "a"), ("tag", "b")])
        FormData.from_fields([open("report.pdf", "rb")])
        ```
        """
        form = cls(boundary=boundary, quote_fields=quote_fields)
        if isinstance(fields, Mapping):
            for name, value in fields.items():
                form.add_field(name, value)
            return form
        if isinstance(fields, str | bytes | bytearray | memoryview) or not isinstance(
            fields, Iterable
        ):
            raise TypeError(
                "fields must be a dict, a list of (name, value) pairs or of file objects, "
                f"got {describe(fields)}"
            )
        for item in fields:
            if isinstance(item, tuple | list) and len(item) == 2:
                form.add_field(item[0], item[1])
            elif callable(getattr(item, "read", None)):
                file_name = _file_name_of(item)
                if file_name is None:
                    raise TypeError(
                        f"cannot name a field after {describe(item)}: it has no str 'name'; "
                        "pass a (name, file) pair instead"
                    )
                form.add_field(file_name, item, file_name=file_name)
            else:
                raise TypeError(
                    f"each item of fields must be a (name, value) pair or a file object, "
                    f"got {describe(item)}"
                )
        return form

    def add_field(
        self,
        name: str,
        value: Any,
        content_type: str | None = None,
        file_name: str | None = None,
        transfer_encoding: str | None = None,
    ) -> None:
        """Add a field; everything is validated now, nothing is read yet.

        Args:
            name: The field name.
            value: ``str`` (sent as UTF-8), bytes-like, a ``pathlib.Path``
                (opened afresh on every pass), a binary file object (sync or
                async: anyio, trio, aiofiles), a
                [ResourceStream][httpx_streaming.ResourceStream], or any async
                iterable of bytes (one-shot).
            content_type: The part's media type. Parts holding bytes, files and
                streams default to ``application/octet-stream``; text with a
                file name to ``text/plain; charset=utf-8``; plain text fields
                get no ``Content-Type`` (as browsers send them).
            file_name: The part's file name. Bytes, files and streams always
                get one: this, else the file's own base name, else the field
                name.
            transfer_encoding: Only ``"binary"`` is accepted (and written as
                ``Content-Transfer-Encoding``); ``"base64"`` and
                ``"quoted-printable"`` are refused, see the docs.

        Raises:
            TypeError: A non-str name, file name, content type or transfer
                encoding, or a value of an unsupported type.
            ValueError: A NUL in a name, a control character in the content
                type, an unsupported transfer encoding, in-memory data that
                contains a custom boundary, or the same one-shot stream twice.
        """
        mp.check_name(name, "field name", quote_fields=self._quote_fields)
        if file_name is not None:
            mp.check_name(file_name, "file_name", quote_fields=self._quote_fields)
        if content_type is not None:
            mp.check_content_type(content_type)
        if transfer_encoding is not None:
            transfer_encoding = mp.check_transfer_encoding(transfer_encoding)
        has_options = file_name is not None or content_type is not None or transfer_encoding
        if isinstance(value, str):
            if not has_options:
                data = value.encode("utf-8")
                self._check_data(name, data)
                header = self._header(name)
                self._fields.append(_Field(name, header, text=value, data=data, multipart=False))
                return
            if file_name is not None and content_type is None:
                content_type = _TEXT_PLAIN
            self._add_data(name, value.encode("utf-8"), content_type, file_name, transfer_encoding)
            return
        if isinstance(value, bool | int | float | dict) or value is None or _json_like(value):
            raise TypeError(
                f"field {name!r}: unsupported value {describe(value)}; convert it to str, "
                "or use add_json for JSON values"
            )
        if isinstance(value, bytes | bytearray | memoryview):
            source: ByteSource = BytesSource(check_chunk(value, f"field {name!r}"))
        else:
            try:
                source = as_byte_source(value)
            except TypeError as exc:
                raise TypeError(f"field {name!r}: {exc}") from None
        if file_name is None:
            file_name = _file_name_of(value)
            if file_name is not None:
                try:
                    mp.check_name(file_name, "file_name", quote_fields=self._quote_fields)
                except ValueError:
                    file_name = None  # a derived name we cannot send: fall back
            if file_name is None:
                file_name = name
        content_type = content_type or _OCTET_STREAM
        if isinstance(source, BytesSource):
            self._add_data(name, source.data, content_type, file_name, transfer_encoding)
            return
        if not source.reusable:
            self._one_shot.claim(value, "field", name)
        header = self._header(name, file_name, content_type, transfer_encoding)
        self._fields.append(_Field(name, header, source=source))

    def add_json(self, name: str, value: Any) -> None:
        """Add a field holding *value* serialized as JSON (``application/json``, UTF-8).

        The value is serialized now, so later changes to it are not sent.

        Raises:
            TypeError: A non-str name or a value JSON cannot represent.
            ValueError: A NUL in the name, or NaN/infinity in the value.
        """
        mp.check_name(name, "field name", quote_fields=self._quote_fields)
        try:
            text = json.dumps(value, ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"field {name!r}: {exc}") from None
        self._add_data(name, text.encode("utf-8"), _JSON, None, None)

    def _add_data(
        self,
        name: str,
        data: BytesLike,
        content_type: str | None,
        file_name: str | None,
        transfer_encoding: str | None,
    ) -> None:
        self._check_data(name, data)
        header = self._header(name, file_name, content_type, transfer_encoding)
        self._fields.append(_Field(name, header, data=data))

    def _check_data(self, name: str, data: BytesLike) -> None:
        # A random 128-bit boundary cannot be guessed by data; a chosen one can.
        if self._custom_boundary and mp.contains_delimiter(data, self._boundary):
            raise ValueError(
                f"field {name!r}: the value contains the form's boundary "
                f"'--{self._boundary}'; choose another boundary or leave it random"
            )

    def _header(
        self,
        name: str,
        file_name: str | None = None,
        content_type: str | None = None,
        transfer_encoding: str | None = None,
    ) -> bytes:
        return mp.render_part_header(
            self._boundary,
            name,
            file_name=file_name,
            content_type=content_type,
            transfer_encoding=transfer_encoding,
            quote_fields=self._quote_fields,
        )

    # --- describing ----------------------------------------------------------------

    @property
    def boundary(self) -> str:
        """The multipart boundary, fixed for the form's lifetime."""
        return self._boundary

    @property
    def quote_fields(self) -> bool:
        """Whether names are escaped as browsers do."""
        return self._quote_fields

    @property
    def is_multipart(self) -> bool:
        """Whether the form is sent as multipart/form-data (else urlencoded)."""
        return any(field.multipart for field in self._fields)

    @property
    def content_type(self) -> str:
        """The ``Content-Type`` header value."""
        if self.is_multipart:
            return mp.multipart_content_type(self._boundary)
        return "application/x-www-form-urlencoded"

    @property
    def content_length(self) -> int | None:
        """The body size when every part's size is known in advance, else ``None``."""
        if not self.is_multipart:
            return len(self._urlencoded())
        return mp.multipart_length(
            self._boundary, ((field.header, field.length) for field in self._fields)
        )

    @property
    def headers(self) -> dict[str, str]:
        """Headers to send with the form: ``Content-Type`` and, when known, ``Content-Length``.

        With ``Content-Length`` present httpx sends the body with that length
        instead of chunked transfer encoding.

        Raises:
            SourceConsumedError: The form holds a one-shot value that an earlier
                pass already read. Raised here too (not only when the body is
                iterated) so that ``client.post(..., headers=form.headers)``
                fails before any request is sent.
        """
        # Raising here, while the caller builds the request, keeps a form that
        # cannot be sent again from going out as headers without a body.
        self._check_not_consumed()
        headers = {"Content-Type": self.content_type}
        length = self.content_length
        if length is not None:
            headers["Content-Length"] = str(length)
        return headers

    @property
    def reusable(self) -> bool:
        """Whether the form can be sent more than once (all its values are reusable)."""
        return all(field.source is None or field.source.reusable for field in self._fields)

    @property
    def consumed(self) -> bool:
        """Whether a one-shot value was already read, so the form cannot be sent again."""
        return any(field.source is not None and field.source.consumed for field in self._fields)

    def __len__(self) -> int:
        return len(self._fields)

    def __repr__(self) -> str:
        kind = "multipart" if self.is_multipart else "urlencoded"
        return f"<FormData {kind} fields={[field.name for field in self._fields]!r}>"

    def _check_not_consumed(self) -> None:
        for field in self._fields:
            if field.source is not None:
                refuse_consumed(field.source, "field", field.name)

    def _urlencoded(self) -> bytes:
        return mp.urlencode((field.name, field.text or "") for field in self._fields)

    # --- sending -----------------------------------------------------------------

    def __aiter__(self) -> AsyncGenerator[Chunk, None]:
        """Start one pass over the body.

        The pass is an async generator: ``await stream.aclose()`` (or leaving
        an ``async with contextlib.aclosing(...)`` block) stops it and closes
        the source being read. A source's error reaches the caller unchanged,
        after the source was closed.

        Raises:
            SourceConsumedError: A one-shot value was already read by an
                earlier pass (raised here, before any byte is produced).
        """
        # Bytes-like chunks, typed as httpx's content= reads them (see Chunk).
        return cast("AsyncGenerator[Chunk, None]", _generate(self._segments()))

    def sync(self) -> SyncResourceStream:
        """The same bytes for a synchronous client: every ``for`` is one pass.

        Reusable when the form is, with its ``content_length``; send it as
        ``client.post(url, content=form.sync(), headers=form.headers)``. No
        event loop and no worker threads: files are read in the calling thread.

        Raises:
            TypeError: A field holds a source only async code can read (an
                async generator, an async file); raised here, before any byte.
        """
        for field in self._fields:
            if field.source is not None:
                refuse_async_only(
                    field.source,
                    "field",
                    field.name,
                    "send the form with an async client, or give that field a synchronous source",
                )
        return SyncResourceStream(self._sync_pass).face_of(self)

    def _sync_pass(self) -> Iterator[BytesLike]:
        return _generate_sync(self._segments())

    def _range_from(self, start: int, stop: int | None) -> tuple[AsyncIterator[BytesLike], int]:
        # A range opener (see byte_range): parts before start whose sizes are known
        # are not read.
        segments, position = _segments_from(self._segments(), start)
        return _generate(segments), position

    def _sync_range_from(self, start: int, stop: int | None) -> tuple[Iterator[BytesLike], int]:
        segments, position = _segments_from(self._segments(), start)
        return _generate_sync(segments), position

    def _tracked_pass(self, tracker: PartTracker) -> AsyncIterator[BytesLike]:
        # A pass that tells *tracker* which field it is sending (see with_progress).
        segments, names = self._named_segments()
        return _generate(segments, tracker, names)

    def _sync_tracked_pass(self, tracker: PartTracker) -> Iterator[BytesLike]:
        segments, names = self._named_segments()
        return _generate_sync(segments, tracker, names)

    def _named_segments(self) -> tuple[list[BytesLike | _Field], list[str | None]]:
        owners: list[int] = []
        segments = self._segments(owners)
        if not self.is_multipart:
            return segments, [None] * len(segments)
        return segments, [self._fields[owner].name for owner in owners]

    def _segments(self, owners: list[int] | None = None) -> list[BytesLike | _Field]:
        """The framing of one pass, with the fields whose sources it reads; refuses a
        form holding a one-shot value that an earlier pass read. *owners* gets the
        index of the field each segment belongs to."""
        if not self.is_multipart:
            body = self._urlencoded()
            return [body] if body else []
        self._check_not_consumed()
        return mp.frame_parts(
            self._boundary,
            [
                (field.header, field.data if field.data is not None else field)
                for field in self._fields
            ],
            owners=owners,
        )


def _segments_from(
    segments: list[BytesLike | _Field], start: int
) -> tuple[list[BytesLike | _Field], int]:
    """The segments of a pass from byte *start*, and where the first of them begins
    (*start* itself, or earlier when a part of unknown size comes first)."""
    lengths = [
        segment.length if isinstance(segment, _Field) else len(segment) for segment in segments
    ]
    skip = skip_segments(lengths, start)
    rest = segments[skip.segment :]
    if not skip.inside:
        return rest, skip.offset
    first = rest[0]
    if isinstance(first, _Field):
        assert first.source is not None
        part = ByteRange._create(first.source, skip.inside, None)
        rest[0] = _Field(first.name, first.header, source=part)
    else:
        rest[0] = memoryview(first)[skip.inside :]
    return rest, start


def _generate_sync(
    segments: list[BytesLike | _Field],
    tracker: PartTracker | None = None,
    names: list[str | None] | None = None,
) -> Iterator[BytesLike]:
    """One synchronous pass: ``_generate`` without an event loop (the pass does the checks)."""
    for index, segment in enumerate(segments):
        if tracker is not None and names is not None:
            tracker.name = names[index]
        if isinstance(segment, _Field):
            assert segment.source is not None
            with open_sync_pass(segment.source) as stream:
                yield from stream
        else:
            yield segment


async def _generate(
    segments: list[BytesLike | _Field],
    tracker: PartTracker | None = None,
    names: list[str | None] | None = None,
) -> AsyncGenerator[BytesLike, None]:
    """One pass: yield framing bytes and every source's chunks, closing each source.

    An async generator rather than an iterator class: per chunk it costs one
    generator step, which keeps the form as fast as a bare generator. For the
    same reason it reads the iterator under each source's pass directly and
    does the pass's checks (bytes-like chunks, declared length) inline. With a
    *tracker*, it is told the name of each segment's field as the segment begins.
    """
    for index, segment in enumerate(segments):
        if tracker is not None and names is not None:
            tracker.name = names[index]
        if not isinstance(segment, _Field):
            yield segment
            continue
        assert segment.source is not None
        async with open_pass(segment.source) as stream:
            chunks = stream.iterator
            try:
                chunk = await chunks.__anext__()
            except StopAsyncIteration:
                check_length(stream.source, stream.content_length, 0, finished=True)
                continue
            if type(chunk) is not bytes:
                chunk = check_chunk(chunk, stream.source)
            # A length can only be checked if one is declared, possibly once
            # the first chunk was asked for (a response's headers); otherwise
            # skip counting, which is a real part of the cost per chunk.
            declared = stream.content_length
            seen = len(chunk)
            if declared is not None and seen > declared:
                raise length_error(stream.source, declared, seen, finished=False)
            yield chunk
            if declared is None:
                async for chunk in chunks:
                    if type(chunk) is not bytes:
                        chunk = check_chunk(chunk, stream.source)
                    yield chunk
                continue
            async for chunk in chunks:
                if type(chunk) is not bytes:
                    chunk = check_chunk(chunk, stream.source)
                seen += len(chunk)
                if seen > declared:  # before the extra bytes go out
                    raise length_error(stream.source, declared, seen, finished=False)
                yield chunk
            check_length(stream.source, declared, seen, finished=True)


def _json_like(value: object) -> bool:
    """A list that is not chunks of bytes (those are a reusable source): data for JSON."""
    return isinstance(value, list) and not (
        value and all(isinstance(item, bytes | bytearray | memoryview) for item in value)
    )


def _file_name_of(value: object) -> str | None:
    """The base name of a path or file object's ``name``, if it has a usable one."""
    if isinstance(value, pathlib.PurePath):
        return value.name or None
    name = getattr(value, "name", None)
    if isinstance(name, pathlib.PurePath):
        return name.name or None
    if isinstance(name, str) and name and not (name.startswith("<") and name.endswith(">")):
        return os.path.basename(name) or None
    return None
