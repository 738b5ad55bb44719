"""What users write with this library type-checks under mypy --strict: every body is
accepted as ``content=`` by httpx's and httpx2's clients, async and sync."""

from __future__ import annotations

from pathlib import Path

import pytest

mypy_api = pytest.importorskip("mypy.api")

TYPING = Path(__file__).resolve().parent / "typing"
USAGE = TYPING / "bodies.py"


def test_every_body_is_content_for_every_client(tmp_path: Path) -> None:
    report, errors, status = mypy_api.run(
        ["--strict", "--no-incremental", "--cache-dir", str(tmp_path), str(USAGE)]
    )
    assert status == 0, report + errors


def test_without_httpx2_each_client_still_gets_its_own_body(tmp_path: Path) -> None:
    # Where httpx2 is missing, its names are Any to a type checker; skipping the module
    # makes them so here, with httpx2 installed.
    config = tmp_path / "mypy.ini"
    config.write_text("[mypy]\nstrict = True\n\n[mypy-httpx2,httpx2.*]\nfollow_imports = skip\n")
    report, errors, status = mypy_api.run(
        [
            "--config-file",
            str(config),
            "--no-incremental",
            "--cache-dir",
            str(tmp_path / "cache"),
            str(TYPING / "without_httpx2.py"),
        ]
    )
    assert status == 0, report + errors
