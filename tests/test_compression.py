"""The sans-IO compressors: framing, blocks, determinism, and the checks of encoding and level."""

from __future__ import annotations

import gzip
import random
import struct
import sys
import zlib
from collections.abc import Sequence

import pytest

from httpx_streaming import _compression
from httpx_streaming._compression import (
    BLOCK_SIZE,
    DICTIONARY_SIZE,
    ENCODINGS,
    FixedPieces,
    MissingExtraError,
    check_encoding,
    check_level,
    check_library,
    compress_all,
    deflate_block,
    gzip_header,
    new_compressor,
    zlib_header,
)

MiB = 1 << 20


def text(size: int, seed: int = 0) -> bytes:
    """Log-like lines: compressible, not trivially repetitive."""
    rng = random.Random(seed)
    words = [b"GET", b"POST", b"/api/users", b"/health", b"ok", b"timeout", b"cache", b"miss"]
    lines = []
    total = 0
    number = 0
    while total < size:
        line = b'{"n":%d,"level":"%s","msg":"%s %s","ms":%d}\n' % (
            number,
            rng.choice([b"INFO", b"WARN", b"ERROR"]),
            rng.choice(words),
            rng.choice(words),
            rng.randint(0, 5000),
        )
        lines.append(line)
        total += len(line)
        number += 1
    return b"".join(lines)[:size]


def decode(encoding: str, data: bytes) -> bytes:
    if encoding == "gzip":
        return gzip.decompress(data)
    if encoding == "deflate":
        return zlib.decompress(data)
    if encoding == "br":
        import brotli

        return brotli.decompress(data)  # type: ignore[no-any-return]
    import zstandard

    return zstandard.ZstdDecompressor().decompressobj().decompress(data)


def pieces(data: bytes, size: int) -> list[bytes]:
    return [data[start : start + size] for start in range(0, len(data), size)]


INPUTS = {
    "empty": b"",
    "small": b"hello",
    "text": text(2 * MiB + 12_345),
    "random": random.Random(7).randbytes(MiB + 999),
    "one block": text(BLOCK_SIZE, seed=3),
}


@pytest.mark.parametrize("encoding", list(ENCODINGS))
@pytest.mark.parametrize("name", list(INPUTS))
def test_round_trip(encoding: str, name: str) -> None:
    data = INPUTS[name]
    packed = compress_all(new_compressor(encoding, ENCODINGS[encoding].default), [data])
    assert decode(encoding, packed) == data


@pytest.mark.parametrize("encoding", list(ENCODINGS))
def test_output_does_not_depend_on_chunking(encoding: str) -> None:
    data = INPUTS["text"]
    level = ENCODINGS[encoding].default
    whole = compress_all(new_compressor(encoding, level), [data])
    for size in (1000, 65536 + 7, BLOCK_SIZE - 1, BLOCK_SIZE + 1):
        chunks = pieces(data, size)
        assert compress_all(new_compressor(encoding, level), chunks) == whole, size
    views = [memoryview(bytearray(chunk)) for chunk in pieces(data, 300_001)]
    assert compress_all(new_compressor(encoding, level), views) == whole


def cut(chunks: Sequence[bytes | bytearray | memoryview], size: int) -> list[bytes]:
    fixed = FixedPieces(size)
    out: list[bytes] = []
    for chunk in chunks:
        out.extend(bytes(piece) for piece in fixed.feed(chunk))
    out.append(fixed.rest())
    return out


@pytest.mark.parametrize("chunk_size", [1, 3, 7, 10, 11, 25, 100])
def test_fixed_pieces_do_not_depend_on_chunks(chunk_size: int) -> None:
    data = bytes(range(256)) * 3 + b"tail"  # 77 pieces of 10 bytes, and b"il"
    assert cut(pieces(data, chunk_size), 10) == pieces(data, 10)


def test_fixed_pieces_keep_what_a_reused_buffer_held() -> None:
    fixed = FixedPieces(4)
    buffer = bytearray(b"abc")
    assert fixed.feed(buffer) == []
    buffer[:] = b"def"  # the source reuses its buffer for the next chunk
    (piece,) = fixed.feed(memoryview(buffer))
    buffer[:] = b"xyz"
    assert bytes(piece) == b"abcd"
    assert fixed.rest() == b"ef"


