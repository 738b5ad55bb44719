"""Sans-IO zip encoder: records as plain bytes, and archives checked by Python's zipfile."""

from __future__ import annotations

import io
import os
import random
import struct
import zipfile
import zlib
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, timezone

import pytest

from httpx_streaming import LengthMismatchError, _zip_deflate
from httpx_streaming._zip_deflate import PROBE_SIZE, REPROBE_SEGMENTS, SEGMENT_SIZE, Deflater
from httpx_streaming._zip_encoder import MemberOptions, ZipEncoder, archive_length
from httpx_streaming._zip_output import OUTPUT_CHUNK_SIZE
from httpx_streaming._zip_records import (
    COMPRESSION_METHOD_DEFLATE,
    COMPRESSION_METHOD_NONE,
    Entry,
    central_directory_header,
    data_descriptor,
    dos_date_time,
    end_of_archive,
    extended_timestamp,
    local_file_header,
)

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
) -> bytes:
    """Run the encoder over (options, declared size, chunks) members."""
    encoder = ZipEncoder(hold_back_size=hold_back_size)
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


# --- timestamps ------------------------------------------------------------------


def test_dos_date_time_fields() -> None:
    date, time = dos_date_time(datetime(2024, 5, 17, 13, 45, 31))
    assert date == ((2024 - 1980) << 9) | (5 << 5) | 17
    assert time == (13 << 11) | (45 << 5) | 15  # odd seconds round down


def test_dos_date_time_uses_wall_clock_of_aware_datetimes() -> None:
    moment = datetime(2024, 1, 1, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
    assert dos_date_time(moment) == dos_date_time(datetime(2024, 1, 1, 23, 30))


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (datetime(1970, 1, 1), datetime(1980, 1, 1)),
        (datetime(1979, 12, 31, 23, 59, 59), datetime(1980, 1, 1)),
        (datetime(2200, 6, 1), datetime(2107, 12, 31, 23, 59, 58)),
        (datetime(2107, 12, 31, 23, 59, 59), datetime(2107, 12, 31, 23, 59, 58)),
    ],
)
def test_dos_date_time_clamps(moment: datetime, expected: datetime) -> None:
    assert dos_date_time(moment) == dos_date_time(expected)


def test_extended_timestamp() -> None:
    assert extended_timestamp(UNIX) == struct.pack("<HHBI", 0x5455, 5, 1, UNIX)
    assert extended_timestamp(0) == struct.pack("<HHBI", 0x5455, 5, 1, 0)
    # Outside what a signed 32-bit field holds for every reader: left out.
    assert extended_timestamp(-1) == b""
    assert extended_timestamp(2**31) == b""
    assert extended_timestamp(None) == b""


# --- records ---------------------------------------------------------------------


def test_local_file_header_with_sizes() -> None:
    header = local_file_header(
        entry("dir/ü.txt"),
        method=COMPRESSION_METHOD_NONE,
        crc=0x12345678,
        compressed_size=10,
        uncompressed_size=10,
        data_descriptor=False,
        zip64=False,
    )
    fields = local_header_at(header)
    assert fields["signature"] == 0x04034B50
    assert fields["version"] == 10
    assert fields["flags"] == 0x0800  # UTF-8 names
    assert (fields["crc"], fields["csize"], fields["usize"]) == (0x12345678, 10, 10)
    assert fields["name"] == "dir/ü.txt".encode()
    assert fields["extra"] == {0x5455: struct.pack("<BI", 1, UNIX)}
    assert fields["end"] == len(header)


def test_local_file_header_with_descriptor_zeroes_crc_and_sizes() -> None:
    header = local_file_header(
        entry(),
        method=COMPRESSION_METHOD_DEFLATE,
        crc=5,
        compressed_size=6,
        uncompressed_size=7,
        data_descriptor=True,
        zip64=False,
    )
    fields = local_header_at(header)
    assert fields["flags"] == 0x0808
    assert fields["version"] == 20
    assert (fields["crc"], fields["csize"], fields["usize"]) == (0, 0, 0)
    assert 0x0001 not in fields["extra"]  # type: ignore[operator]


