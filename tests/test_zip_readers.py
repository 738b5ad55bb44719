"""The reader matrix: archives from our encoder, opened by real zip readers.

The first part checks the harness itself (``tests/support/zip_readers.py``) against
archives made by Python's zipfile and zipstream-ng: every reader reads a plain
archive, every reader notices a flipped bit, and the streaming readers really
read from the local headers only. The second part runs the matrix on archives
from ``stream_zip`` / ``create_zip_stream_resource``, on asyncio and trio.
"""

from __future__ import annotations

import io
import os
import random
import stat
import zipfile
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import anyio
import anyio.lowlevel
import httpx
import pytest
import zip_readers
import zipstream
from loopback import LoopbackServer, pattern_bytes
from zip_readers import (
    ALL_READERS,
    CENTRAL_READERS,
    DIRECTORY,
    EXTRA_CENTRAL_READERS,
    READERS,
    STREAMING_READERS,
    Listing,
    Reader,
    ReaderFailed,
    assert_listing,
    entry_for,
)

from httpx_streaming import (
    COMPRESSION_METHOD_DEFLATE,
    COMPRESSION_METHOD_NONE,
    ResourceStream,
    ResourceStreamFunction,
    ZipStreamFile,
    create_zip_stream_resource,
    stream_response,
    stream_zip,
)


def reader_id(reader: Reader) -> str:
    return reader.name


all_readers = pytest.mark.parametrize("reader", ALL_READERS, ids=reader_id)
streaming_readers = pytest.mark.parametrize("reader", STREAMING_READERS, ids=reader_id)


# --- part 1: the harness, on archives made by other writers ---------------------------

REFERENCE_MEMBERS = {
    "a.txt": b"hello\n",
    "empty.bin": b"",
    "dir/": None,
    "dir/nested/": None,
    "dir/random.bin": os.urandom(70_000),
    "日本語/データ.txt": "こんにちは\n".encode() * 300,
    "emoji 😀/🎉.txt": b"party\n" * 1000,
}


def write_reference(path: Path, method: int, *, seekable: bool = True) -> Listing:
    """An archive by Python's zipfile; unseekable output makes it use data descriptors."""

    class Unseekable(io.RawIOBase):
        def __init__(self) -> None:
            self.data = bytearray()

        def writable(self) -> bool:
            return True

        def write(self, chunk: bytes) -> int:  # type: ignore[override]
            self.data += chunk
            return len(chunk)

    target: io.RawIOBase = Unseekable()
    with zipfile.ZipFile(target if not seekable else path, "w", compression=method) as archive:
        for name, data in REFERENCE_MEMBERS.items():
            if data is None:
                folder = zipfile.ZipInfo(name)  # ZipFile.mkdir is Python >= 3.11
                folder.external_attr = (0o40755 << 16) | 0x10
                archive.writestr(folder, b"")
            else:
                with archive.open(name, "w") as member:
                    member.write(data)
    if not seekable:
        path.write_bytes(bytes(target.data))  # type: ignore[attr-defined]
    return {
        name: DIRECTORY if data is None else entry_for(data)
        for name, data in REFERENCE_MEMBERS.items()
    }


@all_readers
@pytest.mark.parametrize(
    "method", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED], ids=["stored", "deflated"]
)
def test_harness_reads_a_zipfile_archive(reader: Reader, method: int, tmp_path: Path) -> None:
    path = tmp_path / "reference.zip"
    expected = write_reference(path, method)
    assert_listing(reader.read(path), expected, reader.name)
    assert_listing(reader.read(path, contents=False), expected, reader.name)


@all_readers
@pytest.mark.parametrize(
    "method", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED], ids=["stored", "deflated"]
)
@pytest.mark.parametrize("contents", [True, False], ids=["contents", "test-mode"])
def test_harness_notices_a_flipped_bit(
    reader: Reader, method: int, contents: bool, tmp_path: Path
) -> None:
    data = os.urandom(50_000)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=method) as archive:
        archive.writestr("a.bin", data)
        archive.writestr("b.txt", b"after")
    corrupted = bytearray(buffer.getvalue())
    corrupted[30 + len("a.bin") + 1000] ^= 0x01  # inside a.bin's data
    path = tmp_path / "corrupted.zip"
    path.write_bytes(corrupted)
    with pytest.raises(ReaderFailed):
        reader.read(path, contents=contents)


