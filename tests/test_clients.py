"""The seed's scenarios on every client a user holds: httpx.Client, httpx2.Client and
httpx2.AsyncClient (httpx.AsyncClient is what the rest of the suite uses), against
the loopback server, read back with real parsers and zip readers."""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import types
import zipfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import httpx2
import pytest
from loopback import LoopbackServer, pattern_bytes
from multipart_parsers import parse_python_multipart, parse_werkzeug

from httpx_streaming import (
    FormData,
    ResourceStreamFunction,
    SourceConsumedError,
    SyncResourceStream,
    ZipStreamFile,
    create_zip_stream_resource,
    stream_file,
    stream_response,
)
from httpx_streaming._response import failed_upstream

PACKAGES = [pytest.param(httpx, id="httpx"), pytest.param(httpx2, id="httpx2")]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@ResourceStreamFunction
def numbered(count: int, size: int) -> Iterator[bytes]:
    for index in range(count):
        yield bytes([index % 256]) * size


def numbered_bytes(count: int, size: int) -> bytes:
    return b"".join(bytes([index % 256]) * size for index in range(count))


@ResourceStreamFunction
async def numbered_async(count: int, size: int) -> AsyncIterator[bytes]:
    for index in range(count):
        yield bytes([index % 256]) * size


def received_body(server: LoopbackServer, path: str) -> bytes:
    (received,) = server.recorder.on(path)
    assert received.body is not None
    return received.body


# --- synchronous clients ------------------------------------------------------------


@pytest.mark.parametrize("package", PACKAGES)
def test_a_sync_response_stream_prints(server: LoopbackServer, package: types.ModuleType) -> None:
    with package.Client(base_url=server.url) as client:
        body = stream_response(client, "GET", "/bytes?size=300000&seed=5")
        assert isinstance(body, SyncResourceStream)
        assert body.sync() is body
        for _twice in range(2):  # reusable: every `for` fetches it again
            assert b"".join(bytes(chunk) for chunk in body) == pattern_bytes(300_000, 5)


@pytest.mark.parametrize("package", PACKAGES)
def test_a_generator_resource_is_sent_in_full_on_every_retry(
    server: LoopbackServer, package: types.ModuleType
) -> None:
    body = numbered(40, 10_000)
    assert isinstance(body, SyncResourceStream)
    with package.Client(base_url=server.url) as client:
        for _retry in range(5):
            response = client.post("/flaky/sync-retry?failures=2", content=body)
            if response.status_code < 500:
                break
    assert response.status_code == 200
    attempts = server.recorder.on("/flaky/sync-retry")
    assert [attempt.status for attempt in attempts] == [500, 500, 200]
    assert {attempt.sha256 for attempt in attempts} == {sha256(numbered_bytes(40, 10_000))}


@pytest.mark.parametrize("package", PACKAGES)
@pytest.mark.parametrize("status", [307, 308])
def test_a_redirect_resends_the_whole_generator_body(
    server: LoopbackServer, package: types.ModuleType, status: int
) -> None:
    with package.Client(base_url=server.url, follow_redirects=True) as client:
        response = client.post(
            f"/redirect?status={status}&to=/upload/sync-moved", content=numbered(3, 1000)
        )
    assert response.status_code == 200
    assert received_body(server, "/upload/sync-moved") == numbered_bytes(3, 1000)
    (redirected,) = server.recorder.on("/redirect")
    assert redirected.size == 3000


@pytest.mark.parametrize("package", PACKAGES)
def test_a_plain_generator_fails_a_redirect_with_the_clients_own_error(
    server: LoopbackServer, package: types.ModuleType
) -> None:
    def once() -> Iterator[bytes]:
        yield b"data"

    with (
        package.Client(base_url=server.url, follow_redirects=True) as client,
        pytest.raises(package.StreamConsumed),
    ):
        client.post("/redirect?to=/upload/never", content=once())


