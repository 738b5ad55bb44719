"""Independent multipart/form-data parsers, each returning a normalized list of parts.

Our encoder is validated only by these real parsers, never by our own code:

* python-multipart's push parser, driven the way Starlette/FastAPI drive it;
* Werkzeug's sans-IO ``MultipartDecoder`` (what Flask's form parser uses);
* aiohttp's ``MultipartReader`` (run on its own asyncio loop in a thread, so
  the helpers work from trio tests as well);
* the standard library's ``email`` parser.

Each helper takes the body bytes and the ``Content-Type`` header value and
returns ``list[Part]`` in body order. Urlencoded bodies are read with
python-multipart's ``QuerystringParser`` and ``urllib.parse``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import email.parser
import email.policy
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import aiohttp
from aiohttp.base_protocol import BaseProtocol
from aiohttp.streams import StreamReader
from loopback import parse_multipart
from python_multipart.multipart import QuerystringParser, parse_options_header
from werkzeug.http import parse_options_header as werkzeug_options
from werkzeug.sansio.multipart import (
    Data,
    Epilogue,
    Field,
    File,
    MultipartDecoder,
    NeedData,
)


@dataclass(frozen=True)
class Part:
    """One parsed part: decoded name and file name, its media type and its data."""

    name: str
    filename: str | None
    content_type: str | None
    data: bytes = field(repr=False)

    def __repr__(self) -> str:
        return (
            f"Part(name={self.name!r}, filename={self.filename!r}, "
            f"content_type={self.content_type!r}, data={len(self.data)} bytes)"
        )


Parser = Callable[[bytes, str], list[Part]]


def _chunks(body: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


# --- python-multipart ----------------------------------------------------------


def _python_multipart_boundary(content_type: str) -> bytes:
    media_type, options = parse_options_header(content_type)
    assert media_type == b"multipart/form-data", media_type
    return options[b"boundary"]


def parse_python_multipart(body: bytes, content_type: str, chunk_size: int = 7919) -> list[Part]:
    """python-multipart's ``MultipartParser`` fed in odd-sized chunks (as a server would)."""
    _python_multipart_boundary(content_type)
    parts = []
    for headers, data in parse_multipart(body, content_type, chunk_size):
        _, options = parse_options_header(headers.get(b"content-disposition", b""))
        filename = options.get(b"filename")
        part_type = headers.get(b"content-type")
        parts.append(
            Part(
                name=options[b"name"].decode("utf-8"),
                filename=None if filename is None else filename.decode("utf-8"),
                content_type=None if part_type is None else part_type.decode("latin-1"),
                data=data,
            )
        )
    return parts


def python_multipart_boundary(content_type: str) -> bytes:
    """The boundary as python-multipart reads it from the header."""
    return _python_multipart_boundary(content_type)


# --- Werkzeug --------------------------------------------------------------------


def parse_werkzeug(body: bytes, content_type: str, chunk_size: int = 6007) -> list[Part]:
    """Werkzeug's ``MultipartDecoder``, the parser under Flask's ``request.form/files``."""
    media_type, options = werkzeug_options(content_type)
    assert media_type == "multipart/form-data", media_type
    decoder = MultipartDecoder(options["boundary"].encode("ascii"))
    parts: list[Part] = []
    current: Field | File | None = None
    data = bytearray()

    def drain() -> None:
        nonlocal current
        while True:
            event = decoder.next_event()
            if isinstance(event, NeedData | Epilogue):
                return
            if isinstance(event, Field | File):
                current = event
                data.clear()
            elif isinstance(event, Data):
                data.extend(event.data)
                if not event.more_data:
                    assert current is not None
                    parts.append(
                        Part(
                            name=current.name,
                            filename=current.filename if isinstance(current, File) else None,
                            content_type=current.headers.get("content-type"),
                            data=bytes(data),
                        )
                    )
                    current = None

    for chunk in _chunks(body, chunk_size):
        decoder.receive_data(chunk)
        drain()
    decoder.receive_data(None)
    drain()
    return parts


# --- aiohttp ---------------------------------------------------------------------