def test_fixed_pieces_of_one_bytes_chunk_are_views_of_it() -> None:
    chunk = bytes(range(200)) * 5  # 1,000 bytes
    fixed = FixedPieces(250)
    made = fixed.feed(chunk)
    assert [bytes(piece) for piece in made] == pieces(chunk, 250)
    assert all(isinstance(piece, memoryview) and piece.obj is chunk for piece in made)
    assert fixed.rest() == b""
    assert fixed.feed(b"") == []
    # A view of bytes (what a big chunk is cut into) is not copied either.
    made = fixed.feed(memoryview(chunk)[250:750])
    assert [bytes(piece) for piece in made] == pieces(chunk[250:750], 250)
    assert all(piece.obj is chunk for piece in made)


def test_fixed_pieces_count_bytes_of_wide_buffers() -> None:
    import array

    wide = memoryview(array.array("I", range(4)))  # 4 items, 16 bytes
    assert cut([wide], 8) == [bytes(wide)[:8], bytes(wide)[8:], b""]
    square = memoryview(bytes(range(16))).cast("B", (4, 4))  # 4 rows, 16 bytes
    assert cut([square], 8) == [bytes(range(8)), bytes(range(8, 16)), b""]
    strided = memoryview(bytes(range(16)))[::2]  # not contiguous: 8 bytes
    assert cut([strided], 8) == [bytes(range(0, 16, 2)), b""]


@pytest.mark.parametrize("level", range(10))
@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_every_deflate_level(encoding: str, level: int) -> None:
    data = INPUTS["text"]
    packed = compress_all(new_compressor(encoding, level), [data])
    assert decode(encoding, packed) == data
    if level:
        assert len(packed) < len(data) / 2


def test_gzip_header_has_no_time_stamp_and_a_fixed_os() -> None:
    for level, extra_flags in [(0, 4), (1, 4), (2, 0), (6, 0), (9, 2)]:
        header = gzip_header(level)
        assert header == b"\x1f\x8b\x08\x00\x00\x00\x00\x00" + bytes([extra_flags, 255])
    packed = compress_all(new_compressor("gzip", 6), [b"data"])
    assert packed[:10] == gzip_header(6)
    crc, size = struct.unpack("<II", packed[-8:])
    assert crc == zlib.crc32(b"data") and size == 4


def test_zlib_header_is_valid_and_names_the_level() -> None:
    for level in range(10):
        header = zlib_header(level)
        assert header[0] == 0x78 and (header[0] * 256 + header[1]) % 31 == 0
        assert header[1] & 0x20 == 0  # no preset dictionary
        assert header[1] >> 6 == (0 if level < 2 else 1 if level < 6 else 2 if level == 6 else 3)
    # zlib writes the same headers.
    for level in (1, 3, 6, 9):
        assert zlib.compress(b"x", level)[:2] == zlib_header(level)


def test_blocks_are_cut_at_fixed_offsets_and_flushed_to_a_byte_boundary() -> None:
    data = INPUTS["text"]
    compressor = new_compressor("deflate", 6)
    jobs = compressor.feed(data[:100]) + compressor.feed(data[100:])
    assert [job.size for job in jobs] == [BLOCK_SIZE, BLOCK_SIZE]
    outputs = [job.run() for job in jobs]
    for output in outputs:  # a sync flush ends with an empty stored block
        assert output.endswith(b"\x00\x00\xff\xff")
    (last,) = compressor.end()
    assert last.size == len(data) - 2 * BLOCK_SIZE
    # The second block is primed with the first block's last 32 KiB.
    primed = deflate_block(6, data[BLOCK_SIZE : 2 * BLOCK_SIZE], data[:BLOCK_SIZE][-32768:], False)
    assert outputs[1] == primed
    assert DICTIONARY_SIZE == 32768


