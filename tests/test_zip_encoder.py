"""The sans-IO zip encoder (``_zip_encoder``): archives checked by Python's zipfile, their
length known in advance, past 4 GiB, ``add`` against ``begin``/``feed``/``end``, CRC checks."""

from __future__ import annotations

import io
import os
import random
import zipfile
import zlib
from collections.abc import Sequence

import pytest
from zip_encoding import (
    chunked,
    encode,
    local_header_at,
    options,
    parse_extra,
    random_chunks,
    text_bytes,
    verified,
)

from httpx_streaming import LengthMismatchError
from httpx_streaming._zip_deflate import PROBE_SIZE
from httpx_streaming._zip_encoder import (
    MemberOptions,
    ZipEncoder,
    archive_length,
    encode_member,
)
from httpx_streaming._zip_output import OUTPUT_CHUNK_SIZE
from httpx_streaming._zip_records import (
    COMPRESSION_METHOD_DEFLATE,
    COMPRESSION_METHOD_NONE,
    data_descriptor,
)

# --- the encoder, checked with zipfile --------------------------------------------


def test_small_archive_is_plain_zip32() -> None:
    archive = encode(
        [
            (options("a.txt"), 5, [b"hello"]),
            (options("empty"), 0, []),
            (options("dir/"), None, []),
            (options("deflated.txt", COMPRESSION_METHOD_DEFLATE), None, [b"text " * 200]),
        ]
    )
    assert b"PK\x06\x06" not in archive
    assert b"PK\x07\x08" not in archive  # everything ended within the hold-back
    with verified(archive) as archive_file:
        infos = archive_file.infolist()
        assert [info.filename for info in infos] == ["a.txt", "empty", "dir/", "deflated.txt"]
        assert archive_file.read("a.txt") == b"hello"
        assert archive_file.read("empty") == b""
        assert infos[2].is_dir()
        assert infos[3].compress_type == zipfile.ZIP_DEFLATED
        assert archive_file.read("deflated.txt") == b"text " * 200
        for info in infos:
            assert info.extra == b"" or 0x0001 not in parse_extra(info.extra)
            assert info.create_system == 3
            assert info.date_time == (2024, 5, 17, 13, 45, 30)
        assert infos[0].external_attr >> 16 == 0o100644
        assert infos[2].external_attr >> 16 == 0o040755


def test_unicode_names_are_flagged_utf8() -> None:
    with verified(encode([(options("π/ünï.txt"), 1, [b"x"])])) as archive_file:
        info = archive_file.infolist()[0]
        assert info.filename == "π/ünï.txt"
        assert info.flag_bits & 0x800


def test_stored_known_size_and_crc_goes_in_header_however_long() -> None:
    data = os.urandom(5000)
    archive = encode(
        [(options(crc=zlib.crc32(data)), len(data), chunked(data, 700))], hold_back_size=10
    )
    fields = local_header_at(archive)
    assert fields["flags"] == 0x800
    assert (fields["crc"], fields["usize"]) == (zlib.crc32(data), 5000)
    assert b"PK\x07\x08" not in archive
    with verified(archive) as archive_file:
        assert archive_file.read("a.txt") == data


def test_stored_known_size_within_hold_back_gets_crc_in_header() -> None:
    data = os.urandom(900)
    archive = encode([(options(), len(data), chunked(data, 100))], hold_back_size=1000)
    fields = local_header_at(archive)
    assert (fields["flags"], fields["crc"], fields["usize"]) == (0x800, zlib.crc32(data), 900)


def test_stored_known_size_past_hold_back_uses_32_bit_descriptor() -> None:
    data = os.urandom(3000)
    archive = encode([(options(), len(data), chunked(data, 100))], hold_back_size=1000)
    fields = local_header_at(archive)
    assert fields["flags"] == 0x808
    assert 0x0001 not in fields["extra"]  # type: ignore[operator]
    end = fields["end"] + len(data)  # type: ignore[operator]
    assert archive[end : end + 16] == data_descriptor(zlib.crc32(data), 3000, 3000, zip64=False)
    with verified(archive) as archive_file:
        assert archive_file.read("a.txt") == data