@pytest.mark.parametrize("package", PACKAGES)
def test_a_get_chained_into_a_post_and_retried(
    server: LoopbackServer, package: types.ModuleType
) -> None:
    with package.Client(base_url=server.url) as client:
        body = stream_response(client, "GET", "/bytes?size=200000&seed=3")
        for _retry in range(5):
            response = client.post("/flaky/sync-chain?failures=2", content=body)
            if response.status_code < 500:
                break
    attempts = server.recorder.on("/flaky/sync-chain")
    assert [attempt.status for attempt in attempts] == [500, 500, 200]
    assert {attempt.sha256 for attempt in attempts} == {sha256(pattern_bytes(200_000, 3))}


@pytest.mark.parametrize("package", PACKAGES)
def test_sync_stream_response_raises_the_clients_own_errors(
    server: LoopbackServer, package: types.ModuleType
) -> None:
    with package.Client(base_url=server.url) as client:
        with pytest.raises(package.HTTPStatusError) as status_error:
            b"".join(stream_response(client, "GET", "/status/404"))
        assert status_error.value.response.status_code == 404
        unreachable = stream_response(client, "GET", "http://127.0.0.1:9/gone")
        with pytest.raises(package.ConnectError) as connect_error:
            client.post("/upload/never", content=unreachable)
    assert failed_upstream(connect_error.value) == ("GET", package.URL("http://127.0.0.1:9/gone"))
    assert "raised while streaming the response of GET http://127.0.0.1:9/gone" in (
        connect_error.value.__notes__
    )


@pytest.mark.parametrize("package", PACKAGES)
def test_a_sync_form_goes_out_with_its_length_and_parses(
    server: LoopbackServer, package: types.ModuleType, tmp_path: Path
) -> None:
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(pattern_bytes(300_000, 9))
    form = FormData()
    form.add_field("user", "ada")
    form.add_field("photo", photo, content_type="image/jpeg")
    form.add_field("pieces", [b"one,", b"two"], file_name="pieces.txt")
    made = numbered(4, 1000)
    made.content_length = 4000  # declared, so the form knows its length
    form.add_field("made", made, file_name="made.bin")
    form.add_field("copy", io.BytesIO(b"seekable"), file_name="copy.bin")
    view = form.sync()
    assert view.headers == form.headers
    assert view.content_length == int(form.headers["Content-Length"])
    with package.Client(base_url=server.url) as client:
        for _retry in range(5):
            response = client.post(
                "/flaky/sync-form?failures=1", content=view, headers=form.headers
            )
            if response.status_code < 500:
                break
    attempts = server.recorder.on("/flaky/sync-form")
    assert [attempt.status for attempt in attempts] == [500, 200]
    assert attempts[1].headers["content-length"] == form.headers["Content-Length"]
    assert "transfer-encoding" not in attempts[1].headers
    assert attempts[0].body == attempts[1].body is not None
    for parse in (parse_python_multipart, parse_werkzeug):
        parts = parse(attempts[1].body, form.headers["Content-Type"])
        assert [(part.name, part.filename, part.data) for part in parts] == [
            ("user", None, b"ada"),
            ("photo", "photo.jpg", pattern_bytes(300_000, 9)),
            ("pieces", "pieces.txt", b"one,two"),
            ("made", "made.bin", numbered_bytes(4, 1000)),
            ("copy", "copy.bin", b"seekable"),
        ]


@pytest.mark.parametrize("package", PACKAGES)
def test_a_one_shot_generator_in_a_sync_form_is_refused_the_second_time(
    server: LoopbackServer, package: types.ModuleType
) -> None:
    def once() -> Iterator[bytes]:
        yield b"only once"

    form = FormData()
    form.add_field("log", once(), file_name="log.txt")
    with package.Client(base_url=server.url) as client:
        response = client.post("/upload/sync-once", content=form.sync(), headers=form.headers)
        assert response.status_code == 200
        with pytest.raises(package.StreamConsumed) as raised:
            client.post("/upload/sync-once", content=form.sync(), headers=form.headers)
    assert isinstance(raised.value, SourceConsumedError)
    assert len(server.recorder.on("/upload/sync-once")) == 1


