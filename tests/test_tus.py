"""tus_upload and tus_upload_sync against the official tus server (Node's @tus/server with
@tus/file-store), through a proxy that cuts connections mid-upload and counts the bytes sent.

The server runs from ``tests/support/tus_server`` (its packages installed by ``.ci/run`` with
``npm ci``); the tests start it on a free loopback port and stop it when they are done. What
it stored is read back from its directory and compared with a full pass of the body.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from cutting_proxy import CuttingProxy
from loopback import pattern_bytes
from tus_node import TusServer, running_tus_server

from httpx_streaming import (
    COMPRESSION_METHOD_DEFLATE,
    COMPRESSION_METHOD_NONE,
    FormData,
    ResourceStreamFunction,
    TusError,
    ZipStreamFile,
    create_zip_stream_resource,
    tus_upload,
    tus_upload_sync,
)

KiB = 1024
MiB = 1024 * KiB
CHUNK = 512 * KiB


@pytest.fixture(scope="module")
def tus_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TusServer]:
    with running_tus_server(tmp_path_factory.mktemp("tus"), checksum=False) as server:
        yield server


@pytest.fixture(scope="module")
def checksum_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TusServer]:
    with running_tus_server(tmp_path_factory.mktemp("tus-checksum"), checksum=True) as server:
        yield server


@pytest.fixture
def proxy(tus_server: TusServer) -> Iterator[CuttingProxy]:
    with CuttingProxy(tus_server.port) as proxy:
        yield proxy


@pytest.fixture
def checksum_proxy(checksum_server: TusServer) -> Iterator[CuttingProxy]:
    with CuttingProxy(checksum_server.port) as proxy:
        yield proxy


def via(proxy: CuttingProxy) -> str:
    return f"{proxy.url}/files/"


async def full_pass(body: Any) -> bytes:
    return b"".join([bytes(chunk) async for chunk in body])


def check_sent(proxy: CuttingProxy, size: int, interruptions: int) -> None:
    """Every byte went about once: the body, plus at most one chunk per interruption."""
    cut = sum(1 for request in proxy.requests if request.cut)
    assert cut == interruptions
    sent = proxy.patch_bytes()
    assert size <= sent <= size + interruptions * CHUNK, (sent, size, interruptions)


# --- bodies -----------------------------------------------------------------------------


@pytest.fixture
def big_file(tmp_path: Path) -> Path:
    path = tmp_path / "big.bin"
    path.write_bytes(pattern_bytes(3 * MiB + 12345, 5))
    return path


def form_of(big_file: Path) -> FormData:
    form = FormData()
    form.add_field("title", "Quarterly report ✓")
    form.add_field("data", big_file, content_type="application/octet-stream")
    form.add_field("notes", pattern_bytes(200_000, 6), file_name="notes.bin")
    return form


def zip_of(tmp_path: Path, big_file: Path) -> Any:
    text = tmp_path / "text.txt"
    text.write_bytes(b"lorem ipsum dolor sit amet\n" * 100_000)
    return create_zip_stream_resource(
        [
            ZipStreamFile("big.bin", big_file, compression_method=COMPRESSION_METHOD_NONE),
            ZipStreamFile("text.txt", text, compression_method=COMPRESSION_METHOD_DEFLATE),
            ZipStreamFile(
                "random.bin",
                pattern_bytes(700_000, 9),
                compression_method=COMPRESSION_METHOD_DEFLATE,
            ),
            ZipStreamFile(
                "stored.bin",
                pattern_bytes(300_000, 10),
                compression_method=COMPRESSION_METHOD_NONE,
            ),
        ]
    )


@ResourceStreamFunction
async def generated(count: int) -> AsyncIterator[bytes]:
    """A reusable stream of unknown length (it declares none)."""
    for index in range(count):
        yield pattern_bytes(100_000, index)


@ResourceStreamFunction
def generated_sync(count: int) -> Iterator[bytes]:
    for index in range(count):
        yield pattern_bytes(100_000, index)


# --- uploads ----------------------------------------------------------------------------


async def test_form_with_cut_connections(
    tus_server: TusServer, proxy: CuttingProxy, big_file: Path
) -> None:
    form = form_of(big_file)
    expected = await full_pass(form)
    proxy.plan(cuts={1: 100_000, 3: 300_000, 4: 0})
    async with httpx.AsyncClient(timeout=60) as client:
        location = await tus_upload(
            client,
            via(proxy),
            form,
            metadata={"filename": "report.form", "kind": b"\x00binary"},
            chunk_size=CHUNK,
            retry_delay=0,
        )
        methods = proxy.methods()
        head = await client.head(location, headers={"Tus-Resumable": "1.0.0"})
    assert location.startswith(via(proxy))
    assert tus_server.stored(location) == expected
    check_sent(proxy, len(expected), 3)
    assert head.headers["upload-offset"] == head.headers["upload-length"] == str(len(expected))
    assert methods[:2] == ["OPTIONS", "POST"]
    assert methods.count("HEAD") == 3  # one per interruption
    assert head.headers["upload-metadata"] == "filename cmVwb3J0LmZvcm0=,kind AGJpbmFyeQ=="


async def test_zip_with_cut_connections(
    tus_server: TusServer, proxy: CuttingProxy, tmp_path: Path, big_file: Path
) -> None:
    archive = zip_of(tmp_path, big_file)
    expected = await full_pass(archive)
    proxy.plan(cuts={0: 1, 2: 400_000, 3: 511_000, 6: 250_000, 7: 10})
    async with httpx.AsyncClient(timeout=60) as client:
        location = await tus_upload(client, via(proxy), archive, chunk_size=CHUNK, retry_delay=0)
    stored = tus_server.stored(location)
    assert stored == expected
    check_sent(proxy, len(expected), 5)
    # A real archive: its members are those listed, as the full pass has them.
    import io
    import zipfile

    with zipfile.ZipFile(io.BytesIO(stored)) as opened:
        assert opened.read("big.bin") == big_file.read_bytes()
        assert zlib.crc32(opened.read("text.txt")) == zlib.crc32(
            b"lorem ipsum dolor sit amet\n" * 100_000
        )


def test_sync_zip_with_cut_connections(
    tus_server: TusServer, proxy: CuttingProxy, tmp_path: Path, big_file: Path
) -> None:
    archive = zip_of(tmp_path, big_file)
    expected = b"".join(bytes(chunk) for chunk in archive.sync())
    proxy.plan(cuts={1: 200_000, 4: 1000})
    with httpx.Client(timeout=60) as client:
        location = tus_upload_sync(client, via(proxy), archive, chunk_size=CHUNK, retry_delay=0)
    assert tus_server.stored(location) == expected
    check_sent(proxy, len(expected), 2)


async def test_unknown_length_defers_it(tus_server: TusServer, proxy: CuttingProxy) -> None:
    body = generated(23)  # 2,300,000 bytes, not declared
    expected = await full_pass(body)
    proxy.plan(cuts={2: 123_456})
    async with httpx.AsyncClient(timeout=60) as client:
        location = await tus_upload(client, via(proxy), body, chunk_size=CHUNK, retry_delay=0)
        last = proxy.requests[-1]
        head = await client.head(location, headers={"Tus-Resumable": "1.0.0"})
    assert tus_server.stored(location) == expected
    check_sent(proxy, len(expected), 1)
    assert head.headers["upload-length"] == str(len(expected))
    # The last PATCH only tells the length: it carries nothing.
    assert last.method == "PATCH" and last.body_bytes == 0


async def test_unknown_length_form_part(
    tus_server: TusServer, proxy: CuttingProxy, big_file: Path
) -> None:
    form = form_of(big_file)
    form.add_field("generated", generated(4), file_name="generated.bin")
    assert form.content_length is None
    expected = await full_pass(form)
    proxy.plan(cuts={3: 77_777})
    async with httpx.AsyncClient(timeout=60) as client:
        location = await tus_upload(client, via(proxy), form, chunk_size=CHUNK, retry_delay=0)
    assert tus_server.stored(location) == expected
    check_sent(proxy, len(expected), 1)


def test_sync_unknown_length(tus_server: TusServer, proxy: CuttingProxy) -> None:
    body = generated_sync(12)
    expected = b"".join(bytes(chunk) for chunk in body)
    proxy.plan(cuts={1: 5000})
    with httpx.Client(timeout=60) as client:
        location = tus_upload_sync(client, via(proxy), body, chunk_size=CHUNK, retry_delay=0)
    assert tus_server.stored(location) == expected
    check_sent(proxy, len(expected), 1)


async def test_resume_with_upload_url_after_cancellation(
    tus_server: TusServer, proxy: CuttingProxy, big_file: Path
) -> None:
    form = form_of(big_file)
    expected = await full_pass(form)
    proxy.plan(stalls={2: 100_000})
    async with httpx.AsyncClient(timeout=60) as client:
        async with anyio.create_task_group() as group:
            group.start_soon(
                lambda: tus_upload(client, via(proxy), form, chunk_size=CHUNK, retry_delay=0)
            )
            with anyio.fail_after(60):
                await anyio.to_thread.run_sync(proxy.stalled.wait)
            group.cancel_scope.cancel()
        (path,) = set(proxy.patch_paths())  # the upload's URL, as another process would know it
        upload_url = f"{proxy.url}{path}"
        # The server holds the two chunks and the 100,000 bytes forwarded before the stall.
        with anyio.fail_after(60):
            while True:
                head = await client.head(upload_url, headers={"Tus-Resumable": "1.0.0"})
                if head.headers["upload-offset"] == str(2 * CHUNK + 100_000):
                    break
                await anyio.sleep(0.05)  # the server still writes what it got
        proxy.plan()
        location = await tus_upload(
            client, via(proxy), form, chunk_size=CHUNK, upload_url=path, retry_delay=0
        )
    assert location == upload_url
    assert tus_server.stored(location) == expected
    assert proxy.methods()[:2] == ["OPTIONS", "HEAD"]  # no POST: resumed, not created
    assert proxy.patch_bytes() == len(expected) - (2 * CHUNK + 100_000)  # only the rest


def test_sync_resume_after_a_failed_call(
    tus_server: TusServer, proxy: CuttingProxy, big_file: Path
) -> None:
    form = form_of(big_file)
    expected = b"".join(bytes(chunk) for chunk in form.sync())
    proxy.plan(cuts={1: 50_000})
    with httpx.Client(timeout=60) as client:
        with pytest.raises(httpx.TransportError) as caught:
            tus_upload_sync(client, via(proxy), form, chunk_size=CHUNK, max_retries=0)
        (path,) = set(proxy.patch_paths())
        upload_url = f"{proxy.url}{path}"
        assert any(upload_url in note for note in getattr(caught.value, "__notes__", []))
        offset = int(
            client.head(upload_url, headers={"Tus-Resumable": "1.0.0"}).headers["upload-offset"]
        )
        assert CHUNK <= offset <= CHUNK + 50_000
        proxy.plan()
        location = tus_upload_sync(
            client, via(proxy), form, chunk_size=CHUNK, upload_url=upload_url
        )
    assert location == upload_url
    assert tus_server.stored(location) == expected
    assert proxy.patch_bytes() == len(expected) - offset


async def test_checksums_when_offered(
    checksum_server: TusServer, checksum_proxy: CuttingProxy, tmp_path: Path, big_file: Path
) -> None:
    archive = zip_of(tmp_path, big_file)
    expected = await full_pass(archive)
    checksum_proxy.plan(cuts={1: 300_000, 4: 12})
    async with httpx.AsyncClient(timeout=60) as client:
        location = await tus_upload(
            client, via(checksum_proxy), archive, chunk_size=CHUNK, retry_delay=0
        )
    assert checksum_server.stored(location) == expected
    # A chunk cut short fails its checksum: the server keeps none of it.
    check_sent(checksum_proxy, len(expected), 2)


async def test_checksums_with_unknown_length(
    checksum_server: TusServer, checksum_proxy: CuttingProxy
) -> None:
    body = generated(15)
    expected = await full_pass(body)
    async with httpx.AsyncClient(timeout=60) as client:
        location = await tus_upload(
            client, via(checksum_proxy), body, chunk_size=CHUNK, checksum="sha1"
        )
    assert checksum_server.stored(location) == expected
    # The chunk that ends the body was hashed first, so it told the length itself.
    assert checksum_proxy.methods().count("PATCH") == -(-len(expected) // CHUNK)


async def test_checksum_required_but_not_offered(
    tus_server: TusServer, proxy: CuttingProxy
) -> None:
    async with httpx.AsyncClient(timeout=60) as client:
        with pytest.raises(TusError, match="does not offer"):
            await tus_upload(client, via(proxy), b"data", checksum="sha1")
    assert proxy.methods() == ["OPTIONS"]


async def test_a_damaged_chunk_is_refused(checksum_server: TusServer) -> None:
    async with httpx.AsyncClient(timeout=60) as client:
        created = await client.post(
            checksum_server.url, headers={"Tus-Resumable": "1.0.0", "Upload-Length": "4"}
        )
        answer = await client.patch(
            created.headers["location"],
            content=b"data",
            headers={
                "Tus-Resumable": "1.0.0",
                "Upload-Offset": "0",
                "Content-Type": "application/offset+octet-stream",
                "Upload-Checksum": "sha1 AAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            },
        )
    assert answer.status_code == 460


async def test_empty_body(tus_server: TusServer, proxy: CuttingProxy) -> None:
    async with httpx.AsyncClient(timeout=60) as client:
        location = await tus_upload(client, via(proxy), b"")
    assert tus_server.stored(location) == b""
    assert proxy.methods() == ["OPTIONS", "POST"]


async def test_unknown_upload_is_an_http_error(tus_server: TusServer) -> None:
    async with httpx.AsyncClient(timeout=60) as client:
        with pytest.raises(httpx.HTTPStatusError) as caught:
            await tus_upload(client, tus_server.url, b"data", upload_url="nothing-here")
    assert caught.value.response.status_code == 404


async def test_another_bodys_upload_is_refused(tus_server: TusServer) -> None:
    async with httpx.AsyncClient(timeout=60) as client:
        location = await tus_upload(client, tus_server.url, b"four")
        with pytest.raises(TusError, match="4 bytes long"):
            await tus_upload(client, tus_server.url, b"five!", upload_url=location)


# --- arguments are checked before any request -------------------------------------------


async def test_bad_arguments_raise_before_any_request(proxy: CuttingProxy) -> None:
    async def one_shot() -> AsyncIterator[bytes]:
        yield b"x"

    generator = one_shot()
    url = via(proxy)
    async with httpx.AsyncClient() as client:
        with pytest.raises(TypeError, match=r"one-shot .*async_generator"):
            await tus_upload(client, url, generator)
        with pytest.raises(ValueError, match="chunk_size must be a positive int, got 0"):
            await tus_upload(client, url, b"x", chunk_size=0)
        with pytest.raises(TypeError, match="chunk_size must be an int"):
            await tus_upload(client, url, b"x", chunk_size=1.5)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match=r"metadata keys .*'file name' \(type str\)"):
            await tus_upload(client, url, b"x", metadata={"file name": "a"})
        with pytest.raises(ValueError, match="metadata keys"):
            await tus_upload(client, url, b"x", metadata={"a,b": "a"})
        with pytest.raises(ValueError, match="metadata keys"):
            await tus_upload(client, url, b"x", metadata={"": "a"})
        with pytest.raises(TypeError, match="metadata value of 'n' must be a str or bytes"):
            await tus_upload(client, url, b"x", metadata={"n": 1})  # type: ignore[dict-item]
        with pytest.raises(TypeError, match="metadata must be a mapping"):
            await tus_upload(client, url, b"x", metadata=[("a", "b")])  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="url must be a str"):
            await tus_upload(client, 42, b"x")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="must be absolute"):
            await tus_upload(client, "/files/", b"x")
        with pytest.raises(ValueError, match="checksum must be"):
            await tus_upload(client, url, b"x", checksum="crc32")
        with pytest.raises(ValueError, match="max_retries"):
            await tus_upload(client, url, b"x", max_retries=-1)
        with pytest.raises(TypeError, match="tus_upload needs an httpx or httpx2 client"):
            await tus_upload(object(), url, b"x")  # type: ignore[arg-type]
    with httpx.Client() as sync_client, pytest.raises(TypeError, match="use tus_upload_sync"):
        await tus_upload(sync_client, url, b"x")  # type: ignore[arg-type]
    await generator.aclose()
    assert proxy.requests == []


def test_sync_refuses_an_async_only_body(proxy: CuttingProxy) -> None:
    with httpx.Client() as client, pytest.raises(TypeError, match="async code"):
        tus_upload_sync(client, via(proxy), generated(2))
    assert proxy.requests == []


async def test_httpx2_client(tus_server: TusServer, proxy: CuttingProxy, big_file: Path) -> None:
    import httpx2

    form = form_of(big_file)
    expected = await full_pass(form)
    proxy.plan(cuts={2: 65_536})
    async with httpx2.AsyncClient(timeout=60) as client:
        location = await tus_upload(client, via(proxy), form, chunk_size=CHUNK, retry_delay=0)
        with pytest.raises(httpx2.HTTPStatusError):
            await tus_upload(client, via(proxy), b"x", upload_url="nothing-here")
    assert tus_server.stored(location) == expected
    check_sent(proxy, len(expected), 1)


def test_sync_httpx2_client(tus_server: TusServer, proxy: CuttingProxy) -> None:
    import httpx2

    body = pattern_bytes(2 * MiB + 1, 3)
    proxy.plan(cuts={0: 1000})
    with httpx2.Client(timeout=60) as client:
        location = tus_upload_sync(client, via(proxy), body, chunk_size=CHUNK, retry_delay=0)
    assert tus_server.stored(location) == body
    check_sent(proxy, len(body), 1)
