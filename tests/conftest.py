"""Shared fixtures: both anyio backends for every async test, and the loopback server."""

from __future__ import annotations

import inspect
import os
import shutil
from collections.abc import Iterator
from typing import IO, Any

import pytest
from loopback import LoopbackServer, serve_in_thread


@pytest.fixture(
    params=[
        pytest.param(("asyncio", {}), id="asyncio"),
        pytest.param(("trio", {}), id="trio"),
    ]
)
def anyio_backend(request: pytest.FixtureRequest) -> tuple[str, dict[str, object]]:
    return request.param  # type: ignore[no-any-return]


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(collector: pytest.Collector, name: str, obj: object) -> None:
    # Every coroutine test runs on asyncio and on trio through anyio's plugin,
    # which looks for this marker when it collects the function.
    if collector.istestfunction(obj, name) and inspect.iscoroutinefunction(obj):  # type: ignore[attr-defined]
        pytest.mark.anyio(obj)


@pytest.fixture(scope="session")
def loopback_server() -> Iterator[LoopbackServer]:
    with serve_in_thread() as server:
        yield server


@pytest.fixture
def opened_files(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[IO[bytes]]]:
    """Every file the library opens from a path, so a test can check each got closed."""
    from httpx_streaming import _files

    opened: list[IO[bytes]] = []

    def tracking_open(*args: Any, **kwargs: Any) -> Any:
        file = open(*args, **kwargs)  # noqa: SIM115 - the test checks it gets closed
        opened.append(file)
        return file

    monkeypatch.setattr(_files, "open", tracking_open, raising=False)
    yield opened


@pytest.fixture
def server(loopback_server: LoopbackServer) -> LoopbackServer:
    loopback_server.recorder.clear()
    return loopback_server


def require_tool(name: str, package: str) -> str:
    """Path of a command-line tool; skip (locally) or fail (CI=true) when it is missing."""
    path = shutil.which(name)
    if path is None:
        message = f"{name!r} is not installed: install the Debian package {package!r}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path