def test_sync_faces_refuse_async_only_sources_before_any_byte() -> None:
    started: list[str] = []

    async def remote() -> AsyncIterator[bytes]:
        started.append("remote")
        yield b"x"

    @ResourceStreamFunction
    async def reusable_remote() -> AsyncIterator[bytes]:
        started.append("reusable")
        yield b"y"

    def lines() -> Iterator[bytes]:
        started.append("lines")
        yield b"z"

    for async_only in (remote(), reusable_remote()):
        form = FormData()
        form.add_field("lines", lines(), file_name="lines.txt")  # would be lost if read first
        form.add_field("remote", async_only, file_name="remote.bin")
        with pytest.raises(TypeError, match=r"field 'remote': .* can only be read by async code"):
            form.sync()
        archive = create_zip_stream_resource([ZipStreamFile("a/form.bin", form)])
        with pytest.raises(TypeError, match=r"zip member 'a/form\.bin': field 'remote': "):
            archive.sync()
    archive = create_zip_stream_resource([ZipStreamFile("a.txt", numbered_async(1, 10))])
    with pytest.raises(TypeError, match=r"zip member 'a\.txt': .* async code"):
        archive.sync()
    assert started == []


@pytest.mark.parametrize("package", PACKAGES)
def test_a_sync_zip_goes_out_with_its_length_and_reads_back(
    server: LoopbackServer, package: types.ModuleType, tmp_path: Path
) -> None:
    log = tmp_path / "server.log"
    log.write_bytes(b"log line\n" * 5000)
    with package.Client(base_url=server.url) as client:
        members = [
            ZipStreamFile("report.txt", b"quarterly"),
            ZipStreamFile("report.txt", stream_response(client, "GET", "/bytes?size=70000&seed=2")),
            ZipStreamFile("logs/server.log", log, compression_method=8),
            ZipStreamFile("made.bin", numbered(5, 100)),
        ]
        archive = create_zip_stream_resource(members)
        for _retry in range(5):
            response = client.post(
                "/flaky/sync-zip?failures=1", content=archive.sync(), headers=archive.headers
            )
            if response.status_code < 500:
                break
    attempts = server.recorder.on("/flaky/sync-zip")
    assert [attempt.status for attempt in attempts] == [500, 200]
    assert attempts[0].body == attempts[1].body is not None
    assert attempts[1].headers.get("content-length") == archive.headers.get("Content-Length")
    with zipfile.ZipFile(io.BytesIO(attempts[1].body)) as reader:
        assert reader.testzip() is None
        assert reader.namelist() == ["report.txt", "report (1).txt", "logs/server.log", "made.bin"]
        assert reader.read("report (1).txt") == pattern_bytes(70_000, 2)
        assert reader.read("logs/server.log") == b"log line\n" * 5000
        assert reader.read("made.bin") == numbered_bytes(5, 100)


# --- httpx2's async client ------------------------------------------------------------


async def test_httpx2_async_client_chains_retries_and_follows_redirects(
    server: LoopbackServer,
) -> None:
    async with httpx2.AsyncClient(base_url=server.url, follow_redirects=True) as client:
        body = stream_response(client, "GET", "/bytes?size=150000&seed=4")
        for _retry in range(5):
            response = await client.post("/flaky/h2-chain?failures=2", content=body)
            if response.status_code < 500:
                break
        redirected = await client.post(
            "/redirect?status=308&to=/upload/h2-moved", content=numbered_async(3, 500)
        )
        with pytest.raises(httpx2.HTTPStatusError):
            async for _chunk in stream_response(client, "GET", "/status/500"):
                pass
    assert redirected.status_code == 200
    assert received_body(server, "/upload/h2-moved") == numbered_bytes(3, 500)
    attempts = server.recorder.on("/flaky/h2-chain")
    assert [attempt.status for attempt in attempts] == [500, 500, 200]
    assert {attempt.sha256 for attempt in attempts} == {sha256(pattern_bytes(150_000, 4))}


