"""The ``httpx-streaming`` command line: streaming zips and multipart uploads from a shell.

Two subcommands, each one a thin layer over the library:

* ``zip SOURCE...``: local files and directories and http(s) URLs as one ZIP
  archive, written to a file or standard output, or streamed as a POST body.
* ``form URL -F ...``: a streaming multipart/form-data upload in curl's ``-F``
  style.

Everything a user can get wrong (a missing file, an unreachable URL, an HTTP
error status, a bad ``-F``) ends as one line on standard error and a
documented exit code; see ``docs/cli.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import importlib.util
import mimetypes
import os
import pathlib
import stat
import sys
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import IO, Any, NoReturn, TextIO

import anyio
import anyio.to_thread
import httpx

from ._errors import LengthMismatchError
from ._form import FormData
from ._progress import CountingSource, ProgressBar
from ._resource import ResourceStream
from ._response import stream_response
from ._types import BytesLike
from ._zip import (
    COMPRESSION_METHOD_DEFLATE,
    COMPRESSION_METHOD_NONE,
    ZipStreamFile,
    create_zip_stream_resource,
)

PROG = "httpx-streaming"

EXIT_OK = 0
EXIT_TRANSFER = 1  # network error, HTTP error status, a source failing mid-transfer
EXIT_USAGE = 2  # bad command line: options, -F syntax, member names, unavailable backend
EXIT_LOCAL = 3  # local files: missing, permission denied, unwritable output
EXIT_INTERRUPTED = 130  # Ctrl-C, as shells report SIGINT

# Response bodies up to this size are printed after the status line.
_SHORT_BODY = 2048
# Output is written in blocks of about this size; bigger chunks pass as they are.
_WRITE_BLOCK = 1 << 20
_MAX_RETRY_DELAY = 30.0


class CommandError(Exception):
    """An expected failure: printed as one line, ends the command with ``code``."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# --- argument parsing ---------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # argparse prints usage plus the message; one line is easier to read and to grep.
        raise CommandError(EXIT_USAGE, f"{message} (see '{self.prog} --help')")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``httpx-streaming`` (both subcommands)."""
    parser = _Parser(
        prog=PROG,
        description="Stream ZIP archives and multipart/form-data uploads with httpx.",
        epilog="Exit codes: 0 success, 1 transfer or HTTP error, 2 usage error, "
        "3 local file error, 130 interrupted.",
    )
    from . import __version__

    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    common = _Parser(add_help=False)
    common.add_argument(
        "--retries",
        type=_non_negative_int,
        default=0,
        metavar="N",
        help="retry up to N times on a 5xx answer or a connection error, resending the "
        "whole body (default: 0)",
    )
    common.add_argument(
        "--retry-delay",
        type=_non_negative_float,
        default=1.0,
        metavar="SECONDS",
        help="wait before the first retry, doubled for each further one (default: 1)",
    )
    common.add_argument(
        "--timeout",
        type=_positive_float,
        default=60.0,
        metavar="SECONDS",
        help="network timeout for connecting, reading and writing (default: 60)",
    )
    common.add_argument(
        "-H",
        "--header",
        action="append",
        default=[],
        metavar="'NAME: VALUE'",
        help="extra header for the upload request (repeatable)",
    )
    common.add_argument(
        "--backend",
        choices=("asyncio", "trio"),
        default="asyncio",
        help="event loop to run on (trio needs the 'trio' package)",
    )
    common.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress bar, even when standard error is a terminal",
    )
    common.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="report retries on standard error even when it is not a terminal",
    )

    zip_parser = commands.add_parser(
        "zip",
        parents=[common],
        help="stream local files, directories and URLs as one ZIP archive",
        description="Stream local files, directories (recursively) and http(s) URLs as one "
        "ZIP archive: to a file, to standard output, or as the body of a POST.",
    )
    zip_parser.add_argument(
        "sources",
        nargs="+",
        metavar="SOURCE",
        help="a local file or directory, an http(s) URL, or NAME=SOURCE to choose the "
        "member's name (a directory's prefix)",
    )
    target = zip_parser.add_mutually_exclusive_group()
    target.add_argument(
        "-o", "--output", metavar="FILE", help="write the archive to FILE ('-': standard output)"
    )
    target.add_argument("--post", metavar="URL", help="stream the archive as a POST body to URL")
    zip_parser.add_argument(
        "--deflate", action="store_true", help="compress members with deflate (default: stored)"
    )

    form_parser = commands.add_parser(
        "form",
        parents=[common],
        help="streaming multipart/form-data upload, curl -F style",
        description="POST a multipart/form-data body to URL, streaming file and URL parts.",
    )
    form_parser.add_argument("url", metavar="URL", help="where to POST the form")
    form_parser.add_argument(
        "-F",
        "--form",
        dest="fields",
        action="append",
        default=[],
        type=lambda value: ("form", value),
        metavar="NAME=VALUE",
        help="a field: NAME=text, NAME=@PATH (a file part), NAME=@URL (streamed from a "
        "GET) or NAME=<PATH (a text field holding the file's text); after @, "
        "';type=MEDIA/TYPE' and ';filename=NAME' set the part's headers",
    )
    form_parser.add_argument(
        "--form-string",
        dest="fields",
        action="append",
        type=lambda value: ("string", value),
        metavar="NAME=TEXT",
        help="a text field taken literally (a leading @ or < is not special)",
    )
    return parser


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number of seconds >= 0, got {text!r}")
    return value


def _positive_float(text: str) -> float:
    value = _non_negative_float(text)
    if value == 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds > 0, got {text!r}")
    return value


# --- shared helpers ------------------------------------------------------------------


def _is_url(text: str) -> bool:
    return text[:8].lower().startswith(("http://", "https://"))


def _check_url(text: str, what: str) -> httpx.URL:
    if not _is_url(text):
        raise CommandError(EXIT_USAGE, f"{what} must be an http:// or https:// URL, got {text!r}")
    try:
        url = httpx.URL(text)
    except httpx.InvalidURL as exc:
        raise CommandError(EXIT_USAGE, f"invalid URL {text!r}: {exc}") from None
    if not url.host:
        raise CommandError(EXIT_USAGE, f"invalid URL {text!r}: no host")
    return url


def _url_file_name(url: httpx.URL) -> str:
    """The last segment of the URL's path, decoded; the host when the path has none."""
    segments = [segment for segment in url.path.split("/") if segment]
    name = segments[-1] if segments else url.host
    # A decoded %2F must not turn into a directory inside the archive.
    return name.replace("/", "_").replace("\\", "_")