@streaming_readers
def test_harness_streaming_readers_use_local_headers_only(reader: Reader, tmp_path: Path) -> None:
    """Rename a member in the central directory only: streaming readers must not notice."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("local.txt", b"data" * 100)
    raw = buffer.getvalue()
    central = raw.index(b"PK\x01\x02")
    path = tmp_path / "renamed.zip"
    path.write_bytes(raw[:central] + raw[central:].replace(b"local.txt", b"centr.txt"))
    with zipfile.ZipFile(path) as archive:  # the central directory has the new name
        assert archive.namelist() == ["centr.txt"]
    assert_listing(reader.read(path), {"local.txt": entry_for(b"data" * 100)}, reader.name)


def test_harness_documents_streaming_limits_on_other_writers(tmp_path: Path) -> None:
    """What the streaming readers make of data descriptors (facts the encoder designs around).

    * Stored members with a data descriptor: Java's ZipInputStream refuses them
      ("only DEFLATED entries can have EXT descriptor"), stream-unzip refuses
      them (NotStreamUnzippable); libarchive scans for the descriptor's
      signature and reads them.
    * A small deflated member whose local header carries a zip64 extra field
      and whose descriptor has 8-byte sizes (zipstream-ng, unknown size): Java
      17 reads 4-byte sizes unless the member really passed 4 GiB, and fails.
    """
    stored_dd = tmp_path / "stored-dd.zip"
    expected = write_reference(stored_dd, zipfile.ZIP_STORED, seekable=False)
    for reader in CENTRAL_READERS:
        assert_listing(reader.read(stored_dd), expected, reader.name)
    assert_listing(READERS["bsdtar-pipe"].read(stored_dd), expected, "bsdtar-pipe")
    with pytest.raises(ReaderFailed, match="NotStreamUnzippable"):
        READERS["stream-unzip"].read(stored_dd)
    with pytest.raises(ReaderFailed, match="only DEFLATED entries can have EXT descriptor"):
        READERS["java-zipinputstream"].read(stored_dd)

    zip64_dd = tmp_path / "zip64-dd.zip"
    stream = zipstream.ZipStream(compress_type=zipstream.ZIP_DEFLATED)
    stream.add((b"y" * 1000 for _ in range(100)), "generated.bin")
    zip64_dd.write_bytes(b"".join(stream))
    expected = {"generated.bin": entry_for(b"y" * 100_000)}
    for reader in (*CENTRAL_READERS, READERS["bsdtar-pipe"], READERS["stream-unzip"]):
        assert_listing(reader.read(zip64_dd), expected, reader.name)
    with pytest.raises(ReaderFailed, match="invalid entry size"):
        READERS["java-zipinputstream"].read(zip64_dd)


def test_harness_zip64_detection(tmp_path: Path) -> None:
    small = tmp_path / "small.zip"
    write_reference(small, zipfile.ZIP_DEFLATED)
    report = zip_readers.zipinfo_zip64_report(small)
    assert not report.end_records_zip64
    assert report.entries_with_zip64_extra == report.entries_needing_45 == 0
    assert "64-bit" not in zip_readers.sevenzip_archive_properties(small)

    many = tmp_path / "many.zip"
    with zipfile.ZipFile(many, "w") as archive:
        for index in range(65_536):
            archive.writestr(f"{index}", b"")
    report = zip_readers.zipinfo_zip64_report(many)
    assert report.end_records_zip64
    assert report.entry_count == 65_536
    assert zip_readers.sevenzip_archive_properties(many).get("64-bit") == "+"


def test_harness_extra_readers_are_registered() -> None:
    assert {reader.name for reader in ALL_READERS} == {
        "zipfile",
        "unzip",
        "7z",
        "bsdtar",
        "java-zipfile",
        "bsdtar-pipe",
        "stream-unzip",
        "java-zipinputstream",
    }
    assert all(not reader.streaming for reader in CENTRAL_READERS + EXTRA_CENTRAL_READERS)


# --- part 2: the reader matrix on our encoder's archives ------------------------------

NONE, DEFLATE = COMPRESSION_METHOD_NONE, COMPRESSION_METHOD_DEFLATE
# A small hold-back keeps "longer than the hold-back" members cheap.
HOLD_BACK = 64 * 1024
MODIFIED_AT = datetime(2024, 2, 29, 13, 37, 42, tzinfo=timezone.utc)
RANDOM = os.urandom(400_000)
TEXT = b"".join(
    b"line %06d: the quick brown fox jumps over the lazy dog; %s\n" % (index, b"x" * (index % 40))
    for index in range(8000)
)

# Source kinds: which declare their size in advance (or when the response starts).
SIZED_SOURCES = ("bytes", "path", "resource-sized", "response", "sync-file")
UNSIZED_SOURCES = ("async-gen", "resource", "response-chunked", "async-file", "reused-buffer")


@dataclass(frozen=True)
class Member:
    """One member of a test archive and how its source is made."""

    name: str
    data: bytes | None  # None: a directory
    source: str = "bytes"
    method: int = NONE
    give_crc: bool = False
    options: dict[str, object] = field(default_factory=dict)
    archive_name: str | None = None  # the name after deduplication, when it differs

    @property
    def size_known(self) -> bool:
        return self.source in SIZED_SOURCES

    def out_of_reach(self, reader: str) -> str | None:
        """Why a streaming reader cannot read this member (None: it must read it)."""
        if self.data is None or not self.data:
            return None
        fits = len(self.data) <= HOLD_BACK
        if self.method == NONE:
            # In-memory bytes get their CRC when the member is made.
            if fits or self.source == "bytes" or (self.size_known and self.give_crc):
                return None
            # libarchive finds a stored member's end by scanning for the data
            # descriptor, so bsdtar reads these even from a pipe.
            if reader in ("java-zipinputstream", "stream-unzip"):
                return (
                    "a stored member whose CRC is unknown before its data and which is "
                    "longer than the hold-back needs a data descriptor, which streaming "
                    "readers cannot delimit in stored data"
                )
            return None
        if (
            not self.size_known
            and not fits
            and reader == "java-zipinputstream"
            and (zip_readers.java_major_version() or 0) < 21  # JDK-8303866, fixed in 21
        ):
            return (
                "Java 17 reads 4-byte descriptor sizes below 4 GiB, but a member of unknown "
                "size longer than the hold-back gets a zip64 local header (8-byte sizes)"
            )
        return None


@dataclass(frozen=True)
class Case:
    name: str
    members: tuple[Member, ...]
    deduplicate: bool = True
    slow: bool = False
    archive_options: dict[str, object] = field(default_factory=dict)  # for stream_zip

    def expected(self) -> Listing:
        expected: Listing = {}
        for member in self.members:
            name = member.archive_name or member.name
            expected[name] = DIRECTORY if member.data is None else entry_for(member.data)
        return expected

    def out_of_reach(self, reader: str) -> str | None:
        for member in self.members:
            reason = member.out_of_reach(reader)
            if reason is not None:
                return f"{member.name!r}: {reason}"
        return None


def _sources_case(name: str, kinds: tuple[str, ...], size: int, method: int, data: bytes) -> Case:
    return Case(
        name,
        tuple(
            Member(f"{kind}.bin", data[: size + index], source=kind, method=method)
            for index, kind in enumerate(kinds)
        ),
    )


CASES = [
    Case(
        "stored-known-size",
        (
            Member("bytes.txt", b"hello, world\n"),
            Member("path.bin", RANDOM[:50_000], source="path"),
            Member("resource-sized.bin", RANDOM[:HOLD_BACK], source="resource-sized"),
            Member("sync-file.bin", RANDOM[:1000], source="sync-file"),
        ),
    ),
    Case(
        "stored-known-size-and-crc-past-hold-back",
        (
            Member("path.bin", RANDOM[:300_000], source="path", give_crc=True),
            Member("bytes.bin", RANDOM[:200_000], give_crc=True),
        ),
    ),
    Case(
        "stored-known-size-past-hold-back", (Member("path.bin", RANDOM[:300_000], source="path"),)
    ),
    Case(
        "stored-unknown-size-fits-hold-back",
        (
            Member("small.bin", RANDOM[:10_000], source="async-gen"),
            Member("exactly-hold-back.bin", RANDOM[:HOLD_BACK], source="async-gen"),
            Member("resource.bin", RANDOM[:30_000], source="resource"),
        ),
    ),
    Case(
        "stored-unknown-size-one-past-hold-back",
        (Member("one-past.bin", RANDOM[: HOLD_BACK + 1], source="async-gen"),),
    ),
    Case(
        "stored-unknown-size-past-hold-back",
        (
            Member("long.bin", RANDOM[:300_000], source="async-gen"),
            Member("after.txt", b"after the long one\n"),
        ),
    ),
    Case(
        "deflated-known-size",
        (
            Member("text.txt", TEXT, method=DEFLATE),
            Member("random.bin", RANDOM, source="path", method=DEFLATE),
            Member("small.txt", b"small " * 10, method=DEFLATE),
            Member("level-9.txt", TEXT[:100_000], method=DEFLATE, options={"compression_level": 9}),
            Member(
                "level-1.txt",
                TEXT[:100_000],
                source="resource-sized",
                method=DEFLATE,
                options={"compression_level": 1},
            ),
            Member(
                "level-0.txt",
                TEXT[:100_000],
                source="path",
                method=DEFLATE,
                options={"compression_level": 0},
            ),
        ),
    ),
    Case(
        "deflated-unknown-size-fits-hold-back",
        (
            Member("text.txt", TEXT[:HOLD_BACK], source="async-gen", method=DEFLATE),
            Member("random.bin", RANDOM[:20_000], source="async-gen", method=DEFLATE),
        ),
    ),
    Case(
        "deflated-unknown-size-past-hold-back",
        (
            Member("text.txt", TEXT, source="async-gen", method=DEFLATE),
            Member("random.bin", RANDOM, source="resource", method=DEFLATE),
            Member("after.txt", b"after\n", method=DEFLATE),
        ),
    ),
    Case(
        "empty-files",
        (
            Member("empty.txt", b""),
            Member("empty-deflated.txt", b"", method=DEFLATE),
            Member("empty-gen.bin", b"", source="async-gen"),
            Member("empty-gen-deflated.bin", b"", source="async-gen", method=DEFLATE),
            Member("empty-path.bin", b"", source="path"),
        ),
    ),
    Case(
        "directories",
        (
            Member("empty-dir/", None),
            Member("a/", None),
            Member("a/b/", None),
            Member("a/b/file.txt", b"in a folder\n"),
            Member("a/c/deep/file.txt", b"implicit parents\n", method=DEFLATE),
        ),
    ),
    Case(
        "utf8-names",
        (
            Member("日本語/ファイル.txt", "日本語のテキスト\n".encode() * 50),
            Member("中文/文件 名.txt", "中文内容\n".encode(), method=DEFLATE),
            Member("한국어.txt", "안녕하세요\n".encode()),
            Member("emoji 😀/🎉 party 🦄.bin", RANDOM[:5000], source="async-gen"),
            Member("Ünïcödé/café façade.txt", "crème brûlée\n".encode(), method=DEFLATE),
            Member("数据/", None),
        ),
    ),
    Case(
        "many-members",
        tuple(
            Member(
                f"member-{index:05}.txt",
                b"%d\n" % index * (index % 7),
                method=DEFLATE if index % 2 else NONE,
            )
            for index in range(3000)
        ),
    ),
    Case(
        "deduplicated-names",
        (
            Member("a.txt", b"first\n"),
            Member("a.txt", b"second\n", archive_name="a (1).txt"),
            Member("a.txt", b"third\n", archive_name="a (2).txt"),
            Member("b (1).txt", b"carries an index\n"),
            Member("b.txt", b"b\n"),
            Member("b.txt", b"b again\n", archive_name="b (2).txt"),
            Member("archive.tar.gz", b"gz\n"),
            Member("archive.tar.gz", b"gz again\n", archive_name="archive (1).tar.gz"),
            Member(".bashrc", b"rc\n"),
            Member(".bashrc", b"rc again\n", archive_name=".bashrc (1)"),
            Member("folder/", None),
            Member("folder/", None, archive_name="folder (1)/"),
        ),
    ),
    Case(
        "comment-and-no-extended-timestamps",
        (
            Member("plain.txt", b"no extra field\n"),
            Member("stamped.txt", b"stamped\n", options={"extended_timestamps": True}),
            Member("path.bin", RANDOM[:30_000], source="path"),
            Member("generated.txt", TEXT[:50_000], source="async-gen", method=DEFLATE),
            Member("folder/", None),
        ),
        archive_options={
            "comment": "Räksmörgås: the archive's comment",
            "extended_timestamps": False,
        },
    ),
    _sources_case(
        "sources-stored-fit-hold-back", SIZED_SOURCES + UNSIZED_SOURCES, 40_000, NONE, RANDOM
    ),
    _sources_case("sources-deflated-known-size", SIZED_SOURCES, 200_000, DEFLATE, TEXT),
    _sources_case("sources-deflated-unknown-size", UNSIZED_SOURCES, 200_000, DEFLATE, TEXT),
    _sources_case(
        "sources-stored-past-hold-back", SIZED_SOURCES + UNSIZED_SOURCES, 200_000, NONE, RANDOM
    ),
]


def matrix() -> list[object]:
    params = []
    for case in CASES:
        for reader in ALL_READERS:
            marks = []
            reason = case.out_of_reach(reader.name) if reader.streaming else None
            if reason is not None:
                marks.append(pytest.mark.xfail(raises=ReaderFailed, strict=True, reason=reason))
            params.append(pytest.param(case, reader, marks=marks, id=f"{case.name}-{reader.name}"))
    return params


async def _chunks(data: bytes, size: int = 16384) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def _reused_buffer(data: bytes, size: int = 20_000) -> AsyncIterator[bytearray]:
    """Refills one bytearray for every chunk, as a reader with a fixed buffer does."""
    buffer = bytearray(size)
    for start in range(0, len(data), size):
        piece = data[start : start + size]
        buffer[: len(piece)] = piece
        del buffer[len(piece) :]
        yield buffer


class _AsyncFile:
    """An async file object (``await f.read(n)``) over bytes, like anyio's or aiofiles'."""

    def __init__(self, data: bytes) -> None:
        self._buffer = io.BytesIO(data)

    async def read(self, size: int = -1) -> bytes:
        await anyio.lowlevel.checkpoint()
        return self._buffer.read(size)


class Sources:
    """Makes each kind of source for a member's data."""

    def __init__(
        self, tmp_path: Path, client: httpx.AsyncClient | None, server: LoopbackServer | None
    ) -> None:
        self.tmp_path = tmp_path
        self.client = client
        self.server = server
        self.responses: dict[str, bytes] = {}
        self._count = 0

    def make(self, member: Member) -> object:
        data = member.data or b""
        kind = member.source
        self._count += 1
        if kind == "bytes":
            return data
        if kind == "path":
            path = self.tmp_path / f"source-{self._count}.bin"
            path.write_bytes(data)
            return path
        if kind == "async-gen":
            return _chunks(data)
        if kind in ("resource", "resource-sized"):
            resource = ResourceStream(_chunks, data)
            if kind == "resource-sized":
                resource.content_length = len(data)
            return resource
        if kind == "sync-file":
            return io.BytesIO(data)
        if kind == "async-file":
            return _AsyncFile(data)
        if kind == "reused-buffer":
            return _reused_buffer(data)
        if kind in ("response", "response-chunked"):
            assert self.client is not None
            # The loopback server serves pattern_bytes(size, seed); the member's
            # data must be exactly that.
            chunked = "&chunked=1" if kind == "response-chunked" else ""
            seed = self._count
            url = f"/bytes?size={len(data)}&seed={seed}{chunked}"
            self.responses[member.name] = pattern_bytes(len(data), seed)
            return stream_response(self.client, "GET", url)
        raise AssertionError(kind)