def test_local_file_header_zip64() -> None:
    size = 5 * 2**30
    header = local_file_header(
        entry(),
        method=COMPRESSION_METHOD_NONE,
        crc=1,
        compressed_size=size,
        uncompressed_size=size,
        data_descriptor=False,
        zip64=True,
    )
    fields = local_header_at(header)
    assert fields["version"] == 45
    assert (fields["csize"], fields["usize"]) == (0xFFFFFFFF, 0xFFFFFFFF)
    assert fields["extra"][0x0001] == struct.pack("<QQ", size, size)  # type: ignore[index]
    # With a data descriptor the zip64 extra is still there (it tells streaming
    # readers the descriptor has 8-byte sizes) but holds zeros.
    header = local_file_header(
        entry(),
        method=COMPRESSION_METHOD_DEFLATE,
        crc=1,
        compressed_size=size,
        uncompressed_size=size,
        data_descriptor=True,
        zip64=True,
    )
    fields = local_header_at(header)
    assert fields["extra"][0x0001] == bytes(16)  # type: ignore[index]
    assert fields["crc"] == 0


def test_local_file_header_refuses_big_sizes_without_zip64() -> None:
    with pytest.raises(ValueError, match="zip64"):
        local_file_header(
            entry(),
            method=0,
            crc=0,
            compressed_size=2**32,
            uncompressed_size=2**32,
            data_descriptor=False,
            zip64=False,
        )


def test_data_descriptor() -> None:
    assert data_descriptor(7, 8, 9, zip64=False) == struct.pack("<IIII", 0x08074B50, 7, 8, 9)
    assert data_descriptor(7, 8, 9, zip64=True) == struct.pack("<IIQQ", 0x08074B50, 7, 8, 9)
    with pytest.raises(ValueError):
        data_descriptor(7, 2**32, 9, zip64=False)


def test_central_directory_header_zip64_only_for_big_values() -> None:
    small = central_directory_header(
        entry(),
        method=0,
        crc=1,
        compressed_size=10,
        uncompressed_size=10,
        offset=2**32 + 5,
        data_descriptor=False,
    )
    fields = struct.unpack_from("<IHHHHHHIIIHHHHHII", small)
    assert fields[0] == 0x02014B50
    assert fields[1] >> 8 == 3  # made by unix: permissions are honoured
    assert fields[2] == 45
    assert (fields[8], fields[9], fields[16]) == (10, 10, 0xFFFFFFFF)
    extra = parse_extra(small[46 + fields[10] : 46 + fields[10] + fields[11]])
    assert extra[0x0001] == struct.pack("<Q", 2**32 + 5)  # only the offset

    big = central_directory_header(
        entry(),
        method=8,
        crc=1,
        compressed_size=100,
        uncompressed_size=2**33,
        offset=3,
        data_descriptor=True,
    )
    fields = struct.unpack_from("<IHHHHHHIIIHHHHHII", big)
    assert fields[3] == 0x0808
    assert (fields[8], fields[9], fields[16]) == (100, 0xFFFFFFFF, 3)
    extra = parse_extra(big[46 + fields[10] : 46 + fields[10] + fields[11]])
    assert extra[0x0001] == struct.pack("<Q", 2**33)

    plain = central_directory_header(
        entry("d/"),
        method=0,
        crc=0,
        compressed_size=0,
        uncompressed_size=0,
        offset=0,
        data_descriptor=False,
    )
    fields = struct.unpack_from("<IHHHHHHIIIHHHHHII", plain)
    assert fields[2] == 20  # folders need 2.0
    assert fields[15] == ((0o040755 << 16) | 0x10)
    assert 0x0001 not in parse_extra(plain[46 + fields[10] :])


