"""The zip format, sans-IO: records, zip64 decisions, CRC and sizes, deflate policy.

Nothing here awaits or reads: ``ZipEncoder``
is fed a member's chunks and hands back the archive's bytes, so every decision
(where sizes go, when zip64 is needed, whether to deflate) is tested with plain
bytes. Record layouts follow PKWARE's APPNOTE.TXT (6.3.x).

Layout policy, per member:

* Sizes and CRC go into the local header whenever they are known before the
  data is written: the size is declared and the CRC given, or the member ends
  within the hold-back buffer. No data descriptor then, so streaming readers
  read even stored members.
* Otherwise the local header sets flag bit 3 and a data descriptor follows the
  data. Its sizes are 8 bytes exactly when the local header carries a zip64
  extra field, which it does exactly when the member may pass 4 GiB: a declared
  size that large, or an unknown size (past the hold-back).
* The central directory and end records use zip64 only for values that do not
  fit in 32 bits (sizes, offsets) or for 65,535 members or more.
"""

from __future__ import annotations

import struct
import sys
import zlib
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any, Final, NamedTuple

from ._resource import BytesLike, LengthMismatchError

_isal_zlib: Any
try:  # python-isal: crc32 about 6x faster than zlib's, and fast deflate levels
    from isal import isal_zlib as _isal_zlib
except ImportError:  # pragma: no cover - exercised in CI without the extra
    _isal_zlib = None

crc32: Any = _isal_zlib.crc32 if _isal_zlib is not None else zlib.crc32
HAS_ISAL: Final = _isal_zlib is not None

COMPRESSION_METHOD_NONE: Final = 0
COMPRESSION_METHOD_DEFLATE: Final = 8

ZIP64_LIMIT: Final = 0xFFFFFFFF  # a 32-bit field holding this value means "see zip64"
ZIP32_MAX_MEMBERS: Final = 0xFFFF

DEFAULT_HOLD_BACK_SIZE: Final = 4 * 1024 * 1024
MAX_HOLD_BACK_SIZE: Final = 1024 * 1024 * 1024
DEFAULT_COMPRESSION_LEVEL: Final = 6
OUTPUT_CHUNK_SIZE: Final = 65536
# Pieces shorter than this are copied into the output buffer; longer ones pass
# through as the same object (source chunks are not copied).
_SMALL_PIECE: Final = 16384

# Deflate policy: a fast trial compression of the first PROBE_SIZE bytes
# decides whether a member is worth deflating; a long member is re-checked per
# segment and falls back to stored deflate blocks (memcpy speed) while its
# data does not shrink.
PROBE_SIZE: Final = 65536
SEGMENT_SIZE: Final = 1024 * 1024
REPROBE_SEGMENTS: Final = 16
INCOMPRESSIBLE_RATIO: Final = 0.97
_ISAL_BLOCK: Final = 65536
_SMALL_WINDOW_INPUT: Final = 4096
STORED_BLOCK: Final = 65535  # the largest a stored deflate block holds

_LOCAL: Final = struct.Struct("<IHHHHHIIIHH")
_CENTRAL: Final = struct.Struct("<IHHHHHHIIIHHHHHII")
_DESCRIPTOR32: Final = struct.Struct("<IIII")
_DESCRIPTOR64: Final = struct.Struct("<IIQQ")
_END: Final = struct.Struct("<IHHHHIIH")
_END64: Final = struct.Struct("<IQHHIIQQQQ")
_LOCATOR64: Final = struct.Struct("<IIQI")
_EXTRA_HEADER: Final = struct.Struct("<HH")

LOCAL_SIGNATURE: Final = 0x04034B50
CENTRAL_SIGNATURE: Final = 0x02014B50
DESCRIPTOR_SIGNATURE: Final = 0x08074B50
END_SIGNATURE: Final = 0x06054B50
END64_SIGNATURE: Final = 0x06064B50
LOCATOR64_SIGNATURE: Final = 0x07064B50

FLAG_DATA_DESCRIPTOR: Final = 0x0008
FLAG_UTF8: Final = 0x0800

ZIP64_EXTRA_ID: Final = 0x0001
EXTENDED_TIMESTAMP_ID: Final = 0x5455

VERSION_MADE_BY: Final = (3 << 8) | 63  # unix, APPNOTE 6.3
VERSION_STORED: Final = 10
VERSION_DEFLATE_OR_DIRECTORY: Final = 20
VERSION_ZIP64: Final = 45

S_IFREG: Final = 0o100000
S_IFDIR: Final = 0o040000
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
    """Unix mode (with file type) in the high 16 bits; the DOS folder bit for folders."""
    if is_dir:
        return ((S_IFDIR | mode) << 16) | MSDOS_DIRECTORY
    return (S_IFREG | mode) << 16


