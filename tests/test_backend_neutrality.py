"""Layers: no event loop library but anyio, and sans-IO modules free of any async code.

The protocol logic (framing, records, names, the deflate policy, validators)
must stay usable and testable with plain bytes: no sans-IO module may import
anyio or a module of ours with async code, even through another module.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parent.parent / "src" / "httpx_streaming"

#: Modules that turn inputs into bytes and never await.
SANS_IO = {
    "_compression",
    "_consumed",
    "_errors",
    "_multipart",
    "_ranges",
    "_tus_protocol",
    "_types",
    "_validation",
    "_zip_aes",
    "_zip_deflate",
    "_zip_encoder",
    "_zip_names",
    "_zip_options",
    "_zip_output",
    "_zip_records",
}
#: Third-party packages sans-IO modules may import: httpx and httpx2 only for the
#: bases of SourceConsumedError (importing either imports no event loop library,
#: checked below), isal and zlib-ng for their CRC and deflate, pycryptodome (Crypto,
#: or pycryptodomex's Cryptodome) for AES, brotli (or brotlicffi), zstandard and Python
#: 3.14's compression.zstd for compress's encodings.
SANS_IO_THIRD_PARTY = {
    "httpx",
    "httpx2",
    "isal",
    "zlib_ng",
    "Crypto",
    "Cryptodome",
    "brotli",
    "brotlicffi",
    "zstandard",
    "compression",
}
EVENT_LOOPS = {"asyncio", "trio", "sniffio", "anyio", "httpcore"}


def module_path(name: str) -> Path:
    path = SOURCE / f"{name}.py"
    return path if path.exists() else SOURCE / name / "__init__.py"


def parse(name: str) -> ast.Module:
    return ast.parse(module_path(name).read_text(encoding="utf-8"))


def imports(tree: ast.Module) -> tuple[set[str], set[str]]:
    """(third-party top-level packages, our own modules) that *tree* imports."""
    external: set[str] = set()
    ours: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            external.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module:
                external.add(node.module.split(".")[0])
            elif node.level == 1 and node.module:
                ours.add(node.module.split(".")[0])
            elif node.level == 1:
                ours.update(alias.name for alias in node.names)
    return external, ours


def is_declaration(node: ast.AST) -> bool:
    """An ``async def`` whose body is only ``...``: a protocol's signature, no code."""
    return (
        isinstance(node, ast.AsyncFunctionDef)
        and len(node.body) == 1
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
        and node.body[0].value.value is Ellipsis
    )


def is_async(tree: ast.Module) -> bool:
    return any(
        isinstance(node, ast.AsyncFunctionDef | ast.Await | ast.AsyncFor | ast.AsyncWith)
        and not is_declaration(node)
        for node in ast.walk(tree)
    )


def test_no_module_imports_an_event_loop_library_but_anyio() -> None:
    modules = sorted(SOURCE.rglob("*.py"))
    assert modules, "no sources found"
    offenders = {
        str(path.relative_to(SOURCE)): found
        for path in modules
        if (
            found := imports(ast.parse(path.read_text("utf-8")))[0] & {"asyncio", "trio", "sniffio"}
        )
    }
    assert offenders == {}


@pytest.mark.parametrize("name", sorted(SANS_IO))
def test_sans_io_modules_reach_no_async_code(name: str) -> None:
    seen: set[str] = set()
    pending = [name]
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        tree = parse(current)
        external, ours = imports(tree)
        assert not is_async(tree), f"{name} reaches {current}, which has async code"
        assert not external & EVENT_LOOPS, f"{name} reaches {current}, which imports {external}"
        unexpected = external - SANS_IO_THIRD_PARTY - STDLIB
        assert not unexpected, f"{name} reaches {current}, which imports {unexpected}"
        assert ours <= SANS_IO, f"{name} reaches {current}, which imports {ours - SANS_IO}"
        pending.extend(ours)


def test_the_sans_io_list_is_complete() -> None:
    # A new module is either listed as sans-IO or has async code somewhere in
    # what it imports; a module that could be sans-IO but is not listed is a
    # layering decision nobody made.
    for path in SOURCE.glob("_*.py"):
        name = path.stem
        if name in SANS_IO or name == "__main__":
            continue
        tree = parse(name)
        external, ours = imports(tree)
        assert is_async(tree) or "anyio" in external or ours - SANS_IO, (
            f"{name} has no async code and imports nothing async: add it to SANS_IO"
        )


def test_runtime_dependencies_are_httpx_and_anyio_only() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    project = tomllib.loads((SOURCE.parent.parent / "pyproject.toml").read_text())["project"]
    names = {
        requirement.split(">")[0].split("=")[0].strip() for requirement in project["dependencies"]
    }
    assert names == {"httpx", "anyio"}


STDLIB = {
    "__future__",
    "base64",
    "collections",
    "datetime",
    "email",
    "enum",
    "functools",
    "hashlib",
    "hmac",
    "inspect",
    "json",
    "math",
    "os",
    "re",
    "secrets",
    "stat",
    "struct",
    "sys",
    "time",
    "types",
    "typing",
    "urllib",
    "zlib",
}


def test_importing_httpx_and_httpx2_brings_no_event_loop_library() -> None:
    code = (
        "import sys, httpx, httpx2\n"
        f"print(sorted(name for name in {sorted(EVENT_LOOPS | {'httpcore2'})!r} "
        "if name in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"
