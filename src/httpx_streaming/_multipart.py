"""Sans-IO framing for multipart/form-data and urlencoded forms.

Everything here turns plain values into bytes: boundaries, the browser's
(WHATWG) escaping of field and file names, part headers, the framing that
surrounds each part's data, urlencoded bodies and sizes. Nothing here awaits
or reads a stream; [FormData][httpx_streaming.FormData] feeds these functions
and pulls the sources.

The layout follows RFC 7578 and RFC 2046: every part starts with
``--BOUNDARY CRLF``, then its header lines, an empty line, the data, and a
CRLF that belongs to the next delimiter; the body ends with
``--BOUNDARY-- CRLF``.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Sequence
from typing import TypeVar
from urllib.parse import quote_plus

from ._types import BytesLike
from ._validation import describe

T = TypeVar("T")

CRLF = b"\r\n"

#: In-memory values shorter than this are copied into the neighbouring framing
#: bytes, so a form of many small fields is sent as a few large chunks. Longer
#: values are yielded as they are, without a copy.
COALESCE_LIMIT = 65536

_BOUNDARY_PREFIX = "httpx-streaming-"

# RFC 2046 section 5.1.1: bchars, 1 to 70 of them, the last one not a space.
_BOUNDARY_RE = re.compile(r"[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]")
# RFC 9110 token characters; a boundary made only of these needs no quotes.
_TOKEN_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")

_NEWLINES_RE = re.compile(r"\r\n|\r|\n")
_WHATWG_ESCAPES = str.maketrans({'"': "%22", "\r": "%0D", "\n": "%0A"})

#: Transfer encodings RFC 7578 deprecates (section 4.7). We refuse them rather
#: than send a body that most servers (python-multipart, Werkzeug, ...) would
#: not decode, or decode differently.
REFUSED_TRANSFER_ENCODINGS = frozenset({"base64", "quoted-printable"})
#: The identity encoding; declaring it changes nothing in the data.
ALLOWED_TRANSFER_ENCODINGS = frozenset({"binary"})


# --- boundaries ------------------------------------------------------------------


def generate_boundary() -> str:
    """A fresh random boundary: a fixed prefix and 128 random bits in hex.

    48 characters, letters, digits and ``-`` only, so it never needs quoting.
    The chance that it occurs in any data is negligible (2^-128 per position).
    """
    return _BOUNDARY_PREFIX + secrets.token_hex(16)


def check_boundary(boundary: object) -> str:
    """Validate a user-given boundary against RFC 2046 and return it as str.

    Raises:
        TypeError: ``boundary`` is not a str (or ASCII bytes).
        ValueError: it is empty, longer than 70 characters, ends with a space,
            or holds a character outside RFC 2046's ``bchars``.
    """
    if isinstance(boundary, bytes):
        try:
            boundary = boundary.decode("ascii")
        except UnicodeDecodeError:
            raise ValueError(
                f"boundary must be ASCII (RFC 2046 bchars), got {describe(boundary)}"
            ) from None
    if not isinstance(boundary, str):
        raise TypeError(f"boundary must be a str, got {describe(boundary)}")
    if not 1 <= len(boundary) <= 70:
        raise ValueError(
            f"boundary must be 1 to 70 characters long (RFC 2046), got {len(boundary)}: "
            f"{describe(boundary)}"
        )
    if _BOUNDARY_RE.fullmatch(boundary) is None:
        raise ValueError(
            f"boundary {boundary!r} is not valid: RFC 2046 allows letters, digits, spaces "
            "(not at the end) and '()+_,-./:=? only"
        )
    return boundary


def multipart_content_type(
    boundary: str, subtype: str = "form-data", parameters: Sequence[tuple[str, str]] = ()
) -> str:
    """The ``Content-Type`` header value of a ``multipart/<subtype>`` body with *boundary*,
    then any other *parameters* (``type`` and ``start`` of multipart/related)."""
    # bchars such as space, ':' or '?' are not token characters (RFC 9110): quoted.
    rendered = [f"multipart/{subtype}", f"boundary={parameter_value(boundary)}"]
    rendered.extend(f"{name}={parameter_value(value)}" for name, value in parameters)
    return "; ".join(rendered)


def parameter_value(value: str) -> str:
    """A media type parameter's value: a token as it is, anything else a quoted-string
    (RFC 9110 5.6.4, ``"`` and ``\\`` escaped)."""
    if _TOKEN_RE.fullmatch(value) is not None:
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def check_token(value: object, what: str) -> str:
    """Validate an RFC 9110 token (a media subtype, a header name); return it.

    Raises:
        TypeError: *value* is not a str.
        ValueError: it is empty or holds a character a token cannot.
    """
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, got {describe(value)}")
    if _TOKEN_RE.fullmatch(value) is None:
        raise ValueError(
            f"{what} must be a token (letters, digits and !#$%&'*+-.^_`|~), got {value!r}"
        )
    return value


def check_header(name: object, value: object) -> tuple[str, str]:
    """Validate one part header: a token name and a value of printable ASCII (tabs too).

    Raises:
        TypeError: the name or the value is not a str.
        ValueError: a name that is no token; a value holding CR, LF, NUL or another
            control character (it would inject header lines) or non-ASCII text
            (encode it as RFC 2047 or RFC 8187 say first).
    """
    header = check_token(name, "a part header's name")
    if not isinstance(value, str):
        raise TypeError(f"part header {header!r} must have a str value, got {describe(value)}")
    if not all(" " <= char <= "~" or char == "\t" for char in value):
        raise ValueError(
            f"part header {header!r} has the value {value!r}: only printable ASCII and tabs "
            "may be sent (no CR, LF or other control characters; encode other text first)"
        )
    return header, value.strip(" \t")


_MEDIA_TYPE_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+/[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def check_media_type(value: object, what: str) -> str:
    """Validate a bare media type, ``type/subtype`` without parameters; return it.

    Raises:
        TypeError: *value* is not a str.
        ValueError: it is not two tokens joined by a slash.
    """
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, got {describe(value)}")
    if _MEDIA_TYPE_RE.fullmatch(value) is None:
        raise ValueError(
            f"{what} must be a media type without parameters (type/subtype), got {value!r}"
        )
    return value


def media_type_of(content_type: str) -> str:
    """The media type of a ``Content-Type`` value, without its parameters, lower-cased."""
    return content_type.split(";", 1)[0].strip().lower()


# --- names, file names and header values -----------------------------------------


def escape_name(value: str) -> str:
    """Escape a field or file name the way browsers do (WHATWG HTML).

    ``"`` becomes ``%22``, CR ``%0D`` and LF ``%0A``; everything else,
    backslashes and non-ASCII text included, is kept and later sent as UTF-8.
    """
    if '"' in value or "\r" in value or "\n" in value:
        return value.translate(_WHATWG_ESCAPES)
    return value


def normalize_newlines(value: str) -> str:
    """Turn every lone CR and lone LF into CRLF, as browsers do with field names.

    Browsers apply this to field names (and text values) before the escaping of
    [escape_name][httpx_streaming._multipart.escape_name], not to file names.
    """
    if "\r" in value or "\n" in value:
        return _NEWLINES_RE.sub("\r\n", value)
    return value


def check_name(value: object, what: str, *, quote_fields: bool = True) -> str:
    """Validate a field or file name; return it unchanged.

    Raises:
        TypeError: *value* is not a str.
        ValueError: it holds a NUL character, an unpaired surrogate (no UTF-8
            form), or, with ``quote_fields=False``, a ``"``, CR or LF that
            cannot be written unescaped.
    """
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, got {describe(value)}")
    if "\x00" in value:
        raise ValueError(f"{what} must not contain a NUL character, got {value!r}")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(f"{what} {value!r} cannot be encoded as UTF-8") from None
    if not quote_fields and any(char in value for char in '"\r\n'):
        raise ValueError(
            f"{what} {value!r} contains a double quote, CR or LF, which cannot be sent "
            "unescaped; use quote_fields=True for the browser's escaping (%22, %0D, %0A)"
        )
    return value


def check_content_type(value: object) -> str:
    """Validate a part's media type: a non-empty str of printable ASCII.

    Raises:
        TypeError: *value* is not a str.
        ValueError: it is empty or holds control or non-ASCII characters (a
            CR or LF would let it inject header lines).
    """
    if not isinstance(value, str):
        raise TypeError(f"content_type must be a str, got {describe(value)}")
    # isprintable() on ASCII text means 0x20-0x7E: no CR, LF, NUL or other controls.
    if not (value.isascii() and value.isprintable() and value.strip()):
        raise ValueError(
            f"content_type must be a non-empty media type of printable ASCII, got {value!r}"
        )
    return value


def check_transfer_encoding(value: object) -> str:
    """Validate a part's ``Content-Transfer-Encoding``; return it lower-cased.

    Only ``binary`` (the identity, which is what HTTP carries anyway) is
    accepted. RFC 7578 section 4.7 deprecates transfer encodings in
    multipart/form-data and common servers do not decode them, so ``base64``
    and ``quoted-printable`` are refused instead of silently sent raw or sent
    in a form the receiver keeps encoded.

    Raises:
        TypeError: *value* is not a str.
        ValueError: any other encoding.
    """
    if not isinstance(value, str):
        raise TypeError(f"transfer_encoding must be a str, got {describe(value)}")
    normalized = value.strip().lower()
    if normalized in ALLOWED_TRANSFER_ENCODINGS:
        return normalized
    if normalized in REFUSED_TRANSFER_ENCODINGS:
        raise ValueError(
            f"transfer_encoding {value!r} is not supported: RFC 7578 (section 4.7) deprecates "
            "Content-Transfer-Encoding in form data and common servers (python-multipart, "
            "Werkzeug) do not decode it. Send the data as it is (leave transfer_encoding "
            "unset) or encode it yourself, e.g. with base64.b64encode, and say so in "
            "content_type"
        )
    raise ValueError(f"unknown transfer_encoding {value!r}; only 'binary' is accepted")


# --- part headers and framing ----------------------------------------------------


def render_part_header(
    boundary: str,
    name: str,
    *,
    file_name: str | None = None,
    content_type: str | None = None,
    transfer_encoding: str | None = None,
    quote_fields: bool = True,
) -> bytes:
    """The delimiter line and header block that open one part.

    Returns ``--BOUNDARY CRLF`` followed by the ``Content-Disposition`` line,
    the optional ``Content-Type`` and ``Content-Transfer-Encoding`` lines, and
    the empty line that ends the headers. Names are escaped as browsers do when
    ``quote_fields`` is true (a field name's lone CR or LF first becomes CRLF,
    then ``"``, CR and LF are percent-escaped), written verbatim otherwise (see
    [check_name][httpx_streaming._multipart.check_name]). Inputs are assumed
    validated.
    """
    if quote_fields:
        name = escape_name(normalize_newlines(name))
        if file_name is not None:
            file_name = escape_name(file_name)
    disposition = f'form-data; name="{name}"'
    if file_name is not None:
        disposition += f'; filename="{file_name}"'
    headers = [("Content-Disposition", disposition)]
    if content_type is not None:
        headers.append(("Content-Type", content_type))
    if transfer_encoding is not None:
        headers.append(("Content-Transfer-Encoding", transfer_encoding))
    return render_header_block(boundary, headers)


def render_header_block(boundary: str, headers: Sequence[tuple[str, str]]) -> bytes:
    """The delimiter line and header block that open a part: ``--BOUNDARY CRLF``, one
    ``Name: value`` line per header, and the empty line that ends them (UTF-8; inputs
    are assumed validated)."""
    lines = [f"--{boundary}"]
    lines.extend(f"{name}: {value}" for name, value in headers)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


def closing_delimiter(boundary: str) -> bytes:
    """The bytes that end a multipart body: ``--BOUNDARY--`` and a CRLF."""
    return f"--{boundary}--\r\n".encode("ascii")


def contains_delimiter(data: BytesLike, boundary: str) -> bool:
    """Whether in-memory *data* holds ``--BOUNDARY``, which would end its part early.

    Conservative: any occurrence counts, not only one at the start of a line.
    """
    if isinstance(data, memoryview):
        data = data.tobytes()  # memoryview's `in` compares items, not subsequences
    return f"--{boundary}".encode("ascii") in data


def multipart_length(boundary: str, parts: Iterable[tuple[bytes, int | None]]) -> int | None:
    """Total body size of a multipart form, or ``None`` if any part's size is unknown.

    Args:
        boundary: The form's boundary.
        parts: ``(header, data_length)`` per part, where *header* is what
            [render_part_header][httpx_streaming._multipart.render_part_header]
            returned and *data_length* the size of the data or ``None``.
    """
    total = len(closing_delimiter(boundary))
    for header, length in parts:
        if length is None:
            return None
        total += len(header) + length + len(CRLF)
    return total


def frame_parts(
    boundary: str,
    parts: Sequence[tuple[bytes, BytesLike | T]],
    *,
    coalesce_limit: int = COALESCE_LIMIT,
    owners: list[int] | None = None,
) -> list[BytesLike | T]:
    """Lay out a multipart body as a list of segments, framing coalesced.

    Each part is ``(header, data)`` where *data* is either in-memory bytes or
    an opaque stream token. The result alternates between bytes-like segments
    and the stream tokens, in body order. Neighbouring framing and small
    in-memory values (shorter than *coalesce_limit*) are joined into one
    ``bytes`` segment; larger in-memory values are kept as their own segment,
    the very object given (no copy), as are stream tokens. No segment is empty.

    With *owners*, the index of the part each segment belongs to is appended to
    it, segment by segment: a segment of coalesced framing belongs to the last
    part whose header it holds (the closing delimiter's to the last part).
    """
    segments: list[BytesLike | T] = []
    pending: list[BytesLike] = []
    for index, (header, data) in enumerate(parts):
        pending.append(header)
        if isinstance(data, bytes | bytearray | memoryview):
            if len(data) < coalesce_limit:
                pending.append(data)
                pending.append(CRLF)
                continue
            segments.append(b"".join(pending))
            segments.append(data)
        else:
            segments.append(b"".join(pending))
            segments.append(data)
        if owners is not None:
            owners.extend((index, index))
        pending = [CRLF]
    pending.append(closing_delimiter(boundary))
    segments.append(b"".join(pending))
    if owners is not None:
        owners.append(max(len(parts) - 1, 0))
    return segments


# --- application/x-www-form-urlencoded -------------------------------------------


def urlencode(pairs: Iterable[tuple[str, str]]) -> bytes:
    """Serialize name/value pairs as browsers do (WHATWG urlencoded serializer).

    UTF-8, space as ``+``, and every byte percent-encoded except ASCII letters,
    digits and ``*-._``.
    """
    return "&".join(
        f"{_urlencode_text(name)}={_urlencode_text(value)}" for name, value in pairs
    ).encode("ascii")


def _urlencode_text(text: str) -> str:
    # quote_plus keeps "~" unencoded (RFC 3986 unreserved); WHATWG encodes it.
    return quote_plus(text, safe="*").replace("~", "%7E")