async def _aiohttp_parts(body: bytes, content_type: str) -> list[Part]:
    loop = asyncio.get_running_loop()
    # The whole body is fed at once; a limit above its size keeps the reader
    # from asking the (absent) transport to pause.
    reader = StreamReader(BaseProtocol(loop), max(2**16, len(body)), loop=loop)
    reader.feed_data(body)
    reader.feed_eof()
    multipart = aiohttp.MultipartReader({"Content-Type": content_type}, reader)
    parts: list[Part] = []
    async for part in multipart:
        assert isinstance(part, aiohttp.BodyPartReader)
        data = await part.read(decode=True)
        parts.append(
            Part(
                name=part.name or "",
                filename=part.filename,
                content_type=part.headers.get("Content-Type"),
                data=bytes(data),
            )
        )
    return parts


def parse_aiohttp(body: bytes, content_type: str) -> list[Part]:
    """aiohttp's ``MultipartReader`` (as ``request.multipart()`` uses it)."""
    # A loop of its own in a thread: the caller may be running asyncio or trio.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, _aiohttp_parts(body, content_type)).result()


# --- the standard library's email parser -----------------------------------------


def _header_text(value: str) -> str:
    # The body was read as latin-1 (one char per byte); headers are UTF-8.
    return value.encode("latin-1").decode("utf-8")


def parse_email(body: bytes, content_type: str) -> list[Part]:
    """``email.parser.Parser``: the body as a MIME multipart message.

    The bytes are handed over as latin-1 text so that header parameters keep
    every byte (``BytesParser`` would replace non-ASCII header bytes); payloads
    come back byte for byte through ``get_payload(decode=True)``.
    """
    message = email.parser.Parser(policy=email.policy.compat32).parsestr(
        "Content-Type: " + content_type + "\r\n\r\n" + body.decode("latin-1")
    )
    assert message.is_multipart(), message.get_content_type()
    assert not message.defects, message.defects
    parts: list[Part] = []
    payloads = message.get_payload()
    assert isinstance(payloads, list)
    for part in payloads:
        assert not part.defects, part.defects
        name = part.get_param("name", header="content-disposition")
        filename = part.get_param("filename", header="content-disposition")
        assert isinstance(name, str), name
        assert filename is None or isinstance(filename, str), filename
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        media_type = part["Content-Type"]
        parts.append(
            Part(
                name=_header_text(name),
                filename=None if filename is None else _header_text(filename),
                content_type=None if media_type is None else str(media_type),
                data=payload,
            )
        )
    return parts


PARSERS: dict[str, Parser] = {
    "python-multipart": parse_python_multipart,
    "werkzeug": parse_werkzeug,
    "aiohttp": parse_aiohttp,
    "email": parse_email,
}


# --- urlencoded ------------------------------------------------------------------


def parse_urlencoded_python_multipart(body: bytes) -> list[tuple[str, str]]:
    """python-multipart's ``QuerystringParser`` (Starlette's urlencoded path)."""
    pairs: list[tuple[str, str]] = []
    name = bytearray()
    value = bytearray()

    def on_field_name(buffer: bytes, start: int, end: int) -> None:
        name.extend(buffer[start:end])

    def on_field_data(buffer: bytes, start: int, end: int) -> None:
        value.extend(buffer[start:end])

    def on_field_end() -> None:
        pairs.append(
            (
                urllib.parse.unquote_plus(bytes(name).decode("latin-1"), encoding="utf-8"),
                urllib.parse.unquote_plus(bytes(value).decode("latin-1"), encoding="utf-8"),
            )
        )
        name.clear()
        value.clear()

    parser = QuerystringParser(
        {
            "on_field_name": on_field_name,
            "on_field_data": on_field_data,
            "on_field_end": on_field_end,
        }
    )
    parser.write(body)
    parser.finalize()
    return pairs


def parse_urlencoded_stdlib(body: bytes) -> list[tuple[str, str]]:
    """``urllib.parse.parse_qsl`` (what Werkzeug and aiohttp use for urlencoded forms)."""
    return urllib.parse.parse_qsl(
        body.decode("ascii"), keep_blank_values=True, strict_parsing=bool(body)
    )
