"""Real zip readers, driven from the tests: each verifies an archive and lists what it read.

Every ``read_*`` function takes the path of an archive and returns a
``Listing``: ``{name: Entry(size, sha256, crc32)}`` with directory names ending
in ``/``. It raises ``ReaderFailed`` — carrying the reader's own output — when
the reader rejects the archive, reports a CRC or size error, or lists something
it then does not produce.

Two families:

* **Central-directory readers** (``zipfile``, Info-ZIP ``unzip``, 7-Zip,
  libarchive's ``bsdtar`` and Java's ``ZipFile`` reading the file) start from
  the end of the archive.
* **Streaming readers** (``bsdtar`` reading a pipe, the ``stream-unzip``
  package, Java's ``ZipInputStream``) get the bytes through a real pipe or an
  iterator, never seek, and so never see the central directory: they depend on
  the local headers and data descriptors alone.

With ``contents=True`` (the default) each member's bytes are hashed (sha256 and
CRC-32) from what the reader extracted. With ``contents=False`` — for archives
of several GiB — readers that have a test mode (``zipfile.testzip``,
``unzip -t``, ``7z t``) run it and report sizes and CRCs from their listing;
the others still extract, but may leave ``sha256`` as ``None``.

Tools are looked up through ``conftest.require_tool``: a missing tool skips
locally and fails in CI.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import functools
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import threading
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, NamedTuple

EMPTY_SHA256 = hashlib.sha256().hexdigest()
TIMEOUT = 900.0  # seconds; a 4+ GiB archive takes a minute or two in the slowest reader
JAVA_SOURCE = Path(__file__).resolve().parent.parent / "java" / "ZipStreamCheck.java"
_CHUNK = 1 << 20


class Entry(NamedTuple):
    """What a reader reports for one member (``None``: this reader did not tell)."""

    size: int
    sha256: str | None
    crc32: int | None


Listing = dict[str, Entry]


class ReaderFailed(AssertionError):
    """A reader rejected an archive; the message carries its own output."""

    def __init__(self, reader: str, message: str, output: str = "") -> None:
        self.reader = reader
        self.output = output
        text = f"{reader}: {message}"
        if output:
            text += f"\n--- {reader} output ---\n{_clip(output)}"
        super().__init__(text)


def _clip(text: str, limit: int = 6000) -> str:
    if len(text) <= limit:
        return text
    return text[: limit // 2] + "\n[...]\n" + text[-limit // 2 :]


def entry_for(data: bytes) -> Entry:
    """The Entry a reader should report for a member holding *data*."""
    return Entry(len(data), hashlib.sha256(data).hexdigest(), zlib.crc32(data))


DIRECTORY = Entry(0, EMPTY_SHA256, 0)


def assert_listing(actual: Listing, expected: Listing, reader: str = "reader") -> None:
    """Compare a reader's listing with the expected one, on the fields the reader told."""
    problems = []
    missing = sorted(set(expected) - set(actual))
    extra = sorted(set(actual) - set(expected))
    if missing:
        problems.append(f"missing members: {missing[:20]}")
    if extra:
        problems.append(f"unexpected members: {extra[:20]}")
    for name in sorted(set(actual) & set(expected)):
        got, want = actual[name], expected[name]
        if got.size != want.size:
            problems.append(f"{name!r}: size {got.size}, expected {want.size}")
        if got.sha256 is not None and want.sha256 is not None and got.sha256 != want.sha256:
            problems.append(f"{name!r}: sha256 {got.sha256}, expected {want.sha256}")
        if got.crc32 is not None and want.crc32 is not None and got.crc32 != want.crc32:
            problems.append(f"{name!r}: crc32 {got.crc32:08x}, expected {want.crc32:08x}")
    if problems:
        raise AssertionError(f"{reader} listing differs:\n" + "\n".join(problems[:40]))


# --- tools ---------------------------------------------------------------------------


