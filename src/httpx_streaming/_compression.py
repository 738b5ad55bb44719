"""Compressed bodies, sans-IO: encodings, their levels, and a compressor per pass.

A ``Compressor`` is made fresh for every pass of a body (never reset). Fed the
body's chunks, it hands back *jobs*: calls that each return the next piece of
compressed output. The driver runs them, in order, where it likes (inline, in
worker threads) and sends their results in the order the jobs were made.

gzip and deflate are cut into independent blocks, as pigz does: block *i*
holds the input bytes ``i * BLOCK_SIZE`` up to the next multiple (the last one
what is left, maybe nothing), is raw-deflated by a fresh compressor primed
with the last 32 KiB of block *i - 1* as its preset dictionary, and ends with
a sync flush (the last with the end of the stream), so the blocks concatenate
into one deflate stream that compresses almost as well as one compressor would
(0.02 % larger on text) and can be compressed on every core. The checksum
(CRC-32 for gzip, Adler-32 for deflate) runs over the input in turn, in the
driver, at several GB/s. On one installation the output depends only on the
input and the level: never on how the source chunks its data, nor on how many
workers run. (Another library gives other bytes that decode the same: zlib-ng
or zlib, another zlib-ng or libzstd version.)

brotli and zstd are single streams: their jobs must run one after the other,
fed fixed pieces of ``STREAM_PIECE`` bytes so that their output does not
depend on the source's chunks either.
"""

from __future__ import annotations

import functools
import struct
import zlib
from collections.abc import Callable, Iterable
from typing import Any, Final, NamedTuple, final

from ._types import BytesLike
from ._validation import describe, kept
from ._zip_deflate import _zlib_ng, crc32

BLOCK_SIZE: Final = 1024 * 1024
"""Input bytes per deflate block (the last block of a body holds what is left)."""
DICTIONARY_SIZE: Final = 32 * 1024
STREAM_PIECE: Final = 1024 * 1024
"""Input bytes per call into a brotli or zstd compressor."""
# zstd's largest window for HTTP (RFC 9659 section 3): 8 MiB.
_ZSTD_WINDOW_LOG: Final = 23

adler32: Any = _zlib_ng.adler32 if _zlib_ng is not None else zlib.adler32

# zlib-ng's level for each of zlib's, when zlib-ng is installed: the fastest one
# whose output was no more than 2 % larger than zlib's at that level on JSON
# logs, access logs and Python source (docs/compression.md has the table). Its
# own level 6 is 2.6 % larger than zlib's on JSON logs and its level 7 is 0.4-4 %
# smaller and still 1.4x zlib 6's speed; its level 1 is 22-27 % larger. Levels
# missing here use zlib itself.
_ZLIB_NG_LEVELS: Final = {2: 2, 3: 3, 4: 4, 5: 5, 6: 7, 7: 7, 8: 8, 9: 9}


class Job(NamedTuple):
    """A call that returns the next piece of output, and the input bytes it compresses."""

    run: Callable[[], bytes]
    size: int


class Encoding(NamedTuple):
    """A ``Content-Encoding`` we write: its name, levels, and the extra it needs."""

    name: str
    minimum: int
    maximum: int
    default: int
    extra: str | None  # the package extra that installs its library, if any


ENCODINGS: Final = {
    "gzip": Encoding("gzip", 0, 9, 6, None),
    "deflate": Encoding("deflate", 0, 9, 6, None),
    "br": Encoding("br", 0, 11, 4, "brotli"),
    "zstd": Encoding("zstd", 1, 22, 3, "zstd"),
}


def check_encoding(encoding: object) -> Encoding:
    """The encoding named *encoding* (any case, as HTTP's tokens are).

    Raises:
        TypeError: *encoding* is not a str.
        ValueError: it names none of ``ENCODINGS``.
    """
    if not isinstance(encoding, str):
        raise TypeError(f"encoding must be a str, got {describe(encoding)}")
    found = ENCODINGS.get(encoding.lower())
    if found is None:
        supported = ", ".join(repr(name) for name in ENCODINGS)
        raise ValueError(f"unknown encoding {encoding!r}: the supported ones are {supported}")
    return found


def check_level(encoding: Encoding, level: object) -> int:
    """*level* for *encoding*, its default for ``None``.

    Raises:
        TypeError: *level* is not an int (or is a bool).
        ValueError: *level* is outside the encoding's range.
    """
    if level is None:
        return encoding.default
    if isinstance(level, bool) or not isinstance(level, int):
        raise TypeError(f"level must be an int or None, got {describe(level)}")
    if not encoding.minimum <= level <= encoding.maximum:
        raise ValueError(
            f"level must be from {encoding.minimum} to {encoding.maximum} for "
            f"{encoding.name!r}, got {level!r}"
        )
    return level


class MissingExtraError(ModuleNotFoundError):
    """An encoding's library is not installed."""


