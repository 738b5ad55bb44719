"""The official tus server (Node's @tus/server with @tus/file-store) on a free loopback port.

Its packages are installed by ``.ci/run`` (``npm ci --prefix tests/support/tus_server``);
without them (or without ``node``) a test fails when ``CI=true``, else is skipped.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SERVER_DIR = Path(__file__).resolve().parent / "tus_server"
START_TIMEOUT = 120  # a saturated CPU can take long to start node


@dataclass
class TusServer:
    port: int
    directory: Path
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/files/"

    def stored(self, upload_url: str) -> bytes:
        """The bytes the server stored for the upload at *upload_url*."""
        return (self.directory / upload_url.rstrip("/").rsplit("/", 1)[1]).read_bytes()


def _node() -> str:
    node = shutil.which("node")
    missing = None
    if node is None:
        missing = "'node' is not installed (.ci/run installs the Debian package 'nodejs')"
    elif not (SERVER_DIR / "node_modules" / "@tus" / "server").is_dir():
        missing = f"the tus server's packages are not installed: run npm ci --prefix {SERVER_DIR}"
    if missing is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(missing)
        pytest.skip(missing)
    assert node is not None
    return node


@contextlib.contextmanager
def running_tus_server(directory: Path, *, checksum: bool) -> Iterator[TusServer]:
    command = [_node(), str(SERVER_DIR / "server.mjs"), str(directory), "0"]
    if checksum:
        command.append("--checksum")
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            if not selector.select(timeout=START_TIMEOUT):
                raise RuntimeError(f"the tus server did not start in {START_TIMEOUT} s")
        line = process.stdout.readline()
        if not line.strip().isdigit():
            raise RuntimeError(f"the tus server did not start: {line!r}, {process.poll()}")
        yield TusServer(int(line), directory, process)
    finally:
        assert process.stdin is not None
        process.stdin.close()  # the server stops when its stdin closes
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