class Entry(NamedTuple):
    """What the records of one member say besides sizes, CRC and offset."""

    name: bytes
    is_dir: bool
    dos_date: int
    dos_time: int
    extra: bytes  # extra fields common to the local and the central header
    external_attr: int

    @classmethod
    def make(
        cls,
        name: str,
        *,
        is_dir: bool,
        dos_date: int,
        dos_time: int,
        unix_time: int | None,
        mode: int,
    ) -> Entry:
        return cls(
            name.encode("utf-8"),
            is_dir,
            dos_date,
            dos_time,
            extended_timestamp(unix_time),
            external_attributes(mode, is_dir),
        )


# --- records ---------------------------------------------------------------------


def _version_needed(method: int, is_dir: bool, zip64: bool) -> int:
    if zip64:
        return VERSION_ZIP64
    if is_dir or method == COMPRESSION_METHOD_DEFLATE:
        return VERSION_DEFLATE_OR_DIRECTORY
    return VERSION_STORED


def local_file_header(
    entry: Entry,
    *,
    method: int,
    crc: int,
    compressed_size: int,
    uncompressed_size: int,
    data_descriptor: bool,
    zip64: bool,
) -> bytes:
    """A local file header.

    With ``data_descriptor`` the CRC and sizes are written as zero (flag bit 3).
    With ``zip64`` the 32-bit size fields hold 0xFFFFFFFF and a zip64 extra
    field holds both sizes (zero with a data descriptor), which also tells
    streaming readers that the descriptor's sizes are 8 bytes each.
    """
    flags = FLAG_UTF8
    if data_descriptor:
        flags |= FLAG_DATA_DESCRIPTOR
        crc = compressed_size = uncompressed_size = 0
    extra = entry.extra
    if zip64:
        extra += _EXTRA_HEADER.pack(ZIP64_EXTRA_ID, 16) + struct.pack(
            "<QQ", uncompressed_size, compressed_size
        )
        compressed_size = uncompressed_size = ZIP64_LIMIT
    elif compressed_size >= ZIP64_LIMIT or uncompressed_size >= ZIP64_LIMIT:
        raise ValueError("sizes of 4 GiB or more need zip64")
    return (
        _LOCAL.pack(
            LOCAL_SIGNATURE,
            _version_needed(method, entry.is_dir, zip64),
            flags,
            method,
            entry.dos_time,
            entry.dos_date,
            crc,
            compressed_size,
            uncompressed_size,
            len(entry.name),
            len(extra),
        )
        + entry.name
        + extra
    )


def data_descriptor(
    crc: int, compressed_size: int, uncompressed_size: int, *, zip64: bool
) -> bytes:
    """A data descriptor with its signature; 8-byte sizes when ``zip64``."""
    if zip64:
        return _DESCRIPTOR64.pack(DESCRIPTOR_SIGNATURE, crc, compressed_size, uncompressed_size)
    if compressed_size >= ZIP64_LIMIT or uncompressed_size >= ZIP64_LIMIT:
        raise ValueError("a 32-bit data descriptor cannot hold sizes of 4 GiB or more")
    return _DESCRIPTOR32.pack(DESCRIPTOR_SIGNATURE, crc, compressed_size, uncompressed_size)


def central_directory_header(
    entry: Entry,
    *,
    method: int,
    crc: int,
    compressed_size: int,
    uncompressed_size: int,
    offset: int,
    data_descriptor: bool,
    local_zip64: bool = False,
) -> bytes:
    """A central directory header; zip64 extra only for the values that need it."""
    flags = FLAG_UTF8 | (FLAG_DATA_DESCRIPTOR if data_descriptor else 0)
    zip64_values = []
    if uncompressed_size >= ZIP64_LIMIT:
        zip64_values.append(uncompressed_size)
        uncompressed_size = ZIP64_LIMIT
    if compressed_size >= ZIP64_LIMIT:
        zip64_values.append(compressed_size)
        compressed_size = ZIP64_LIMIT
    if offset >= ZIP64_LIMIT:
        zip64_values.append(offset)
        offset = ZIP64_LIMIT
    extra = entry.extra
    if zip64_values:
        extra += _EXTRA_HEADER.pack(ZIP64_EXTRA_ID, 8 * len(zip64_values)) + struct.pack(
            f"<{len(zip64_values)}Q", *zip64_values
        )
    zip64 = bool(zip64_values) or local_zip64
    return (
        _CENTRAL.pack(
            CENTRAL_SIGNATURE,
            VERSION_MADE_BY,
            _version_needed(method, entry.is_dir, zip64),
            flags,
            method,
            entry.dos_time,
            entry.dos_date,
            crc,
            compressed_size,
            uncompressed_size,
            len(entry.name),
            len(extra),
            0,  # comment length
            0,  # disk number start
            0,  # internal attributes
            entry.external_attr,
            offset,
        )
        + entry.name
        + extra
    )


