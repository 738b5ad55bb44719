"""Running the ``httpx-streaming`` command line in tests: in this process or as a real one."""

from __future__ import annotations

import subprocess
import sys

import pytest

from httpx_streaming.__main__ import main

PREFIX = "httpx-streaming: error: "


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``main(argv)`` in this process: its exit code, standard output and standard error."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_error_line(err: str, *fragments: str) -> str:
    """*err* is one ``httpx-streaming: error: ...`` line holding every fragment; no traceback."""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(PREFIX), err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def run_module(
    *argv: str, subcommand: str | None = None, **kwargs: object
) -> subprocess.CompletedProcess[bytes]:
    """A real ``python -m httpx_streaming`` process."""
    command = [subcommand] if subcommand else []
    kwargs.setdefault("stdout", subprocess.PIPE)
    return subprocess.run(  # type: ignore[call-overload, no-any-return]
        [sys.executable, "-m", "httpx_streaming", *command, *argv],
        stderr=subprocess.PIPE,
        timeout=120,
        **kwargs,
    )
