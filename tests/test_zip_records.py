"""Zip records as plain bytes (``_zip_records``): DOS and extended timestamps, local and
central headers, data descriptors, end records."""

from __future__ import annotations

import struct
from datetime import datetime, timedelta, timezone

import pytest
from zip_encoding import UNIX, entry, local_header_at, parse_extra

from httpx_streaming._zip_records import (
    COMPRESSION_METHOD_DEFLATE,
    COMPRESSION_METHOD_NONE,
    central_directory_header,
    central_header_length,
    data_descriptor,
    dos_date_time,
    end_of_archive,
    extended_timestamp,
    local_file_header,
    local_header_length,
)

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


BIG = 0xFFFFFFFF  # the first value that needs zip64


@pytest.mark.parametrize("name", ["a", "dir/ü.txt", "d/", "n" * 300])
@pytest.mark.parametrize("unix_time", [UNIX, None])
@pytest.mark.parametrize("size", [0, 10, BIG - 1, BIG, 2**40])
@pytest.mark.parametrize("offset", [0, BIG - 1, BIG])
def test_record_lengths_are_the_records_lengths(
    name: str, unix_time: int | None, size: int, offset: int
) -> None:
    # archive_length adds these up instead of building every record: they must
    # agree with the records for every zip64 case (sizes and offset either side
    # of the limit, with and without the extended timestamp).
    member = entry(name, unix_time=unix_time)
    for compressed in (size, 7):
        for zip64 in (False, True) if size < BIG else (True,):
            for descriptor in (False, True):
                local = local_file_header(member, 0, 1, compressed, size, descriptor, zip64)
                assert local_header_length(member, zip64) == len(local)
                central = central_directory_header(
                    member, 0, 1, compressed, size, offset, descriptor, zip64
                )
                assert central_header_length(member, compressed, size, offset) == len(central)


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
    commented = end_of_archive(3, 100, 50, b"hello")
    assert commented == struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 3, 3, 50, 100, 5) + b"hello"
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