def _require(names: tuple[str, ...], package: str) -> str:
    for name in names:
        path = shutil.which(name)
        if path is not None:
            return path
    from conftest import require_tool  # skips locally, fails in CI

    return require_tool(names[0], package)


def epubcheck_command() -> list[str]:
    """Debian's epubcheck: an executable jar, run by java (binfmt_misc may not be set up)."""
    jar = os.path.realpath(_require(("epubcheck",), "epubcheck"))
    return [_require(("java",), "default-jdk-headless"), "-jar", jar]


def libreoffice_tool() -> str:
    """LibreOffice, headless: what the OpenDocument recipe is opened with."""
    return _require(("soffice", "libreoffice"), "libreoffice-writer-nogui")


def unzip_tool() -> str:
    return _require(("unzip",), "unzip")


def zipinfo_tool() -> list[str]:
    return [unzip_tool(), "-Z"]


def sevenzip_tool() -> str:
    # Debian's 7zip package installs `7zz`; newer ones (and p7zip) also provide `7z`.
    return _require(("7z", "7zz"), "7zip")


def bsdtar_tool() -> str:
    return _require(("bsdtar",), "libarchive-tools")


def _env() -> dict[str, str]:
    # Names are UTF-8 in the archives; make every tool print and create them as such.
    return {**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}


def _run(
    reader: str,
    command: list[str],
    *,
    stdin_path: Path | None = None,
    cwd: Path | None = None,
    discard_stdout: bool = False,
) -> subprocess.CompletedProcess[bytes]:
    """Run *command*; with *stdin_path*, feed that file through a real pipe."""
    if stdin_path is None:
        try:
            return subprocess.run(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL if discard_stdout else subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=cwd,
                env=_env(),
                timeout=TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise ReaderFailed(reader, f"timed out after {TIMEOUT} s: {command}") from exc
    # Output goes to files: communicate() would also manage stdin, which the
    # feeder thread owns.
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        with subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=out, stderr=err, cwd=cwd, env=_env()
        ) as process:
            assert process.stdin is not None
            # A pipe (not the file itself) so that the reader cannot seek to the
            # central directory, as it could with a regular file on stdin.
            feeder = threading.Thread(target=_feed, args=(stdin_path, process.stdin), daemon=True)
            feeder.start()
            try:
                returncode = process.wait(timeout=TIMEOUT)
            except subprocess.TimeoutExpired as exc:
                process.kill()
                process.wait()
                raise ReaderFailed(reader, f"timed out after {TIMEOUT} s: {command}") from exc
            finally:
                feeder.join()
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(command, returncode, out.read(), err.read())


def _feed(path: Path, pipe: IO[bytes]) -> None:
    # The reader may stop reading early (an error, or the end of the archive
    # before trailing records): a broken pipe is its verdict, not ours.
    with contextlib.suppress(BrokenPipeError, OSError), pipe, path.open("rb") as source:
        while chunk := source.read(_CHUNK):
            pipe.write(chunk)


def _output(result: subprocess.CompletedProcess[bytes]) -> str:
    text = (result.stdout or b"").decode("utf-8", "replace")
    if result.stderr:
        text += "\n[stderr]\n" + result.stderr.decode("utf-8", "replace")
    return f"$ {' '.join(map(str, result.args))}\n[exit {result.returncode}]\n{text}"


def _check(reader: str, result: subprocess.CompletedProcess[bytes], what: str) -> None:
    if result.returncode != 0:
        raise ReaderFailed(
            reader, f"{what} exited with status {result.returncode}", _output(result)
        )


def _hash_file(path: Path) -> Entry:
    digest = hashlib.sha256()
    crc = 0
    size = 0
    with path.open("rb") as file:
        while chunk := file.read(_CHUNK):
            digest.update(chunk)
            crc = zlib.crc32(chunk, crc)
            size += len(chunk)
    return Entry(size, digest.hexdigest(), crc)