def _brotli() -> Any:
    try:
        import brotli  # type: ignore[import-untyped, unused-ignore]
    except ImportError:
        try:  # the same API, for PyPy
            import brotlicffi as brotli  # type: ignore[import-not-found, import-untyped, unused-ignore]
        except ImportError:
            return None
    return brotli


def _zstd() -> tuple[str, Any] | None:
    try:  # Python 3.14's standard library
        from compression import zstd  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        pass
    else:
        return "compression.zstd", zstd
    try:  # the zstd extra
        import zstandard
    except ImportError:
        return None
    return "zstandard", zstandard


def check_library(encoding: Encoding) -> None:
    """Raise MissingExtraError now if *encoding*'s library is not installed."""
    if encoding.name == "br":
        missing = _brotli() is None
        library = "the brotli package"
    elif encoding.name == "zstd":
        missing = _zstd() is None
        library = "the zstandard package (or Python 3.14's compression.zstd)"
    else:
        return
    if missing:
        raise MissingExtraError(
            f"the {encoding.name!r} encoding needs {library}, which is not installed: "
            f"pip install 'httpx-streaming[{encoding.extra}]'"
        )


# --- gzip and deflate ---------------------------------------------------------------


def _compressobj(level: int, zdict: bytes) -> Any:
    ng_level = _ZLIB_NG_LEVELS.get(level) if _zlib_ng is not None else None
    module: Any = zlib if ng_level is None else _zlib_ng
    if zdict and level:
        return module.compressobj(
            ng_level or level, module.DEFLATED, -15, 8, module.Z_DEFAULT_STRATEGY, zdict
        )
    return module.compressobj(ng_level or level, module.DEFLATED, -15)


def deflate_block(level: int, block: BytesLike, zdict: bytes, final: bool) -> bytes:
    """Raw deflate of one block, primed with *zdict* (the previous 32 KiB of input).

    It ends on a byte boundary with a sync flush, so the next block's output
    follows it in the same stream, or with the stream's end when *final*.
    Pure: the output depends on the arguments alone, so blocks may be
    deflated in any thread and in any order.
    """
    compressor = _compressobj(level, zdict)
    # One call: zlib-ng's output depends on how its input is split.
    head: bytes = compressor.compress(block)
    tail: bytes = compressor.flush(zlib.Z_FINISH if final else zlib.Z_SYNC_FLUSH)
    return head + tail


def gzip_header(level: int) -> bytes:
    """An RFC 1952 member header that depends on the level alone.

    No file name, no comment, MTIME 0 ("no time stamp"), XFL as zlib sets it
    (2 for level 9, 4 for levels 0 and 1), OS 255 ("unknown"): the same bytes
    on every machine and every pass.
    """
    extra_flags = 2 if level == 9 else 4 if level < 2 else 0
    return struct.pack("<BBBBIBB", 0x1F, 0x8B, 8, 0, 0, extra_flags, 255)


def zlib_header(level: int) -> bytes:
    """An RFC 1950 header: deflate with a 32 KiB window, FLEVEL as zlib sets it."""
    level_flags = 0 if level < 2 else 1 if level < 6 else 2 if level == 6 else 3
    cmf = 0x78
    flags = level_flags << 6
    flags += 31 - (cmf * 256 + flags) % 31
    return bytes((cmf, flags))


@final
class FixedPieces:
    """A pass's input cut into pieces of one *size*, however its chunks fall.

    Each piece is immutable (a source may reuse a mutable buffer for its next
    chunk). The chunks that complete pieces are joined once, and the pieces
    are views of the join: one copy of each byte, none for a ``bytes`` chunk
    (or a view of one) that is whole pieces by itself. A chunk of a mutable
    buffer that completes no piece is copied as it is kept, and the rest of a
    join (less than a piece) is copied so as not to keep all of it alive.
    """

    __slots__ = ("_pending", "_pending_size", "_size")

    def __init__(self, size: int) -> None:
        self._size = size
        self._pending: list[BytesLike] = []
        self._pending_size = 0

    def feed(self, data: BytesLike) -> list[BytesLike]:
        """Take *data*; returns the pieces it completed, in order."""
        chunk = _byte_view(data)
        if not len(chunk):
            return []
        pending = self._pending
        pending.append(chunk)
        self._pending_size += len(chunk)
        size = self._size
        if self._pending_size < size:
            pending[-1] = kept(chunk)
            return []
        joined = kept(chunk) if len(pending) == 1 else b"".join(pending)
        whole = len(joined) - len(joined) % size
        view = memoryview(joined)
        rest = bytes(view[whole:])
        self._pending = [rest] if rest else []
        self._pending_size = len(rest)
        return [view[start : start + size] for start in range(0, whole, size)]

    def rest(self) -> bytes:
        """What is left once the input ended: less than a piece, maybe nothing."""
        rest = b"".join(self._pending)
        self._pending, self._pending_size = [], 0
        return rest