def end_of_archive(count: int, central_offset: int, central_size: int) -> bytes:
    """End of central directory record, preceded by the zip64 end records when needed."""
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
    return records + _END.pack(
        END_SIGNATURE,
        0,
        0,
        min(count, ZIP32_MAX_MEMBERS),
        min(count, ZIP32_MAX_MEMBERS),
        min(central_size, ZIP64_LIMIT),
        min(central_offset, ZIP64_LIMIT),
        0,
    )


def deflate_bound(size: int) -> int:
    """An upper bound of our deflate output for *size* input bytes.

    Stored deflate blocks cost 5 bytes per 64 KiB (0.008 %); a compressed
    segment that did not shrink costs zlib or isal at most 0.03 % before the
    switch to stored blocks, plus a few bytes per segment flush. 0.1 % plus
    64 KiB leaves a wide margin, and keeps the window where a member under
    4 GiB still gets zip64 (it might have passed) to its last 4 MiB.
    """
    return size + (size >> 10) + 65536


# --- deflate ---------------------------------------------------------------------


def _compressor(level: int) -> Any:
    # Levels 1-3 use isal's levels 1-3 when installed: several times faster than
    # zlib's at a similar ratio. Level 0 is stored blocks, which zlib copies at
    # memory speed.
    if _isal_zlib is not None and 1 <= level <= 3:
        return _isal_zlib.compressobj(level, _isal_zlib.DEFLATED, -15)
    return zlib.compressobj(level, zlib.DEFLATED, -15)


def _uses_isal(level: int) -> bool:
    return _isal_zlib is not None and 1 <= level <= 3


def looks_incompressible(sample: BytesLike) -> bool:
    """Whether a fast trial compression of *sample* saves less than 3 %.

    With python-isal: its level 1, or for a few KiB its level 0, whose set-up
    is five times cheaper (what counts for small members). Else zlib's level 1.
    """
    if not sample:
        return False
    if _isal_zlib is not None:
        packed = _isal_zlib.compress(sample, 0 if len(sample) <= 4096 else 1, -15)
    else:
        compressor = zlib.compressobj(1, zlib.DEFLATED, -15)
        packed = compressor.compress(sample) + compressor.flush()
    return len(packed) > len(sample) * INCOMPRESSIBLE_RATIO


def compress_whole(data: Sequence[BytesLike], level: int) -> list[bytes]:
    """Raw deflate of the concatenation of *data*, in one go."""
    if _uses_isal(level):
        compressor = _compressor(level)
        if len(data) > 1:
            # isal's output depends on how input is split; one piece keeps it stable.
            data = [b"".join(data)]
    elif len(data) == 1 and len(data[0]) <= _SMALL_WINDOW_INPUT:
        return [compress_small(data[0], level)]
    elif sum(len(piece) for piece in data) <= _SMALL_WINDOW_INPUT:
        return [compress_small(b"".join(data), level)]
    else:
        compressor = _compressor(level)
    out = [compressor.compress(piece) for piece in data]
    out.append(compressor.flush())
    return [piece for piece in out if piece]


if sys.version_info >= (3, 11):

    def compress_small(data: BytesLike, level: int) -> bytes:
        """Raw deflate of at most ``_SMALL_WINDOW_INPUT`` bytes with zlib, in one call.

        A 4 KiB window reaches as far back as a 32 KiB one in 4 KiB of data,
        and zlib sets it up faster: it matters for many small members. zlib's
        output does not depend on how its input is split, so this gives the
        bytes a compressor fed piece by piece would.
        """
        return zlib.compress(data, level, -12)

else:  # pragma: no cover - zlib.compress takes wbits since Python 3.11

    def compress_small(data: BytesLike, level: int) -> bytes:
        """Raw deflate of at most ``_SMALL_WINDOW_INPUT`` bytes with zlib."""
        compressor = zlib.compressobj(level, zlib.DEFLATED, -12)
        return compressor.compress(data) + compressor.flush()


def stored_block_header(length: int, *, final: bool) -> bytes:
    """Header of a stored deflate block (RFC 1951 3.2.4), written on a byte boundary."""
    return struct.pack("<BHH", 1 if final else 0, length, length ^ 0xFFFF)