def test_end_of_archive_zip32_and_zip64() -> None:
    plain = end_of_archive(3, 100, 50)
    assert plain == struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 3, 3, 50, 100, 0)
    for count, offset in ((0xFFFF, 100), (70000, 100), (3, 2**32)):
        records = end_of_archive(count, offset, 50)
        assert len(records) == 56 + 20 + 22
        end64 = struct.unpack_from("<IQHHIIQQQQ", records)
        assert end64[0] == 0x06064B50
        assert end64[1] == 44
        assert (end64[6], end64[7], end64[8], end64[9]) == (count, count, 50, offset)
        locator = struct.unpack_from("<IIQI", records, 56)
        assert locator == (0x07064B50, 0, offset + 50, 1)
        end = struct.unpack_from("<IHHHHIIH", records, 76)
        assert end[3] == min(count, 0xFFFF)
        assert end[6] == min(offset, 0xFFFFFFFF)


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


# --- deflate ---------------------------------------------------------------------


def text_bytes(size: int, seed: int = 1) -> bytes:
    words = [b"zip", b"stream", b"deflate", b"anyio", b"trio", b"chunk", b"header", b"\n"]
    generator = random.Random(seed)
    out = bytearray()
    while len(out) < size:
        out += generator.choice(words) + b" "
    return bytes(out[:size])


def test_incompressible_small_member_is_stored() -> None:
    data = os.urandom(500)
    archive = encode([(options(method=COMPRESSION_METHOD_DEFLATE), None, [data])])
    fields = local_header_at(archive)
    assert fields["method"] == 0
    assert (fields["crc"], fields["csize"]) == (zlib.crc32(data), 500)
    with verified(archive) as archive_file:
        assert archive_file.read("a.txt") == data