def _collect(reader: str, names: list[str], root: Path, *, contents: bool, output: str) -> Listing:
    """Pair the names a tool listed with what it extracted under *root*."""
    listing: Listing = {}
    for name in names:
        if name in listing:
            raise ReaderFailed(reader, f"lists {name!r} twice", output)
        target = root / name
        if name.endswith("/"):
            if not target.is_dir():
                raise ReaderFailed(reader, f"did not create the directory {name!r}", output)
            listing[name] = DIRECTORY
        elif not target.is_file():
            raise ReaderFailed(reader, f"listed {name!r} but did not extract it", output)
        elif contents:
            listing[name] = _hash_file(target)
        else:
            listing[name] = Entry(target.stat().st_size, None, None)
    extracted = {str(path.relative_to(root)) for path in root.rglob("*") if not path.is_dir()}
    unlisted = extracted - set(listing)
    if unlisted:
        raise ReaderFailed(reader, f"extracted files it did not list: {sorted(unlisted)}", output)
    return listing


@contextlib.contextmanager
def _scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="zip-reader-") as directory:
        yield Path(directory)


# --- Python's zipfile ----------------------------------------------------------------


def read_zipfile(path: Path, *, contents: bool = True) -> Listing:
    """Python's ``zipfile``: ``testzip()`` (every CRC), then read every member."""
    reader = "zipfile"
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
            if bad is not None:
                raise ReaderFailed(reader, f"testzip() reports a bad CRC in {bad!r}")
            listing: Listing = {}
            for info in archive.infolist():
                if info.filename in listing:
                    raise ReaderFailed(reader, f"lists {info.filename!r} twice")
                if info.is_dir():
                    listing[info.filename] = Entry(
                        info.file_size, EMPTY_SHA256 if info.file_size == 0 else None, info.CRC
                    )
                elif contents:
                    digest = hashlib.sha256()
                    size = 0
                    # ZipExtFile checks the CRC-32 itself when it reaches the end.
                    with archive.open(info) as member:
                        while chunk := member.read(_CHUNK):
                            digest.update(chunk)
                            size += len(chunk)
                    listing[info.filename] = Entry(size, digest.hexdigest(), info.CRC)
                else:
                    listing[info.filename] = Entry(info.file_size, None, info.CRC)
            return listing
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        NotImplementedError,
        OSError,
        EOFError,
    ) as exc:
        raise ReaderFailed(reader, f"{type(exc).__name__}: {exc}") from exc


@dataclass(frozen=True)
class MemberDetails:
    """Metadata of one member, as Python's zipfile decodes it from the central directory."""

    name: str
    unix_mode: int  # external_attr >> 16, file type bits included
    utf8_flag: bool
    date_time: tuple[int, int, int, int, int, int]
    extended_mtime: int | None  # from the 0x5455 extra field, if present
    compress_type: int
    file_size: int
    compress_size: int
    flag_bits: int
    create_system: int
    extract_version: int


def zipfile_details(path: Path) -> dict[str, MemberDetails]:
    """Central-directory metadata per member, decoded by Python's zipfile."""
    details = {}
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            details[info.filename] = MemberDetails(
                name=info.filename,
                unix_mode=info.external_attr >> 16,
                utf8_flag=bool(info.flag_bits & 0x800),
                date_time=info.date_time,
                extended_mtime=_extended_mtime(info.extra),
                compress_type=info.compress_type,
                file_size=info.file_size,
                compress_size=info.compress_size,
                flag_bits=info.flag_bits,
                create_system=info.create_system,
                extract_version=info.extract_version,
            )
    return details


def _extended_mtime(extra: bytes) -> int | None:
    # APPNOTE 4.6.1 extra blocks: (id, length, data)*; Info-ZIP's 0x5455 carries
    # a flags byte and, with bit 0 set, the modification time first.
    offset = 0
    while offset + 4 <= len(extra):
        kind = int.from_bytes(extra[offset : offset + 2], "little")
        length = int.from_bytes(extra[offset + 2 : offset + 4], "little")
        data = extra[offset + 4 : offset + 4 + length]
        if kind == 0x5455 and len(data) >= 5 and data[0] & 1:
            return int.from_bytes(data[1:5], "little", signed=False)
        offset += 4 + length
    return None