def build_files(case: Case, sources: Sources) -> tuple[list[ZipStreamFile], Listing]:
    files = []
    expected = case.expected()
    for member in case.members:
        options: dict[str, object] = {"modified_at": MODIFIED_AT, **member.options}
        if member.data is None:
            files.append(ZipStreamFile(member.name, **options))  # type: ignore[arg-type]
            continue
        source = sources.make(member)
        data = sources.responses.get(member.name, member.data)
        if member.give_crc:
            options["crc32"] = zlib.crc32(data)
        files.append(
            ZipStreamFile(member.name, source, compression_method=member.method, **options)
        )  # type: ignore[arg-type]
        expected[member.archive_name or member.name] = entry_for(data)
    return files, expected


async def write_archive(path: Path, files: list[ZipStreamFile], **options: object) -> bytes:
    chunks = [
        bytes(chunk) async for chunk in stream_zip(files, hold_back_size=HOLD_BACK, **options)
    ]  # type: ignore[arg-type]
    archive = b"".join(chunks)
    path.write_bytes(archive)
    return archive


@pytest.mark.parametrize(("case", "reader"), matrix())
async def test_reader_matrix(
    case: Case, reader: Reader, tmp_path: Path, server: LoopbackServer
) -> None:
    async with httpx.AsyncClient(base_url=server.url) as client:
        files, expected = build_files(case, Sources(tmp_path, client, server))
        path = tmp_path / "archive.zip"
        await write_archive(path, files, **case.archive_options)
    if case.out_of_reach(reader.name) is None:
        assert_listing(reader.read(path), expected, reader.name)
        return
    # Marked xfail: a failure must be the documented limitation, nothing else.
    try:
        listing = reader.read(path)
    except ReaderFailed as exc:
        known = OUT_OF_REACH_ERRORS[reader.name]
        if not any(marker in str(exc) for marker in known):
            raise AssertionError(f"unexpected failure (not {known}): {exc}") from exc
        raise
    assert_listing(listing, expected, reader.name)  # XPASS: the reader went beyond the spec


