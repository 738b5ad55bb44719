"""Go's mime/multipart reader, built once per test session: an independent parser of
multipart bodies (``tests/support/go_multipart/main.go``), fed a body on its standard
input, answering what it read as JSON."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

SOURCE = Path(__file__).resolve().parent / "go_multipart"


@dataclass
class GoPart:
    """One part as Go read it: headers (names as Go canonicalizes them), size, SHA-256,
    the bytes when at most 1 MiB, and the parts of a nested multipart body."""

    headers: dict[str, list[str]]
    size: int
    sha256: str
    data: bytes | None
    parts: list[GoPart] = field(default_factory=list)

    def header(self, name: str) -> list[str]:
        wanted = name.lower()
        return [
            value
            for key, values in self.headers.items()
            if key.lower() == wanted
            for value in values
        ]


def _part(raw: dict[str, Any]) -> GoPart:
    data = raw.get("data")
    return GoPart(
        headers=raw["headers"],
        size=raw["size"],
        sha256=raw["sha256"],
        data=None if data is None else base64.b64decode(data),
        parts=[_part(item) for item in raw.get("parts") or []],
    )


def build(directory: Path) -> Path:
    """Build the reader into *directory*; skip (locally) or fail (CI=true) without Go."""
    go = shutil.which("go")
    if go is None:
        message = "Go is not installed: install the Debian package 'golang-go'"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    binary = directory / "multipartcheck"
    environment = {**os.environ, "GOCACHE": str(directory / "cache"), "GOFLAGS": "-mod=mod"}
    environment.setdefault("HOME", str(directory))
    subprocess.run(
        [go, "build", "-o", str(binary), "."], cwd=SOURCE, env=environment, check=True, timeout=600
    )
    return binary


def read(binary: Path, chunks: Iterable[Any], content_type: str) -> list[GoPart]:
    """The parts Go reads from the body *chunks* (fed through a pipe as they come)."""
    with subprocess.Popen(
        [str(binary), content_type],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as process:
        assert process.stdin is not None and process.stdout is not None
        stdin = process.stdin
        output: list[bytes] = []
        reader = threading.Thread(target=lambda: output.append(process.stdout.read()))  # type: ignore[union-attr]
        reader.start()
        try:
            for chunk in chunks:
                stdin.write(chunk)
        finally:
            stdin.close()
            reader.join()
        errors = process.stderr.read() if process.stderr else b""
        code = process.wait()
    assert code == 0, errors.decode(errors="replace")
    return [_part(item) for item in json.loads(output[0])]