class Deflater:
    """Raw deflate of one long member, with the incompressible-data escape hatch.

    The output depends only on the data, never on how the source chunked it,
    so retries are byte-identical: input is cut at fixed offsets (segments of
    ``SEGMENT_SIZE`` bytes, 64 KiB blocks for isal, whose output depends on the
    pieces it is given) and stored blocks are written here, ``STORED_BLOCK``
    bytes each (zlib's level 0 sizes them by its input calls).

    Per segment: while compressing, a segment whose output is not 3 % smaller
    than its input switches to stored deflate blocks; while storing, every
    ``REPROBE_SEGMENTS``-th segment's first ``PROBE_SIZE`` bytes get a fast
    trial compression, and compressing resumes when they shrink. A switch
    happens on a byte boundary (a sync flush of the compressor), and a fresh
    compressor continues: the whole stays one valid deflate stream.
    """

    __slots__ = (
        "_compressor",
        "_isal",
        "_level",
        "_pending",
        "_sample",
        "_segment_in",
        "_segment_out",
        "_segments_stored",
        "_storing",
        "compressed_size",
    )

    def __init__(self, level: int, *, incompressible: bool) -> None:
        self._level = level
        self._storing = incompressible or level == 0
        self._compressor: Any = None
        self._isal = False
        if not self._storing:
            self._start_compressor()
        self._pending = bytearray()
        self._sample = bytearray()
        self._segment_in = 0
        self._segment_out = 0
        self._segments_stored = 0
        self.compressed_size = 0

    @property
    def storing(self) -> bool:
        """Whether the data currently goes out as stored deflate blocks."""
        return self._storing

    def _start_compressor(self) -> None:
        self._isal = _uses_isal(self._level)
        self._compressor = _compressor(self._level)

    def compress(self, data: BytesLike) -> list[bytes]:
        """Feed *data*; returns the compressed pieces ready so far."""
        out: list[bytes] = []
        view = memoryview(data)
        while view:
            room = SEGMENT_SIZE - self._segment_in
            piece, view = view[:room], view[room:]
            if self._storing:
                if (
                    self._level
                    and self._segments_stored + 1 >= REPROBE_SEGMENTS
                    and len(self._sample) < PROBE_SIZE
                ):
                    self._sample += piece[: PROBE_SIZE - len(self._sample)]
                self._store(piece, out)
            else:
                self._feed(piece, out)
            self._segment_in += len(piece)
            if self._segment_in == SEGMENT_SIZE:
                self._end_segment(out)
        return out

    def flush(self) -> list[bytes]:
        """Finish the deflate stream; returns the last pieces."""
        out: list[bytes] = []
        pending = self._pending
        if self._storing:
            self._emit(stored_block_header(len(pending), final=True) + pending, out)
        else:
            if pending:
                self._emit(self._compressor.compress(bytes(pending)), out)
            self._emit(self._compressor.flush(), out)
        pending.clear()
        return out

    def _emit(self, piece: bytes, out: list[bytes]) -> None:
        if piece:
            out.append(piece)
            self.compressed_size += len(piece)
            self._segment_out += len(piece)

    def _store(self, piece: memoryview, out: list[bytes]) -> None:
        pending = self._pending
        if pending:
            take = STORED_BLOCK - len(pending)
            pending += piece[:take]
            piece = piece[take:]
            if len(pending) < STORED_BLOCK:
                return
            self._emit(stored_block_header(STORED_BLOCK, final=False) + pending, out)
            pending.clear()
        header = stored_block_header(STORED_BLOCK, final=False)
        whole = len(piece) - len(piece) % STORED_BLOCK
        for start in range(0, whole, STORED_BLOCK):
            self._emit(header + piece[start : start + STORED_BLOCK], out)
        pending += piece[whole:]

    def _feed(self, piece: memoryview, out: list[bytes]) -> None:
        if not self._isal:
            self._emit(self._compressor.compress(piece), out)
            return
        pending = self._pending
        pending += piece
        if len(pending) >= _ISAL_BLOCK:
            whole = len(pending) - len(pending) % _ISAL_BLOCK
            for start in range(0, whole, _ISAL_BLOCK):
                block = pending[start : start + _ISAL_BLOCK]
                self._emit(self._compressor.compress(bytes(block)), out)
            del pending[:whole]

    def _end_segment(self, out: list[bytes]) -> None:
        pending = self._pending
        if not self._storing:
            if pending:
                self._emit(self._compressor.compress(bytes(pending)), out)
                pending.clear()
            self._emit(self._compressor.flush(zlib.Z_SYNC_FLUSH), out)
            if self._segment_out > SEGMENT_SIZE * INCOMPRESSIBLE_RATIO:
                self._storing = True
                self._segments_stored = 0
                self._compressor = None
        elif self._level:
            self._segments_stored += 1
            if self._segments_stored >= REPROBE_SEGMENTS and len(self._sample) == PROBE_SIZE:
                compressible = not looks_incompressible(self._sample)
                self._sample.clear()
                self._segments_stored = 0
                if compressible:
                    if pending:
                        self._emit(stored_block_header(len(pending), final=False) + pending, out)
                        pending.clear()
                    self._storing = False
                    self._start_compressor()
        self._segment_in = 0
        self._segment_out = 0