# How each streaming reader reports the limitations in Member.out_of_reach.
OUT_OF_REACH_ERRORS = {
    "java-zipinputstream": ("only DEFLATED entries can have EXT descriptor", "invalid entry size"),
    "stream-unzip": ("NotStreamUnzippable",),
}


# --- metadata: modes, UTF-8 flag, timestamps -------------------------------------------


async def test_modes_utf8_flag_and_timestamps(tmp_path: Path) -> None:
    odd_second = datetime(2031, 7, 4, 22, 15, 33, tzinfo=timezone.utc)
    files = [
        ZipStreamFile("plain.txt", b"plain\n", modified_at=MODIFIED_AT),
        ZipStreamFile("script.sh", b"#!/bin/sh\n", modified_at=MODIFIED_AT, mode=0o755),
        ZipStreamFile(
            "secret.key", b"k", modified_at=MODIFIED_AT, mode=0o600, compression_method=DEFLATE
        ),
        ZipStreamFile("odd-second.txt", b"odd\n", modified_at=odd_second),
        ZipStreamFile("dir/", modified_at=MODIFIED_AT),
        ZipStreamFile("private-dir/", modified_at=MODIFIED_AT, mode=0o700),
        ZipStreamFile("ünïcödé 😀.txt", _chunks(b"u" * 1000), modified_at=MODIFIED_AT),
    ]
    path = tmp_path / "meta.zip"
    await write_archive(path, files)
    details = zip_readers.zipfile_details(path)
    expected_modes = {
        "plain.txt": stat.S_IFREG | 0o644,
        "script.sh": stat.S_IFREG | 0o755,
        "secret.key": stat.S_IFREG | 0o600,
        "odd-second.txt": stat.S_IFREG | 0o644,
        "dir/": stat.S_IFDIR | 0o755,
        "private-dir/": stat.S_IFDIR | 0o700,
        "ünïcödé 😀.txt": stat.S_IFREG | 0o644,
    }
    assert {name: info.unix_mode for name, info in details.items()} == expected_modes
    assert all(info.create_system == 3 for info in details.values())  # made on unix
    # UTF-8 flag on every name (ASCII ones too: harmless, and uniform).
    assert all(info.utf8_flag for info in details.values())
    moment = int(MODIFIED_AT.timestamp())
    for name, info in details.items():
        if name == "odd-second.txt":
            assert info.date_time == (2031, 7, 4, 22, 15, 32)  # DOS: 2-second steps
            assert info.extended_mtime == int(odd_second.timestamp())
        else:
            assert info.date_time == (2024, 2, 29, 13, 37, 42)
            assert info.extended_mtime == moment

    # zipinfo and bsdtar print the modes they decode.
    listing = zip_readers.zipinfo_verbose(path)
    assert "Unix file attributes (100755 octal):" in listing
    assert "Unix file attributes (040700 octal):" in listing
    tar_listing = zip_readers.bsdtar_verbose_listing(path)
    modes = {line.split(maxsplit=8)[8]: line.split()[0] for line in tar_listing.splitlines()}
    assert modes["script.sh"] == "-rwxr-xr-x"
    assert modes["plain.txt"] == "-rw-r--r--"
    assert modes["dir/"] == "drwxr-xr-x"
    assert modes["ünïcödé 😀.txt"] == "-rw-r--r--"

    # Extractors restore the modification time from the extended timestamp (UTC).
    for extract in ("unzip", "bsdtar"):
        target = tmp_path / f"out-{extract}"
        target.mkdir()
        if extract == "unzip":
            command = [zip_readers.unzip_tool(), "-qq", str(path), "-d", str(target)]
        else:
            command = [zip_readers.bsdtar_tool(), "-xf", str(path), "-C", str(target)]
        result = zip_readers._run(extract, command)
        assert result.returncode == 0, zip_readers._output(result)
        assert int((target / "plain.txt").stat().st_mtime) == moment, extract
        assert int((target / "odd-second.txt").stat().st_mtime) == int(odd_second.timestamp())
        assert (target / "script.sh").stat().st_mode & 0o111, extract


