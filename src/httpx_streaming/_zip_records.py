"""Zip records, sans-IO: the bytes of local headers, descriptors, central and end records.

Record layouts follow PKWARE's APPNOTE.TXT (6.3.x). Every function here turns
plain values into the bytes of one record; nothing awaits or reads. The
encoder builds archives from these functions only; ``archive_length`` adds up
the lengths that ``local_header_length`` and ``central_header_length`` say the
same records have (tests hold them to the records' real lengths).
"""

from __future__ import annotations

import struct
from datetime import datetime
from functools import lru_cache
from typing import Final, NamedTuple

from ._zip_aes import AES_EXTRA_SIZE, AES_METHOD, aes_extra

COMPRESSION_METHOD_NONE: Final = 0
COMPRESSION_METHOD_DEFLATE: Final = 8

ZIP64_LIMIT: Final = 0xFFFFFFFF  # a 32-bit field holding this value means "see zip64"
ZIP32_MAX_MEMBERS: Final = 0xFFFF

_LOCAL: Final = struct.Struct("<IHHHHHIIIHH")
_CENTRAL: Final = struct.Struct("<IHHHHHHIIIHHHHHII")
_DESCRIPTOR32: Final = struct.Struct("<IIII")
_DESCRIPTOR64: Final = struct.Struct("<IIQQ")
_END: Final = struct.Struct("<IHHHHIIH")
_END64: Final = struct.Struct("<IQHHIIQQQQ")
_LOCATOR64: Final = struct.Struct("<IIQI")
_EXTRA_HEADER: Final = struct.Struct("<HH")
END_RECORD_SIZE: Final = _END.size  # without its comment
# A local header's zip64 extra field: its header and both sizes.
_ZIP64_EXTRA_2: Final = _EXTRA_HEADER.size + 16

LOCAL_SIGNATURE: Final = 0x04034B50
CENTRAL_SIGNATURE: Final = 0x02014B50
DESCRIPTOR_SIGNATURE: Final = 0x08074B50
END_SIGNATURE: Final = 0x06054B50
END64_SIGNATURE: Final = 0x06064B50
LOCATOR64_SIGNATURE: Final = 0x07064B50
MAX_COMMENT_BYTES: Final = 0xFFFF

# What readers search backwards for: an archive's comment must not spell one.
END_SIGNATURES: Final = {
    signature.to_bytes(4, "little"): record
    for signature, record in (
        (END_SIGNATURE, "end of central directory"),
        (END64_SIGNATURE, "zip64 end of central directory"),
        (LOCATOR64_SIGNATURE, "zip64 end locator"),
    )
}

FLAG_ENCRYPTED: Final = 0x0001
FLAG_DATA_DESCRIPTOR: Final = 0x0008
FLAG_UTF8: Final = 0x0800

ZIP64_EXTRA_ID: Final = 0x0001
EXTENDED_TIMESTAMP_ID: Final = 0x5455

VERSION_MADE_BY: Final = (3 << 8) | 63  # unix, APPNOTE 6.3
VERSION_STORED: Final = 10
VERSION_DEFLATE_OR_DIRECTORY: Final = 20
VERSION_ZIP64: Final = 45
VERSION_AES: Final = 51  # what WinZip's AE-2 members say they need

S_IFMT: Final = 0o170000
S_IFREG: Final = 0o100000
S_IFDIR: Final = 0o040000
S_IFLNK: Final = 0o120000
MSDOS_DIRECTORY: Final = 0x10

DOS_MIN: Final = datetime(1980, 1, 1)
DOS_MAX: Final = datetime(2107, 12, 31, 23, 59, 58)


# --- timestamps and attributes -------------------------------------------------