def test_unknown_size_within_hold_back_gets_sizes_in_header() -> None:
    data = os.urandom(1000)
    archive = encode([(options(), None, chunked(data, 300))], hold_back_size=1000)
    fields = local_header_at(archive)
    assert (fields["flags"], fields["crc"], fields["usize"]) == (0x800, zlib.crc32(data), 1000)
    assert fields["extra"].keys() == {0x5455}  # type: ignore[attr-defined]


def test_unknown_size_past_hold_back_falls_back_to_zip64_descriptor() -> None:
    data = os.urandom(1001)
    archive = encode([(options(), None, chunked(data, 300))], hold_back_size=1000)
    fields = local_header_at(archive)
    assert fields["flags"] == 0x808
    assert fields["extra"][0x0001] == bytes(16)  # type: ignore[index]
    end = fields["end"] + len(data)  # type: ignore[operator]
    assert archive[end : end + 24] == data_descriptor(zlib.crc32(data), 1001, 1001, zip64=True)
    with verified(archive) as archive_file:
        info = archive_file.infolist()[0]
        assert archive_file.read(info) == data
        # The central directory needs no zip64 for such small values.
        assert 0x0001 not in parse_extra(info.extra)


def test_size_learned_after_first_chunk() -> None:
    data = os.urandom(3000)
    # Past the hold-back once known: a 32-bit descriptor, no zip64.
    archive = encode([(options(), None, chunked(data, 500))], hold_back_size=1000, learn={0: 3000})
    fields = local_header_at(archive)
    assert fields["flags"] == 0x808
    assert 0x0001 not in fields["extra"]  # type: ignore[operator]
    with verified(archive) as archive_file:
        assert archive_file.read("a.txt") == data
    # Within the hold-back: sizes in the header.
    archive = encode([(options(), None, chunked(data, 500))], hold_back_size=4000, learn={0: 3000})
    assert local_header_at(archive)["usize"] == 3000


def test_length_mismatch_is_an_error() -> None:
    for size, chunks in ((10, [b"x" * 11]), (10, [b"x" * 9]), (3000, [b"x" * 2000] * 2)):
        encoder = ZipEncoder(hold_back_size=1000)
        encoder.begin(options(), size)
        with pytest.raises(LengthMismatchError, match=r"a\.txt"):
            for chunk in chunks:
                encoder.feed(chunk)
            encoder.end()


def test_wrong_crc_is_an_error() -> None:
    encoder = ZipEncoder()
    encoder.begin(options(crc=1234), 5)
    encoder.feed(b"hello")
    with pytest.raises(ValueError, match="crc32"):
        encoder.end()


def test_folder_with_data_is_an_error() -> None:
    encoder = ZipEncoder()
    with pytest.raises(ValueError, match="folder"):
        encoder.begin(options("d/"), 3)


def test_many_members_switch_to_zip64_end_records() -> None:
    encoder = ZipEncoder()
    for index in range(0xFFFF + 2):
        encoder.begin(options(f"{index}"), 1)
        encoder.feed(b"x")
        encoder.end()
    encoder.finish()
    archive = b"".join(bytes(chunk) for chunk in encoder.take())
    assert b"PK\x06\x06" in archive
    with zipfile.ZipFile(io.BytesIO(archive)) as archive_file:
        names = archive_file.namelist()
        assert len(names) == 0xFFFF + 2
        assert names[-1] == str(0xFFFF + 1)
        assert archive_file.read("65536") == b"x"


