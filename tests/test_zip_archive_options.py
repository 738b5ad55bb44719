"""Archive-wide options of ``stream_zip`` and ``create_zip_stream_resource``: the archive's
comment and the extended timestamp field (archive-wide and per member), read back by
zipfile, Info-ZIP's unzip and zipinfo, 7-Zip and bsdtar; bad values refused when given."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import zip_readers

from httpx_streaming import (
    COMPRESSION_METHOD_DEFLATE,
    SyncResourceStream,
    ZipStreamFile,
    create_zip_stream_resource,
    stream_zip,
)

MOMENT = datetime(2024, 5, 17, 12, 0, 30, tzinfo=timezone.utc)
COMMENT = "Räksmörgås: streamed by httpx-streaming"


async def one_shot(data: bytes) -> AsyncIterator[bytes]:
    yield data


def members(path: Path) -> list[ZipStreamFile]:
    path.write_bytes(b"from disk\n" * 100)
    return [
        ZipStreamFile("plain.txt", b"plain\n", modified_at=MOMENT),
        ZipStreamFile("stamped.txt", b"stamped\n", modified_at=MOMENT, extended_timestamps=True),
        ZipStreamFile("bare.txt", b"bare\n", modified_at=MOMENT, extended_timestamps=False),
        ZipStreamFile(
            "disk.txt", path, modified_at=MOMENT, compression_method=COMPRESSION_METHOD_DEFLATE
        ),
        ZipStreamFile("folder/", modified_at=MOMENT),
    ]


async def collect(chunks: AsyncIterator[Any]) -> bytes:
    return b"".join([bytes(chunk) async for chunk in chunks])


def local_extra_lengths(archive: bytes, count: int) -> dict[str, int]:
    """Each member's local header extra field length, walking the local headers
    (APPNOTE 4.3.7) from the central directory's offsets as zipfile reports them."""
    lengths = {}
    with zipfile.ZipFile(io.BytesIO(archive)) as read:
        infos = read.infolist()
        assert len(infos) == count
        for info in infos:
            offset = info.header_offset
            signature, _, extra_length = struct.unpack_from("<I22xHH", archive, offset)
            assert signature == 0x04034B50
            lengths[info.filename] = extra_length
    return lengths


# --- the comment ----------------------------------------------------------------------


async def test_comment_is_read_by_zipfile_unzip_and_7z(tmp_path: Path) -> None:
    path = tmp_path / "commented.zip"
    resource = create_zip_stream_resource(members(tmp_path / "disk.txt"), comment=COMMENT)
    archive = await collect(resource.__aiter__())
    # Every pass and both faces write the same bytes.
    assert await collect(resource.__aiter__()) == archive
    assert b"".join(bytes(chunk) for chunk in resource.sync()) == archive
    assert archive == await collect(
        stream_zip(members(tmp_path / "disk.txt"), comment=COMMENT.encode())
    )
    path.write_bytes(archive)

    assert zip_readers.zipfile_details(path).keys() == {
        "plain.txt",
        "stamped.txt",
        "bare.txt",
        "disk.txt",
        "folder/",
    }
    with zipfile.ZipFile(path) as read:
        assert read.comment == COMMENT.encode()
        assert read.testzip() is None
    shown = zip_readers._run("unzip", [zip_readers.unzip_tool(), "-z", str(path)])
    assert shown.returncode == 0, zip_readers._output(shown)
    assert COMMENT in shown.stdout.decode("utf-8")
    assert zip_readers.sevenzip_archive_properties(path)["Comment"] == COMMENT
    # bsdtar has no way to show a comment: it must read the members past it.
    listing = zip_readers.read_bsdtar(path)
    assert set(listing) == {"plain.txt", "stamped.txt", "bare.txt", "disk.txt", "folder/"}


async def test_content_length_counts_the_comment(tmp_path: Path) -> None:
    files = [ZipStreamFile("a.txt", b"a" * 100, modified_at=MOMENT), ZipStreamFile("b/")]
    for comment in ("", "x", COMMENT, "c" * 0xFFFF):
        resource = create_zip_stream_resource(files, comment=comment)
        archive = await collect(resource.__aiter__())
        assert resource.content_length == len(archive)
        assert resource.headers["Content-Length"] == str(len(archive))
        assert archive.endswith(comment.encode())


# --- extended timestamps ----------------------------------------------------------------


@pytest.mark.parametrize("archive_wide", [True, False])
async def test_extended_timestamps_archive_wide_and_per_member(
    archive_wide: bool, tmp_path: Path
) -> None:
    files = members(tmp_path / "disk.txt")
    archive = await collect(stream_zip(files, extended_timestamps=archive_wide))
    path = tmp_path / "archive.zip"
    path.write_bytes(archive)
    # A member's own choice wins; the others follow the archive.
    stamped = {
        "plain.txt": archive_wide,
        "stamped.txt": True,
        "bare.txt": False,
        "disk.txt": archive_wide,
        "folder/": archive_wide,
    }
    moment = int(MOMENT.timestamp())
    details = zip_readers.zipfile_details(path)
    assert {name: info.extended_mtime for name, info in details.items()} == {
        name: moment if on else None for name, on in stamped.items()
    }
    # No extra field at all where it is off, in the central and the local headers
    # (formats such as EPUB ask for that).
    with zipfile.ZipFile(path) as read:
        central = {info.filename: len(info.extra) for info in read.infolist()}
    local = local_extra_lengths(archive, len(stamped))
    for name, on in stamped.items():
        assert (central[name] > 0) is on, name
        assert (local[name] > 0) is on, name
    # The DOS time is there either way; extractors still restore a time.
    assert all(info.date_time == (2024, 5, 17, 12, 0, 30) for info in details.values())
    assert zip_readers.read_unzip(path).keys() == stamped.keys()