def dos_date_time(moment: datetime) -> tuple[int, int]:
    """MS-DOS ``(date, time)`` of *moment*'s wall-clock time, clamped to 1980…2107.

    DOS time counts 2-second steps, so odd seconds round down.
    """
    wall = moment.replace(tzinfo=None)
    if wall < DOS_MIN:
        wall = DOS_MIN
    elif wall > DOS_MAX:
        wall = DOS_MAX
    date = ((wall.year - 1980) << 9) | (wall.month << 5) | wall.day
    time = (wall.hour << 11) | (wall.minute << 5) | (wall.second // 2)
    return date, time


@lru_cache(maxsize=64)
def extended_timestamp(unix_time: int | None) -> bytes:
    """The 0x5455 extra field with the modification time, or ``b""``.

    Only times in 1970…2038 are written: the field is a signed 32-bit number
    that many readers take as unsigned, so other values would be misread.
    """
    if unix_time is None or not 0 <= unix_time <= 0x7FFFFFFF:
        return b""
    return _EXTRA_HEADER.pack(EXTENDED_TIMESTAMP_ID, 5) + struct.pack("<BI", 1, unix_time)


def external_attributes(mode: int, is_dir: bool) -> int:
    """Unix mode (with file type) in the high 16 bits; the DOS folder bit for folders.

    *mode* is permission bits (the file type follows *is_dir*) or a whole
    ``st_mode``, as a symbolic link's (``S_IFLNK``) must be.
    """
    if is_dir:
        return ((S_IFDIR | mode) << 16) | MSDOS_DIRECTORY
    if not mode & S_IFMT:
        mode |= S_IFREG
    return mode << 16


class Entry(NamedTuple):
    """What the records of one member say besides sizes, CRC and offset."""

    name: bytes
    is_dir: bool
    dos_date: int
    dos_time: int
    extra: bytes  # extra fields common to the local and the central header
    external_attr: int
    # name + extra: what follows both headers' fixed fields unless a zip64 extra
    # field is added, joined once per member rather than once per record.
    tail: bytes

    @classmethod
    def make(
        cls,
        name: str,
        is_dir: bool,
        dos_date: int,
        dos_time: int,
        unix_time: int | None,
        mode: int,
    ) -> Entry:
        encoded = name.encode("utf-8")
        extra = extended_timestamp(unix_time)
        return cls(
            encoded,
            is_dir,
            dos_date,
            dos_time,
            extra,
            external_attributes(mode, is_dir),
            encoded + extra,
        )


# --- records ---------------------------------------------------------------------


def _zip64_extra(values: list[int]) -> bytes:
    return _EXTRA_HEADER.pack(ZIP64_EXTRA_ID, 8 * len(values)) + struct.pack(
        f"<{len(values)}Q", *values
    )


def local_file_header(
    entry: Entry,
    method: int,
    crc: int,
    compressed_size: int,
    uncompressed_size: int,
    data_descriptor: bool = False,
    zip64: bool = False,
    encrypted: bool = False,
) -> bytes:
    """A local file header.

    With ``data_descriptor`` the CRC and sizes are written as zero (flag bit 3).
    With ``zip64`` the 32-bit size fields hold 0xFFFFFFFF and a zip64 extra
    field holds both sizes (zero with a data descriptor), which also tells
    streaming readers that the descriptor's sizes are 8 bytes each. An
    ``encrypted`` member (WinZip AES) says method 99 and keeps *method* in its
    AES extra field; its sizes include the encryption's overhead.
    """
    flags = FLAG_UTF8
    if data_descriptor:
        flags |= FLAG_DATA_DESCRIPTOR
        crc = compressed_size = uncompressed_size = 0
    tail = entry.tail
    if zip64:
        tail += _zip64_extra([uncompressed_size, compressed_size])
        compressed_size = uncompressed_size = ZIP64_LIMIT
    elif compressed_size >= ZIP64_LIMIT or uncompressed_size >= ZIP64_LIMIT:
        raise ValueError("sizes of 4 GiB or more need zip64")
    version = _version(method, entry.is_dir, zip64)
    if encrypted:
        tail += aes_extra(method)
        method, version, flags = AES_METHOD, VERSION_AES, flags | FLAG_ENCRYPTED
    name_length = len(entry.name)
    return (
        _LOCAL.pack(
            LOCAL_SIGNATURE,
            version,
            flags,
            method,
            entry.dos_time,
            entry.dos_date,
            crc,
            compressed_size,
            uncompressed_size,
            name_length,
            len(tail) - name_length,
        )
        + tail
    )


def local_header_length(entry: Entry, zip64: bool, encrypted: bool = False) -> int:
    """``len(local_file_header(entry, ..., zip64=zip64, encrypted=encrypted))``, without
    building it."""
    return (
        _LOCAL.size
        + len(entry.tail)
        + (_ZIP64_EXTRA_2 if zip64 else 0)
        + (AES_EXTRA_SIZE if encrypted else 0)
    )


def _version(method: int, is_dir: bool, zip64: bool) -> int:
    """The version needed to extract a member (APPNOTE 4.4.3)."""
    if zip64:
        return VERSION_ZIP64
    if method == COMPRESSION_METHOD_DEFLATE or is_dir:
        return VERSION_DEFLATE_OR_DIRECTORY
    return VERSION_STORED


def data_descriptor(
    crc: int, compressed_size: int, uncompressed_size: int, *, zip64: bool
) -> bytes:
    """A data descriptor with its signature; 8-byte sizes when ``zip64``."""
    if zip64:
        return _DESCRIPTOR64.pack(DESCRIPTOR_SIGNATURE, crc, compressed_size, uncompressed_size)
    if compressed_size >= ZIP64_LIMIT or uncompressed_size >= ZIP64_LIMIT:
        raise ValueError("a 32-bit data descriptor cannot hold sizes of 4 GiB or more")
    return _DESCRIPTOR32.pack(DESCRIPTOR_SIGNATURE, crc, compressed_size, uncompressed_size)


def data_descriptor_size(*, zip64: bool) -> int:
    """The length of a data descriptor record."""
    return _DESCRIPTOR64.size if zip64 else _DESCRIPTOR32.size


def central_directory_header(
    entry: Entry,
    method: int,
    crc: int,
    compressed_size: int,
    uncompressed_size: int,
    offset: int,
    data_descriptor: bool = False,
    local_zip64: bool = False,
    encrypted: bool = False,
) -> bytes:
    """A central directory header; zip64 extra only for the values that need it, the AES
    extra field when ``encrypted`` (as in ``local_file_header``)."""
    flags = FLAG_UTF8 | FLAG_DATA_DESCRIPTOR if data_descriptor else FLAG_UTF8
    tail = entry.tail
    zip64 = local_zip64
    if uncompressed_size >= ZIP64_LIMIT or compressed_size >= ZIP64_LIMIT or offset >= ZIP64_LIMIT:
        values = []
        if uncompressed_size >= ZIP64_LIMIT:
            values.append(uncompressed_size)
            uncompressed_size = ZIP64_LIMIT
        if compressed_size >= ZIP64_LIMIT:
            values.append(compressed_size)
            compressed_size = ZIP64_LIMIT
        if offset >= ZIP64_LIMIT:
            values.append(offset)
            offset = ZIP64_LIMIT
        tail += _zip64_extra(values)
        zip64 = True
    version = _version(method, entry.is_dir, zip64)
    if encrypted:
        tail += aes_extra(method)
        method, version, flags = AES_METHOD, VERSION_AES, flags | FLAG_ENCRYPTED
    name_length = len(entry.name)
    return (
        _CENTRAL.pack(
            CENTRAL_SIGNATURE,
            VERSION_MADE_BY,
            version,
            flags,
            method,
            entry.dos_time,
            entry.dos_date,
            crc,
            compressed_size,
            uncompressed_size,
            name_length,
            len(tail) - name_length,
            0,  # comment length
            0,  # disk number start
            0,  # internal attributes
            entry.external_attr,
            offset,
        )
        + tail
    )


def central_header_length(
    entry: Entry, compressed_size: int, uncompressed_size: int, offset: int, encrypted: bool = False
) -> int:
    """``len(central_directory_header(entry, ...))`` for these sizes and *offset*,
    without building it: a zip64 extra holds each value that needs 64 bits."""
    wide = (
        (uncompressed_size >= ZIP64_LIMIT)
        + (compressed_size >= ZIP64_LIMIT)
        + (offset >= ZIP64_LIMIT)
    )
    extra = _EXTRA_HEADER.size + 8 * wide if wide else 0
    return _CENTRAL.size + len(entry.tail) + extra + (AES_EXTRA_SIZE if encrypted else 0)


def end_of_archive(
    count: int, central_offset: int, central_size: int, comment: bytes = b""
) -> bytes:
    """End of central directory record, preceded by the zip64 end records when needed,
    followed by the archive's *comment* (checked by ``check_comment``)."""
    records = b""
    if count >= ZIP32_MAX_MEMBERS or central_offset >= ZIP64_LIMIT or central_size >= ZIP64_LIMIT:
        end64_offset = central_offset + central_size
        records = _END64.pack(
            END64_SIGNATURE,
            _END64.size - 12,
            VERSION_MADE_BY,
            VERSION_ZIP64,
            0,
            0,
            count,
            count,
            central_size,
            central_offset,
        ) + _LOCATOR64.pack(LOCATOR64_SIGNATURE, 0, end64_offset, 1)
    return (
        records
        + _END.pack(
            END_SIGNATURE,
            0,
            0,
            min(count, ZIP32_MAX_MEMBERS),
            min(count, ZIP32_MAX_MEMBERS),
            min(central_size, ZIP64_LIMIT),
            min(central_offset, ZIP64_LIMIT),
            len(comment),
        )
        + comment
    )