def test_small_pieces_are_coalesced_and_big_chunks_pass_through() -> None:
    encoder = ZipEncoder()
    chunks: list[object] = []
    for index in range(200):
        encoder.begin(options(f"{index}.txt"), 100)
        encoder.feed(b"y" * 100)
        encoder.end()
        chunks.extend(encoder.take())
    big = bytes(OUTPUT_CHUNK_SIZE * 4)
    encoder.begin(options("big", crc=zlib.crc32(big)), len(big))
    encoder.feed(big)
    taken = encoder.take()
    assert any(chunk is big for chunk in taken)
    chunks.extend(taken)
    encoder.end()
    encoder.finish()
    chunks.extend(encoder.take())
    # 200 members of ~250 bytes each went out in a few chunks.
    assert len(chunks) < 10


# --- archive length known in advance ---------------------------------------------


@pytest.mark.parametrize("comment", [b"", "a comment, ünïcödé".encode(), b"c" * 0xFFFF])
@pytest.mark.parametrize("hold_back_size", [0, 100, 5000])
def test_archive_length_matches_output(hold_back_size: int, comment: bytes) -> None:
    data = os.urandom(3000)
    members: list[tuple[MemberOptions, int | None, Sequence[bytes]]] = [
        (options("a"), 3000, chunked(data, 1000)),
        (options("b", crc=zlib.crc32(data)), 3000, [data]),
        (options("c/"), 0, []),
        (options("d"), 0, []),
        (options("e", COMPRESSION_METHOD_DEFLATE), 0, []),
        (options("ü" * 300), 50, [data[:50]]),
    ]
    archive = encode(members, hold_back_size=hold_back_size, comment=comment)
    predicted = archive_length(
        [(member[0], member[1]) for member in members], hold_back_size, comment
    )
    assert predicted == len(archive)
    with verified(archive) as read:
        assert read.comment == comment


def test_archive_length_unknown() -> None:
    assert archive_length([(options(), None)], 100) is None
    assert archive_length([(options(method=COMPRESSION_METHOD_DEFLATE), 10)], 100) is None


# --- past 4 GiB, without holding 4 GiB ---------------------------------------------


class VirtualFile(io.RawIOBase):
    """A read-only file made of bytes pieces and runs of zeros (never materialized)."""

    def __init__(self, pieces: list[bytes | int]) -> None:
        self._starts: list[int] = []
        self._pieces = pieces
        position = 0
        for piece in pieces:
            self._starts.append(position)
            position += piece if isinstance(piece, int) else len(piece)
        self._size = position
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._position, 2: self._size}[whence]
        self._position = base + offset
        return self._position

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        import bisect

        if self._position >= self._size:
            return 0
        index = bisect.bisect_right(self._starts, self._position) - 1
        piece = self._pieces[index]
        skip = self._position - self._starts[index]
        length = piece if isinstance(piece, int) else len(piece)
        count = min(len(buffer), length - skip)
        if isinstance(piece, int):
            buffer[:count] = bytes(count)
        else:
            buffer[:count] = piece[skip : skip + count]
        self._position += count
        return count