def _parse_headers(values: Sequence[str]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for value in values:
        name, sep, content = value.partition(":")
        if not sep or not name.strip() or any(char in value for char in "\r\n"):
            raise CommandError(EXIT_USAGE, f"bad -H argument {value!r}: expected 'NAME: VALUE'")
        headers[name.strip()] = content.strip()
    return headers


def _check_readable_file(path: pathlib.Path) -> os.stat_result:
    status = path.stat()  # FileNotFoundError / PermissionError are reported by main
    if stat.S_ISDIR(status.st_mode):
        raise IsADirectoryError(errno.EISDIR, "is a directory", str(path))
    if not stat.S_ISREG(status.st_mode):
        raise CommandError(EXIT_LOCAL, f"not a regular file: {str(path)!r}")
    if not os.access(path, os.R_OK):
        raise PermissionError(errno.EACCES, "Permission denied", str(path))
    return status


@dataclass
class _Common:
    retries: int
    retry_delay: float
    timeout: float
    headers: dict[str, str]
    progress: bool
    verbose: bool

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(follow_redirects=True, timeout=httpx.Timeout(self.timeout))

    def bar(self, total: int | None, label: str) -> ProgressBar:
        return ProgressBar(total, label=label, stream=sys.stderr, enabled=self.progress)

    def notice(self, bar: ProgressBar, message: str) -> None:
        line = f"{PROG}: {message}"
        if bar.enabled:
            bar.note(line)
        elif self.verbose:
            print(line, file=sys.stderr, flush=True)

    def delay(self, attempt: int) -> float:
        return float(min(self.retry_delay * 2 ** (attempt - 1), _MAX_RETRY_DELAY))


class SourceError(Exception):
    """An HTTP error of a source URL, kept apart from the upload's own errors.

    httpx stamps its request onto every ``httpx.RequestError`` that passes
    through ``client.send``, so a source's connection error raised while the
    upload streams would be reported against the upload's URL. Wrapping it on
    the way out of the source keeps the right URL.
    """

    def __init__(self, url: httpx.URL, error: httpx.HTTPError) -> None:
        super().__init__(f"GET {url}: {error}")
        self.url = url
        self.error = error


class _SourcePass(AsyncIterator[BytesLike]):
    """One pass of a URL source: its chunks, and its httpx errors as SourceError."""

    __slots__ = ("_stream", "_url")

    def __init__(self, source: ResourceStream, url: httpx.URL) -> None:
        self._stream = source.__aiter__()
        self._url = url

    @property
    def content_length(self) -> int | None:
        return self._stream.content_length

    async def __anext__(self) -> BytesLike:
        try:
            return await self._stream.__anext__()
        except httpx.HTTPError as exc:
            raise SourceError(self._url, exc) from exc

    async def aclose(self) -> None:
        await self._stream.aclose()


def url_source(client: httpx.AsyncClient, url: httpx.URL) -> ResourceStream:
    """A reusable stream of a GET of *url* (``stream_response``), errors tagged with *url*."""
    return ResourceStream(_SourcePass, stream_response(client, "GET", url), url)


def _retryable(exc: BaseException) -> bool:
    """Connection-level failures and 5xx answers of a source may pass on the next attempt."""
    exc = _unwrap(exc)
    if isinstance(exc, SourceError):
        exc = exc.error
    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code >= 500
    return isinstance(exc, httpx.TransportError) and not isinstance(
        exc, httpx.UnsupportedProtocol | httpx.ProxyError
    )


def _reason(exc: BaseException) -> str:
    problem = describe_failure(exc)
    return problem[1] if problem else type(exc).__name__


def _give_up(exc: Exception, attempts: int) -> NoReturn:
    """Re-raise a retryable failure; after retries, say how many attempts were made."""
    problem = describe_failure(exc)
    if attempts == 1 or problem is None:
        raise exc
    raise CommandError(problem[0], f"{problem[1]} (after {attempts} attempts)") from exc


def _status_text(response: httpx.Response) -> str:
    reason = response.reason_phrase or httpx.codes.get_reason_phrase(response.status_code)
    return f"{response.status_code} {reason}".rstrip()


async def _post_with_retries(
    client: httpx.AsyncClient,
    url: httpx.URL,
    body: Any,
    headers: dict[str, str],
    common: _Common,
    bar: ProgressBar,
) -> httpx.Response:
    """The seed's retry loop: POST the (reusable) body again on 5xx or a connection error."""
    attempts = common.retries + 1
    attempt = 1
    while True:
        try:
            response = await client.post(url, content=body, headers=headers)
        except Exception as exc:
            if not _retryable(exc):
                raise
            if attempt >= attempts:
                _give_up(exc, attempt)
            reason = _reason(exc)
        else:
            if response.status_code < 500 or attempt >= attempts:
                if response.is_error:
                    tries = f" (after {attempt} attempts)" if attempt > 1 else ""
                    raise CommandError(
                        EXIT_TRANSFER, f"POST {url} answered {_status_text(response)}{tries}"
                    )
                return response
            reason = f"POST {url} answered {_status_text(response)}"
        delay = common.delay(attempt)
        attempt += 1
        common.notice(bar, f"{reason}; retrying in {delay:g} s (attempt {attempt} of {attempts})")
        await anyio.sleep(delay)


def _print_response(response: httpx.Response) -> None:
    print(_status_text(response))
    body = response.content
    if body and len(body) <= _SHORT_BODY:
        try:
            text = body.decode(response.encoding or "utf-8")
        except (UnicodeDecodeError, LookupError):
            return
        if all(char.isprintable() or char in "\r\n\t" for char in text):
            print(text.rstrip("\r\n"))


# --- zip -------------------------------------------------------------------------------


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


def split_source(argument: str) -> tuple[str | None, str]:
    """``NAME=SOURCE`` into its parts; a URL or an existing path is taken whole."""
    if _is_url(argument) or os.path.lexists(argument):
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
    excluded = os.path.realpath(exclude) if exclude else None
    for argument in sources:
        name, source = split_source(argument)
        if _is_url(source):
            url = _check_url(source, "a SOURCE URL")
            members.append(UrlMember(name or _url_file_name(url), url))
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
            status = _check_readable_file(path)
            members.append(LocalMember(name, path, status.st_mtime, status.st_mode))
    return members


def _raise(error: OSError) -> NoReturn:
    raise error


def _walk(root: pathlib.Path, prefix: str, excluded: str | None) -> list[Member]:
    if not os.access(root, os.R_OK | os.X_OK):
        raise PermissionError(errno.EACCES, "Permission denied", str(root))
    members: list[Member] = []
    for directory, subdirectories, files in os.walk(root, onerror=_raise):
        subdirectories.sort()
        relative = os.path.relpath(directory, root)
        base = prefix if relative == "." else f"{prefix}/{pathlib.PurePath(relative).as_posix()}"
        if not subdirectories and not files:
            status = os.stat(directory)
            members.append(LocalMember(base + "/", None, status.st_mtime, status.st_mode))
        for file_name in sorted(files):
            path = pathlib.Path(directory, file_name)
            if excluded is not None and os.path.realpath(path) == excluded:
                continue
            status = _check_readable_file(path)
            members.append(
                LocalMember(f"{base}/{file_name}", path, status.st_mtime, status.st_mode)
            )
    return members


def _zip_files(
    members: Sequence[Member], client: httpx.AsyncClient, deflate: bool
) -> list[ZipStreamFile]:
    method = COMPRESSION_METHOD_DEFLATE if deflate else COMPRESSION_METHOD_NONE
    files: list[ZipStreamFile] = []
    for member in members:
        try:
            if isinstance(member, UrlMember):
                source = url_source(client, member.url)
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


async def _write_archive(stream: Any, output: IO[bytes], bar: ProgressBar) -> None:
    """Write the archive's chunks in blocks of about ``_WRITE_BLOCK`` bytes.

    Each write is a hop to a worker thread, which costs more than copying a
    64 KiB chunk; gathering chunks into one reused buffer keeps the hops to
    about one per MiB. A chunk of a block's size or more goes out as it is.
    """
    buffer = bytearray()
    async with contextlib.aclosing(stream.__aiter__()) as chunks:
        async for chunk in chunks:
            size = len(chunk)
            if not buffer and size >= _WRITE_BLOCK:
                await anyio.to_thread.run_sync(output.write, chunk)
            else:
                buffer += chunk
                if len(buffer) >= _WRITE_BLOCK:
                    await anyio.to_thread.run_sync(output.write, buffer)
                    buffer.clear()
            bar.advance(size)
    if buffer:
        await anyio.to_thread.run_sync(output.write, buffer)
    await anyio.to_thread.run_sync(output.flush)


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
    post_url = _check_url(args.post, "--post") if args.post is not None else None
    output = None if to_stdout or post_url is not None else pathlib.Path(args.output)
    members = plan_zip_members(args.sources, exclude=None if output is None else str(output))
    return ZipJob(members, args.deflate, post_url, output)


async def run_zip(job: ZipJob, common: _Common) -> int:
    """Stream the archive to its destination."""
    async with common.client() as client:
        resource = create_zip_stream_resource(_zip_files(job.members, client, job.deflate))
        headers: dict[str, str] = dict(resource.headers)
        total = int(headers["Content-Length"]) if "Content-Length" in headers else None
        if job.post_url is not None:
            bar = common.bar(total, "upload")
            try:
                body = CountingSource(resource, bar) if bar.enabled else resource
                response = await _post_with_retries(
                    client, job.post_url, body, {**headers, **common.headers}, common, bar
                )
            finally:
                bar.close()
            _print_response(response)
            return EXIT_OK
        bar = common.bar(total, "zip")
        try:
            if job.output is None:
                await _zip_to_file(sys.stdout.buffer, resource, common, bar)
            else:
                await _zip_to_path(job.output, resource, common, bar)
        finally:
            bar.close()
    return EXIT_OK


async def _zip_to_path(
    path: pathlib.Path, resource: Any, common: _Common, bar: ProgressBar
) -> None:
    try:
        output = await anyio.to_thread.run_sync(path.open, "wb")
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise CommandError(EXIT_LOCAL, f"cannot write {str(path)!r}: {reason}") from None
    # Only a regular file is removed on failure: -o /dev/null must survive a failed run.
    regular = stat.S_ISREG(os.fstat(output.fileno()).st_mode)
    try:
        with output:
            await _zip_to_file(output, resource, common, bar)
    except BaseException:
        if regular:  # a half-written archive is worse than none
            with anyio.CancelScope(shield=True), contextlib.suppress(OSError):
                await anyio.to_thread.run_sync(path.unlink)
        raise


async def _zip_to_file(output: IO[bytes], resource: Any, common: _Common, bar: ProgressBar) -> None:
    attempts = common.retries + 1
    seekable = output.seekable()
    start = output.tell() if seekable else 0
    attempt = 1
    while True:
        bar.restart()
        try:
            await _write_archive(resource, output, bar)
            return
        except Exception as exc:
            # A pipe cannot take back what was written; a file can be rewound.
            restartable = seekable or bar.done == 0
            if not restartable or not _retryable(exc):
                raise
            if attempt >= attempts:
                _give_up(exc, attempt)
            reason = _reason(exc)
        delay = common.delay(attempt)
        attempt += 1
        common.notice(bar, f"{reason}; retrying in {delay:g} s (attempt {attempt} of {attempts})")
        await anyio.sleep(delay)
        if seekable:
            await anyio.to_thread.run_sync(_rewind, output, start)


def _rewind(output: IO[bytes], position: int) -> None:
    output.seek(position)
    output.truncate()


# --- form ------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldSpec:
    """One ``-F`` argument: a text field, a file part (``@PATH``) or a URL part (``@URL``)."""

    name: str
    kind: str  # "text", "text-file" (curl's <PATH), "file" or "url"
    value: str
    content_type: str | None = None
    file_name: str | None = None


_FORM_HELP = "expected NAME=VALUE, NAME=@PATH or NAME=@URL"


def parse_field(argument: str, *, literal: bool = False) -> FieldSpec:
    """Parse one ``-F`` (or, with ``literal``, ``--form-string``) argument."""
    option = "--form-string" if literal else "-F"
    name, sep, value = argument.partition("=")
    if not sep or not name:
        raise CommandError(EXIT_USAGE, f"bad {option} argument {argument!r}: {_FORM_HELP}")
    if not literal and value.startswith("<") and len(value) > 1:
        return FieldSpec(name, "text-file", value[1:])
    if literal or not value.startswith("@"):
        return FieldSpec(name, "text", value)
    target = value[1:]
    content_type: str | None = None
    file_name: str | None = None
    # curl's part options: only a trailing ';type=' / ';filename=' is an option,
    # so paths and URLs holding other semicolons pass whole.
    while True:
        head, semicolon, option_text = target.rpartition(";")
        key, equals, option_value = option_text.partition("=")
        if not semicolon or not equals or key not in ("type", "filename"):
            break
        if not option_value:
            raise CommandError(EXIT_USAGE, f"bad -F argument {argument!r}: empty ';{key}=' option")
        if key == "type":
            content_type = content_type or option_value
        else:
            file_name = file_name or option_value
        target = head
    if not target:
        raise CommandError(
            EXIT_USAGE, f"bad -F argument {argument!r}: nothing after '@' ({_FORM_HELP})"
        )
    if _is_url(target):
        _check_url(target, "an @URL")
        return FieldSpec(name, "url", target, content_type, file_name)
    return FieldSpec(name, "file", target, content_type, file_name)


def build_form(specs: Sequence[FieldSpec], client: httpx.AsyncClient) -> FormData:
    """The form for the ``-F`` fields; file paths were checked by the caller."""
    form = FormData()
    # curl -F always sends multipart; a form of text fields only would otherwise
    # go out urlencoded, so text parts then carry their (default) media type.
    text_type = None if any(spec.kind != "text" for spec in specs) else "text/plain; charset=utf-8"
    for spec in specs:
        try:
            if spec.kind == "text":
                form.add_field(spec.name, spec.value, content_type=text_type)
            elif spec.kind == "file":
                path = pathlib.Path(spec.value)
                content_type = spec.content_type or (
                    mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                )
                form.add_field(
                    spec.name,
                    path,
                    content_type=content_type,
                    file_name=spec.file_name or path.name,
                )
            else:
                url = httpx.URL(spec.value)
                form.add_field(
                    spec.name,
                    url_source(client, url),
                    content_type=spec.content_type or "application/octet-stream",
                    file_name=spec.file_name or _url_file_name(url),
                )
        except (TypeError, ValueError) as exc:
            raise CommandError(EXIT_USAGE, f"bad field {spec.name!r}: {exc}") from None
    return form


@dataclass(frozen=True)
class FormJob:
    """A checked ``form`` command."""

    url: httpx.URL
    fields: list[FieldSpec]


def prepare_form(args: argparse.Namespace) -> FormJob:
    """Check the ``form`` arguments and the files of ``@PATH`` fields."""
    url = _check_url(args.url, "URL")
    if not args.fields:
        raise CommandError(EXIT_USAGE, "no fields: give at least one -F NAME=VALUE")
    specs = [parse_field(value, literal=kind == "string") for kind, value in args.fields]
    for index, spec in enumerate(specs):
        if spec.kind == "file":
            _check_readable_file(pathlib.Path(spec.value))
        elif spec.kind == "text-file":
            specs[index] = FieldSpec(spec.name, "text", _read_text(pathlib.Path(spec.value)))
    return FormJob(url, specs)


def _read_text(path: pathlib.Path) -> str:
    """The content of a ``NAME=<PATH`` field: a small UTF-8 text file, read now."""
    _check_readable_file(path)
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise CommandError(
            EXIT_USAGE, f"{str(path)!r} is not UTF-8 text; send it as a file part with @"
        ) from None


async def run_form(job: FormJob, common: _Common) -> int:
    """POST the form (with retries) and print the answer."""
    async with common.client() as client:
        form = build_form(job.fields, client)
        bar = common.bar(form.content_length, "upload")
        try:
            body = CountingSource(form, bar) if bar.enabled else form
            response = await _post_with_retries(
                client, job.url, body, {**form.headers, **common.headers}, common, bar
            )
        finally:
            bar.close()
    _print_response(response)
    return EXIT_OK


# --- errors and the entry point --------------------------------------------------------


def _unwrap(exc: BaseException) -> BaseException:
    """The single exception inside (nested) exception groups, else *exc* itself."""
    while True:
        inner = getattr(exc, "exceptions", None)
        if not isinstance(inner, tuple) or len(inner) != 1:
            return exc
        exc = inner[0]


def _describe_http(exc: httpx.HTTPError, method: str, url: httpx.URL) -> str:
    if isinstance(exc, httpx.HTTPStatusError):
        return f"{method} {url} answered {_status_text(exc.response)}"
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect to {url}: {detail}"
    if isinstance(exc, httpx.TimeoutException):
        return f"{method} {url} timed out ({type(exc).__name__})"
    return f"{method} {url} failed: {detail}"


def describe_failure(exc: BaseException) -> tuple[int, str] | None:
    """Exit code and one-line message for an expected failure; ``None`` for a bug."""
    exc = _unwrap(exc)
    if isinstance(exc, CommandError):
        return exc.code, exc.message
    if isinstance(exc, SourceError):
        return EXIT_TRANSFER, _describe_http(exc.error, "GET", exc.url)
    if isinstance(exc, httpx.HTTPError):
        try:
            request: httpx.Request | None = exc.request
        except RuntimeError:
            request = None
        if request is None:
            return EXIT_TRANSFER, str(exc) or type(exc).__name__
        return EXIT_TRANSFER, _describe_http(exc, request.method, request.url)
    if isinstance(exc, LengthMismatchError):
        return EXIT_TRANSFER, f"a source changed size while being sent: {exc}"
    if isinstance(exc, OSError):
        filename = exc.filename
        if isinstance(exc, PermissionError):
            reason = "permission denied"
        elif isinstance(exc, FileNotFoundError):
            reason = "no such file or directory"
        elif isinstance(exc, BrokenPipeError):
            return EXIT_LOCAL, "standard output was closed before the end"
        else:
            reason = (exc.strerror or str(exc)).lower()
        if filename is None:
            return EXIT_LOCAL, reason
        return EXIT_LOCAL, f"{reason}: {os.fsdecode(filename)!r}"
    return None


def _backend_available(backend: str) -> bool:
    if backend != "trio":
        return True
    try:
        return importlib.util.find_spec("trio") is not None
    except (ImportError, ValueError):
        return False


def _is_interrupted_on_python_310(exc: BaseException) -> bool:
    # On Ctrl-C anyio's asyncio runner cancels the main task; without
    # Task.uncancel (Python < 3.11) it cannot turn that back into a
    # KeyboardInterrupt, and the cancellation itself comes out of anyio.run.
    # Nothing else cancels the main task from outside.
    return sys.version_info < (3, 11) and type(exc).__name__ == "CancelledError"


def _fail(code: int, message: str, stream: TextIO) -> int:
    line = " ".join(message.splitlines())
    print(f"{PROG}: error: {line}", file=stream, flush=True)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (see ``docs/cli.md``).

    Args:
        argv: The arguments after the program name; ``sys.argv[1:]`` by default.
    """
    stderr = sys.stderr
    try:
        args = build_parser().parse_args(argv)
        if not _backend_available(args.backend):
            raise CommandError(
                EXIT_USAGE,
                "--backend trio needs the 'trio' package, which is not installed "
                "(pip install 'httpx-streaming[trio]')",
            )
        common = _Common(
            retries=args.retries,
            retry_delay=args.retry_delay,
            timeout=args.timeout,
            headers=_parse_headers(args.header),
            progress=not args.no_progress and stderr.isatty(),
            verbose=args.verbose,
        )
        # Everything that can be checked without the network is checked here,
        # before the event loop starts.
        if args.command == "zip":
            return anyio.run(run_zip, prepare_zip(args), common, backend=args.backend)
        return anyio.run(run_form, prepare_form(args), common, backend=args.backend)
    except SystemExit as exc:  # --help and --version
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    except KeyboardInterrupt:
        return _fail(EXIT_INTERRUPTED, "interrupted", stderr)
    except BaseException as exc:
        if _is_interrupted_on_python_310(exc):
            return _fail(EXIT_INTERRUPTED, "interrupted", stderr)
        problem = describe_failure(exc)
        if problem is None:
            raise
        return _fail(*problem, stderr)