def test_sync_face_follows_the_archive_setting(tmp_path: Path) -> None:
    files = members(tmp_path / "disk.txt")
    on = b"".join(create_zip_stream_resource(files).sync())
    off = b"".join(create_zip_stream_resource(files, extended_timestamps=False).sync())
    # Three members follow the archive (folder included): 9 bytes of extra field
    # in each of their two headers.
    assert len(on) - len(off) == 3 * 2 * 9


# --- bad values, refused when given ---------------------------------------------------


@pytest.mark.parametrize(
    ("comment", "error", "message"),
    [
        (3, TypeError, "comment must be a str or bytes, got 3 \\(type int\\)"),
        (["a"], TypeError, "comment must be a str or bytes, got \\['a'\\] \\(type list\\)"),
        ("c" * 0x10000, ValueError, "comment is 65536 bytes; a zip comment holds at most 65535"),
        ("é" * 40000, ValueError, "comment is 80000 bytes"),
        ("\udcff", ValueError, "not valid UTF-8"),
        (b"fake PK\x05\x06 end", ValueError, "end of central directory record"),
        (b"PK\x06\x06", ValueError, "zip64 end of central directory record"),
        ("PK\x06\x07", ValueError, "zip64 end locator record"),
    ],
)
def test_bad_comments_are_refused_when_given(
    comment: object, error: type[Exception], message: str
) -> None:
    files = [ZipStreamFile("a.txt", b"a")]
    with pytest.raises(error, match=message):
        stream_zip(files, comment=comment)  # type: ignore[arg-type]
    with pytest.raises(error, match=message):
        create_zip_stream_resource(files, comment=comment)  # type: ignore[arg-type]


def test_the_longest_comment_is_accepted() -> None:
    files = [ZipStreamFile("a.txt", b"a")]
    resource = create_zip_stream_resource(files, comment=bytearray(b"c" * 0xFFFF))
    assert b"".join(resource.sync()).endswith(b"\xff\xff" + b"c" * 0xFFFF)


@pytest.mark.parametrize("value", [1, 0, "no", None])
def test_extended_timestamps_must_be_a_bool(value: object) -> None:
    files = [ZipStreamFile("a.txt", b"a")]
    expected = f"extended_timestamps must be True or False, got {value!r} \\(type "
    with pytest.raises(TypeError, match=expected):
        stream_zip(files, extended_timestamps=value)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=expected):
        create_zip_stream_resource(files, extended_timestamps=value)  # type: ignore[arg-type]
    if value is not None:  # None is a member's "as the archive says"
        with pytest.raises(TypeError, match=expected):
            ZipStreamFile("a.txt", b"a", extended_timestamps=value)  # type: ignore[arg-type]


async def test_nothing_is_read_before_a_bad_option_is_refused() -> None:
    started = False

    async def source() -> AsyncGenerator[bytes, None]:
        nonlocal started
        started = True
        yield b"x"

    generator = source()
    files = [ZipStreamFile("a.txt", generator)]
    with pytest.raises(ValueError, match="comment"):
        stream_zip(files, comment="x" * 70000)
    assert not started
    await generator.aclose()


# --- a signature spelled across the end record ----------------------------------------


@pytest.mark.parametrize(
    "comment",
    [
        b"\x05\x06" + b"c" * (0x4B50 - 2),  # its length is b"PK": with the comment, PK\x05\x06
        b"K\x05\x06" + b"c" * (0x5000 - 3),  # its length ends in b"P"
    ],
    ids=["length-is-PK", "length-ends-in-P"],
)
def test_a_signature_across_the_comment_length_is_refused(comment: bytes) -> None:
    with pytest.raises(ValueError, match="across its length field"):
        create_zip_stream_resource([ZipStreamFile("a.txt", b"a")], comment=comment)


def test_a_signature_in_the_central_directory_offset_stops_the_archive() -> None:
    # The central directory starts at 0x06054B50, which the end record writes as
    # b"PK\x05\x06": with a comment, readers searching backwards would stop there.
    header = 30 + len("x") + 9  # the local header, with the extended timestamp
    size = 0x06054B50 - header
    block = memoryview(b"\0" * (1 << 20))

    def zeros() -> Iterator[memoryview]:
        remaining = size
        while remaining:
            piece = block[: min(len(block), remaining)]
            yield piece
            remaining -= len(piece)

    source = SyncResourceStream(zeros)
    source.content_length = size
    crc = 0
    for piece in zeros():
        crc = zlib.crc32(piece, crc)
    files = [ZipStreamFile("x", source, crc32=crc, modified_at=MOMENT)]
    total = sum(len(chunk) for chunk in create_zip_stream_resource(files).sync())
    assert total > size  # without a comment, nothing to search for: fine
    with pytest.raises(ValueError, match="give it another comment"):
        for _chunk in create_zip_stream_resource(files, comment="c").sync():
            pass
