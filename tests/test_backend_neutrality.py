"""The library never imports an event loop library directly: everything goes through anyio."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parent.parent / "src" / "httpx_streaming"


def imported_modules(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module.split(".")[0])
    return modules


def test_no_module_imports_asyncio_or_trio() -> None:
    modules = sorted(SOURCE.glob("*.py"))
    assert modules, "no sources found"
    offenders = {
        path.name: found
        for path in modules
        if (found := imported_modules(path) & {"asyncio", "trio", "sniffio"})
    }
    assert offenders == {}


def test_runtime_dependencies_are_httpx_and_anyio_only() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    project = tomllib.loads((SOURCE.parent.parent / "pyproject.toml").read_text())["project"]
    names = {
        requirement.split(">")[0].split("=")[0].strip() for requirement in project["dependencies"]
    }
    assert names == {"httpx", "anyio"}
