"""The ``httpx-streaming`` command line: streaming zips and multipart uploads from a shell.

Two subcommands, each one a thin layer over the library:

* ``zip SOURCE...`` (``_zip``): local files and directories and http(s) URLs
  as one ZIP archive, written to a file or standard output, or streamed as a
  POST body.
* ``form URL -F ...`` (``_form``): a streaming multipart/form-data upload in
  curl's ``-F`` style.

This module is the entry point: it parses the command line, runs a command on
the chosen event loop and turns every expected failure (a missing file, an
unreachable URL, an HTTP error status, a bad ``-F``) into one line on standard
error and a documented exit code; see ``docs/cli.md``.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from collections.abc import Sequence
from typing import NoReturn, TextIO

import anyio

from .. import __version__
from ._failures import (
    EXIT_INTERRUPTED,
    EXIT_LOCAL,
    EXIT_OK,
    EXIT_TRANSFER,
    EXIT_USAGE,
    PROG,
    CommandError,
    describe_failure,
)
from ._options import Options
from ._retry import RetryPolicy
from ._zip import is_online, prepare_zip, run_zip, zip_locally

__all__ = [
    "EXIT_INTERRUPTED",
    "EXIT_LOCAL",
    "EXIT_OK",
    "EXIT_TRANSFER",
    "EXIT_USAGE",
    "CommandError",
    "build_parser",
    "describe_failure",
    "main",
]


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
        options = Options(
            retry=RetryPolicy(args.retries, args.retry_delay, verbose=args.verbose),
            timeout=args.timeout,
            headers=_parse_headers(args.header),
            progress=not args.no_progress and stderr.isatty(),
        )
        # Everything that can be checked without the network is checked here,
        # before the event loop starts.
        if args.command == "zip":
            job = prepare_zip(args)
            if not is_online(job):
                return zip_locally(job, options)
            return anyio.run(run_zip, job, options, backend=args.backend)
        from ._form import prepare_form, run_form  # the network: httpx is imported now

        return anyio.run(run_form, prepare_form(args), options, backend=args.backend)
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


def _fail(code: int, message: str, stream: TextIO) -> int:
    line = " ".join(message.splitlines())
    print(f"{PROG}: error: {line}", file=stream, flush=True)
    return code


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


# --- the command line ------------------------------------------------------------------


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


def _parse_headers(values: Sequence[str]) -> dict[str, str]:
    """The ``-H 'NAME: VALUE'`` arguments as a header dict."""
    headers: dict[str, str] = {}
    for value in values:
        name, sep, content = value.partition(":")
        if not sep or not name.strip() or any(char in value for char in "\r\n"):
            raise CommandError(EXIT_USAGE, f"bad -H argument {value!r}: expected 'NAME: VALUE'")
        headers[name.strip()] = content.strip()
    return headers
