"""FormData end to end: every value kind through four real parsers, reuse, errors,
closing, the loopback server, respx, and the multi-GiB cases (slow)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import httpx
import pytest
import respx
from loopback import LoopbackServer, pattern_chunks
from multipart_parsers import (
    PARSERS,
    Part,
    parse_python_multipart,
    parse_urlencoded_python_multipart,
    parse_urlencoded_stdlib,
    python_multipart_boundary,
)

from httpx_streaming import (
    FormData,
    LengthMismatchError,
    ResourceStreamFunction,
    SourceConsumedError,
    stream_file,
    stream_response,
)

OCTET = "application/octet-stream"


async def body_of(form: FormData) -> bytes:
    return b"".join([bytes(chunk) async for chunk in form])


def parse_all(body: bytes, content_type: str) -> dict[str, list[Part]]:
    return {name: parser(body, content_type) for name, parser in PARSERS.items()}


def assert_parsed(body: bytes, content_type: str, expected: list[Part]) -> None:
    for name, parts in parse_all(body, content_type).items():
        assert parts == expected, name


@ResourceStreamFunction
async def numbered(count: int, size: int = 1000) -> AsyncIterator[bytes]:
    for index in range(count):
        yield bytes([index % 256]) * size


async def one_shot(*chunks: bytes) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    path = tmp_path / "données 名.bin"
    path.write_bytes(os.urandom(150_000))
    return path


# --- round trips ---------------------------------------------------------------------


async def test_every_value_kind_round_trips_through_every_parser(
    data_file: Path, anyio_backend: tuple[str, Any]
) -> None:
    data = data_file.read_bytes()
    form = FormData()
    form.add_field("text", "héllo wörld")
    form.add_field("bytes", b"\x00\x01raw")
    form.add_field("bytearray", bytearray(b"array"), file_name="a.bin", content_type="x/y")
    form.add_field("memoryview", memoryview(b"view"))
    form.add_field("bytesio", io.BytesIO(b"in memory file"))
    form.add_field("path", data_file)
    form.add_field("resource", numbered(3), file_name="n.bin")
    form.add_field("generator", one_shot(b"one", b"-", b"shot"), content_type="text/plain")
    form.add_json("json", {"ü": [1, 2.5, None, True]})
    form.add_field("text-file", "plain text", file_name="t.txt")
    with data_file.open("rb") as sync_file:
        form.add_field("sync-file", sync_file)
        async with await anyio.open_file(data_file, "rb") as async_file:
            form.add_field("anyio-file", async_file)
            headers = form.headers
            body = await body_of(form)
    assert headers["Content-Type"] == form.content_type
    assert "Content-Length" not in headers  # the one-shot stream has no size
    with pytest.raises(SourceConsumedError):
        form.headers  # noqa: B018
    assert_parsed(
        body,
        form.content_type,
        [
            Part("text", None, None, "héllo wörld".encode()),
            Part("bytes", "bytes", OCTET, b"\x00\x01raw"),
            Part("bytearray", "a.bin", "x/y", b"array"),
            Part("memoryview", "memoryview", OCTET, b"view"),
            Part("bytesio", "bytesio", OCTET, b"in memory file"),
            Part("path", data_file.name, OCTET, data),
            Part("resource", "n.bin", OCTET, b"\x00" * 1000 + b"\x01" * 1000 + b"\x02" * 1000),
            Part("generator", "generator", "text/plain", b"one-shot"),
            Part("json", None, "application/json", '{"ü": [1, 2.5, null, true]}'.encode()),
            Part("text-file", "t.txt", "text/plain; charset=utf-8", b"plain text"),
            Part("sync-file", data_file.name, OCTET, data),
            Part("anyio-file", data_file.name, OCTET, data),
        ],
    )


async def test_backend_specific_async_files(
    data_file: Path, anyio_backend: tuple[str, Any]
) -> None:
    form = FormData()
    if anyio_backend[0] == "trio":
        import trio

        opened: Any = await trio.open_file(data_file, "rb")
    else:
        import aiofiles

        opened = await aiofiles.open(data_file, "rb")
    try:
        form.add_field("file", opened)
        body = await body_of(form)
    finally:
        await opened.aclose() if hasattr(opened, "aclose") else await opened.close()
    assert_parsed(
        body, form.content_type, [Part("file", data_file.name, OCTET, data_file.read_bytes())]
    )


# Field and file names as a browser's <input name=...> upload sends them; the
# expected bytes are written out from the WHATWG rules, not computed.
TRICKY_NAMES = [
    ("with space", "with space.txt", b'name="with space"; filename="with space.txt"'),
    ('quo"te', 'q"f.txt', b'name="quo%22te"; filename="q%22f.txt"'),
    ("back\\slash", "b\\s.txt", b'name="back\\slash"; filename="b\\s.txt"'),
    ("cr\rlf\n", "x\ry\nz.txt", b'name="cr%0D%0Alf%0D%0A"; filename="x%0Dy%0Az.txt"'),
    ("名前", "ファイル.txt", 'name="名前"; filename="ファイル.txt"'.encode()),
    ("emoji 🎉", "😀.png", 'name="emoji 🎉"; filename="😀.png"'.encode()),
]


async def test_tricky_names_come_out_as_a_browser_sends_them() -> None:
    form = FormData(boundary="----WebKitFormBoundaryq2pSWPxWm0ALdxTC")
    for name, file_name, _ in TRICKY_NAMES:
        form.add_field(name, b"x", file_name=file_name, content_type="text/plain")
    body = await body_of(form)
    expected = (
        b"".join(
            b"------WebKitFormBoundaryq2pSWPxWm0ALdxTC\r\n"
            b"Content-Disposition: form-data; " + disposition + b"\r\n"
            b"Content-Type: text/plain\r\n\r\nx\r\n"
            for _, _, disposition in TRICKY_NAMES
        )
        + b"------WebKitFormBoundaryq2pSWPxWm0ALdxTC--\r\n"
    )
    assert body == expected
    # Every parser reads the non-ASCII names as the text they are; how each one
    # treats %22 and backslashes is its own browser-compatibility policy.
    for parser, parts in parse_all(body, form.content_type).items():
        assert [part.name for part in parts[4:]] == ["名前", "emoji 🎉"], parser
        assert [part.filename for part in parts[4:]] == ["ファイル.txt", "😀.png"], parser
        assert parts[0].name == "with space", parser
        assert all(part.data == b"x" for part in parts), parser
    assert [part.name for part in parse_python_multipart(body, form.content_type)][:4] == [
        "with space",
        "quo%22te",
        "back\\slash",
        "cr%0D%0Alf%0D%0A",
    ]


async def test_a_custom_boundary_that_needs_quoting() -> None:
    form = FormData(boundary="my boundary:with?odd=chars")
    form.add_field("a", b"1")
    form.add_field("b", "2", content_type="text/plain")
    assert form.content_type == 'multipart/form-data; boundary="my boundary:with?odd=chars"'
    assert_parsed(
        await body_of(form),
        form.content_type,
        [Part("a", "a", OCTET, b"1"), Part("b", None, "text/plain", b"2")],
    )


async def test_empty_values_files_and_tricky_data() -> None:
    form = FormData()
    form.add_field("empty-text", "", content_type="text/plain")
    form.add_field("empty-bytes", b"")
    form.add_field("empty-stream", one_shot())
    form.add_field("empty-resource", numbered(0))
    form.add_field("dashes", b"--")
    form.add_field("fake", ("\r\n--" + form.boundary[:-1] + "\r\n\r\n").encode())
    form.add_field("crlfs", one_shot(b"\r\n", b"\r", b"\n\r\n-", b"-"))
    body = await body_of(form)
    assert_parsed(
        body,
        form.content_type,
        [
            Part("empty-text", None, "text/plain", b""),
            Part("empty-bytes", "empty-bytes", OCTET, b""),
            Part("empty-stream", "empty-stream", OCTET, b""),
            Part("empty-resource", "empty-resource", OCTET, b""),
            Part("dashes", "dashes", OCTET, b"--"),
            Part("fake", "fake", OCTET, ("\r\n--" + form.boundary[:-1] + "\r\n\r\n").encode()),
            Part("crlfs", "crlfs", OCTET, b"\r\n\r\n\r\n--"),
        ],
    )


async def test_a_thousand_fields() -> None:
    form = FormData()
    for index in range(1000):
        if index % 2:
            form.add_field(f"field[{index}]", f"value {index}", content_type="text/plain")
        else:
            form.add_field(f"field[{index}]", b"%d" % index, file_name=f"{index}.bin")
    chunks = [chunk async for chunk in form]
    assert len(chunks) == 1  # small fields and all framing coalesce into one chunk
    assert form.headers["Content-Length"] == str(len(chunks[0]))
    expected = [
        Part(f"field[{index}]", None, "text/plain", f"value {index}".encode())
        if index % 2
        else Part(f"field[{index}]", f"{index}.bin", OCTET, b"%d" % index)
        for index in range(1000)
    ]
    assert_parsed(bytes(chunks[0]), form.content_type, expected)


# --- urlencoded or multipart -----------------------------------------------------------


async def test_text_only_forms_are_urlencoded() -> None:
    form = FormData.from_fields([("q", "a b&c"), ("名", "🎉"), ("q", "")])
    assert not form.is_multipart
    body = await body_of(form)
    assert form.headers == {
        "Content-Type": "application/x-www-form-urlencoded",
        "Content-Length": str(len(body)),
    }
    expected = [("q", "a b&c"), ("名", "🎉"), ("q", "")]
    assert parse_urlencoded_stdlib(body) == expected
    assert parse_urlencoded_python_multipart(body) == expected
    assert await body_of(FormData()) == b""
    assert FormData().headers["Content-Length"] == "0"


@pytest.mark.parametrize(
    ("method", "args", "kwargs"),
    [
        ("add_field", ("x", "text"), {"content_type": "text/plain"}),
        ("add_field", ("x", "text"), {"file_name": "x.txt"}),
        ("add_field", ("x", "text"), {"transfer_encoding": "binary"}),
        ("add_field", ("x", b"bytes"), {}),
        ("add_field", ("x", io.BytesIO(b"file")), {}),
        ("add_json", ("x", [1]), {}),
    ],
)
async def test_what_makes_a_form_multipart(
    method: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    form = FormData()
    form.add_field("plain", "text")
    assert not form.is_multipart
    getattr(form, method)(*args, **kwargs)
    assert form.is_multipart
    assert form.content_type.startswith("multipart/form-data; boundary=")
    body = await body_of(form)
    assert [part.name for part in parse_python_multipart(body, form.content_type)] == ["plain", "x"]


async def test_a_stream_makes_a_form_multipart_with_its_field_name_as_file_name() -> None:
    form = FormData()
    form.add_field("s", numbered(1))
    assert form.is_multipart
    assert parse_python_multipart(await body_of(form), form.content_type)[0].filename == "s"


def test_from_fields_accepts_dicts_pairs_and_files(data_file: Path) -> None:
    assert len(FormData.from_fields({"a": "1", "b": b"2"})) == 2
    with data_file.open("rb") as file:
        form = FormData.from_fields([file, ("x", "y")])
        assert len(form) == 2
        assert b'name="' + data_file.name.encode() + b'"' in form._parts[0].header
    with pytest.raises(TypeError, match="has no str 'name'"):
        FormData.from_fields([io.BytesIO(b"")])
    with pytest.raises(TypeError, match="must be a dict, a list"):
        FormData.from_fields("ab")
    with pytest.raises(TypeError, match=r"got 3 \(type int\)"):
        FormData.from_fields([3])


# --- headers and sizes ---------------------------------------------------------------


async def test_content_length_is_exact_when_every_size_is_known(data_file: Path) -> None:
    form = FormData()
    form.add_field("a", "text")
    form.add_field("p", data_file)
    form.add_field("r", stream_file(data_file))
    form.add_field("f", io.BytesIO(b"12345"))
    form.add_json("j", {"k": "v"})
    body = await body_of(form)
    assert form.content_length == len(body)
    assert form.headers["Content-Length"] == str(len(body))
    assert form.boundary in form.headers["Content-Type"]
    form.add_field("unknown", one_shot(b"x"))
    assert form.content_length is None
    assert "Content-Length" not in form.headers


async def test_a_source_that_breaks_its_declared_size_aborts(data_file: Path) -> None:
    form = FormData()
    form.add_field("p", data_file)
    with data_file.open("ab") as file:
        file.write(b"grown")
    with pytest.raises(LengthMismatchError):
        await body_of(form)


async def test_a_resource_that_yields_other_than_it_declared_aborts() -> None:
    for declared, message in ((2999, r"yielded more \(3000 so far\)"), (3001, "yielded 3000")):
        resource = numbered(3)
        resource.content_length = declared
        form = FormData()
        form.add_field("r", resource)
        with pytest.raises(LengthMismatchError, match=f"declared {declared} bytes but {message}"):
            await body_of(form)


# --- reuse --------------------------------------------------------------------------


async def test_reusable_forms_repeat_byte_for_byte(data_file: Path) -> None:
    form = FormData()
    form.add_field("p", data_file)
    form.add_field("r", numbered(5))
    form.add_field("b", b"bytes")
    assert form.reusable
    first, second = await body_of(form), await body_of(form)
    assert first == second
    assert first.count(form.boundary.encode()) == 4


async def test_a_consumed_one_shot_form_fails_before_yielding_anything() -> None:
    calls = 0

    @ResourceStreamFunction
    async def counted() -> AsyncIterator[bytes]:
        nonlocal calls
        calls += 1
        yield b"counted"

    form = FormData()
    form.add_field("first", counted())
    form.add_field("once", one_shot(b"a", b"b"))
    assert not form.reusable
    await body_of(form)
    assert calls == 1
    with pytest.raises(SourceConsumedError, match="field 'once' holds a one-shot stream"):
        form.__aiter__()
    assert calls == 1  # nothing of the second pass started
    assert issubclass(SourceConsumedError, httpx.StreamConsumed)


async def test_a_one_shot_form_that_stopped_before_its_stream_can_be_sent() -> None:
    form = FormData()
    form.add_field("first", b"x" * 100_000)
    form.add_field("once", one_shot(b"a"))
    stream = form.__aiter__()
    await stream.__anext__()
    await stream.aclose()
    assert (await body_of(form)).count(b"\r\na\r\n") == 1


def test_the_same_one_shot_stream_cannot_be_added_twice() -> None:
    generator = one_shot(b"a")
    form = FormData()
    form.add_field("a", generator)
    with pytest.raises(ValueError, match="field 'a' and field 'b' share the one-shot source"):
        form.add_field("b", generator)
    assert len(form) == 1


# --- bad input ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"name": 1, "value": "x"}, TypeError, r"field name must be a str, got 1 \(type int\)"),
        ({"name": b"n", "value": "x"}, TypeError, r"got b'n' \(type bytes\)"),
        ({"name": "a\x00b", "value": "x"}, ValueError, "must not contain a NUL"),
        (
            {"name": "n", "value": "x", "file_name": 2},
            TypeError,
            r"file_name must be a str, got 2 \(type int\)",
        ),
        ({"name": "n", "value": "x", "file_name": "a\x00"}, ValueError, "NUL"),
        (
            {"name": "n", "value": "x", "content_type": b"text/plain"},
            TypeError,
            r"content_type must be a str, got b'text/plain' \(type bytes\)",
        ),
        ({"name": "n", "value": "x", "content_type": "a\r\nb: c"}, ValueError, "printable ASCII"),
        ({"name": "n", "value": 3}, TypeError, r"unsupported value 3 \(type int\)"),
        ({"name": "n", "value": None}, TypeError, r"\(type NoneType\)"),
        ({"name": "n", "value": {"a": 1}}, TypeError, r"\(type dict\); .*use add_json"),
        ({"name": "n", "value": object()}, TypeError, r"field 'n': .*\(type object\)"),
        ({"name": "n", "value": io.StringIO("t")}, TypeError, r"text file .*StringIO"),
        ({"name": "n", "value": numbered}, TypeError, "ResourceStreamFunction"),
        ({"name": "n", "value": "x", "transfer_encoding": "base64"}, ValueError, "RFC 7578"),
        (
            {"name": "n", "value": "x", "transfer_encoding": "quoted-printable"},
            ValueError,
            "RFC 7578",
        ),
        (
            {"name": "n", "value": b"x", "transfer_encoding": 7},
            TypeError,
            "transfer_encoding must be a str",
        ),
    ],
)
def test_bad_input_is_refused_when_the_field_is_added(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    form = FormData()
    with pytest.raises(error, match=message):
        form.add_field(**kwargs)
    assert len(form) == 0


def test_bad_json_and_bad_boundaries() -> None:
    form = FormData()
    with pytest.raises(TypeError, match=r"field 'j': .*set is not JSON serializable"):
        form.add_json("j", {1, 2})
    with pytest.raises(ValueError, match="field 'j': Out of range float"):
        form.add_json("j", float("nan"))
    with pytest.raises(ValueError, match="1 to 70 characters"):
        FormData(boundary="x" * 71)
    with pytest.raises(TypeError, match="boundary must be a str"):
        FormData(boundary=5)  # type: ignore[arg-type]
    custom = FormData(boundary="my-boundary")
    with pytest.raises(ValueError, match="contains the body's boundary '--my-boundary'"):
        custom.add_field("f", b"a\r\n--my-boundary\r\n")
    assert len(form) == len(custom) == 0
    with pytest.raises(ValueError, match="cannot be sent unescaped"):
        FormData(quote_fields=False).add_field('a"b', "x")


async def test_a_chunk_that_is_not_bytes_raises_type_error_and_closes() -> None:
    closed = False

    async def bad() -> AsyncIterator[Any]:
        nonlocal closed
        try:
            yield b"ok"
            yield "text"
        finally:
            closed = True

    form = FormData()
    form.add_field("bad", bad())
    with pytest.raises(TypeError, match=r"yielded 'text' \(type str\)"):
        await body_of(form)
    assert closed


# --- passing through, closing, errors --------------------------------------------------


async def test_wide_memoryviews_count_and_send_their_bytes() -> None:
    import array

    numbers = array.array("i", [1, 2, 3])
    form = FormData()
    form.add_field("value", memoryview(numbers))

    async def source() -> AsyncIterator[Any]:
        yield memoryview(numbers)
        yield bytearray(b"!")

    form.add_field("stream", source())
    body = await body_of(form)
    assert [part.data for part in parse_python_multipart(body, form.content_type)] == [
        numbers.tobytes(),
        numbers.tobytes() + b"!",
    ]


async def test_source_chunks_pass_through_uncopied() -> None:
    chunks = [os.urandom(65536) for _ in range(4)]

    async def source() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk

    form = FormData()
    form.add_field("a", "x")
    form.add_field("f", source())
    out = [chunk async for chunk in form]
    assert len(out) == 6  # framing, four chunks, closing framing
    assert all(got is sent for got, sent in zip(out[1:5], chunks, strict=True))


class Boom(Exception):
    pass


async def test_a_source_error_propagates_unchanged_and_everything_is_closed() -> None:
    events: list[str] = []

    @ResourceStreamFunction
    async def failing() -> AsyncIterator[bytes]:
        try:
            yield b"part"
            raise Boom("upstream failed")
        finally:
            events.append("closed")

    form = FormData()
    form.add_field("f", failing())
    with pytest.raises(Boom, match="upstream failed"):
        await body_of(form)
    assert events == ["closed"]


async def test_early_exit_closes_the_current_source() -> None:
    events: list[str] = []

    @ResourceStreamFunction
    async def endless() -> AsyncIterator[bytes]:
        try:
            while True:
                yield b"x" * 1000
        finally:
            events.append("closed")

    form = FormData()
    form.add_field("f", endless())
    stream = form.__aiter__()
    await stream.__anext__()
    await stream.__anext__()
    assert events == []
    await stream.aclose()
    assert events == ["closed"]
    with pytest.raises(StopAsyncIteration):
        await stream.__anext__()


async def test_cancellation_closes_the_current_source() -> None:
    events: list[str] = []

    @ResourceStreamFunction
    async def slow() -> AsyncIterator[bytes]:
        try:
            while True:
                yield b"x"
                await anyio.sleep(0.01)
        finally:
            events.append("generator closed")

    class SlowIterator:
        """A source whose cleanup awaits: it runs only if the close is shielded."""

        def __aiter__(self) -> SlowIterator:
            return self

        async def __anext__(self) -> bytes:
            await anyio.sleep(0.01)
            return b"y"

        async def aclose(self) -> None:
            await anyio.lowlevel.checkpoint()
            events.append("iterator closed")

    for value in (slow(), SlowIterator()):
        form = FormData()
        form.add_field("f", value)
        with anyio.move_on_after(0.1) as scope:
            async for _ in form:
                pass
        assert scope.cancelled_caught
    assert events == ["generator closed", "iterator closed"]


# --- over HTTP: loopback server ------------------------------------------------------------


async def test_httpx_sends_content_length_not_chunked(
    server: LoopbackServer, data_file: Path
) -> None:
    form = FormData()
    form.add_field("title", "x", content_type="text/plain")
    form.add_field("file", data_file)
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{server.url}/upload/cl", content=form, headers=form.headers)
    assert response.status_code == 200
    (received,) = server.recorder.on("/upload/cl")
    assert received.headers["content-length"] == form.headers["Content-Length"]
    assert "transfer-encoding" not in received.headers
    assert received.headers["content-type"] == form.content_type
    assert received.body is not None
    assert_parsed(
        received.body,
        form.content_type,
        [
            Part("title", None, "text/plain", b"x"),
            Part("file", data_file.name, OCTET, data_file.read_bytes()),
        ],
    )


async def test_unknown_sizes_go_chunked(server: LoopbackServer) -> None:
    form = FormData()
    form.add_field("s", one_shot(b"abc"))
    async with httpx.AsyncClient() as client:
        await client.post(f"{server.url}/upload/chunked", content=form, headers=form.headers)
    (received,) = server.recorder.on("/upload/chunked")
    assert received.headers["transfer-encoding"] == "chunked"
    assert "content-length" not in received.headers
    assert received.body is not None
    assert parse_python_multipart(received.body, form.content_type)[0].data == b"abc"


async def test_retry_loop_resends_the_whole_form(server: LoopbackServer, data_file: Path) -> None:
    async with httpx.AsyncClient() as client:
        form = FormData()
        form.add_field("note", "retry me", content_type="text/plain")
        form.add_field(
            "upstream", stream_response(client, "GET", f"{server.url}/bytes?size=300000")
        )
        form.add_field("file", data_file)
        for _ in range(5):
            response = await client.post(
                f"{server.url}/flaky/form?failures=2", content=form, headers=form.headers
            )
            if response.status_code < 500:
                break
    assert response.json()["attempt"] == 3
    attempts = server.recorder.on("/flaky/form")
    assert [item.status for item in attempts] == [500, 500, 200]
    bodies = {item.body for item in attempts}
    assert len(bodies) == 1
    body = bodies.pop()
    assert body is not None
    assert "transfer-encoding" in attempts[0].headers  # stream_response's size is unknown
    parts = parse_all(body, form.content_type)
    for parser, parsed in parts.items():
        assert [len(part.data) for part in parsed] == [8, 300000, 150000], parser


async def test_a_one_shot_form_is_refused_on_retry(server: LoopbackServer) -> None:
    form = FormData()
    form.add_field("once", one_shot(b"only once"))
    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"{server.url}/flaky/once?failures=1", content=form, headers=form.headers
        )
        assert response.status_code == 500
        # form.headers already refuses, so not even the request line goes out.
        with pytest.raises(SourceConsumedError, match="field 'once' holds a one-shot"):
            await client.post(
                f"{server.url}/flaky/once?failures=1", content=form, headers=form.headers
            )
    (received,) = server.recorder.on("/flaky/once")
    assert received.body is not None
    assert parse_python_multipart(received.body, form.content_type)[0].data == b"only once"


async def test_a_307_redirect_resends_the_form(server: LoopbackServer) -> None:
    form = FormData()
    form.add_field("r", numbered(10))
    async with httpx.AsyncClient(follow_redirects=True) as client:
        response = await client.post(
            f"{server.url}/redirect?to=/upload/after&status=307", content=form, headers=form.headers
        )
    assert response.status_code == 200
    (first,) = server.recorder.on("/redirect")
    (second,) = server.recorder.on("/upload/after")
    assert first.body == second.body
    assert first.size == second.size > 10 * 1000
    assert first.headers["transfer-encoding"] == second.headers["transfer-encoding"] == "chunked"


# --- respx: how a user's own test reads a streamed form ------------------------------------


@respx.mock
async def test_respx_side_effect_reads_the_streamed_form_on_every_retry() -> None:
    seen: list[list[Part]] = []

    async def upload(request: httpx.Request) -> httpx.Response:
        body = await request.aread()  # drains the form's async stream
        seen.append(parse_python_multipart(body, request.headers["content-type"]))
        return httpx.Response(500 if len(seen) < 3 else 201)

    respx.post("https://api.example/upload").mock(side_effect=upload)
    form = FormData()
    form.add_field("meta", "{}", content_type="application/json")
    resource = numbered(2, 10)
    resource.content_length = 20  # declared, so the form can announce its length
    form.add_field("file", resource, file_name="data.bin")
    async with httpx.AsyncClient() as client:
        for _ in range(5):
            response = await client.post(
                "https://api.example/upload", content=form, headers=form.headers
            )
            if response.status_code < 500:
                break
    assert response.status_code == 201
    assert len(seen) == 3
    assert (
        seen[0]
        == seen[1]
        == seen[2]
        == [
            Part("meta", None, "application/json", b"{}"),
            Part("file", "data.bin", OCTET, b"\x00" * 10 + b"\x01" * 10),
        ]
    )
    assert respx.calls.last.request.headers["content-length"] == str(form.content_length)


@respx.mock
async def test_respx_shows_the_consumed_one_shot_error() -> None:
    async def upload(request: httpx.Request) -> httpx.Response:
        await request.aread()
        return httpx.Response(503)

    respx.post("https://api.example/upload").mock(side_effect=upload)
    form = FormData()
    form.add_field("once", one_shot(b"data"))
    headers = form.headers  # taken once: the second pass itself must refuse
    async with httpx.AsyncClient() as client:
        assert (
            await client.post("https://api.example/upload", content=form, headers=headers)
        ).status_code == 503
        with pytest.raises(httpx.StreamConsumed, match="field 'once' holds a one-shot stream"):
            await client.post("https://api.example/upload", content=form, headers=headers)
    assert len(respx.calls) == 1


# --- slow: multi-GiB ----------------------------------------------------------------------

GIB = 1024**3


@pytest.mark.slow
async def test_a_5_gib_streamed_part_through_a_streaming_parser() -> None:
    from python_multipart.multipart import MultipartParser

    size = 5 * GIB
    expected = hashlib.sha256()

    async def upstream() -> AsyncIterator[bytes]:
        for chunk in pattern_chunks(size, seed=7, chunk_size=1024 * 1024):
            expected.update(chunk)
            yield chunk

    form = FormData()
    form.add_field("before", "x", content_type="text/plain")
    form.add_field("big", upstream(), file_name="big.bin")
    form.add_field("after", "y", content_type="text/plain")

    digests: list[tuple[int, str]] = []
    current = hashlib.sha256()
    length = 0

    def on_part_begin() -> None:
        nonlocal current, length
        current, length = hashlib.sha256(), 0

    def on_part_data(buffer: bytes, start: int, end: int) -> None:
        nonlocal length
        current.update(memoryview(buffer)[start:end])
        length += end - start

    def on_part_end() -> None:
        digests.append((length, current.hexdigest()))

    parser = MultipartParser(
        python_multipart_boundary(form.content_type),
        {"on_part_begin": on_part_begin, "on_part_data": on_part_data, "on_part_end": on_part_end},
    )
    async for chunk in form:
        parser.write(chunk)  # type: ignore[arg-type]
    parser.finalize()
    assert digests == [
        (1, hashlib.sha256(b"x").hexdigest()),
        (size, expected.hexdigest()),
        (1, hashlib.sha256(b"y").hexdigest()),
    ]


RSS_SCRIPT = textwrap.dedent(
    """
    import gc, json, resource, sys
    import anyio
    sys.path.insert(0, sys.argv[2])
    from loopback import pattern_chunks
    from httpx_streaming import FormData, ResourceStreamFunction

    SIZE = int(sys.argv[1])

    @ResourceStreamFunction
    async def upstream(size):
        for chunk in pattern_chunks(size, seed=3):
            yield chunk

    def peak_kib():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    async def main():
        form = FormData()
        form.add_field("a", "small", content_type="text/plain")
        form.add_field("b", upstream(SIZE // 2), file_name="b.bin")
        form.add_field("c", upstream(SIZE - SIZE // 2), file_name="c.bin")
        # Warm up every code path on a small form, then take the baseline.
        small = FormData()
        small.add_field("w", upstream(1 << 20))
        async for _ in small:
            pass
        gc.collect()
        baseline = peak_kib()
        total = 0
        async for chunk in form:
            total += len(chunk)
        print(json.dumps({"baseline_kib": baseline, "peak_kib": peak_kib(), "total": total}))

    anyio.run(main, backend=sys.argv[3])
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_streaming_a_2_gib_form_keeps_memory_flat(backend: str, tmp_path: Path) -> None:
    script = tmp_path / "rss.py"
    script.write_text(RSS_SCRIPT)
    support = Path(__file__).resolve().parent / "support"
    result = subprocess.run(
        [sys.executable, str(script), str(2 * GIB), str(support), backend],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    report = json.loads(result.stdout)
    assert report["total"] > 2 * GIB
    growth_mib = (report["peak_kib"] - report["baseline_kib"]) / 1024
    assert growth_mib <= 32, report


async def test_a_form_built_anew_around_a_used_generator_is_refused() -> None:
    # The seed's retry loop with the form built inside the loop: the second
    # attempt must fail loudly, not send an empty file part.
    generator = one_shot(b"hello ", b"world")
    first = FormData()
    first.add_field("file", generator, file_name="f.bin")
    assert b"hello world" in await body_of(first)
    second = FormData()
    with pytest.raises(SourceConsumedError, match="already consumed"):
        second.add_field("file", generator, file_name="f.bin")


async def test_a_part_longer_than_declared_stops_before_the_extra_bytes() -> None:
    @ResourceStreamFunction
    async def liar() -> AsyncIterator[bytes]:
        yield b"12345"
        yield b"EXTRA-BYTES"

    body = liar()
    body.content_length = 5
    form = FormData()
    form.add_field("file", body, file_name="f.bin")
    sent = []
    with pytest.raises(
        LengthMismatchError, match=r"declared 5 bytes but yielded more \(16 so far\)"
    ):
        async for chunk in form:
            sent.append(bytes(chunk))
    assert b"EXTRA" not in b"".join(sent)
