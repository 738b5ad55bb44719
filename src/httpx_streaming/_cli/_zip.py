"""The ``zip`` command: local files, directories and URLs as one archive.

The SOURCE arguments are planned into members first (every local file
checked, directories walked), before the event loop starts; the archive then
streams to a file, to standard output or as the body of a POST.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import pathlib
import stat
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING

import anyio
import anyio.to_thread

from .. import (
    COMPRESSION_METHOD_DEFLATE,
    COMPRESSION_METHOD_NONE,
    ZipStreamFile,
    ZipStreamResource,
    create_zip_stream_resource,
)
from .._progress import ProgressBar
from .._resource import SyncResourceStream
from .._types import BytesLike
from ._failures import EXIT_LOCAL, EXIT_OK, EXIT_USAGE, CommandError
from ._inputs import check_readable_file, check_url, is_url, url_file_name
from ._options import Options
from ._retry import RetryPolicy, with_retries

if TYPE_CHECKING:
    import httpx

# Output goes to worker threads in batches of about this many bytes.
_WRITE_BLOCK = 4 << 20


@dataclass(frozen=True)
class LocalMember:
    """A local file (``path``) or an empty directory (``path is None``, name ends in ``/``)."""

    name: str
    path: pathlib.Path | None
    mtime: float
    mode: int


@dataclass(frozen=True)
class UrlMember:
    """A member streamed from a GET of ``url``."""

    name: str
    url: httpx.URL


Member = LocalMember | UrlMember


@dataclass(frozen=True)
class ZipJob:
    """A checked ``zip`` command: its members and where the archive goes."""

    members: list[Member]
    deflate: bool
    post_url: httpx.URL | None
    output: pathlib.Path | None  # None with post_url None: standard output


def prepare_zip(args: argparse.Namespace) -> ZipJob:
    """Check the ``zip`` arguments and local files, before any byte moves."""
    to_stdout = args.post is None and args.output in (None, "-")
    if to_stdout and sys.stdout.isatty():
        raise CommandError(
            EXIT_USAGE,
            "refusing to write a ZIP archive to a terminal; use -o FILE, --post URL or a "
            "redirection",
        )
    post_url = check_url(args.post, "--post") if args.post is not None else None
    output = None if to_stdout or post_url is not None else pathlib.Path(args.output)
    members = plan_zip_members(args.sources, exclude=None if output is None else str(output))
    return ZipJob(members, args.deflate, post_url, output)


def is_online(job: ZipJob) -> bool:
    """Whether the archive is posted or has a member fetched from a URL."""
    return job.post_url is not None or any(isinstance(m, UrlMember) for m in job.members)


def zip_locally(job: ZipJob, options: Options) -> int:
    """Write an archive of local files only: no network, so no event loop and no
    worker threads; files are read in this thread, as ``zip -r`` reads them."""
    archive = create_zip_stream_resource(_zip_files(job.members, None, job.deflate))
    chunks = archive.sync()
    bar = options.progress_bar(archive.content_length, "zip")
    try:
        if job.output is None:
            _write_sync(sys.stdout.buffer, chunks, bar)
        else:
            with _output_file(job.output) as output:
                _write_sync(output, chunks, bar)
    finally:
        bar.close()
    return EXIT_OK


async def run_zip(job: ZipJob, options: Options) -> int:
    """Stream the archive, with members or a destination on the network."""
    from ._upload import upload

    async with options.client() as client:
        archive = create_zip_stream_resource(_zip_files(job.members, client, job.deflate))
        if job.post_url is not None:
            await upload(client, job.post_url, archive, archive.headers, options)
            return EXIT_OK
        bar = options.progress_bar(archive.content_length, "zip")
        try:
            if job.output is None:
                await _write(sys.stdout.buffer, archive, options.retry, bar)
            else:
                await _write_to_path(job.output, archive, options.retry, bar)
        finally:
            bar.close()
    return EXIT_OK


# --- planning the members ------------------------------------------------------------


def split_source(argument: str) -> tuple[str | None, str]:
    """``NAME=SOURCE`` into its parts; a URL or an existing path is taken whole."""
    if is_url(argument) or os.path.lexists(argument):
        return None, argument
    name, sep, source = argument.partition("=")
    if sep and name and source:
        return name, source
    return None, argument


def plan_zip_members(sources: Sequence[str], exclude: str | None = None) -> list[Member]:
    """Resolve the SOURCE arguments into members, checking local files now.

    Directories are walked recursively in sorted order; their files are named
    by their path relative to the directory, under the directory's name (or
    NAME), and empty directories become directory entries. ``exclude`` (the
    archive being written) is left out of the walk.
    """
    members: list[Member] = []
    excluded = _identity(exclude) if exclude else None
    for argument in sources:
        name, source = split_source(argument)
        if is_url(source):
            url = check_url(source, "a SOURCE URL")
            members.append(UrlMember(name or url_file_name(url), url))
            continue
        path = pathlib.Path(source)
        status = path.stat()
        if name is None:
            name = path.name if path.name not in ("", ".", "..") else path.resolve().name
            if not name:
                raise CommandError(
                    EXIT_USAGE, f"cannot name a member after {source!r}; use NAME={source}"
                )
        name = name.rstrip("/") if stat.S_ISDIR(status.st_mode) else name
        if stat.S_ISDIR(status.st_mode):
            members.extend(_walk(path, name, excluded))
        else:
            status = check_readable_file(path, status)
            members.append(LocalMember(name, path, status.st_mtime, status.st_mode))
    return members


def _identity(path: str) -> tuple[int, int] | None:
    # The archive being written, if it exists already, by device and inode: the walk
    # compares what it stats anyway instead of resolving every path.
    try:
        status = os.stat(path)
    except OSError:
        return None
    return status.st_dev, status.st_ino


def _walk(root: pathlib.Path, prefix: str, excluded: tuple[int, int] | None) -> list[Member]:
    """The files under *root* in sorted order, each directory's files before its
    subdirectories (as ``os.walk`` goes), one ``stat`` per file."""
    if not os.access(root, os.R_OK | os.X_OK):
        raise PermissionError(errno.EACCES, "Permission denied", str(root))
    members: list[Member] = []

    def visit(directory: str, base: str) -> None:
        with os.scandir(directory) as scan:
            entries = sorted(scan, key=_entry_name)
        if not entries:
            status = os.stat(directory)
            members.append(LocalMember(base + "/", None, status.st_mtime, status.st_mode))
            return
        folders = []
        for entry in entries:
            if entry.is_dir():
                # Like os.walk: a link to a folder is not followed.
                if not entry.is_symlink():
                    folders.append(entry)
                continue
            # (Windows' DirEntry.stat has no inode: stat the path there.)
            status = entry.stat() if os.name != "nt" else os.stat(entry.path)
            if (status.st_dev, status.st_ino) == excluded:
                continue  # before the checks: the archive being written may be a FIFO
            check_readable_file(entry.path, status)
            members.append(
                LocalMember(
                    f"{base}/{entry.name}",
                    pathlib.Path(entry.path),
                    status.st_mtime,
                    status.st_mode,
                )
            )
        for folder in folders:
            visit(folder.path, f"{base}/{folder.name}")

    visit(str(root), prefix)
    return members


def _entry_name(entry: os.DirEntry[str]) -> str:
    return entry.name


def _zip_files(
    members: Sequence[Member], client: httpx.AsyncClient | None, deflate: bool
) -> list[ZipStreamFile]:
    method = COMPRESSION_METHOD_DEFLATE if deflate else COMPRESSION_METHOD_NONE
    files: list[ZipStreamFile] = []
    for member in members:
        try:
            if isinstance(member, UrlMember):
                from .. import stream_response

                assert client is not None
                source = stream_response(client, "GET", member.url)
                files.append(ZipStreamFile(member.name, source, compression_method=method))
                continue
            # The files' own times and permission bits, as zip -r keeps them.
            files.append(
                ZipStreamFile(
                    member.name,
                    b"" if member.path is None else member.path,
                    compression_method=method,
                    modified_at=member.mtime,
                    mode=stat.S_IMODE(member.mode),
                )
            )
        except (TypeError, ValueError) as exc:
            raise CommandError(EXIT_USAGE, f"bad member name {member.name!r}: {exc}") from None
    return files


# --- writing the archive -------------------------------------------------------------


def _open_output(path: pathlib.Path) -> tuple[IO[bytes], bool]:
    """*path* opened for writing, and whether it is a regular file (removed on failure)."""
    try:
        output = path.open("wb")
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise CommandError(EXIT_LOCAL, f"cannot write {str(path)!r}: {reason}") from None
    # Only a regular file is removed on failure: -o /dev/null must survive a failed run.
    return output, stat.S_ISREG(os.fstat(output.fileno()).st_mode)


@contextlib.contextmanager
def _output_file(path: pathlib.Path) -> Iterator[IO[bytes]]:
    output, regular = _open_output(path)
    try:
        with output:
            yield output
    except BaseException:
        _discard(path, regular)
        raise


def _discard(path: pathlib.Path, regular: bool) -> None:
    """Remove a half-written archive (worse than none), if it is a regular file."""
    if regular:
        with contextlib.suppress(OSError):
            path.unlink()


def _write_sync(output: IO[bytes], archive: SyncResourceStream, bar: ProgressBar) -> None:
    with contextlib.closing(iter(archive)) as chunks:
        for chunk in chunks:
            output.write(chunk)
            bar.advance(len(chunk))
    output.flush()


async def _write_to_path(
    path: pathlib.Path, archive: ZipStreamResource, retry: RetryPolicy, bar: ProgressBar
) -> None:
    output, regular = await anyio.to_thread.run_sync(_open_output, path)
    try:
        with output:
            await _write(output, archive, retry, bar)
    except BaseException:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(_discard, path, regular)
        raise


async def _write(
    output: IO[bytes], archive: ZipStreamResource, retry: RetryPolicy, bar: ProgressBar
) -> None:
    """Write the archive to *output*, from the start again on every retry.

    A file is rewound and truncated for the next attempt; a pipe cannot take
    back what was written, so it is retried only before its first byte.
    """
    seekable = output.seekable()
    start = output.tell() if seekable else 0
    first = True

    async def attempt() -> None:
        nonlocal first
        if seekable and not first:
            await anyio.to_thread.run_sync(_truncate, output, start)
        first = False
        bar.restart()
        await _write_chunks(archive, output, bar)

    await with_retries(attempt, retry, bar, repeatable=lambda: seekable or bar.done == 0)


def _truncate(output: IO[bytes], position: int) -> None:
    output.seek(position)
    output.truncate()


async def _write_chunks(archive: ZipStreamResource, output: IO[bytes], bar: ProgressBar) -> None:
    """Write the archive's chunks in batches of about ``_WRITE_BLOCK`` bytes.

    Each write is a hop to a worker thread, which costs more than writing a
    64 KiB chunk: the chunks of a batch (not copies) go in one hop.
    """
    batch: list[BytesLike] = []
    batched = 0
    async with contextlib.aclosing(archive.__aiter__()) as chunks:
        async for chunk in chunks:
            batch.append(chunk)
            batched += len(chunk)
            if batched >= _WRITE_BLOCK:
                await anyio.to_thread.run_sync(_write_batch, output, batch)
                # Counted once written: a pipe can be retried while nothing reached it.
                bar.advance(batched)
                batch = []
                batched = 0
    await anyio.to_thread.run_sync(_write_batch, output, batch)
    bar.advance(batched)
    await anyio.to_thread.run_sync(output.flush)


def _write_batch(output: IO[bytes], batch: list[BytesLike]) -> None:
    for chunk in batch:
        output.write(chunk)
