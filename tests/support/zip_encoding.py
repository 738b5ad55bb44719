"""Helpers for the sans-IO zip encoder tests: members' options, running the encoder,
reading records, test data.

Used by ``test_zip_records.py``, ``test_zip_deflate.py`` and ``test_zip_encoder.py``.
"""

from __future__ import annotations

import io
import random
import struct
import zipfile
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone

from httpx_streaming._zip_encoder import MemberOptions, ZipEncoder
from httpx_streaming._zip_records import COMPRESSION_METHOD_NONE, Entry, dos_date_time

MOMENT = datetime(2024, 5, 17, 13, 45, 31, tzinfo=timezone.utc)
UNIX = int(MOMENT.timestamp())


def entry(name: str = "a.txt", *, mode: int | None = None, unix_time: int | None = UNIX) -> Entry:
    is_dir = name.endswith("/")
    date, time = dos_date_time(MOMENT)
    if mode is None:
        mode = 0o755 if is_dir else 0o644
    return Entry.make(
        name, is_dir=is_dir, dos_date=date, dos_time=time, unix_time=unix_time, mode=mode
    )


def options(
    name: str = "a.txt",
    method: int = COMPRESSION_METHOD_NONE,
    *,
    level: int = 6,
    crc: int | None = None,
) -> MemberOptions:
    return MemberOptions(entry(name), method, level, crc)


Member = tuple[MemberOptions, "int | None", Sequence[bytes]]


def encode(
    members: Iterable[tuple[MemberOptions, int | None, Sequence[bytes]]],
    *,
    hold_back_size: int = 1000,
    learn: dict[int, int] | None = None,
    comment: bytes = b"",
) -> bytes:
    """Run the encoder over (options, declared size, chunks) members."""
    encoder = ZipEncoder(hold_back_size=hold_back_size, comment=comment)
    out: list[bytes] = []
    for index, (member_options, size, chunks) in enumerate(members):
        encoder.begin(member_options, size)
        for position, chunk in enumerate(chunks):
            # As the async layer does: a response's length is known with its first chunk.
            if position == 0 and learn and index in learn:
                encoder.learn_size(learn[index])
            encoder.feed(chunk)
            out.extend(bytes(piece) for piece in encoder.take())
        encoder.end()
        out.extend(bytes(piece) for piece in encoder.take())
    encoder.finish()
    out.extend(bytes(piece) for piece in encoder.take())
    return b"".join(out)


def chunked(data: bytes, size: int) -> list[bytes]:
    return [data[index : index + size] for index in range(0, len(data), size)]


def local_header_at(archive: bytes, offset: int = 0) -> dict[str, object]:
    fields = struct.unpack_from("<IHHHHHIIIHH", archive, offset)
    name_length, extra_length = fields[9], fields[10]
    start = offset + 30
    extra = archive[start + name_length : start + name_length + extra_length]
    return {
        "signature": fields[0],
        "version": fields[1],
        "flags": fields[2],
        "method": fields[3],
        "crc": fields[6],
        "csize": fields[7],
        "usize": fields[8],
        "name": archive[start : start + name_length],
        "extra": parse_extra(extra),
        "end": start + name_length + extra_length,
    }


def parse_extra(extra: bytes) -> dict[int, bytes]:
    fields = {}
    position = 0
    while position < len(extra):
        tag, size = struct.unpack_from("<HH", extra, position)
        fields[tag] = extra[position + 4 : position + 4 + size]
        position += 4 + size
    return fields


def verified(archive: bytes) -> zipfile.ZipFile:
    """Open with Python's zipfile and check every CRC."""
    archive_file = zipfile.ZipFile(io.BytesIO(archive))
    assert archive_file.testzip() is None
    return archive_file


def text_bytes(size: int, seed: int = 1) -> bytes:
    words = [b"zip", b"stream", b"deflate", b"anyio", b"trio", b"chunk", b"header", b"\n"]
    generator = random.Random(seed)
    out = bytearray()
    while len(out) < size:
        out += generator.choice(words) + b" "
    return bytes(out[:size])


def random_chunks(data: bytes, seed: int) -> list[bytes]:
    generator = random.Random(seed)
    chunks = []
    position = 0
    while position < len(data):
        size = generator.randint(1, 100_000)
        chunks.append(data[position : position + size])
        position += size
    return chunks
