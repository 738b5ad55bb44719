"""MultipartBody: related, mixed, nested and large bodies, read back by Go's mime/multipart
and Python's email parser (policy HTTP); every header as given plus a Content-Type only
where none was given; bad input refused when a part is added."""

from __future__ import annotations

import email.message
import email.parser
import email.policy
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import go_multipart_reader as go
import httpx
import pytest
from loopback import LoopbackServer, pattern_bytes, pattern_chunks

from httpx_streaming import (
    FormData,
    MultipartBody,
    Progress,
    SourceConsumedError,
    SyncResourceStream,
    byte_range,
    with_progress,
)


@pytest.fixture(scope="session")
def go_reader(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return go.build(tmp_path_factory.mktemp("go-multipart"))


async def full(body: Any) -> bytes:
    return b"".join([bytes(chunk) async for chunk in body])


def parse_email(body: bytes, content_type: str) -> email.message.Message:
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    assert not message.defects, message.defects
    return message


def email_parts(message: email.message.Message) -> list[email.message.Message]:
    payload = message.get_payload()
    assert isinstance(payload, list)
    return payload


def headers_of(part: email.message.Message) -> list[tuple[str, str]]:
    return [(name, str(value)) for name, value in part.items()]


def drive_upload(media: Any) -> MultipartBody:
    """Google Drive's and Cloud Storage's upload: JSON metadata, then the media."""
    upload = MultipartBody("related")
    upload.add_json({"name": "beach.jpg", "parents": ["holiday"]})
    upload.add_part(media, content_type="image/jpeg")
    return upload


async def test_a_related_upload_read_by_go_and_email(go_reader: Path, tmp_path: Path) -> None:
    photo = tmp_path / "beach.jpg"
    photo.write_bytes(pattern_bytes(300_000, seed=1))
    upload = drive_upload(photo)
    body = await full(upload)
    content_type = upload.headers["Content-Type"]
    assert upload.headers["Content-Length"] == str(len(body))
    # RFC 2387: the root's media type, which is the first part's unless start says otherwise.
    message = parse_email(body, content_type)
    assert message.get_content_type() == "multipart/related"
    assert message.get_param("type") == "application/json"
    metadata, media = email_parts(message)
    assert headers_of(metadata) == [("Content-Type", 'application/json; charset="UTF-8"')]
    assert json.loads(metadata.get_payload(decode=True)) == {  # type: ignore[arg-type]
        "name": "beach.jpg",
        "parents": ["holiday"],
    }
    assert headers_of(media) == [("Content-Type", "image/jpeg")]
    assert media.get_payload(decode=True) == photo.read_bytes()
    first, second = go.read(go_reader, [body], content_type)
    assert first.header("Content-Type") == ["application/json; charset=UTF-8"]
    assert json.loads(first.data or b"") == {"name": "beach.jpg", "parents": ["holiday"]}
    assert second.headers == {"Content-Type": ["image/jpeg"]} and second.data == photo.read_bytes()


async def test_mixed_parts_keep_the_headers_given(go_reader: Path) -> None:
    body = MultipartBody("mixed")
    body.add_part(
        b"\x00binary\r\n--not-a-boundary\r\n",
        headers=[
            ("Content-ID", "<data@example.org>"),
            ("Content-Location", "https://example.org/data.bin"),
            ("Content-Transfer-Encoding", "binary"),
        ],
    )
    body.add_part(
        "caf\u00e9 text", headers={"Content-Type": "text/plain; charset=utf-8; format=flowed"}
    )
    body.add_part(
        b"{}", content_type="application/vnd.api+json; ext=bulk", headers={"X-Trace": "7"}
    )
    data = await full(body)
    content_type = body.headers["Content-Type"]
    assert content_type.startswith("multipart/mixed; boundary=")
    expected = [
        [
            ("Content-Type", "application/octet-stream"),
            ("Content-ID", "<data@example.org>"),
            ("Content-Location", "https://example.org/data.bin"),
            ("Content-Transfer-Encoding", "binary"),
        ],
        [("Content-Type", "text/plain; charset=utf-8; format=flowed")],
        [("Content-Type", "application/vnd.api+json; ext=bulk"), ("X-Trace", "7")],
    ]
    payloads = [b"\x00binary\r\n--not-a-boundary\r\n", "café text".encode(), b"{}"]
    for part, headers, payload in zip(
        go.read(go_reader, [data], content_type), expected, payloads, strict=True
    ):
        assert {name.lower(): value for name, value in headers} == {
            name.lower(): values[0] for name, values in part.headers.items()
        }
        assert part.data == payload
    parsed = email_parts(parse_email(data, content_type))
    assert [len(part.items()) for part in parsed] == [len(headers) for headers in expected]
    assert [part.get_payload(decode=True) for part in parsed] == payloads
    assert parsed[0]["Content-ID"] == "<data@example.org>"


async def test_nested_bodies(go_reader: Path) -> None:
    alternative = MultipartBody("alternative")
    alternative.add_part("plain words")
    alternative.add_part("<p>rich words</p>", content_type="text/html")
    outer = MultipartBody("related", start="<message@example.org>")
    outer.add_part(b"attachment", headers={"Content-ID": "<file@example.org>"})
    outer.add_part(alternative, headers={"Content-ID": "<message@example.org>"})
    data = await full(outer)
    content_type = outer.headers["Content-Type"]
    assert outer.content_length == len(data)
    message = parse_email(data, content_type)
    # The root is the start part: its media type is the body's type parameter.
    assert message.get_param("type") == "multipart/alternative"
    assert message.get_param("start") == "<message@example.org>"
    attachment, nested = email_parts(message)
    assert attachment.get_payload(decode=True) == b"attachment"
    assert nested.get_content_type() == "multipart/alternative"
    assert nested.get_param("boundary") == alternative.boundary
    assert [part.get_payload(decode=True) for part in email_parts(nested)] == [
        b"plain words",
        b"<p>rich words</p>",
    ]
    first, second = go.read(go_reader, [data], content_type)
    assert first.data == b"attachment"
    assert second.header("Content-ID") == ["<message@example.org>"]
    assert [part.data for part in second.parts] == [b"plain words", b"<p>rich words</p>"]
    assert [part.header("Content-Type") for part in second.parts] == [
        ["text/plain; charset=utf-8"],
        ["text/html"],
    ]


async def test_a_thousand_parts(go_reader: Path) -> None:
    body = MultipartBody("mixed")
    for index in range(1000):
        body.add_part(pattern_bytes(index * 7, seed=index), headers={"Content-ID": f"<{index}@x>"})
    data = await full(body)
    assert len(data) == body.content_length
    parts = go.read(go_reader, [data], body.headers["Content-Type"])
    assert [part.header("Content-ID")[0] for part in parts] == [
        f"<{index}@x>" for index in range(1000)
    ]
    assert [part.data for part in parts] == [
        pattern_bytes(index * 7, seed=index) for index in range(1000)
    ]
    parsed = email_parts(parse_email(data, body.headers["Content-Type"]))
    assert [part.get_payload(decode=True) for part in parsed[::97]] == [
        pattern_bytes(index * 7, seed=index) for index in range(0, 1000, 97)
    ]


@pytest.mark.slow
def test_a_five_gib_part_streams_through_go(go_reader: Path) -> None:
    size = 5 * 1024**3

    def chunks() -> Iterator[bytes]:
        yield from pattern_chunks(size, seed=9, chunk_size=1024 * 1024)

    media = SyncResourceStream(chunks)
    media.content_length = size
    upload = drive_upload(media)
    digest = hashlib.sha256()
    for chunk in pattern_chunks(size, seed=9, chunk_size=1024 * 1024):
        digest.update(chunk)
    parts = go.read(go_reader, upload.sync(), upload.headers["Content-Type"])
    assert parts[1].size == size and parts[1].sha256 == digest.hexdigest()


async def test_a_drive_style_upload_to_the_server(server: LoopbackServer, tmp_path: Path) -> None:
    photo = tmp_path / "beach.jpg"
    photo.write_bytes(pattern_bytes(1_000_000, seed=2))
    upload = drive_upload(photo)
    async with httpx.AsyncClient() as client:
        for _attempt in range(3):
            response = await client.post(
                f"{server.url}/flaky/drive?failures=1&uploadType=multipart",
                content=upload,
                headers=upload.headers,
            )
            if response.status_code < 500:
                break
    assert response.status_code == 200
    attempts = server.recorder.on("/flaky/drive")
    assert len(attempts) == 2 and attempts[0].body == attempts[1].body  # resent byte for byte
    received = attempts[1]
    assert received.headers["content-length"] == str(upload.content_length)
    _metadata, media = email_parts(
        parse_email(received.body or b"", received.headers["content-type"])
    )
    assert media.get_payload(decode=True) == photo.read_bytes()


def test_the_synchronous_face_sends_the_same_bytes(server: LoopbackServer, tmp_path: Path) -> None:
    photo = tmp_path / "beach.jpg"
    photo.write_bytes(pattern_bytes(200_000, seed=3))
    upload = drive_upload(photo)
    with httpx.Client() as client:
        response = client.post(
            f"{server.url}/upload/sync", content=upload.sync(), headers=upload.headers
        )
    assert response.status_code == 200
    (received,) = server.recorder.on("/upload/sync")
    assert received.body == b"".join(bytes(chunk) for chunk in upload.sync())


async def test_passes_ranges_and_progress(tmp_path: Path) -> None:
    photo = tmp_path / "beach.jpg"
    photo.write_bytes(pattern_bytes(2_000_000, seed=4))
    upload = MultipartBody("related")
    upload.add_json({"name": "x"}, headers={"Content-ID": "<meta>"})
    upload.add_part(photo, content_type="image/jpeg", headers={"Content-ID": "<media>"})
    upload.add_part(b"tail")
    first = await full(upload)
    assert await full(upload) == first and upload.reusable and not upload.consumed
    for start in (0, 100, 150_000, len(first) - 3):
        assert await full(byte_range(upload, start)) == first[start:]
    calls: list[Progress] = []
    assert await full(with_progress(upload, calls.append)) == first
    assert [call.part for call in calls[:-1]][-1] == "#3"
    assert "media" in {call.part for call in calls}


def test_bad_input_is_refused_when_given() -> None:
    with pytest.raises(ValueError, match="subtype must be a token"):
        MultipartBody("re lated")
    with pytest.raises(TypeError, match=r"subtype must be a str, got 3 \(type int\)"):
        MultipartBody(3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="parameters of multipart/related"):
        MultipartBody("mixed", type="text/plain")
    body = MultipartBody("mixed", boundary="fixed-boundary")
    with pytest.raises(ValueError, match=r"'X-Evil' has the value 'a\\r\\nInjected: 1'"):
        body.add_part(b"x", headers={"X-Evil": "a\r\nInjected: 1"})
    with pytest.raises(ValueError, match="a part header's name must be a token"):
        body.add_part(b"x", headers={"Bad Name": "v"})
    with pytest.raises(TypeError, match=r"must have a str value, got 5 \(type int\)"):
        body.add_part(b"x", headers={"X-Number": 5})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="Content-Type was given more than once"):
        body.add_part(b"x", content_type="a/b", headers={"content-type": "c/d"})
    with pytest.raises(ValueError, match="contains the body's boundary"):
        body.add_part(b"...\r\n--fixed-boundary\r\n")
    with pytest.raises(ValueError, match="needs its own boundary"):
        body.add_part(MultipartBody("mixed", boundary="fixed-boundary"))
    with pytest.raises(TypeError, match="expected a byte source"):
        body.add_part(3.5)
    with pytest.raises(ValueError, match="at least one part"):
        _ = body.headers
    related = MultipartBody("related", start="<nowhere>")
    related.add_part(b"x", headers={"Content-ID": "<somewhere>"})
    with pytest.raises(ValueError, match="Content-ID of none of the parts"):
        _ = related.headers
    assert len(body) == 0