def test_incompressible_held_member_skips_full_compression(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    original = _zip_deflate.compress_whole

    def counting(data: Sequence[bytes], level: int) -> list[bytes]:
        calls.append(sum(len(piece) for piece in data))
        return original(data, level)

    monkeypatch.setattr(_zip_deflate, "compress_whole", counting)
    data = os.urandom(300_000)
    archive = encode(
        [(options(method=COMPRESSION_METHOD_DEFLATE), None, chunked(data, 65536))],
        hold_back_size=1_000_000,
    )
    assert calls == []  # the probe said no: nothing was compressed in full
    assert local_header_at(archive)["method"] == 0


def test_compressible_member_within_hold_back() -> None:
    data = text_bytes(200_000)
    archive = encode(
        [(options(method=COMPRESSION_METHOD_DEFLATE), None, chunked(data, 10_000))],
        hold_back_size=1_000_000,
    )
    fields = local_header_at(archive)
    assert fields["method"] == 8
    assert fields["flags"] == 0x800
    assert fields["usize"] == 200_000
    assert fields["csize"] < 100_000  # type: ignore[operator]
    with verified(archive) as archive_file:
        assert archive_file.read("a.txt") == data


@pytest.mark.parametrize("level", [1, 6, 9])
def test_long_deflate_member_uses_descriptor(level: int) -> None:
    data = text_bytes(3_000_000)
    archive = encode(
        [(options(method=COMPRESSION_METHOD_DEFLATE, level=level), None, chunked(data, 65536))],
        hold_back_size=100_000,
    )
    fields = local_header_at(archive)
    assert fields["method"] == 8
    assert fields["flags"] == 0x808
    assert fields["extra"][0x0001] == bytes(16)  # type: ignore[index]
    with verified(archive) as archive_file:
        assert archive_file.read("a.txt") == data
        assert archive_file.infolist()[0].compress_size < 1_500_000


def test_long_deflate_member_of_known_size_has_no_zip64() -> None:
    data = text_bytes(500_000)
    archive = encode(
        [(options(method=COMPRESSION_METHOD_DEFLATE), len(data), chunked(data, 65536))],
        hold_back_size=100_000,
    )
    fields = local_header_at(archive)
    assert fields["flags"] == 0x808
    assert 0x0001 not in fields["extra"]  # type: ignore[operator]
    with verified(archive) as archive_file:
        assert archive_file.read("a.txt") == data


def test_long_incompressible_member_is_deflated_as_stored_blocks() -> None:
    data = os.urandom(3_000_000)
    archive = encode(
        [(options(method=COMPRESSION_METHOD_DEFLATE), None, chunked(data, 65536))],
        hold_back_size=100_000,
    )
    with verified(archive) as archive_file:
        info = archive_file.infolist()[0]
        assert info.compress_type == zipfile.ZIP_DEFLATED
        assert archive_file.read(info) == data
        assert info.compress_size < len(data) * 1.001


def test_deflater_switches_both_ways() -> None:
    text = text_bytes(SEGMENT_SIZE * 2)
    noise = os.urandom(SEGMENT_SIZE * 3)
    # Compressible, then incompressible (switch to stored blocks), then
    # compressible again after the re-probe interval.
    data = text + noise + text_bytes(SEGMENT_SIZE * (REPROBE_SEGMENTS + 2), seed=2)
    deflater = Deflater(6, incompressible=False)
    out = []
    states = []
    for piece in chunked(data, 100_000):
        out.extend(deflater.compress(piece))
        states.append(deflater.storing)
    out.extend(deflater.flush())
    packed = b"".join(out)
    assert zlib.decompress(packed, -15) == data
    assert True in states and states[-1] is False
    assert deflater.compressed_size == len(packed)


def random_chunks(data: bytes, seed: int) -> list[bytes]:
    generator = random.Random(seed)
    chunks = []
    position = 0
    while position < len(data):
        size = generator.randint(1, 100_000)
        chunks.append(data[position : position + size])
        position += size
    return chunks


@pytest.mark.parametrize("level", [0, 1, 3, 6])
@pytest.mark.parametrize("kind", ["mixed", "random"])
def test_deflate_output_does_not_depend_on_chunking(level: int, kind: str) -> None:
    if kind == "mixed":
        data = text_bytes(1_500_000) + os.urandom(1_200_000) + text_bytes(800_000, seed=3)
    else:
        data = os.urandom(2_500_000)
    chunkings = [chunked(data, size) for size in (1000, 65536, 77_777, len(data))]
    chunkings += [random_chunks(data, seed) for seed in range(3)]
    archives = {
        encode(
            [(options(method=COMPRESSION_METHOD_DEFLATE, level=level), None, chunks)],
            hold_back_size=50_000,
        )
        for chunks in chunkings
    }
    assert len(archives) == 1
    with verified(archives.pop()) as archive_file:
        assert archive_file.read("a.txt") == data


def test_empty_deflate_member_is_stored() -> None:
    archive = encode([(options(method=COMPRESSION_METHOD_DEFLATE), 0, [])])
    assert local_header_at(archive)["method"] == 0
    with verified(archive) as archive_file:
        assert archive_file.read("a.txt") == b""


# --- archive length known in advance ---------------------------------------------


@pytest.mark.parametrize("hold_back_size", [0, 100, 5000])
def test_archive_length_matches_output(hold_back_size: int) -> None:
    data = os.urandom(3000)
    members: list[tuple[MemberOptions, int | None, Sequence[bytes]]] = [
        (options("a"), 3000, chunked(data, 1000)),
        (options("b", crc=zlib.crc32(data)), 3000, [data]),
        (options("c/"), 0, []),
        (options("d"), 0, []),
        (options("e", COMPRESSION_METHOD_DEFLATE), 0, []),
        (options("ü" * 300), 50, [data[:50]]),
    ]
    archive = encode(members, hold_back_size=hold_back_size)
    predicted = archive_length([(member[0], member[1]) for member in members], hold_back_size)
    assert predicted == len(archive)
    verified(archive).close()


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