# --- Info-ZIP unzip / zipinfo ---------------------------------------------------------


def read_unzip(path: Path, *, contents: bool = True) -> Listing:
    """Info-ZIP ``unzip -t`` (CRCs), ``unzip -Z1`` (names), ``unzip -v`` or extraction."""
    reader = "unzip"
    unzip = unzip_tool()
    test = _run(reader, [unzip, "-t", str(path)])
    _check(reader, test, "unzip -t")
    if b"No errors detected" not in test.stdout:
        raise ReaderFailed(reader, "unzip -t did not report 'No errors detected'", _output(test))
    names_run = _run(reader, [unzip, "-Z1", str(path)])
    _check(reader, names_run, "unzip -Z1")
    names = names_run.stdout.decode("utf-8").splitlines()
    if not contents:
        return _unzip_verbose_listing(path, names)
    with _scratch() as root:
        # -X would restore owners; we want files we can read back. -qq: quiet.
        extract = _run(reader, [unzip, "-qq", "-o", str(path), "-d", str(root)])
        _check(reader, extract, "unzip (extract)")
        return _collect(reader, names, root, contents=True, output=_output(extract))


def _unzip_verbose_listing(path: Path, names: list[str]) -> Listing:
    reader = "unzip"
    verbose = _run(reader, [unzip_tool(), "-v", str(path)])
    _check(reader, verbose, "unzip -v")
    # " Length   Method    Size  Cmpr    Date    Time   CRC-32   Name"
    rows = {}
    lines = verbose.stdout.decode("utf-8").splitlines()
    for line in lines[3:-2]:
        fields = line.split(maxsplit=7)
        if len(fields) == 8:
            rows[fields[7]] = Entry(int(fields[0]), None, int(fields[6], 16))
    listing: Listing = {}
    for name in names:
        if name not in rows:
            raise ReaderFailed(reader, f"unzip -v does not list {name!r}", _output(verbose))
        listing[name] = rows[name]
    return listing


def zipinfo_verbose(path: Path) -> str:
    """``unzip -Z -v``: zipinfo's detailed report of the end records and every entry."""
    result = _run("zipinfo", [*zipinfo_tool(), "-v", str(path)])
    _check("zipinfo", result, "zipinfo -v")
    return result.stdout.decode("utf-8", "replace")


@dataclass(frozen=True)
class Zip64Report:
    """What zipinfo says about zip64 use."""

    end_records_zip64: bool  # the zip64 end record and locator precede the end record
    entries_with_zip64_extra: int  # central-directory entries carrying extra field 0x0001
    entries_needing_45: int  # entries whose "version needed to extract" is 4.5 (zip64)
    entry_count: int


def zipinfo_zip64_report(path: Path) -> Zip64Report:
    """Ask zipinfo whether the archive uses zip64 end records and per-entry fields.

    zipinfo prints the offset where it found the end of the central directory:
    with zip64 that is the zip64 end record (56 bytes), followed by its locator
    (20 bytes) and the classic end record (22 bytes + comment); without it, the
    classic end record alone.
    """
    report = zipinfo_verbose(path)
    size_match = re.search(r"Zip archive file size:\s+(\d+)", report)
    end_match = re.search(r"Actual end-cent-dir record offset:\s+(\d+)", report)
    count_match = re.search(r"central directory contains (\d+) entr", report)
    comment_match = re.search(r"The zipfile comment is (\d+) bytes? long", report)
    if size_match is None or end_match is None or count_match is None:
        raise ReaderFailed("zipinfo", "could not find the end-record summary", report)
    comment = int(comment_match.group(1)) if comment_match else 0
    tail = int(size_match.group(1)) - int(end_match.group(1)) - comment
    if tail not in (22, 22 + 20 + 56):
        raise ReaderFailed(
            "zipinfo", f"unexpected {tail} bytes after the central directory", report
        )
    return Zip64Report(
        end_records_zip64=tail != 22,
        entries_with_zip64_extra=len(re.findall(r"subfield with ID 0x0001", report)),
        entries_needing_45=len(
            re.findall(r"minimum software version required to extract:\s+4\.5", report)
        ),
        entry_count=int(count_match.group(1)),
    )