async def test_one_shot_parts() -> None:
    async def stream() -> Any:
        yield b"once"

    body = MultipartBody("mixed")
    generator = stream()
    body.add_part(generator)
    with pytest.raises(ValueError, match="share the one-shot source"):
        body.add_part(generator)
    assert not body.reusable and body.content_length is None
    assert b"once" in await full(body)
    with pytest.raises(SourceConsumedError):
        _ = body.headers
    with pytest.raises(TypeError, match="only be read by async code"):
        body.sync()


async def test_a_form_inside_a_mixed_body() -> None:
    form = FormData.from_fields({"a": "1"})
    form.add_field("file", b"data", file_name="d.bin")
    body = MultipartBody("mixed")
    body.add_part(form, content_type=form.content_type)
    data = await full(body)
    (part,) = email_parts(parse_email(data, body.headers["Content-Type"]))
    assert part.get_content_type() == "multipart/form-data"
    assert [sub.get_payload(decode=True) for sub in email_parts(part)] == [b"1", b"data"]


def test_review_holes_are_closed() -> None:
    outer = MultipartBody("mixed", boundary="outerB")
    inner = MultipartBody("alternative")
    inner.add_part("hello\r\n--outerB--\r\n evil")
    with pytest.raises(ValueError, match="the nested body contains this body's boundary"):
        outer.add_part(inner)
    form = FormData()
    form.add_field("f", "x --outerB y")
    with pytest.raises(ValueError, match="the nested body contains this body's boundary"):
        outer.add_part(form)
    with pytest.raises(ValueError, match="Content-Type was given more than once"):
        outer.add_part(b"x", headers=[("Content-Type", "a/b"), ("content-type", "c/d")])
    with pytest.raises(ValueError, match="content_type must be a non-empty media type"):
        outer.add_part(b"x", headers={"Content-Type": "  "})
    with pytest.raises(ValueError, match=r"type must be a media type without parameters"):
        MultipartBody("related", type="application/xop+xml; charset=UTF-8")
    with pytest.raises(ValueError, match=r"part '#1'.*not valid UTF-8"):
        outer.add_part("\ud800")
    assert len(outer) == 0


async def test_compressed_multipart_and_a_huge_chunk_in_bounded_memory() -> None:
    import tracemalloc
    import zlib

    from httpx_streaming import compress

    big = bytearray(64 * 1024 * 1024)  # one chunk: framing passes it through whole
    body = MultipartBody("mixed")
    body.add_part(big)
    compressed = compress(body, "deflate", level=1)
    decompressor = zlib.decompressobj()
    tracemalloc.start()
    total = 0
    async for chunk in compressed:
        total += len(decompressor.decompress(chunk))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert total == body.content_length
    assert peak < 48 * 1024 * 1024  # not the 64 MiB chunk copied, nor its jobs all at once