# --- zip32 stays zip32; zip64 where needed ---------------------------------------------


async def test_small_archives_stay_zip32(tmp_path: Path) -> None:
    # Known sizes, CRCs given, deflate, members within the hold-back, folders, UTF-8.
    chosen = [
        case
        for case in CASES
        if case.name
        in (
            "stored-known-size",
            "stored-known-size-and-crc-past-hold-back",
            "stored-unknown-size-fits-hold-back",
            "deflated-known-size",
            "deflated-unknown-size-fits-hold-back",
            "directories",
            "utf8-names",
        )
    ]
    members = [
        Member(
            f"{case.name}/{member.name}",
            member.data,
            member.source,
            member.method,
            member.give_crc,
            member.options,
        )
        for case in chosen
        for member in case.members
    ]
    files, expected = build_files(Case("zip32", tuple(members)), Sources(tmp_path, None, None))
    path = tmp_path / "small.zip"
    await write_archive(path, files)
    report = zip_readers.zipinfo_zip64_report(path)
    assert report == zip_readers.Zip64Report(
        end_records_zip64=False,
        entries_with_zip64_extra=0,
        entries_needing_45=0,
        entry_count=len(expected),
    )
    assert "64-bit" not in zip_readers.sevenzip_archive_properties(path)
    for reader in CENTRAL_READERS:
        assert_listing(reader.read(path), expected, reader.name)