def test_a_body_of_whole_blocks_ends_with_an_empty_final_block() -> None:
    data = INPUTS["one block"]
    compressor = new_compressor("gzip", 6)
    (job,) = compressor.feed(data)
    (last,) = compressor.end()
    assert last.size == 0
    packed = compressor.header + job.run() + last.run() + compressor.trailer()
    assert gzip.decompress(packed) == data


def test_blocks_cost_little_size() -> None:
    data = text(4 * MiB, seed=11)
    ours = compress_all(new_compressor("deflate", 6), [data])
    whole = zlib.compress(data, 6)
    # zlib-ng's level 7 stands in for zlib's 6 when installed: no larger.
    assert len(ours) <= len(whole) * 1.005


def test_without_zlib_ng(monkeypatch: pytest.MonkeyPatch) -> None:
    data = INPUTS["text"]
    monkeypatch.setattr(_compression, "_zlib_ng", None)
    packed = compress_all(new_compressor("gzip", 6), pieces(data, 70_000))
    assert gzip.decompress(packed) == data
    assert packed == compress_all(new_compressor("gzip", 6), [data])
    assert len(packed) <= len(gzip.compress(data, 6)) * 1.002


def test_check_encoding() -> None:
    assert check_encoding("GZip").name == "gzip"
    assert check_encoding("br").name == "br"
    with pytest.raises(ValueError, match=r"unknown encoding 'lzma': the supported ones are "):
        check_encoding("lzma")
    with pytest.raises(ValueError, match="'gzip', 'deflate', 'br', 'zstd'"):
        check_encoding("x-gzip")
    with pytest.raises(TypeError, match=r"encoding must be a str, got b'gzip' \(type bytes\)"):
        check_encoding(b"gzip")


def test_check_level() -> None:
    assert check_level(ENCODINGS["gzip"], None) == 6
    assert check_level(ENCODINGS["br"], None) == 4
    assert check_level(ENCODINGS["zstd"], None) == 3
    assert check_level(ENCODINGS["deflate"], 0) == 0
    with pytest.raises(ValueError, match="level must be from 0 to 9 for 'gzip', got 10"):
        check_level(ENCODINGS["gzip"], 10)
    with pytest.raises(ValueError, match="from 1 to 22 for 'zstd', got 0"):
        check_level(ENCODINGS["zstd"], 0)
    with pytest.raises(TypeError, match=r"got '6' \(type str\)"):
        check_level(ENCODINGS["gzip"], "6")
    with pytest.raises(TypeError, match=r"got True \(type bool\)"):
        check_level(ENCODINGS["gzip"], True)
    with pytest.raises(TypeError, match=r"got 6.0 \(type float\)"):
        check_level(ENCODINGS["br"], 6.0)


def test_brotli_through_brotlicffi(monkeypatch: pytest.MonkeyPatch) -> None:
    # PyPy's brotli binding, used when brotli is missing: it takes bytes only.
    import brotli

    monkeypatch.setitem(sys.modules, "brotli", None)  # import raises ImportError
    data = INPUTS["text"]  # pieces of more than one STREAM_PIECE
    chunks = [memoryview(bytearray(chunk)) for chunk in pieces(data, 300_001)]
    packed = compress_all(new_compressor("br", ENCODINGS["br"].default), chunks)
    assert brotli.decompress(packed) == data
    assert _compression._brotli().__name__ == "brotlicffi"


@pytest.mark.parametrize(
    ("encoding", "extra"), [("br", "brotli"), ("zstd", "zstd")], ids=["br", "zstd"]
)
def test_missing_library_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, encoding: str, extra: str
) -> None:
    for name in ("brotli", "brotlicffi", "zstandard", "compression", "compression.zstd"):
        monkeypatch.setitem(sys.modules, name, None)  # import raises ImportError
    with pytest.raises(MissingExtraError) as caught:
        check_library(ENCODINGS[encoding])
    assert isinstance(caught.value, ModuleNotFoundError)
    assert f"pip install 'httpx-streaming[{extra}]'" in str(caught.value)
    assert repr(encoding) in str(caught.value)
    check_library(ENCODINGS["gzip"])  # needs nothing