# --- 7-Zip ----------------------------------------------------------------------------


def read_7z(path: Path, *, contents: bool = True) -> Listing:
    """7-Zip: ``7z t`` (CRCs), ``7z l -slt`` (names, sizes, CRCs), ``7z x`` for contents."""
    reader = "7z"
    tool = sevenzip_tool()
    test = _run(reader, [tool, "t", str(path)])
    _check(reader, test, "7z t")
    _check_7z_output(reader, test)
    listed = _run(reader, [tool, "l", "-slt", str(path)])
    _check(reader, listed, "7z l -slt")
    _check_7z_output(reader, listed)
    entries = _parse_7z_listing(listed.stdout.decode("utf-8"))
    if not contents:
        return dict(entries)
    with _scratch() as root:
        extract = _run(reader, [tool, "x", "-y", f"-o{root}", str(path)])
        _check(reader, extract, "7z x")
        _check_7z_output(reader, extract)
        listing = _collect(
            reader, [name for name, _ in entries], root, contents=True, output=_output(extract)
        )
    for name, entry in entries:
        if entry.crc32 is not None and listing[name].crc32 != entry.crc32:
            raise ReaderFailed(
                reader, f"{name!r}: extracted CRC differs from the listed one", _output(listed)
            )
    return listing


def _check_7z_output(reader: str, result: subprocess.CompletedProcess[bytes]) -> None:
    # 7-Zip exits 0 with "Warnings:" for some structural problems (e.g. data
    # after the end of the archive, or header errors it could recover from).
    text = result.stdout.decode("utf-8", "replace") + result.stderr.decode("utf-8", "replace")
    for marker in (
        "WARNING",
        "Warnings:",
        "ERROR",
        "Errors:",
        "Headers Error",
        "Unexpected end",
        "There are data after the end",
    ):
        if marker in text:
            raise ReaderFailed(reader, f"7-Zip reported {marker!r}", _output(result))


def _parse_7z_listing(text: str) -> list[tuple[str, Entry]]:
    # Blocks of "Key = value" lines; member blocks come after the "----------" line.
    _, _, members = text.partition("\n----------\n")
    entries = []
    for block in members.split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            key, separator, value = line.partition(" =")
            if separator:  # "CRC = " with an empty value has no space after "="
                fields[key] = value.removeprefix(" ")
        if "Path" not in fields:
            continue
        name = fields["Path"]
        if fields.get("Folder") == "+":
            entries.append((name.rstrip("/") + "/", DIRECTORY))
            continue
        crc = fields.get("CRC", "")
        entries.append((name, Entry(int(fields["Size"]), None, int(crc, 16) if crc else None)))
    return entries


def sevenzip_archive_properties(path: Path) -> dict[str, str]:
    """The archive-level ``Key = value`` block of ``7z l -slt`` (e.g. ``64-bit = +``)."""
    listed = _run("7z", [sevenzip_tool(), "l", "-slt", str(path)])
    _check("7z", listed, "7z l -slt")
    head, _, _ = listed.stdout.decode("utf-8").partition("\n----------\n")
    _, _, archive_block = head.partition("\n--\n")
    return dict(line.split(" = ", 1) for line in archive_block.splitlines() if " = " in line)


# --- libarchive's bsdtar ------------------------------------------------------------------