async def test_unknown_size_member_past_hold_back_only_marks_its_own_entry(
    tmp_path: Path,
) -> None:
    """Its local header carries zip64 (sizes unknown, may pass 4 GiB); nothing else does."""
    files = [
        ZipStreamFile("long.bin", _chunks(RANDOM[:200_000])),
        ZipStreamFile("small.txt", b"small\n"),
    ]
    path = tmp_path / "local-zip64.zip"
    await write_archive(path, files)
    report = zip_readers.zipinfo_zip64_report(path)
    assert not report.end_records_zip64
    assert report.entries_with_zip64_extra == 0  # central sizes fit in 32 bits
    assert report.entries_needing_45 == 1  # the version says "zip64 local header"
    for reader in CENTRAL_READERS:
        reader.read(path)


@pytest.mark.slow
@pytest.mark.parametrize("count", [65_535, 65_536])
@all_readers
async def test_many_members_use_zip64_end_records(
    count: int, reader: Reader, tmp_path: Path
) -> None:
    files = [
        ZipStreamFile(f"m/{index}", b"%d" % (index % 3) if index % 3 else b"")
        for index in range(count)
    ]
    expected = {
        f"m/{index}": entry_for(b"%d" % (index % 3) if index % 3 else b"") for index in range(count)
    }
    path = tmp_path / "many.zip"
    await write_archive(path, files)
    if reader.name == "zipfile":  # check the records once per backend
        report = zip_readers.zipinfo_zip64_report(path)
        assert report.end_records_zip64
        assert report.entry_count == count
        assert report.entries_with_zip64_extra == 0
        assert zip_readers.sevenzip_archive_properties(path).get("64-bit") == "+"
    assert_listing(reader.read(path, contents=False), expected, reader.name)


