"""The deflate policy, sans-IO: when to deflate, and deflate output that depends only on the data.

A fast trial compression of the first ``PROBE_SIZE`` bytes decides whether a
member is worth deflating; a long member is re-checked per segment and falls
back to stored deflate blocks (memcpy speed) while its data does not shrink.
Output never depends on how a source chunked its data, so every pass of a
reusable archive is byte-identical. python-isal, when installed, provides a
faster CRC-32 and the fast levels 1-3; zlib-ng, when installed, the other
levels (about 1.6 times zlib's speed at level 6, archives within 0.2 % of
zlib's size on text).
"""

from __future__ import annotations

import struct
import sys
import zlib
from collections.abc import Sequence
from typing import Any, Final

from ._types import BytesLike

_isal_zlib: Any
try:  # python-isal: crc32 about 6x faster than zlib's, and fast deflate levels
    from isal import isal_zlib as _isal_zlib
except ImportError:  # pragma: no cover - exercised in CI without the extra
    _isal_zlib = None

_zlib_ng: Any
try:  # zlib-ng: zlib's levels and format, level 6 about 1.6x faster within 0.2 % of its size
    from zlib_ng import zlib_ng as _zlib_ng
except ImportError:  # pragma: no cover - exercised in CI without the extra
    _zlib_ng = None

crc32: Any = _isal_zlib.crc32 if _isal_zlib is not None else zlib.crc32
HAS_ISAL: Final = _isal_zlib is not None
HAS_ZLIB_NG: Final = _zlib_ng is not None

DEFAULT_COMPRESSION_LEVEL: Final = 6
PROBE_SIZE: Final = 65536
SEGMENT_SIZE: Final = 1024 * 1024
REPROBE_SEGMENTS: Final = 16
INCOMPRESSIBLE_RATIO: Final = 0.97
_INPUT_BLOCK: Final = 65536
SMALL_WINDOW_INPUT: Final = 4096
STORED_BLOCK: Final = 65535  # the largest a stored deflate block holds


def deflate_bound(size: int) -> int:
    """An upper bound of our deflate output for *size* input bytes.

    Stored deflate blocks cost 5 bytes per 64 KiB (0.008 %); a compressed
    segment that did not shrink costs zlib or isal at most 0.03 % before the
    switch to stored blocks, plus a few bytes per segment flush. 0.1 % plus
    64 KiB leaves a wide margin, and keeps the window where a member under
    4 GiB still gets zip64 (it might have passed) to its last 4 MiB.
    """
    return size + (size >> 10) + 65536


def _compressor(level: int) -> Any:
    # Levels 1-3 use isal's levels 1-3 when installed: several times faster than
    # zlib's at a similar ratio; the others zlib-ng's, when installed. Level 0 is
    # stored blocks, which zlib copies at memory speed.
    if _isal_zlib is not None and 1 <= level <= 3:
        return _isal_zlib.compressobj(level, _isal_zlib.DEFLATED, -15)
    if _zlib_ng is not None and level:
        return _zlib_ng.compressobj(level, _zlib_ng.DEFLATED, -15)
    return zlib.compressobj(level, zlib.DEFLATED, -15)


def _blocked(level: int) -> bool:
    """Whether the compressor of *level* gives output that depends on how its input is
    split (isal's, and zlib-ng's at some levels): it is then fed fixed blocks only."""
    return level > 0 and (_zlib_ng is not None or (_isal_zlib is not None and level <= 3))


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
    compressor = _compressor(level)
    if _blocked(level) and len(data) > 1:
        # The output depends on how input is split; one piece keeps it stable.
        data = [b"".join(data)]
    out = [compressor.compress(piece) for piece in data]
    out.append(compressor.flush())
    return [piece for piece in out if piece]


if sys.version_info >= (3, 11):

    def compress_small(data: BytesLike, level: int) -> bytes:
        """Raw deflate of at most ``SMALL_WINDOW_INPUT`` bytes with zlib, in one call.

        A 4 KiB window reaches as far back as a 32 KiB one in 4 KiB of data,
        and zlib sets it up faster: it matters for many small members. zlib's
        output does not depend on how its input is split, so this gives the
        bytes a compressor fed piece by piece would.
        """
        return zlib.compress(data, level, -12)

else:  # pragma: no cover - zlib.compress takes wbits since Python 3.11

    def compress_small(data: BytesLike, level: int) -> bytes:
        """Raw deflate of at most ``SMALL_WINDOW_INPUT`` bytes with zlib."""
        compressor = zlib.compressobj(level, zlib.DEFLATED, -12)
        return compressor.compress(data) + compressor.flush()


def stored_block_header(length: int, *, final: bool) -> bytes:
    """Header of a stored deflate block (RFC 1951 3.2.4), written on a byte boundary."""
    return struct.pack("<BHH", 1 if final else 0, length, length ^ 0xFFFF)


class Deflater:
    """Raw deflate of one long member, with the incompressible-data escape hatch.

    The output depends only on the data, never on how the source chunked it,
    so retries are byte-identical: input is cut at fixed offsets (segments of
    ``SEGMENT_SIZE`` bytes, 64 KiB blocks for isal and zlib-ng, whose output
    depends on the pieces it is given) and stored blocks are written here, ``STORED_BLOCK``
    bytes each (zlib's level 0 sizes them by its input calls).

    Per segment: while compressing, a segment whose output is not 3 % smaller
    than its input switches to stored deflate blocks; while storing, every
    ``REPROBE_SEGMENTS``-th segment's first ``PROBE_SIZE`` bytes get a fast
    trial compression, and compressing resumes when they shrink. A switch
    happens on a byte boundary (a sync flush of the compressor), and a fresh
    compressor continues: the whole stays one valid deflate stream.
    """

    __slots__ = (
        "_blocked",
        "_compressor",
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
        self._blocked = False
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
        self._blocked = _blocked(self._level)
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
        if not self._blocked:
            self._emit(self._compressor.compress(piece), out)
            return
        pending = self._pending
        pending += piece
        if len(pending) >= _INPUT_BLOCK:
            whole = len(pending) - len(pending) % _INPUT_BLOCK
            # Views, not copies; released before the bytearray shrinks.
            with memoryview(pending) as view:
                for start in range(0, whole, _INPUT_BLOCK):
                    self._emit(self._compressor.compress(view[start : start + _INPUT_BLOCK]), out)
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
    saves: for members of at most ``SMALL_WINDOW_INPUT`` bytes (with isal the
    probe's set-up alone is a tenth of compressing a 1 KiB member, and
    compressing incompressible data that small wastes tens of microseconds at
    most), and without isal for members the probe would read whole (a zlib
    probe costs as much as compressing them).
    """
    if size > SMALL_WINDOW_INPUT and (HAS_ISAL or size > PROBE_SIZE):
        sample = held[0] if size <= PROBE_SIZE and len(held) == 1 else head(held, PROBE_SIZE)
        if looks_incompressible(sample):
            return None
    if size <= SMALL_WINDOW_INPUT and not (_isal_zlib is not None and 1 <= level <= 3):
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
