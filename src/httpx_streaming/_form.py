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
from collections.abc import Iterable, Mapping
from typing import Any

from . import _multipart as mp
from ._parts import MultipartParts, Part
from ._sources import BytesSource, as_byte_source
from ._types import BytesLike, ByteSource
from ._validation import check_chunk, describe

_OCTET_STREAM = "application/octet-stream"
_TEXT_PLAIN = "text/plain; charset=utf-8"
_JSON = "application/json"


class FormData(MultipartParts):
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

    __slots__ = ("_quote_fields",)

    _part_kind = "field"

    def __init__(self, *, boundary: str | None = None, quote_fields: bool = True) -> None:
        super().__init__(boundary)
        self._quote_fields = bool(quote_fields)

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
                self._parts.append(Part(name, header, text=value, data=data, multipart=False))
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
        self._parts.append(Part(name, header, source=source))

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
        self._parts.append(Part(name, header, data=data))

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
    def quote_fields(self) -> bool:
        """Whether names are escaped as browsers do."""
        return self._quote_fields

    @property
    def is_multipart(self) -> bool:
        """Whether the form is sent as multipart/form-data (else urlencoded)."""
        return any(field.multipart for field in self._parts)

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
        return super().content_length

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

    def __repr__(self) -> str:
        kind = "multipart" if self.is_multipart else "urlencoded"
        return f"<FormData {kind} fields={[field.name for field in self._parts]!r}>"

    def _urlencoded(self) -> bytes:
        return mp.urlencode((field.name, field.text or "") for field in self._parts)

    # --- sending -----------------------------------------------------------------

    def _named_segments(self) -> tuple[list[BytesLike | Part], list[str | None]]:
        if not self.is_multipart:
            segments = self._segments()
            return segments, [None] * len(segments)
        return super()._named_segments()

    def _segments(self, owners: list[int] | None = None) -> list[BytesLike | Part]:
        if not self.is_multipart:
            body = self._urlencoded()
            return [body] if body else []
        return super()._segments(owners)


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