# --- create_zip_stream_resource: identical passes, Content-Length, upload --------------


async def test_resource_passes_are_identical_and_upload_verifies(
    tmp_path: Path, server: LoopbackServer
) -> None:
    async with httpx.AsyncClient(base_url=server.url) as client:
        sources = Sources(tmp_path, client, server)
        members = (
            Member("bytes.txt", TEXT[:5000], method=DEFLATE),
            Member("path.bin", RANDOM[:60_000], source="path"),
            Member("resource.bin", RANDOM[:50_000], source="resource-sized"),
            Member("response.bin", pattern_bytes(30_000, 99), source="response"),
            Member(
                "deflated-response.bin",
                pattern_bytes(20_000, 98),
                source="response",
                method=DEFLATE,
            ),
            Member("dir/", None),
            Member("a.txt", b"1"),
            Member("a.txt", b"2", archive_name="a (1).txt"),
        )
        files, expected = build_files(Case("resource", members), sources)
        resource = create_zip_stream_resource(files, hold_back_size=HOLD_BACK)
        assert resource.headers["Content-Type"] == "application/zip"
        first = b"".join([bytes(chunk) async for chunk in resource])
        second = b"".join([bytes(chunk) async for chunk in resource])
        assert first == second
        response = await client.post("/upload/zip", content=resource, headers=resource.headers)
        assert response.status_code == 200
    received = server.recorder.on("/upload/zip")[-1]
    assert received.body == first
    path = tmp_path / "uploaded.zip"
    path.write_bytes(received.body)
    for reader in ALL_READERS:
        assert_listing(reader.read(path), expected, reader.name)


