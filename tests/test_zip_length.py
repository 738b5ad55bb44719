"""A zip resource's length, known before any byte: ``content_length`` (and the
``Content-Length`` header) predicted from names, sizes and options, held to the real
output for every shape that changes a record's length — folders, empty and stored
members, data descriptors, links, comments, extended timestamps on and off, zip64 end
records, encryption, and (slow) sizes and offsets either side of 4 GiB."""

from __future__ import annotations

import io
import stat
import zipfile
import zlib
from collections.abc import AsyncGenerator, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from httpx_streaming import (
    COMPRESSION_METHOD_DEFLATE,
    SyncResourceStream,
    ZipStreamFile,
    create_zip_stream_resource,
)
from httpx_streaming._zip_encoder import MemberLayout, member_length, predicted_layout

MOMENT = datetime(2024, 5, 17, 12, 0, 30, tzinfo=timezone.utc)
LINK = stat.S_IFLNK | 0o777
MiB = 1 << 20
ZIP64 = 0xFFFFFFFF  # the first size or offset a 32-bit field cannot hold


def repeated(block: bytes, size: int) -> Iterator[memoryview]:
    view = memoryview(block)
    remaining = size
    while remaining:
        piece = view[: min(len(view), remaining)]
        yield piece  # slices of one block: gigabytes without holding them
        remaining -= len(piece)


def declared(size: int, block: bytes = b"z" * MiB) -> SyncResourceStream:
    """A reusable source of *size* bytes that says its length, read by either face."""
    source = SyncResourceStream(repeated, block, size)
    source.content_length = size
    return source


try:
    from isal.isal_zlib import crc32 as fast_crc32
except ImportError:  # pragma: no cover - isal is a dev dependency
    fast_crc32 = zlib.crc32


def crc_of(size: int, block: bytes = b"z" * MiB) -> int:
    crc = 0
    for piece in repeated(block, size):
        crc = fast_crc32(piece, crc)
    return crc


def member(name: str, data: object = b"", **options: Any) -> ZipStreamFile:
    return ZipStreamFile(name, data, modified_at=MOMENT, **options)


async def passes(resource: Any) -> tuple[int, int]:
    """Bytes of an async pass and of a sync pass."""
    async_total = 0
    async for chunk in resource:
        async_total += len(chunk)
    return async_total, sum(len(chunk) for chunk in resource.sync())


SHAPES: dict[str, tuple[list[ZipStreamFile] | Any, dict[str, Any]]] = {
    "empty archive": (lambda tmp: [], {}),
    "folders and empty members": (
        lambda tmp: [member("a/"), member("a/b/"), member("e.txt"), member("f", b"")],
        {},
    ),
    "stored bytes and a path": (
        lambda tmp: [member("bytes.bin", b"x" * 5000), member("path.bin", tmp / "p.bin")],
        {},
    ),
    "declared size within the hold-back": (
        lambda tmp: [member("within.bin", declared(3000, b"w" * 1000))],
        {"hold_back_size": 4000},
    ),
    "declared size past the hold-back: a data descriptor": (
        lambda tmp: [member("past.bin", declared(9000, b"p" * 1000))],
        {"hold_back_size": 4000},
    ),
    "declared size and CRC past the hold-back": (
        lambda tmp: [
            member("known.bin", declared(9000, b"k" * 1000), crc32=crc_of(9000, b"k" * 1000))
        ],
        {"hold_back_size": 4000},
    ),
    "links": (
        lambda tmp: [
            member("lib/tool", b"#!/bin/sh\n", mode=0o755),
            member("bin/tool", "../lib/tool", mode=LINK),
            member("current", b"lib", mode=LINK),
        ],
        {},
    ),
    "encrypted (AES-256): salt, verifier, authentication code and extra field": (
        lambda tmp: [
            member("bytes.bin", b"x" * 5000),
            member("empty.txt", b""),
            member("path.bin", tmp / "p.bin", password="its own"),
            member("past.bin", declared(9000, b"p" * 1000)),  # no CRC needed: no descriptor
            member("d/"),
        ],
        {"password": "secret", "hold_back_size": 4000},
    ),
    "comment": (lambda tmp: [member("a.txt", b"a")], {"comment": "Räksmörgås " * 100}),
    "longest comment": (lambda tmp: [member("a.txt", b"a")], {"comment": b"c" * 0xFFFF}),
    "no extended timestamps, one member keeping it": (
        lambda tmp: [
            member("a.txt", b"a"),
            member("b.txt", b"b", extended_timestamps=True),
            member("d/"),
        ],
        {"extended_timestamps": False},
    ),
    "times outside the extended timestamp's range": (
        lambda tmp: [
            ZipStreamFile("old.txt", b"o", modified_at=datetime(1960, 1, 1)),
            ZipStreamFile("future.txt", b"f", modified_at=datetime(2100, 1, 1)),
        ],
        {},
    ),
    "long UTF-8 names": (lambda tmp: [member("ü" * 30000 + ".txt", b"u")], {}),
    "65,535 members: zip64 end records": (
        lambda tmp: [member(f"m{index}", b"") for index in range(0xFFFF)],
        {},
    ),
}


