"""The library's exceptions: SourceConsumedError is httpx's StreamConsumed, made on first use."""

from __future__ import annotations

import pickle
import subprocess
import sys
from collections.abc import AsyncIterator

import httpx
import pytest

import httpx_streaming
from httpx_streaming import LengthMismatchError, SourceConsumedError, as_byte_source


async def one_chunk() -> AsyncIterator[bytes]:
    yield b"x"


def test_source_consumed_error_is_an_httpx_stream_consumed() -> None:
    assert issubclass(SourceConsumedError, httpx.StreamConsumed)
    assert httpx_streaming.SourceConsumedError is SourceConsumedError
    error = SourceConsumedError("gone")
    assert str(error) == "gone"
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is SourceConsumedError and str(copy) == "gone"


async def test_the_library_raises_the_public_class() -> None:
    generator = one_chunk()
    source = as_byte_source(generator)
    assert [chunk async for chunk in source] == [b"x"]
    with pytest.raises(httpx.StreamConsumed) as caught:
        source.__aiter__()
    assert type(caught.value) is SourceConsumedError


def test_length_mismatch_is_a_value_error() -> None:
    assert issubclass(LengthMismatchError, ValueError)


def test_importing_the_library_does_not_import_httpx() -> None:
    # Only the names that need httpx (SourceConsumedError, stream_response) import it,
    # when first used: a zip of local files starts without it.
    code = (
        "import sys, httpx_streaming\n"
        "from httpx_streaming import FormData, ZipStreamFile, stream_file\n"
        "assert 'httpx' not in sys.modules, 'imported httpx'\n"
        "httpx_streaming.stream_response\n"
        "assert 'httpx' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_every_public_name_is_there_when_asked_for() -> None:
    # Imported on first use, each from its own module: a fresh interpreter that
    # asks for each name in turn gets it, and `import *` gets them all.
    code = (
        "import sys, httpx_streaming\n"
        "assert [m for m in sys.modules if m.startswith('httpx_streaming.')] == []\n"
        "for name in httpx_streaming.__all__:\n"
        "    value = getattr(httpx_streaming, name)\n"
        "    assert value is getattr(httpx_streaming, name), name\n"
        "    assert name in dir(httpx_streaming), name\n"
        "namespace = {}\n"
        "exec('from httpx_streaming import *', namespace)\n"
        "assert sorted(set(namespace) - {'__builtins__'}) == sorted(httpx_streaming.__all__)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_unknown_names_are_attribute_errors() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        httpx_streaming.nope  # type: ignore[attr-defined]  # noqa: B018