def read_bsdtar(path: Path, *, contents: bool = True) -> Listing:
    """libarchive reading the file (seekable: it can use the central directory).

    With ``contents=False``: ``bsdtar -xOf`` into ``/dev/null`` checks every
    CRC without writing files, and ``bsdtar -tvf`` gives names and sizes.
    """
    reader = "bsdtar"
    tool = bsdtar_tool()
    if not contents:
        check = _run(reader, [tool, "-xOf", str(path)], discard_stdout=True)
        _check(reader, check, "bsdtar -xOf")
        if check.stderr.strip():
            raise ReaderFailed(reader, "bsdtar -xOf printed warnings", _output(check))
        return _parse_bsdtar_listing(bsdtar_verbose_listing(path))
    with _scratch() as root:
        extract = _run(reader, [tool, "-xvf", str(path), "-C", str(root)])
        return _bsdtar_collect(reader, extract, root, contents=contents)


def read_bsdtar_pipe(path: Path, *, contents: bool = True) -> Listing:
    """libarchive reading a pipe: the streaming zip reader, local headers only."""
    reader = "bsdtar (pipe)"
    tool = bsdtar_tool()
    with _scratch() as root:
        extract = _run(reader, [tool, "-xvf", "-", "-C", str(root)], stdin_path=path)
        return _bsdtar_collect(reader, extract, root, contents=contents)


def _bsdtar_collect(
    reader: str, result: subprocess.CompletedProcess[bytes], root: Path, *, contents: bool
) -> Listing:
    _check(reader, result, "bsdtar -x")
    # With -v, bsdtar reports "x NAME" per entry on stderr; anything else there
    # is a warning (libarchive keeps going after some of them).
    names = []
    for line in result.stderr.decode("utf-8", "replace").splitlines():
        if line.startswith("x "):
            names.append(line[2:])
        elif line.strip():
            raise ReaderFailed(reader, f"unexpected message: {line!r}", _output(result))
    return _collect(reader, names, root, contents=contents, output=_output(result))


def _parse_bsdtar_listing(text: str) -> Listing:
    # "-rw-r--r--  0 0      0         5 Nov 25 17:46 name": mode, links, owner,
    # group, size, month, day, time or year, name.
    listing: Listing = {}
    for line in text.splitlines():
        fields = line.split(maxsplit=8)
        name = fields[8]
        listing[name] = DIRECTORY if name.endswith("/") else Entry(int(fields[4]), None, None)
    return listing


def bsdtar_verbose_listing(path: Path) -> str:
    """``bsdtar -tvf``: an ``ls -l`` style listing (modes, sizes, times)."""
    result = _run("bsdtar", [bsdtar_tool(), "-tvf", str(path)])
    _check("bsdtar", result, "bsdtar -tvf")
    return result.stdout.decode("utf-8")


# --- stream-unzip ------------------------------------------------------------------


def read_stream_unzip(path: Path, *, contents: bool = True) -> Listing:
    """The stream-unzip package: iterates the bytes once, checks CRC-32 and sizes."""
    from stream_unzip import UnzipError, stream_unzip

    reader = "stream-unzip"

    def chunks() -> Iterator[bytes]:
        with path.open("rb") as file:
            while chunk := file.read(_CHUNK):
                yield chunk

    listing: Listing = {}
    try:
        for raw_name, _declared, member in stream_unzip(chunks()):
            name = raw_name.decode("utf-8")
            digest = hashlib.sha256()
            crc = 0
            size = 0
            for chunk in member:
                if contents:
                    digest.update(chunk)
                crc = zlib.crc32(chunk, crc)
                size += len(chunk)
            if name in listing:
                raise ReaderFailed(reader, f"yields {name!r} twice")
            listing[name] = Entry(size, digest.hexdigest() if contents else None, crc)
    except UnzipError as exc:
        raise ReaderFailed(
            reader, f"{type(exc).__name__}: {exc} (after {list(listing)[-5:]})"
        ) from exc
    return listing


# --- Java ------------------------------------------------------------------------------

_java_lock = threading.Lock()
_java_classes: Path | None = None


@functools.cache
def java_major_version() -> int | None:
    """The installed Java's major version (17, 21, ...), or None without Java."""
    java = shutil.which("java")
    if java is None:
        return None
    result = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
    found = re.search(r'version "(\d+)(?:\.(\d+))?', result.stderr)
    if found is None:
        return None
    major = int(found.group(1))
    return int(found.group(2) or 0) if major == 1 else major  # "1.8" is Java 8