@pytest.mark.parametrize("shape", list(SHAPES))
async def test_content_length_is_the_archive_length(shape: str, tmp_path: Path) -> None:
    (tmp_path / "p.bin").write_bytes(b"p" * 12345)
    make, options = SHAPES[shape]
    resource = create_zip_stream_resource(make(tmp_path), **options)
    assert resource.content_length is not None
    assert resource.headers["Content-Length"] == str(resource.content_length)
    assert await passes(resource) == (resource.content_length, resource.content_length)


UNKNOWN_LAYOUTS = {
    "stored bytes and a path": [1],
    "declared size within the hold-back": [0],
    "declared size past the hold-back: a data descriptor": [0],
}


def predicted(resource: Any) -> list[MemberLayout | None]:
    hold_back = resource._archive.hold_back_size
    return [
        predicted_layout(options, member.size, hold_back) for member, _, options in resource._named
    ]


def check_layouts(resource: Any, before: list[MemberLayout | None], data: bytes | None) -> None:
    """What a full pass remembered is what was predicted, and (read by zipfile) where each
    member's local header really is."""
    assert resource._written is not None  # (what was written, its offset) per member
    remembered = [MemberLayout(member, member_length(member)) for member, _ in resource._written]
    assert len(remembered) == len(before)
    for guess, layout in zip(before, remembered, strict=True):
        assert guess is None or guess == layout
    if data is not None:
        with zipfile.ZipFile(io.BytesIO(data)) as read:
            offsets = [info.header_offset for info in read.infolist()]
        ends = [0]
        for layout in remembered:
            ends.append(ends[-1] + layout.length)
        assert offsets == ends[:-1]
        assert read.start_dir == ends[-1]


@pytest.mark.parametrize("shape", list(SHAPES))
async def test_layouts_known_in_advance_are_the_layouts_written(shape: str, tmp_path: Path) -> None:
    (tmp_path / "p.bin").write_bytes(b"p" * 12345)
    make, options = SHAPES[shape]
    resource = create_zip_stream_resource(make(tmp_path), **options)
    before = predicted(resource)
    # A member's layout is known before its data is read unless it is stored from a
    # source (not in memory), unencrypted, without a CRC: its CRC is in its records.
    unknown = [index for index, layout in enumerate(before) if layout is None]
    assert unknown == UNKNOWN_LAYOUTS.get(shape, [])
    data = b"".join([bytes(chunk) async for chunk in resource])
    check_layouts(resource, before, data)


async def test_length_is_unknown_when_a_member_is_not_stored_with_a_known_size() -> None:
    async def unsized() -> AsyncGenerator[bytes, None]:
        yield b"x"

    deflated = member("d.txt", b"text " * 100, compression_method=COMPRESSION_METHOD_DEFLATE)
    assert create_zip_stream_resource([deflated]).content_length is None
    generator = unsized()
    resource = create_zip_stream_resource([member("g", generator)])
    assert resource.content_length is None
    assert "Content-Length" not in resource.headers
    await generator.aclose()


# --- either side of 4 GiB (slow: 8 GiB and more go through the encoder) -------------------

BIG_SHAPES = {
    # Sizes: one below the limit keeps 32-bit fields; at the limit zip64 begins.
    "a member of 4 GiB - 2 bytes, with its CRC": lambda: [
        member("below.bin", declared(ZIP64 - 1), crc32=crc_of(ZIP64 - 1))
    ],
    "a member of 4 GiB - 1 byte, with its CRC": lambda: [
        member("at.bin", declared(ZIP64), crc32=crc_of(ZIP64))
    ],
    "a member past 4 GiB, no CRC: zip64 data descriptor": lambda: [
        member("past.bin", declared(ZIP64 + MiB))
    ],
    # Encryption adds 28 bytes: the stored size fits 32 bits, the stored data does not.
    "an encrypted member of 4 GiB - 20 bytes": lambda: [
        member("encrypted.bin", declared(ZIP64 - 20), password="secret")
    ],
    # Offsets: the second member's local header starts past the limit.
    "a small member after 4 GiB": lambda: [
        member("first.bin", declared(ZIP64 - 10), crc32=crc_of(ZIP64 - 10)),
        member("second.txt", b"second"),
        member("third/"),
    ],
}


@pytest.mark.slow
@pytest.mark.parametrize("shape", list(BIG_SHAPES))
def test_content_length_either_side_of_4_gib(shape: str) -> None:
    resource = create_zip_stream_resource(BIG_SHAPES[shape]())
    assert resource.content_length is not None
    before = predicted(resource)
    total = sum(len(chunk) for chunk in resource.sync())
    assert total == resource.content_length
    check_layouts(resource, before, None)  # the layouts zip64 changes, as predicted


def test_a_small_archive_is_read_back() -> None:
    # What the shapes above hold is a zip, not only a count of bytes.
    resource = create_zip_stream_resource(
        [member("a.txt", b"a"), member("l", b"a.txt", mode=LINK)], comment="c"
    )
    data = b"".join(bytes(chunk) for chunk in resource.sync())
    assert len(data) == resource.content_length
    with zipfile.ZipFile(io.BytesIO(data)) as read:
        assert read.testzip() is None
        assert read.comment == b"c"