def deflated_if_smaller(
    held: Sequence[BytesLike], size: int, level: int
) -> tuple[list[bytes], int] | None:
    """Deflate of a whole member of *size* bytes, with its size; ``None`` to store it.

    ``None`` when the probe finds the data incompressible or when deflate does
    not shrink it. The probe is skipped where it costs too much for what it
    saves: for members of at most ``_SMALL_WINDOW_INPUT`` bytes (with isal the
    probe's set-up alone is a tenth of compressing a 1 KiB member, and
    compressing incompressible data that small wastes tens of microseconds at
    most), and without isal for members the probe would read whole (a zlib
    probe costs as much as compressing them).
    """
    if size > _SMALL_WINDOW_INPUT and (HAS_ISAL or size > PROBE_SIZE):
        sample = held[0] if size <= PROBE_SIZE and len(held) == 1 else head(held, PROBE_SIZE)
        if looks_incompressible(sample):
            return None
    if size <= _SMALL_WINDOW_INPUT and not _uses_isal(level):
        packed = compress_small(held[0] if len(held) == 1 else b"".join(held), level)
        return ([packed], len(packed)) if len(packed) < size else None
    pieces = compress_whole(held, level)
    packed_size = sum(len(piece) for piece in pieces)
    return (pieces, packed_size) if packed_size < size else None


def head(pieces: Sequence[BytesLike], size: int) -> BytesLike:
    """The first *size* bytes of the concatenation of *pieces*, copying only those."""
    if pieces and len(pieces[0]) >= size:
        return pieces[0][:size]
    taken: list[BytesLike] = []
    remaining = size
    for piece in pieces:
        if remaining <= 0:
            break
        taken.append(piece[:remaining])
        remaining -= len(piece)
    return b"".join(taken)


# --- output ----------------------------------------------------------------------


class Output:
    """Collects archive pieces into chunks worth yielding, and counts the offset.

    Small pieces (headers, small members, compressor output) are copied into
    chunks of about ``chunk_size`` bytes; a big piece passes through as the
    same object, after whatever was buffered before it.
    """

    __slots__ = ("_buffer", "_chunk_size", "_ready", "offset")

    def __init__(self, chunk_size: int = OUTPUT_CHUNK_SIZE) -> None:
        self._buffer = bytearray()
        self._chunk_size = chunk_size
        self._ready: list[BytesLike] = []
        self.offset = 0

    def write(self, piece: BytesLike) -> None:
        size = len(piece)
        if not size:
            return
        self.offset += size
        buffer = self._buffer
        if size < _SMALL_PIECE:
            buffer += piece
            if len(buffer) >= self._chunk_size:
                self._ready.append(bytes(buffer))
                buffer.clear()
        elif buffer:
            if len(buffer) + size <= 2 * self._chunk_size:
                # One copy of a chunk-sized piece is cheaper than a tiny write.
                buffer += piece
                self._ready.append(bytes(buffer))
            else:
                self._ready.append(bytes(buffer))
                self._ready.append(piece)
            buffer.clear()
        else:
            self._ready.append(piece)

    def write_small(self, pieces: Sequence[bytes]) -> None:
        """Copy *pieces* (our own records) into chunks, whatever their sizes."""
        buffer, ready, limit = self._buffer, self._ready, self._chunk_size
        for piece in pieces:
            buffer += piece
            self.offset += len(piece)
            if len(buffer) >= limit:
                ready.append(bytes(buffer))
                buffer.clear()

    def write_all(self, pieces: Sequence[BytesLike]) -> None:
        for piece in pieces:
            self.write(piece)

    def flush(self) -> None:
        if self._buffer:
            self._ready.append(bytes(self._buffer))
            self._buffer.clear()

    def take(self) -> list[BytesLike]:
        """The chunks ready to be yielded (and forget them)."""
        ready = self._ready
        if ready:
            self._ready = []
        return ready


# --- the encoder -----------------------------------------------------------------


