"""WinZip AES-256 (AE-2) encrypted members: read back with the right password, and refused
with a wrong one, by 7-Zip, libarchive's bsdtar, stream-unzip (a streaming reader) and
pyzipper; readers without AES (Info-ZIP unzip, Python's zipfile, Java) fail as they must.
Salts: one per member per archive, so passes repeat and archives do not."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pyzipper
import zip_readers
from loopback import LoopbackServer, pattern_bytes
from stream_unzip import IncorrectAESPasswordError, stream_unzip

from httpx_streaming import (
    COMPRESSION_METHOD_DEFLATE,
    ZipStreamFile,
    create_zip_stream_resource,
    stream_response,
    stream_zip,
)

PASSWORD = "correct hörse battery"
TEXT = b"".join(b"line %d of a log that compresses well\n" % index for index in range(20_000))
RANDOM = os.urandom(300_000)


async def one_shot(data: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(data), 50_000):
        yield data[start : start + 50_000]


def members(path: Path) -> tuple[list[ZipStreamFile], dict[str, bytes]]:
    path.write_bytes(RANDOM[:120_000])
    contents = {
        "small.txt": b"secret\n",
        "empty.txt": b"",
        "text.log": TEXT,
        "random.bin": RANDOM,
        "disk.bin": RANDOM[:120_000],
        "generated.log": TEXT[:200_000],
        "plain.txt": b"not encrypted\n",
    }
    files = [
        ZipStreamFile("small.txt", contents["small.txt"]),
        ZipStreamFile("empty.txt", b""),
        ZipStreamFile("text.log", TEXT, compression_method=COMPRESSION_METHOD_DEFLATE),
        ZipStreamFile("random.bin", RANDOM),
        ZipStreamFile("disk.bin", path),
        ZipStreamFile(
            "generated.log",
            one_shot(contents["generated.log"]),
            compression_method=COMPRESSION_METHOD_DEFLATE,
        ),
        ZipStreamFile("folder/"),
        # Its own password wins over the archive's; another member, none at all is
        # not possible archive-wide, so this one gets a password of its own.
        ZipStreamFile("plain.txt", contents["plain.txt"], password=b"its own"),
    ]
    return files, contents


async def collect(chunks: Any) -> bytes:
    return b"".join([bytes(chunk) async for chunk in chunks])


@pytest.fixture
async def archive(tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    files, contents = members(tmp_path / "disk.bin")
    data = await collect(stream_zip(files, password=PASSWORD))
    path = tmp_path / "encrypted.zip"
    path.write_bytes(data)
    return path, contents


def expected_for(password: str, contents: dict[str, bytes]) -> dict[str, bytes]:
    # "plain.txt" has its own password.
    return {
        name: data
        for name, data in contents.items()
        if (name == "plain.txt") == (password == "its own")
    }


# --- readers with AES -----------------------------------------------------------------------


async def test_pyzipper_reads_and_refuses(archive: tuple[Path, dict[str, bytes]]) -> None:
    path, contents = archive
    with pyzipper.AESZipFile(path) as read:
        read.setpassword(PASSWORD.encode())
        assert {name: read.read(name) for name in expected_for(PASSWORD, contents)} == expected_for(
            PASSWORD, contents
        )
        assert read.read("plain.txt", pwd=b"its own") == contents["plain.txt"]
        infos = {info.filename: info for info in read.infolist()}
        assert infos["small.txt"].compress_type == pyzipper.ZIP_STORED
        assert infos["text.log"].compress_type == pyzipper.ZIP_DEFLATED
        assert infos["folder/"].flag_bits & 1 == 0  # folders are not encrypted
        with pytest.raises(RuntimeError, match="Bad password"):
            read.read("small.txt", pwd=b"wrong")


async def test_stream_unzip_reads_and_refuses(archive: tuple[Path, dict[str, bytes]]) -> None:
    # A streaming reader: local headers and data only, as the archive is sent. The
    # members come in order; the last, plain.txt, has a password of its own.
    path, contents = archive
    data = path.read_bytes()
    read = {}
    with pytest.raises(IncorrectAESPasswordError):
        for name, _size, chunks in stream_unzip([data], password=PASSWORD.encode()):
            read[name.decode()] = b"".join(chunks)
    assert read == {**expected_for(PASSWORD, contents), "folder/": b""}
    with pytest.raises(IncorrectAESPasswordError):
        for _name, _size, chunks in stream_unzip([data], password=b"wrong"):
            for _chunk in chunks:
                pass


@pytest.mark.parametrize("password", [PASSWORD, "its own"])
async def test_7z_and_bsdtar_file_and_pipe_read_with_the_right_password(
    archive: tuple[Path, dict[str, bytes]], password: str, tmp_path: Path
) -> None:
    path, contents = archive
    expected = expected_for(password, contents)
    names = list(expected)
    for tool in ("7z", "bsdtar", "bsdtar-pipe"):
        out = tmp_path / f"out-{tool}-{len(password)}"
        out.mkdir()
        # bsdtar-pipe reads local headers only, as the archive streams.
        source = "-" if tool == "bsdtar-pipe" else str(path)
        if tool == "7z":
            command = [zip_readers.sevenzip_tool(), "x", f"-p{password}", f"-o{out}", source]
        else:
            command = [zip_readers.bsdtar_tool(), "--passphrase", password, "-xf", source]
            command += ["-C", str(out)]
        stdin_path = path if tool == "bsdtar-pipe" else None
        result = zip_readers._run(tool, [*command, *names], stdin_path=stdin_path)
        assert result.returncode == 0, zip_readers._output(result)
        assert {name: (out / name).read_bytes() for name in names} == expected, tool


async def test_7z_and_bsdtar_refuse_a_wrong_password(
    archive: tuple[Path, dict[str, bytes]], tmp_path: Path
) -> None:
    path, _ = archive
    tested = zip_readers._run(
        "7z", [zip_readers.sevenzip_tool(), "t", "-pwrong", str(path), "small.txt"]
    )
    assert tested.returncode != 0
    assert "Wrong password" in zip_readers._output(tested)
    extracted = zip_readers._run(
        "bsdtar",
        [zip_readers.bsdtar_tool(), "--passphrase", "wrong", "-xOf", str(path), "small.txt"],
    )
    assert extracted.returncode != 0
    assert b"secret" not in extracted.stdout
    assert "Incorrect passphrase" in zip_readers._output(extracted)


# --- readers without AES: they fail as they must ---------------------------------------------


async def test_readers_without_aes_refuse_the_encrypted_members(
    archive: tuple[Path, dict[str, bytes]],
) -> None:
    path, _ = archive
    # Info-ZIP unzip knows traditional encryption only; method 99 is unsupported.
    tested = zip_readers._run("unzip", [zip_readers.unzip_tool(), "-t", "-P", PASSWORD, str(path)])
    assert tested.returncode != 0
    # (it says "unsupported compression method 99" per member, then counts them)
    assert "7 files skipped because of unsupported compression" in zip_readers._output(tested)
    # Python's zipfile lists the members but cannot decrypt AES.
    with zipfile.ZipFile(path) as read:
        assert read.getinfo("small.txt").compress_type == 99
        with pytest.raises(NotImplementedError, match="compression method"):
            read.read("small.txt", pwd=PASSWORD.encode())
        assert read.read("folder/") == b""
    # Java's ZipInputStream refuses encrypted entries outright.
    with pytest.raises(zip_readers.ReaderFailed, match="encrypted ZIP entry not supported"):
        zip_readers.READERS["java-zipinputstream"].read(path)


# --- salts, passes and faces ---------------------------------------------------------------


def salts(archive: bytes) -> list[bytes]:
    """The first 16 bytes of every member's data (APPNOTE 4.3.7: after the local header,
    whose name and extra lengths are at offsets 26 and 28)."""
    found = []
    with zipfile.ZipFile(io.BytesIO(archive)) as read:
        for info in read.infolist():
            offset = info.header_offset
            name_length = int.from_bytes(archive[offset + 26 : offset + 28], "little")
            extra_length = int.from_bytes(archive[offset + 28 : offset + 30], "little")
            start = offset + 30 + name_length + extra_length
            found.append(archive[start : start + 16])
    return found


async def test_passes_repeat_and_archives_do_not() -> None:
    files = [ZipStreamFile("a.txt", b"same data"), ZipStreamFile("b.txt", b"same data")]
    resource = create_zip_stream_resource(files, password=PASSWORD)
    first = await collect(resource.__aiter__())
    assert await collect(resource.__aiter__()) == first
    assert b"".join(bytes(chunk) for chunk in resource.sync()) == first
    other = await collect(create_zip_stream_resource(files, password=PASSWORD).__aiter__())
    assert other != first
    assert len(other) == len(first)
    # No key stream is shared: every member has its own salt, in every archive.
    assert len(set(salts(first) + salts(other))) == 4


async def test_content_length_counts_the_encryption(tmp_path: Path) -> None:
    (tmp_path / "p.bin").write_bytes(RANDOM[:5000])
    files = [
        ZipStreamFile("a.bin", RANDOM),
        ZipStreamFile("e.txt", b""),
        ZipStreamFile("d/"),
        ZipStreamFile("p.bin", tmp_path / "p.bin", password="other"),
    ]
    for hold_back_size in (0, 1000, 4 * 1024 * 1024):
        resource = create_zip_stream_resource(
            files, password=PASSWORD, hold_back_size=hold_back_size
        )
        data = await collect(resource.__aiter__())
        assert resource.content_length == len(data)
        with pyzipper.AESZipFile(io.BytesIO(data)) as read:
            read.setpassword(PASSWORD.encode())
            assert read.read("a.bin") == RANDOM
            assert read.read("p.bin", pwd=b"other") == RANDOM[:5000]


async def test_compressing_ahead_writes_the_same_encrypted_bytes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Salts fixed for the comparison: then only the look-ahead differs.
    import httpx_streaming._zip as zip_module

    monkeypatch.setattr(zip_module.secrets, "token_bytes", lambda size: b"s" * size)
    files = [
        ZipStreamFile(
            f"m{index}.log", TEXT[index * 1000 :], compression_method=COMPRESSION_METHOD_DEFLATE
        )
        for index in range(6)
    ]
    ahead = await collect(stream_zip(files, password=PASSWORD))
    in_turn = await collect(stream_zip(files, password=PASSWORD, look_ahead_size=0))
    assert ahead == in_turn
    with pyzipper.AESZipFile(io.BytesIO(ahead)) as read:
        read.setpassword(PASSWORD.encode())
        assert read.read("m5.log") == TEXT[5000:]


# --- any chunking: the counter runs on across pieces of any size -------------------------


async def test_odd_chunkings_decrypt() -> None:
    # AE-2's counter runs over the whole member: pieces that end inside a 16-byte
    # block must continue it exactly.
    sizes = [1, 15, 16, 17, 4095, 65_535, 1, 65_536, 3, 100_000]
    data = os.urandom(sum(sizes))

    async def pieces() -> AsyncIterator[bytes]:
        start = 0
        for size in sizes:
            yield data[start : start + size]
            start += size

    for method in (0, COMPRESSION_METHOD_DEFLATE):
        archive = await collect(
            stream_zip(
                [ZipStreamFile("odd.bin", pieces(), compression_method=method)],
                password=PASSWORD,
                hold_back_size=1000,  # streamed, not held: the pieces reach the cipher as they are
            )
        )
        with pyzipper.AESZipFile(io.BytesIO(archive)) as read:
            assert read.read("odd.bin", pwd=PASSWORD.encode()) == data
        if method == COMPRESSION_METHOD_DEFLATE:
            # (A stored member of unknown size past the hold-back has a data
            # descriptor, which streaming readers cannot find in stored data.)
            ((_, _, streamed),) = [
                (name, size, b"".join(chunks))
                for name, size, chunks in stream_unzip([archive], password=PASSWORD.encode())
            ]
            assert streamed == data


# --- bad input, refused when given ----------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "error", "message"),
    [
        ("", ValueError, "must not be empty"),
        (b"", ValueError, "must not be empty"),
        (1234, TypeError, "password must be a str or bytes, got a value of type int"),
        (["hunter2"], TypeError, "password must be a str or bytes, got a value of type list"),
        ("hunter2\udcff", ValueError, "password, a value of type str, is not valid UTF-8$"),
    ],
)
def test_bad_passwords(password: object, error: type[Exception], message: str) -> None:
    files = [ZipStreamFile("a.txt", b"a")]
    for make in (
        lambda: stream_zip(files, password=password),  # type: ignore[arg-type]
        lambda: create_zip_stream_resource(files, password=password),  # type: ignore[arg-type]
        lambda: ZipStreamFile("a.txt", b"a", password=password),  # type: ignore[arg-type]
    ):
        with pytest.raises(error, match=message) as raised:
            make()
        # The error names the password's type, never its value.
        assert "hunter2" not in str(raised.value)


def test_secrets_stay_out_of_reprs() -> None:
    # Tracebacks that show locals print these objects.
    from httpx_streaming._zip_options import archive_options

    archive = archive_options(0, 0, b"", True, "hunter2")
    assert "hunter2" not in repr(archive)
    resource = create_zip_stream_resource([ZipStreamFile("a", b"a")], password="hunter2")
    member, _, options = resource._named[0]  # type: ignore[index]
    assert options.encryption is not None
    keys = options.encryption.keys()
    shown = [repr(options), repr(options.encryption), repr(keys), repr(member), repr(resource)]
    for text in shown:
        assert "hunter2" not in text
        assert keys.aes_key.hex() not in text
        assert repr(keys.aes_key) not in text


def test_folders_and_links_take_no_password() -> None:
    with pytest.raises(ValueError, match="folder 'd/' has no data to encrypt"):
        ZipStreamFile("d/", password="pw")
    with pytest.raises(ValueError, match="symbolic link 'l' has no data to encrypt"):
        ZipStreamFile("l", b"target", mode=0o120777, password="pw")


def test_without_cryptography_the_error_names_the_extra() -> None:
    code = (
        "import sys; sys.modules['Crypto'] = sys.modules['Cryptodome'] = None\n"
        "from httpx_streaming import ZipStreamFile, create_zip_stream_resource\n"
        "create_zip_stream_resource([ZipStreamFile('a', b'a')])  # no password: fine\n"
        "try:\n"
        "    create_zip_stream_resource([ZipStreamFile('a', b'a')], password='pw')\n"
        "except ImportError as error:\n"
        "    print(error)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "pycryptodome" in result.stdout
    assert "httpx-streaming[aes]" in result.stdout


# --- responses: a length learnt with the first chunk, or never ---------------------------


@pytest.mark.parametrize("method", [0, COMPRESSION_METHOD_DEFLATE], ids=["stored", "deflated"])
async def test_encrypted_responses(method: int, server: LoopbackServer) -> None:
    # A response announces its length with its headers, after the member began: the
    # encoder learns it mid-member. A chunked one never says: past the hold-back the
    # member gets a data descriptor. Both, encrypted, read back.
    async with httpx.AsyncClient(base_url=server.url) as client:
        files = [
            ZipStreamFile(
                "sized.bin",
                stream_response(client, "GET", "/bytes?size=300000&seed=4"),
                compression_method=method,
            ),
            ZipStreamFile(
                "chunked.bin",
                stream_response(client, "GET", "/bytes?size=200000&seed=5&chunked=1"),
                compression_method=method,
            ),
        ]
        resource = create_zip_stream_resource(files, password=PASSWORD, hold_back_size=1000)
        archive = await collect(resource.__aiter__())
        assert await collect(resource.__aiter__()) == archive  # a retry: the same bytes
    expected = {"sized.bin": pattern_bytes(300_000, 4), "chunked.bin": pattern_bytes(200_000, 5)}
    with pyzipper.AESZipFile(io.BytesIO(archive)) as read:
        read.setpassword(PASSWORD.encode())
        assert {name: read.read(name) for name in expected} == expected
    if method == COMPRESSION_METHOD_DEFLATE:  # stored with a descriptor: not delimitable
        streamed = {
            name.decode(): b"".join(chunks)
            for name, _size, chunks in stream_unzip([archive], password=PASSWORD.encode())
        }
        assert streamed == expected