def _byte_view(data: BytesLike) -> BytesLike:
    """*data* as bytes: ``len`` counts bytes, not wider items or rows."""
    if type(data) is bytes:
        return data
    view = memoryview(data)
    if view.itemsize != 1 or view.ndim != 1 or not view.c_contiguous:
        view = view.cast("B") if view.c_contiguous else memoryview(view.tobytes())
    return view


@final
class DeflateCompressor:
    """gzip or zlib-wrapped deflate of one pass, in independent blocks.

    ``header`` goes out first, then the output of every job in order, then
    ``trailer()`` once ``end()`` was called. The jobs are independent of each
    other (``parallel``).
    """

    __slots__ = ("_checksum", "_gzip", "_level", "_pieces", "_previous", "_size", "header")

    parallel = True

    def __init__(self, encoding: str, level: int) -> None:
        self._gzip = encoding == "gzip"
        self._level = level
        self.header = gzip_header(level) if self._gzip else zlib_header(level)
        self._checksum = 0 if self._gzip else 1
        self._size = 0
        self._pieces = FixedPieces(BLOCK_SIZE)
        self._previous = b""  # the last DICTIONARY_SIZE bytes of the previous block

    def feed(self, data: BytesLike) -> list[Job]:
        """Take *data*; returns the jobs of the blocks it completed."""
        self._checksum = (crc32 if self._gzip else adler32)(data, self._checksum)
        self._size += len(data)
        return [self._job(block, final=False) for block in self._pieces.feed(data)]

    def end(self) -> list[Job]:
        """The job of the last block: what is left, maybe nothing."""
        return [self._job(self._pieces.rest(), final=True)]

    def trailer(self) -> bytes:
        """The checksum (and for gzip the length) of all the input, once ``end()`` was called."""
        if self._gzip:
            return struct.pack("<II", self._checksum, self._size & 0xFFFFFFFF)
        return struct.pack(">I", self._checksum)

    def _job(self, block: BytesLike, *, final: bool) -> Job:
        zdict = self._previous
        # A copy: a view would keep the whole join that *block* is part of alive.
        self._previous = bytes(block[-DICTIONARY_SIZE:])
        return Job(functools.partial(deflate_block, self._level, block, zdict, final), len(block))


# --- brotli and zstd ---------------------------------------------------------------


@final
class StreamCompressor:
    """brotli or zstd of one pass: one compressor, fed fixed pieces in order.

    Its jobs share that compressor, so they must run one after the other
    (``parallel`` is false), in the order they were made.
    """

    __slots__ = ("_finish", "_pieces", "_process")

    parallel = False
    header = b""

    def __init__(self, encoding: str, level: int) -> None:
        self._process: Callable[[BytesLike], bytes]
        self._finish: Callable[[], bytes]
        if encoding == "br":
            module = _brotli()
            compressor = module.Compressor(quality=level)
            self._process, self._finish = compressor.process, compressor.finish
            if module.__name__ == "brotlicffi":  # its process() takes bytes only
                self._process = lambda piece: compressor.process(bytes(piece))
        else:
            found = _zstd()
            assert found is not None  # checked by check_library when the body was made
            name, module = found
            # RFC 9659: a zstd content coding's window is at most 8 MiB (window log
            # 23), which levels 20-22 would exceed without a cap.
            if name == "zstandard":
                parameters = module.ZstdCompressionParameters.from_level(
                    level, window_log=_ZSTD_WINDOW_LOG, write_checksum=True
                )
                stream = module.ZstdCompressor(compression_params=parameters).compressobj()
            else:
                parameter = module.CompressionParameter
                options = {
                    parameter.compression_level: level,
                    parameter.window_log: _ZSTD_WINDOW_LOG,
                    parameter.checksum_flag: 1,
                }
                stream = module.ZstdCompressor(options=options)
            self._process, self._finish = stream.compress, stream.flush
        self._pieces = FixedPieces(STREAM_PIECE)

    def feed(self, data: BytesLike) -> list[Job]:
        return [
            Job(functools.partial(self._process, piece), len(piece))
            for piece in self._pieces.feed(data)
        ]

    def end(self) -> list[Job]:
        tail = self._pieces.rest()
        return [Job(functools.partial(self._last, tail), len(tail))]

    def trailer(self) -> bytes:
        return b""

    def _last(self, tail: BytesLike) -> bytes:
        return self._process(tail) + self._finish()


Compressor = DeflateCompressor | StreamCompressor


def new_compressor(encoding: str, level: int) -> Compressor:
    """A fresh compressor for one pass of *encoding* (checked) at *level* (checked)."""
    if encoding in ("gzip", "deflate"):
        return DeflateCompressor(encoding, level)
    return StreamCompressor(encoding, level)


def compress_all(compressor: Compressor, chunks: Iterable[BytesLike]) -> bytes:
    """The whole output for *chunks*, every job run in turn (for tests and tiny bodies)."""
    out = [compressor.header]
    for chunk in chunks:
        out.extend(job.run() for job in compressor.feed(chunk))
    out.extend(job.run() for job in compressor.end())
    out.append(compressor.trailer())
    return b"".join(out)