class MemberOptions(NamedTuple):
    """How one member is to be encoded."""

    entry: Entry
    method: int = COMPRESSION_METHOD_NONE
    level: int = DEFAULT_COMPRESSION_LEVEL
    crc32: int | None = None


def stored_layout(size: int, crc_known: bool, hold_back_size: int) -> tuple[bool, bool]:
    """``(data_descriptor, zip64)`` of a stored member of known *size*."""
    return (not crc_known and size > hold_back_size), size >= ZIP64_LIMIT


_HOLDING, _STREAMING, _DONE = 0, 1, 2


class ZipEncoder:
    """Sans-IO zip writer: feed members' data, take the archive's chunks.

    ```python
    encoder = ZipEncoder()
    encoder.begin(options, size=None)  # size: declared in advance, if known
    encoder.feed(b"...")               # any number of times
    encoder.end()
    encoder.finish()                   # central directory and end records
    chunks = encoder.take()            # after any call: bytes to send, in order
    ```

    Args:
        hold_back_size: Bytes of a member of unknown size (or of a stored
            member of known size but unknown CRC) held in memory before its
            local header is written; a member that ends within it gets its
            sizes and CRC in the local header.
        chunk_size: Target size of the chunks built from small pieces.
    """

    def __init__(
        self, *, hold_back_size: int = DEFAULT_HOLD_BACK_SIZE, chunk_size: int = OUTPUT_CHUNK_SIZE
    ) -> None:
        self.hold_back_size = hold_back_size
        self._out = Output(chunk_size)
        self._central: list[bytes] = []
        self._state = _DONE
        self._finished = False
        # The member being written:
        self._options = MemberOptions(Entry(b"", False, 0, 0, b"", 0))
        self._declared: int | None = None
        self._seen = 0
        self._header_offset = 0
        self._held: list[BytesLike] = []
        self._held_size = 0
        self._hold_limit = 0
        self._crc = 0
        self._method = COMPRESSION_METHOD_NONE
        self._descriptor = False
        self._zip64 = False
        self._deflater: Deflater | None = None

    @property
    def offset(self) -> int:
        """Bytes of archive produced so far."""
        return self._out.offset

    def take(self) -> list[BytesLike]:
        """Archive chunks ready to send, in order."""
        return self._out.take()

    def flush(self) -> None:
        """Make buffered small pieces ready too (``take`` returns them)."""
        self._out.flush()

    # -- members --

    def begin(self, options: MemberOptions, size: int | None = None) -> None:
        """Start a member; *size* is its length when declared in advance."""
        if self._state != _DONE or self._finished:
            raise RuntimeError("begin() while a member is open or after finish()")
        self._options = options
        self._declared = size
        self._seen = 0
        self._header_offset = self._out.offset
        self._held = []
        self._held_size = 0
        self._crc = 0
        self._deflater = None
        if options.entry.is_dir:
            if size:
                raise ValueError(f"folder {options.entry.name!r} cannot have data")
            self._declared = 0
            self._write_header(COMPRESSION_METHOD_NONE, 0, 0, 0, descriptor=False, zip64=False)
            self._state = _STREAMING
            self._method = COMPRESSION_METHOD_NONE
            return
        self._state = _HOLDING
        self._plan()

    def add(self, options: MemberOptions, data: BytesLike) -> None:
        """A whole member at once: the same bytes as ``begin``, ``feed``, ``end``, faster."""
        size = len(data)
        fits = (
            size <= self.hold_back_size or options.crc32 is not None
            if options.method == COMPRESSION_METHOD_NONE
            else size <= max(PROBE_SIZE, self.hold_back_size)
        )
        if not fits or options.entry.is_dir or self._state != _DONE or self._finished:
            self.begin(options, size)
            self.feed(data)
            self.end()
            return
        self._options = options
        self._declared = self._seen = size
        self._header_offset = self._out.offset
        # A stored member's CRC was computed (and a given one checked) when it was made.
        known = options.crc32 if options.method == COMPRESSION_METHOD_NONE else None
        self._write_complete((data,), size, crc32(data) if known is None else known)

    def learn_size(self, size: int | None) -> None:
        """The member's size became known after its first chunk (e.g. a response header)."""
        if size is None or self._declared is not None or self._state == _DONE:
            return
        self._declared = size
        if self._seen > size:
            self._mismatch()
        if self._state == _HOLDING:
            self._plan()

    def feed(self, chunk: BytesLike) -> None:
        """Add a chunk of the member's data."""
        size = len(chunk)
        if not size:
            return
        self._seen += size
        if self._declared is not None and self._seen > self._declared:
            self._mismatch()
        if self._state == _STREAMING:
            self._stream(chunk)
            return
        if self._state != _HOLDING:
            raise RuntimeError("feed() without begin()")
        # A source may reuse a mutable buffer for its next chunk: keep only
        # immutable data without copying it.
        if not (
            isinstance(chunk, bytes)
            or (isinstance(chunk, memoryview) and isinstance(chunk.obj, bytes))
        ):
            chunk = bytes(chunk)
        self._held.append(chunk)
        self._held_size += size
        if self._held_size > self._hold_limit:
            self._start_streaming()

    def end(self) -> None:
        """The member's data is complete."""
        if self._declared is not None and self._seen != self._declared:
            self._mismatch()
        if self._state == _HOLDING:
            self._write_held()
        elif self._state == _STREAMING:
            self._end_stream()
        else:
            raise RuntimeError("end() without begin()")
        self._state = _DONE
        self._held = []

    def finish(self) -> None:
        """Write the central directory and the end records."""
        if self._state != _DONE:
            raise RuntimeError("finish() while a member is open")
        if self._finished:
            return
        self._finished = True
        out = self._out
        start = out.offset
        out.write_small(self._central)
        out.write(end_of_archive(len(self._central), start, out.offset - start))
        out.flush()

    # -- internals --

    def _mismatch(self) -> None:
        name = self._options.entry.name.decode("utf-8", "replace")
        raise LengthMismatchError(
            f"zip member {name!r} declared {self._declared} bytes but its source "
            f"yielded {self._seen}{'' if self._state == _DONE else ' or more'}"
        )

    def _plan(self) -> None:
        """Decide how much to hold back, or start streaming now."""
        options, size = self._options, self._declared
        if options.method == COMPRESSION_METHOD_NONE:
            if size is not None and (options.crc32 is not None or size > self.hold_back_size):
                self._start_streaming()
                return
            self._hold_limit = self.hold_back_size
        else:
            # Deflate always holds enough for the compressibility probe, so the
            # probe sees the same bytes however the source chunks its data.
            limit = max(PROBE_SIZE, self.hold_back_size)
            self._hold_limit = PROBE_SIZE if size is not None and size > limit else limit
            if self._held_size > self._hold_limit:
                self._start_streaming()

    def _write_header(
        self, method: int, crc: int, csize: int, usize: int, *, descriptor: bool, zip64: bool
    ) -> None:
        self._method = method
        self._descriptor = descriptor
        self._zip64 = zip64
        self._out.write(
            local_file_header(
                self._options.entry,
                method=method,
                crc=crc,
                compressed_size=csize,
                uncompressed_size=usize,
                data_descriptor=descriptor,
                zip64=zip64,
            )
        )

    def _start_streaming(self) -> None:
        options, size = self._options, self._declared
        held, self._held = self._held, []
        self._state = _STREAMING
        if options.method == COMPRESSION_METHOD_NONE:
            if size is None:
                self._write_header(0, 0, 0, 0, descriptor=True, zip64=True)
            else:
                descriptor, zip64 = stored_layout(size, options.crc32 is not None, -1)
                crc = options.crc32 or 0
                self._write_header(0, crc, size, size, descriptor=descriptor, zip64=zip64)
            for chunk in held:
                self._crc = crc32(chunk, self._crc)
                self._out.write(chunk)
            return
        sample = head(held, PROBE_SIZE)
        self._deflater = Deflater(options.level, incompressible=looks_incompressible(sample))
        zip64 = size is None or deflate_bound(size) >= ZIP64_LIMIT
        self._write_header(COMPRESSION_METHOD_DEFLATE, 0, 0, 0, descriptor=True, zip64=zip64)
        for chunk in held:
            self._stream(chunk)

    def _stream(self, chunk: BytesLike) -> None:
        self._crc = crc32(chunk, self._crc)
        if self._deflater is None:
            self._out.write(chunk)
        else:
            for piece in self._deflater.compress(chunk):
                self._out.write(piece)

    def _write_held(self) -> None:
        held = self._held
        if len(held) == 1:
            crc = crc32(held[0])
        else:
            crc = 0
            for chunk in held:
                crc = crc32(chunk, crc)
        self._write_complete(held, self._held_size, crc)

    def _write_complete(self, held: Sequence[BytesLike], size: int, crc: int) -> None:
        """Write a member whose data is all here: sizes and CRC in its local header."""
        options = self._options
        if options.crc32 is not None:
            self._check_crc(crc)
        method = COMPRESSION_METHOD_NONE
        data: Sequence[BytesLike] = held
        csize = size
        if options.method == COMPRESSION_METHOD_DEFLATE and size:
            packed = deflated_if_smaller(held, size, options.level)
            if packed is not None:
                method, data, csize = COMPRESSION_METHOD_DEFLATE, packed[0], packed[1]
        self._crc = crc
        if size < ZIP64_LIMIT and self._header_offset < ZIP64_LIMIT and not options.entry.is_dir:
            self._write_plain(method, crc, csize, size, data)
            return
        zip64 = size >= ZIP64_LIMIT
        self._write_header(method, crc, csize, size, descriptor=False, zip64=zip64)
        self._out.write_all(data)
        self._add_central(crc, csize, size)

    def _write_plain(
        self, method: int, crc: int, csize: int, size: int, data: Sequence[BytesLike]
    ) -> None:
        """The records ``_write_header`` and ``_add_central`` write when every field fits
        in 32 bits and no data descriptor follows, in fewer steps: archives of many
        small members spend their time here.
        """
        self._method = method
        self._descriptor = self._zip64 = False
        entry = self._options.entry
        name, extra = entry.name, entry.extra
        version = (
            VERSION_STORED if method == COMPRESSION_METHOD_NONE else VERSION_DEFLATE_OR_DIRECTORY
        )
        out = self._out
        out.write(
            _LOCAL.pack(
                LOCAL_SIGNATURE,
                version,
                FLAG_UTF8,
                method,
                entry.dos_time,
                entry.dos_date,
                crc,
                csize,
                size,
                len(name),
                len(extra),
            )
            + name
            + extra
        )
        for piece in data:
            out.write(piece)
        self._central.append(
            _CENTRAL.pack(
                CENTRAL_SIGNATURE,
                VERSION_MADE_BY,
                version,
                FLAG_UTF8,
                method,
                entry.dos_time,
                entry.dos_date,
                crc,
                csize,
                size,
                len(name),
                len(extra),
                0,  # comment length
                0,  # disk number start
                0,  # internal attributes
                entry.external_attr,
                self._header_offset,
            )
            + name
            + extra
        )

    def _end_stream(self) -> None:
        crc, usize = self._crc, self._seen
        csize = usize
        if self._deflater is not None:
            for piece in self._deflater.flush():
                self._out.write(piece)
            csize = self._deflater.compressed_size
            self._deflater = None
        self._check_crc(crc)
        if self._descriptor:
            if not self._zip64 and (csize >= ZIP64_LIMIT or usize >= ZIP64_LIMIT):
                # Unreachable by the bounds above; never write a lying archive.
                raise RuntimeError("member passed 4 GiB without a zip64 local header")
            self._out.write(data_descriptor(crc, csize, usize, zip64=self._zip64))
        self._add_central(crc, csize, usize)

    def _check_crc(self, crc: int) -> None:
        expected = self._options.crc32
        if expected is not None and expected != crc and not self._options.entry.is_dir:
            name = self._options.entry.name.decode("utf-8", "replace")
            raise ValueError(
                f"zip member {name!r} was given crc32={expected:#010x} but its data has "
                f"crc32={crc:#010x}"
            )

    def _add_central(self, crc: int, csize: int, usize: int) -> None:
        self._central.append(
            central_directory_header(
                self._options.entry,
                method=self._method,
                crc=crc,
                compressed_size=csize,
                uncompressed_size=usize,
                offset=self._header_offset,
                data_descriptor=self._descriptor,
                local_zip64=self._zip64,
            )
        )


def archive_length(
    members: Sequence[tuple[MemberOptions, int | None]], hold_back_size: int
) -> int | None:
    """The exact archive length, when it is known before any data is read.

    Known when every member is a folder, or stored with a declared size, or
    empty. Built from the same record functions as the encoder, with a dummy
    CRC (lengths do not depend on it).
    """
    offset = 0
    central = 0
    for options, size in members:
        entry = options.entry
        if entry.is_dir:
            size = 0
        if size is None or (options.method != COMPRESSION_METHOD_NONE and size != 0):
            return None
        descriptor, zip64 = stored_layout(size, options.crc32 is not None, hold_back_size)
        header = local_file_header(
            entry,
            method=0,
            crc=0,
            compressed_size=size,
            uncompressed_size=size,
            data_descriptor=descriptor,
            zip64=zip64,
        )
        record = central_directory_header(
            entry,
            method=0,
            crc=0,
            compressed_size=size,
            uncompressed_size=size,
            offset=offset,
            data_descriptor=descriptor,
            local_zip64=zip64,
        )
        offset += len(header) + size
        if descriptor:
            offset += _DESCRIPTOR64.size if zip64 else _DESCRIPTOR32.size
        central += len(record)
    return offset + central + len(end_of_archive(len(members), offset, central))