async def one_shot() -> AsyncIterator[bytes]:
    yield b"only once"


async def test_httpx2_async_client_sends_forms_and_zips(
    server: LoopbackServer, tmp_path: Path
) -> None:
    data = tmp_path / "data.bin"
    data.write_bytes(pattern_bytes(100_000, 6))
    form = FormData()
    form.add_field("data", data)
    form.add_field("made", numbered_async(2, 1000), file_name="made.bin")
    async with httpx2.AsyncClient(base_url=server.url) as client:
        await client.post("/upload/h2-form", content=form, headers=form.headers)
        archive = create_zip_stream_resource(
            [ZipStreamFile("a/data.bin", stream_file(data)), ZipStreamFile("a/data.bin", b"x")]
        )
        await client.post("/upload/h2-zip", content=archive, headers=archive.headers)
        once = FormData()
        once.add_field("log", one_shot(), file_name="log.txt")
        await client.post("/upload/h2-once", content=once, headers=once.headers)
        with pytest.raises(httpx2.StreamConsumed):
            await client.post("/upload/h2-once", content=once, headers=once.headers)
    assert len(server.recorder.on("/upload/h2-once")) == 1
    parts = parse_python_multipart(received_body(server, "/upload/h2-form"), form.content_type)
    assert [(part.name, part.data) for part in parts] == [
        ("data", pattern_bytes(100_000, 6)),
        ("made", numbered_bytes(2, 1000)),
    ]
    with zipfile.ZipFile(io.BytesIO(received_body(server, "/upload/h2-zip"))) as reader:
        assert reader.namelist() == ["a/data.bin", "a/data (1).bin"]
        assert reader.read("a/data.bin") == pattern_bytes(100_000, 6)


# --- exceptions of both packages -----------------------------------------------------------


def test_source_consumed_is_both_packages_stream_consumed() -> None:
    error = SourceConsumedError("gone")
    assert isinstance(error, httpx.StreamConsumed)
    assert isinstance(error, httpx2.StreamConsumed)
    assert str(error) == "gone"


def test_with_only_httpx_installed_everything_still_works(tmp_path: Path) -> None:
    """A program where httpx2 cannot be imported (as when it is not installed)."""
    script = tmp_path / "only_httpx.py"
    script.write_text(
        "import sys\n"
        "sys.modules['httpx2'] = None  # `import httpx2` raises ImportError, as if absent\n"
        "import httpx\n"
        "from httpx_streaming import FormData, SourceConsumedError, stream_response\n"
        "assert 'httpx2' not in [c.__module__ for c in SourceConsumedError.__mro__]\n"
        "assert issubclass(SourceConsumedError, httpx.StreamConsumed)\n"
        "form = FormData()\n"
        "form.add_field('a', [b'1', b'2'])\n"
        "body = b''.join(form.sync())\n"
        "assert b'12' in body, body\n"
        "with httpx.Client() as client:\n"
        "    stream_response(client, 'GET', 'http://127.0.0.1:9/')\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


@pytest.mark.parametrize("package", PACKAGES)
async def test_both_faces_write_the_same_archive_of_a_sync_response(
    server: LoopbackServer, package: types.ModuleType
) -> None:
    """A member of unknown size whose response announces its length: the async pass (which
    reads the sync response in worker threads) and the sync face both learn it."""
    with package.Client(base_url=server.url) as client:
        archive = create_zip_stream_resource(
            [ZipStreamFile("data.bin", stream_response(client, "GET", "/bytes?size=100000"))],
            hold_back_size=1024,  # smaller than the member: its length matters to the records
        )
        synchronous = b"".join(archive.sync())
        asynchronous = b"".join([bytes(chunk) async for chunk in archive])
    assert synchronous == asynchronous
    with zipfile.ZipFile(io.BytesIO(synchronous)) as reader:
        assert reader.read("data.bin") == pattern_bytes(100_000)