async def test_resource_content_length_matches_for_stored_known_sizes(
    tmp_path: Path, server: LoopbackServer
) -> None:
    files, expected = build_files(CASES[0], Sources(tmp_path, None, None))
    files.append(ZipStreamFile("d/", modified_at=MODIFIED_AT))
    files.append(ZipStreamFile("past-hold-back.bin", RANDOM[:100_000], modified_at=MODIFIED_AT))
    expected["d/"] = DIRECTORY
    expected["past-hold-back.bin"] = entry_for(RANDOM[:100_000])
    resource = create_zip_stream_resource(files, hold_back_size=HOLD_BACK)
    length = int(resource.headers["Content-Length"])
    archive = b"".join([bytes(chunk) async for chunk in resource])
    assert len(archive) == length
    async with httpx.AsyncClient(base_url=server.url) as client:
        response = await client.post("/upload/sized", content=resource, headers=resource.headers)
    assert response.json()["size"] == length
    received = server.recorder.on("/upload/sized")[-1]
    assert received.headers["content-length"] == str(length)
    assert "transfer-encoding" not in received.headers
    path = tmp_path / "sized.zip"
    path.write_bytes(archive)
    for reader in CENTRAL_READERS:
        assert_listing(reader.read(path), expected, reader.name)


@ResourceStreamFunction
async def _varying_chunks(data: bytes, passes: list[int]) -> AsyncIterator[bytes]:
    """Yields *data* cut differently on every pass, as a network source does."""
    passes.append(1)
    rng = random.Random(len(passes))
    position = 0
    while position < len(data):
        size = rng.randint(1, 100_000)
        yield data[position : position + size]
        position += size


@pytest.mark.parametrize("level", [None, 0, 6])
@pytest.mark.parametrize("data", ["random", "text"])
async def test_resource_passes_are_byte_identical_whatever_the_chunking(
    level: int | None, data: str
) -> None:
    """The issue: "Every iteration yields a byte-identical archive".

    A stream_response (or any generator) delivers the same bytes in other
    chunks on a retry; the archive must not depend on that. Members longer
    than the hold-back are the interesting ones: they are deflated on the fly.
    """
    payload = (RANDOM * 8)[:3_000_000] if data == "random" else (TEXT * 8)[:3_000_000]
    options = {} if level is None else {"compression_level": level}
    resource = create_zip_stream_resource(
        [
            ZipStreamFile(
                "member.bin",
                _varying_chunks(payload, []),
                compression_method=DEFLATE,
                modified_at=MODIFIED_AT,
                **options,
            )
        ],  # type: ignore[arg-type]
        hold_back_size=HOLD_BACK,
    )
    passes = []
    for _ in range(3):
        passes.append(b"".join([bytes(chunk) async for chunk in resource]))
    assert passes[0] == passes[1] == passes[2], [len(archive) for archive in passes]
