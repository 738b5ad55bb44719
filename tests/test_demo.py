"""``make demo`` (examples/demo.py): the seed's scenarios on asyncio and trio, all verified."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_demo_verifies_everything() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "demo.py")],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.rstrip().endswith("all verified")
    assert "FAIL" not in result.stdout
    for backend in ("asyncio", "trio"):
        assert f"[{backend}] loopback server at" in result.stdout
