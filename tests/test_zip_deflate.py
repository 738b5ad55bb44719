"""The deflate policy (``_zip_deflate``): the compressibility probe, stored members and
stored deflate blocks for incompressible data, the ``Deflater`` switching both ways, and
output that does not depend on how the data was chunked; checked with Python's zipfile."""

from __future__ import annotations

import os
import zipfile
import zlib
from collections.abc import Sequence

import pytest
from zip_encoding import (
    chunked,
    encode,
    local_header_at,
    options,
    random_chunks,
    text_bytes,
    verified,
)

from httpx_streaming import _zip_deflate
from httpx_streaming._zip_deflate import REPROBE_SEGMENTS, SEGMENT_SIZE, Deflater
from httpx_streaming._zip_records import COMPRESSION_METHOD_DEFLATE

# --- deflate ---------------------------------------------------------------------


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


@pytest.fixture(params=["zlib", "isal", "zlib-ng", "isal+zlib-ng"])
def compressors(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The deflate implementations in use: each extra on its own, both, and neither."""
    kind: str = request.param
    if "isal" not in kind:
        monkeypatch.setattr(_zip_deflate, "_isal_zlib", None)
    if "zlib-ng" not in kind:
        monkeypatch.setattr(_zip_deflate, "_zlib_ng", None)
    return kind


@pytest.mark.parametrize("level", [0, 1, 3, 5, 6, 9])
@pytest.mark.parametrize("kind", ["mixed", "random"])
def test_deflate_output_does_not_depend_on_chunking(
    level: int, kind: str, compressors: str
) -> None:
    # zlib-ng's output depends on how its input is split at some levels (1, 5 and 6
    # among them), isal's at all: both are fed fixed blocks.
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
