"""Every example the docs include runs here, against the loopback server, on both backends."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
from loopback import LoopbackServer

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "docs"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"docs_example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_example_is_covered() -> None:
    assert {path.stem for path in EXAMPLES.glob("*.py")} == set(CHECKS)


async def check_chain_get_into_post(server: LoopbackServer) -> None:
    result = await load("chain_get_into_post").main(server.url)
    assert result["size"] == 10_000_000


async def check_retry_loop(server: LoopbackServer) -> None:
    assert await load("retry_loop").main(server.url) == 200
    attempts = server.recorder.on("/flaky/report")
    assert [attempt.status for attempt in attempts] == [500, 500, 200]
    assert len({(attempt.size, attempt.sha256) for attempt in attempts}) == 1
    assert attempts[0].body is not None and attempts[0].body.startswith(b"id,square\n0,0\n")


async def check_chained_retry(server: LoopbackServer) -> None:
    assert await load("chained_retry").main(server.url) == 200
    assert [attempt.status for attempt in server.recorder.on("/flaky/chained")] == [500, 200]
    assert {attempt.size for attempt in server.recorder.on("/flaky/chained")} == {1_000_000}


async def check_testing_with_respx(server: LoopbackServer) -> None:
    await load("testing_with_respx").test_upload_is_retried_with_the_full_body()


CHECKS = {
    "testing_with_respx": check_testing_with_respx,
    "chain_get_into_post": check_chain_get_into_post,
    "retry_loop": check_retry_loop,
    "chained_retry": check_chained_retry,
}


@pytest.mark.parametrize("name", sorted(CHECKS))
async def test_example(name: str, server: LoopbackServer) -> None:
    await CHECKS[name](server)