@pytest.mark.slow
def test_member_past_4_gib_and_offsets_past_4_gib() -> None:
    zeros = bytes(16 * 1024 * 1024)
    size = 2**32 + len(zeros)  # passes 4 GiB
    encoder = ZipEncoder()
    pieces: list[bytes | int] = []

    def collect() -> None:
        for chunk in encoder.take():
            if chunk is zeros:
                if pieces and isinstance(pieces[-1], int):
                    pieces[-1] += len(zeros)
                else:
                    pieces.append(len(zeros))
            else:
                pieces.append(bytes(chunk))

    crc = 0
    for _ in range(size // len(zeros)):
        crc = zlib.crc32(zeros, crc)
    # Declared size, CRC unknown: zip64 in the local header, 8-byte descriptor.
    encoder.begin(options("big.bin"), size)
    for _ in range(size // len(zeros)):
        encoder.feed(zeros)
        collect()
    encoder.end()
    encoder.begin(options("after.txt"), 5)
    encoder.feed(b"after")
    encoder.end()
    encoder.finish()
    collect()
    header = local_header_at(pieces[0])  # type: ignore[arg-type]
    assert header["flags"] == 0x808
    assert header["extra"][0x0001] == bytes(16)  # type: ignore[index]
    with zipfile.ZipFile(io.BufferedReader(VirtualFile(pieces), 1 << 20)) as archive_file:
        big, after = archive_file.infolist()
        assert (big.file_size, big.CRC) == (size, crc)
        assert after.header_offset > 2**32
        assert archive_file.read("after.txt") == b"after"
        with archive_file.open(big) as member:  # reads it all and checks the CRC
            while member.read(1 << 24):
                pass


@pytest.mark.parametrize("hold_back_size", [0, 1000, 100_000])
def test_add_matches_begin_feed_end(hold_back_size: int) -> None:
    datas = [b"", b"abc", os.urandom(5000), text_bytes(70_000), os.urandom(70_000)]
    cases = [
        options(f"{index}-{method}-{crc}", method, crc=zlib.crc32(data) if crc else None)
        for index, data in enumerate(datas)
        for method in (COMPRESSION_METHOD_NONE, COMPRESSION_METHOD_DEFLATE)
        for crc in (False, True)
    ]
    datas_per_case = [data for data in datas for _ in range(4)]
    fast = ZipEncoder(hold_back_size=hold_back_size)
    slow = ZipEncoder(hold_back_size=hold_back_size)
    for case, data in zip(cases, datas_per_case, strict=True):
        fast.add(case, data)
        slow.begin(case, len(data))
        slow.feed(data)
        slow.end()
    fast.finish()
    slow.finish()
    archive = b"".join(bytes(chunk) for chunk in fast.take())
    assert archive == b"".join(bytes(chunk) for chunk in slow.take())
    verified(archive).close()


@pytest.mark.parametrize(
    ("method", "size", "zip64"),
    [
        (COMPRESSION_METHOD_NONE, 2**32 - 2, False),
        (COMPRESSION_METHOD_NONE, 2**32 - 1, True),  # 0xFFFFFFFF itself means "see zip64"
        (COMPRESSION_METHOD_NONE, 5 * 2**30, True),
        (COMPRESSION_METHOD_DEFLATE, 2**32 - 16 * 2**20, False),
        (COMPRESSION_METHOD_DEFLATE, 2**32 - 2**20, True),  # its deflate output might pass 4 GiB
        (COMPRESSION_METHOD_DEFLATE, 5 * 2**30, True),
    ],
)
def test_local_zip64_decision_for_declared_sizes(method: int, size: int, zip64: bool) -> None:
    encoder = ZipEncoder()
    encoder.begin(options(method=method), size)
    encoder.feed(text_bytes(PROBE_SIZE + 1))
    encoder.flush()
    header = local_header_at(b"".join(bytes(chunk) for chunk in encoder.take()))
    assert header["flags"] == 0x808
    assert (0x0001 in header["extra"]) is zip64  # type: ignore[operator]


@pytest.mark.parametrize("seed", range(12))
def test_random_archives_read_back(seed: int) -> None:
    """Random members, sizes, chunkings, methods and hold-backs: zipfile reads them all."""
    generator = random.Random(seed)
    hold_back_size = generator.choice([0, 10, 1000, 70_000, 300_000])
    members: list[tuple[MemberOptions, int | None, Sequence[bytes]]] = []
    expected: dict[str, bytes] = {}
    learn: dict[int, int] = {}
    for index in range(generator.randint(1, 12)):
        size = generator.choice([0, 1, 100, 5000, 65536, 70_000, 250_000])
        kind = generator.choice(["text", "random", "zeros"])
        data = {
            "text": text_bytes(size, seed=index),
            "random": generator.randbytes(size),
            "zeros": bytes(size),
        }[kind]
        name = f"m{index}" + generator.choice(["", "/"] if size == 0 else [""])
        method = generator.choice([COMPRESSION_METHOD_NONE, COMPRESSION_METHOD_DEFLATE])
        crc = zlib.crc32(data) if generator.random() < 0.3 else None
        declared = generator.choice(["known", "unknown", "learned"])
        if name.endswith("/"):
            method, crc, declared = COMPRESSION_METHOD_NONE, None, "known"
        if declared == "learned" and data:
            learn[len(members)] = len(data)
        chunks = random_chunks(data, seed * 100 + index) if data else []
        member_options = options(name, method, level=generator.choice([1, 6]), crc=crc)
        members.append((member_options, len(data) if declared == "known" else None, chunks))
        expected[name] = data
    archive = encode(members, hold_back_size=hold_back_size, learn=learn)
    with verified(archive) as archive_file:
        assert archive_file.namelist() == list(expected)
        for name, data in expected.items():
            assert archive_file.read(name) == data
    predicted = archive_length([(member[0], member[1]) for member in members], hold_back_size)
    if predicted is not None:
        assert predicted == len(archive)


@pytest.mark.parametrize("method", [COMPRESSION_METHOD_NONE, COMPRESSION_METHOD_DEFLATE])
def test_add_checks_a_given_crc_before_writing_anything(method: int) -> None:
    encoder = ZipEncoder()
    encoder.add(options("first.txt"), b"first")
    encoder.flush()
    written = b"".join(bytes(chunk) for chunk in encoder.take())
    with pytest.raises(ValueError, match=r"zip member 'a\.txt' was given crc32=0x000004d2"):
        encoder.add(options(method=method, crc=1234), b"hello" * 100)
    encoder.flush()
    assert encoder.take() == []  # not even the local header went out
    encoder.add(options("after.txt"), b"after")  # the archive goes on without it
    encoder.finish()
    archive = written + b"".join(bytes(chunk) for chunk in encoder.take())
    with verified(archive) as archive_file:
        assert archive_file.namelist() == ["first.txt", "after.txt"]


@pytest.mark.parametrize("seed", range(8))
def test_members_encoded_apart_land_byte_identical(seed: int) -> None:
    """Any member may be encoded on its own (a worker thread does that) with other
    chunks: the archive is the very same bytes."""
    generator = random.Random(seed)
    hold_back_size = generator.choice([0, 1000, 70_000])
    members: list[tuple[MemberOptions, int | None, Sequence[bytes]]] = []
    for index in range(generator.randint(2, 10)):
        size = generator.choice([0, 100, 5000, 70_000, 250_000])
        data = text_bytes(size, seed=index) if generator.random() < 0.7 else random.randbytes(size)
        method = generator.choice([COMPRESSION_METHOD_NONE, COMPRESSION_METHOD_DEFLATE])
        chunks = random_chunks(data, seed * 100 + index) if data else []
        declared = len(data) if generator.random() < 0.5 else None
        members.append((options(f"m{index}", method, level=6), declared, chunks))
    expected = encode(members, hold_back_size=hold_back_size)
    encoder = ZipEncoder(hold_back_size=hold_back_size)
    out: list[bytes] = []
    for index, (member_options, declared, chunks) in enumerate(members):
        if index % 2:
            rechunked = chunked(b"".join(chunks), 7777) if chunks else []
            encoded = encode_member(member_options, declared, rechunked, hold_back_size)
            encoder.add_encoded(encoded)
        else:
            encoder.begin(member_options, declared)
            for chunk in chunks:
                encoder.feed(chunk)
            encoder.end()
        out.extend(bytes(piece) for piece in encoder.take())
    encoder.finish()
    out.extend(bytes(piece) for piece in encoder.take())
    assert b"".join(out) == expected
    with verified(expected) as archive_file:
        assert len(archive_file.namelist()) == len(members)
