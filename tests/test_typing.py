"""What users write with this library type-checks under mypy --strict: every body is
accepted as ``content=`` by httpx's and httpx2's clients, async and sync."""

from __future__ import annotations

from pathlib import Path

import pytest

mypy_api = pytest.importorskip("mypy.api")

USAGE = Path(__file__).resolve().parent / "typing" / "bodies.py"


def test_every_body_is_content_for_every_client(tmp_path: Path) -> None:
    report, errors, status = mypy_api.run(
        ["--strict", "--no-incremental", "--cache-dir", str(tmp_path), str(USAGE)]
    )
    assert status == 0, report + errors