def java_classes() -> Path:
    """Compile ZipStreamCheck.java once per process; returns the class directory."""
    global _java_classes
    with _java_lock:
        if _java_classes is None:
            javac = _require(("javac",), "default-jdk-headless")
            _require(("java",), "default-jdk-headless")
            directory = Path(tempfile.mkdtemp(prefix="zip-java-"))
            atexit.register(shutil.rmtree, directory, True)
            result = _run("javac", [javac, "-d", str(directory), str(JAVA_SOURCE)])
            _check("javac", result, "javac")
            _java_classes = directory
        return _java_classes


def read_java_stream(path: Path, *, contents: bool = True) -> Listing:
    """Java's ``java.util.zip.ZipInputStream`` reading stdin (a pipe)."""
    classes = java_classes()
    java = _require(("java",), "default-jdk-headless")
    result = _run(
        "java ZipInputStream",
        [java, "-cp", str(classes), "ZipStreamCheck", "stream"],
        stdin_path=path,
    )
    return _parse_java("java ZipInputStream", result)


def read_java_zipfile(path: Path, *, contents: bool = True) -> Listing:
    """Java's ``java.util.zip.ZipFile`` (central directory)."""
    classes = java_classes()
    java = _require(("java",), "default-jdk-headless")
    result = _run("java ZipFile", [java, "-cp", str(classes), "ZipStreamCheck", "file", str(path)])
    return _parse_java("java ZipFile", result)


def _parse_java(reader: str, result: subprocess.CompletedProcess[bytes]) -> Listing:
    _check(reader, result, "java")
    listing: Listing = {}
    ended = False
    for line in result.stdout.decode("utf-8").splitlines():
        fields = line.split("\t")
        if fields[0] == "end":
            ended = True
        elif fields[0] == "entry":
            name = base64.b64decode(fields[1]).decode("utf-8")
            size, sha, crc = int(fields[3]), fields[4], int(fields[5])
            reported_size, reported_crc = int(fields[6]), int(fields[7])
            if reported_size not in (-1, size) or reported_crc not in (-1, crc):
                raise ReaderFailed(
                    reader,
                    f"{name!r}: entry reports size {reported_size} "
                    f"crc {reported_crc}, data has {size} / {crc}",
                    _output(result),
                )
            if name in listing:
                raise ReaderFailed(reader, f"yields {name!r} twice", _output(result))
            listing[name] = Entry(size, sha, crc)
    if not ended:
        raise ReaderFailed(reader, "did not reach the end of the archive", _output(result))
    return listing


# --- registry -------------------------------------------------------------------------


@dataclass(frozen=True)
class Reader:
    name: str
    read: Callable[..., Listing]
    streaming: bool


CENTRAL_READERS = (
    Reader("zipfile", read_zipfile, False),
    Reader("unzip", read_unzip, False),
    Reader("7z", read_7z, False),
    Reader("bsdtar", read_bsdtar, False),
)
EXTRA_CENTRAL_READERS = (Reader("java-zipfile", read_java_zipfile, False),)
STREAMING_READERS = (
    Reader("bsdtar-pipe", read_bsdtar_pipe, True),
    Reader("stream-unzip", read_stream_unzip, True),
    Reader("java-zipinputstream", read_java_stream, True),
)
ALL_READERS = CENTRAL_READERS + EXTRA_CENTRAL_READERS + STREAMING_READERS
READERS = {reader.name: reader for reader in ALL_READERS}


def verify_all(
    path: Path,
    expected: Listing,
    readers: tuple[Reader, ...] = ALL_READERS,
    *,
    contents: bool = True,
) -> dict[str, Listing]:
    """Run every reader in *readers* and compare each listing with *expected*."""
    results = {}
    for reader in readers:
        listing = reader.read(path, contents=contents)
        assert_listing(listing, expected, reader.name)
        results[reader.name] = listing
    return results
