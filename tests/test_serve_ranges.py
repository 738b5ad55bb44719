"""serve_ranges and range_response: a zip archive served with byte ranges by real ASGI servers.

A Starlette app serves a zip resource of stored members with declared sizes and
CRCs (from bytes and from files, a few MiB) with ``range_response``; uvicorn
serves it on asyncio, hypercorn on trio, both on loopback. httpx asks for many
ranges, conditional ones and impossible ones; real ``curl -C -`` resumes a
download that the server cut off on its first attempt. ``serve_ranges``'s
decisions (and its ``ETag`` policy) are checked without a server too.
"""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
import zipfile
import zlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
from asgi_servers import hypercorn_trio_in_thread, uvicorn_in_thread
from conftest import require_tool
from loopback import pattern_bytes
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from httpx_streaming import (
    COMPRESSION_METHOD_DEFLATE,
    RangedAnswer,
    ResourceStream,
    ZipStreamFile,
    ZipStreamResource,
    create_zip_stream_resource,
    range_response,
    serve_ranges,
)

MODIFIED = datetime(2024, 5, 17, 12, 30, tzinfo=timezone.utc)
TIMEOUT = httpx.Timeout(120)
CURL_TIMEOUT = 120
FILENAME = "bündel 2024.zip"  # non-ASCII: filename* in UTF-8


def stored(name: str, data: bytes | Path, size: int, crc: int) -> ZipStreamFile:
    return ZipStreamFile(name, data, modified_at=MODIFIED, size=size, crc32=crc)


def members(folder: Path) -> list[ZipStreamFile]:
    """Stored members, every one with a declared size and CRC: from bytes and from files."""
    files = []
    for name, size, seed in (("big.bin", 2 * 1024 * 1024 + 17, 1), ("small.bin", 100_003, 2)):
        data = pattern_bytes(size, seed)
        path = folder / name
        path.write_bytes(data)
        files.append(stored(f"data/{name}", path, size, zlib.crc32(data)))
    readme = pattern_bytes(300_001, 3)
    tail = pattern_bytes(1_200_007, 4)
    return [
        stored("readme.txt", readme, len(readme), zlib.crc32(readme)),
        ZipStreamFile("data/", modified_at=MODIFIED),
        *files,
        stored("tail.bin", tail, len(tail), zlib.crc32(tail)),
    ]


@dataclass
class Archive:
    resource: ZipStreamResource
    full: bytes
    folder: Path

    def boundaries(self) -> list[int]:
        """Where each local header starts, where the central directory starts and ends."""
        with zipfile.ZipFile(io.BytesIO(self.full)) as reader:
            offsets = [info.header_offset for info in reader.infolist()]
        end = self.full.rindex(b"PK\x05\x06")
        (directory,) = struct.unpack_from("<I", self.full, end + 16)
        return [*offsets, directory, end]


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Archive:
    folder = tmp_path_factory.mktemp("served")
    resource = create_zip_stream_resource(members(folder))
    full = b"".join(bytes(chunk) for chunk in resource.sync())
    assert resource.content_length == len(full)
    return Archive(resource, full, folder)


# --- the app and its servers ------------------------------------------------------------


@dataclass
class Seen:
    """One request as the app saw it, and the status it answered."""

    path: str
    range: str | None
    if_range: str | None
    status: int


class Dropped(Exception):
    """Raised into the server after a cut-off answer: it closes the connection."""


@dataclass
class Site:
    url: str
    seen: list[Seen]
    dropped: set[str] = field(default_factory=set)


CUT_AFTER = 1_500_000  # inside data/big.bin, a file: a file is open when the answer is cut


def make_app(archive: Archive, site: Site) -> Any:
    async def download(request: Request) -> Response:
        response = await range_response(request, archive.resource, filename=FILENAME)
        headers = request.headers
        site.seen.append(
            Seen(
                request.url.path,
                headers.get("range"),
                headers.get("if-range"),
                response.status_code,
            )
        )
        return response

    app = Starlette(
        routes=[
            Route("/archive.zip", download, methods=["GET", "HEAD"]),
            Route("/flaky/{key}", download),
        ]
    )

    async def cut_first_attempt(scope: Any, receive: Any, send: Any) -> None:
        """``/flaky/KEY``: the first answer for each KEY stops after CUT_AFTER bytes of body."""
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith("/flaky/") or path in site.dropped:
            await app(scope, receive, send)
            return
        site.dropped.add(path)
        sent = 0

        async def cut(message: dict[str, Any]) -> None:
            nonlocal sent
            if message["type"] == "http.response.body":
                body = message.get("body", b"")
                if sent + len(body) >= CUT_AFTER:
                    await send({**message, "body": body[: CUT_AFTER - sent], "more_body": True})
                    raise Dropped(f"cut {path} after {CUT_AFTER} bytes")
                sent += len(body)
            await send(message)

        await app(scope, receive, cut)

    return cut_first_attempt


@pytest.fixture(scope="module")
def uvicorn_site(archive: Archive) -> Iterator[Site]:
    site = Site("", [])
    with uvicorn_in_thread(make_app(archive, site)) as url:
        site.url = url
        yield site


@pytest.fixture(scope="module")
def hypercorn_trio_site(archive: Archive) -> Iterator[Site]:
    site = Site("", [])
    with hypercorn_trio_in_thread(make_app(archive, site)) as url:
        site.url = url
        yield site


SERVERS = {"asyncio": "uvicorn_site", "trio": "hypercorn_trio_site"}


@pytest.fixture
def site(anyio_backend: tuple[str, dict[str, object]], request: pytest.FixtureRequest) -> Site:
    """The server of the test's backend: uvicorn on asyncio, hypercorn on trio."""
    served: Site = request.getfixturevalue(SERVERS[anyio_backend[0]])
    served.seen.clear()
    return served


@pytest.fixture
async def client(site: Site) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=site.url, timeout=TIMEOUT, trust_env=False) as client:
        yield client


# --- ranges over HTTP --------------------------------------------------------------------


async def test_the_full_answer_has_its_length_before_the_first_byte(
    client: httpx.AsyncClient, archive: Archive
) -> None:
    async with client.stream("GET", "/archive.zip") as response:
        # Headers only so far: a stored archive with declared sizes knows its length.
        assert response.status_code == 200
        assert response.headers["content-length"] == str(len(archive.full))
        assert response.headers["accept-ranges"] == "bytes"
        assert response.headers["content-type"] == "application/zip"
        assert response.headers["etag"].startswith('"')
        assert response.headers["content-disposition"] == (
            "attachment; filename=\"b_ndel 2024.zip\"; filename*=UTF-8''b%C3%BCndel%202024.zip"
        )
        assert "content-range" not in response.headers
        body = await response.aread()
    assert body == archive.full


async def test_head_has_the_headers_of_get_and_no_body(
    client: httpx.AsyncClient, archive: Archive
) -> None:
    response = await client.head("/archive.zip")
    assert response.status_code == 200
    assert response.headers["content-length"] == str(len(archive.full))
    assert response.headers["accept-ranges"] == "bytes"
    assert response.content == b""


def range_values(archive: Archive) -> list[str]:
    length = len(archive.full)
    boundaries = archive.boundaries()
    values = [
        "bytes=0-0",  # the first byte
        "bytes=0-99",  # the first local header and a bit
        "bytes=0-",  # everything, as a range
        f"bytes=0-{length + 1000}",  # past the end: cut to it
        f"bytes={length // 2}-{length // 2 + 65535}",  # the middle
        f"bytes={length // 3}-",  # to the end
        "bytes=-1",  # the last byte
        "bytes=-22",  # the end of central directory record
        f"bytes=-{length + 5}",  # a suffix longer than the archive: all of it
        f"bytes={length - 1}-",  # the last byte again
        f"bytes={CUT_AFTER}-{CUT_AFTER}",
    ]
    for boundary in boundaries[1:]:  # across every member boundary and into the directory
        values.append(f"bytes={boundary - 1000}-{boundary + 999}")
        values.append(f"bytes={boundary}-{boundary + 29}")
    directory, end = boundaries[-2:]
    values.append(f"bytes={directory + 10}-{end + 3}")  # inside the central directory
    return values


def expected_slice(full: bytes, value: str) -> tuple[int, int]:
    first, last = value.removeprefix("bytes=").split("-")
    if not first:
        return max(len(full) - int(last), 0), len(full)
    return int(first), len(full) if not last else min(int(last) + 1, len(full))


async def test_ranges_are_slices_of_the_full_archive(
    client: httpx.AsyncClient, archive: Archive, site: Site
) -> None:
    full, length = archive.full, len(archive.full)
    values = range_values(archive)
    for value in values:
        response = await client.get("/archive.zip", headers={"Range": value})
        start, stop = expected_slice(full, value)
        assert response.status_code == 206, value
        assert response.headers["content-range"] == f"bytes {start}-{stop - 1}/{length}", value
        assert response.headers["content-length"] == str(stop - start), value
        assert response.headers["accept-ranges"] == "bytes"
        assert response.content == full[start:stop], value
    assert [seen.range for seen in site.seen] == values
    assert {seen.status for seen in site.seen} == {206}


async def test_if_range_with_the_current_etag_gets_the_range_else_everything(
    client: httpx.AsyncClient, archive: Archive
) -> None:
    etag = (await client.head("/archive.zip")).headers["etag"]
    current = await client.get("/archive.zip", headers={"Range": "bytes=100-", "If-Range": etag})
    assert current.status_code == 206
    assert current.content == archive.full[100:]
    for stale in ('"an-older-archive"', f"W/{etag}", "Fri, 17 May 2024 12:30:00 GMT"):
        # A changed tag, a weak one (If-Range compares strongly), a date (no Last-Modified).
        response = await client.get(
            "/archive.zip", headers={"Range": "bytes=100-", "If-Range": stale}
        )
        assert response.status_code == 200, stale
        assert "content-range" not in response.headers
        assert response.headers["content-length"] == str(len(archive.full))
        assert response.content == archive.full, stale


async def test_a_range_past_the_end_is_416(client: httpx.AsyncClient, archive: Archive) -> None:
    length = len(archive.full)
    for value in (f"bytes={length}-", f"bytes={length + 10}-{length + 20}", "bytes=-0"):
        response = await client.get("/archive.zip", headers={"Range": value})
        assert response.status_code == 416, value
        assert response.headers["content-range"] == f"bytes */{length}"
        assert response.content == b""


async def test_several_ranges_or_a_bad_range_get_everything(
    client: httpx.AsyncClient, archive: Archive
) -> None:
    for value in ("bytes=0-1,10-20", "bytes=5-2", "lines=1-2", "bytes=x-"):
        response = await client.get("/archive.zip", headers={"Range": value})
        assert response.status_code == 200, value
        assert response.content == archive.full


# --- curl -C - ---------------------------------------------------------------------------


def curl(*arguments: str | Path) -> subprocess.CompletedProcess[str]:
    command = [require_tool("curl", "curl"), "--silent", "--show-error", "--noproxy", "*"]
    command += ["--max-time", str(CURL_TIMEOUT), *map(str, arguments)]
    return subprocess.run(command, capture_output=True, text=True, timeout=CURL_TIMEOUT + 30)


@pytest.mark.parametrize("server", sorted(SERVERS.values()))
def test_curl_resumes_a_cut_download_into_the_same_archive(
    server: str,
    archive: Archive,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    opened_files: list[IO[bytes]],
) -> None:
    served: Site = request.getfixturevalue(server)
    served.seen.clear()
    whole, resumed = tmp_path / "whole.zip", tmp_path / "resumed.zip"
    done = curl("--fail", "--output", whole, f"{served.url}/archive.zip")
    assert done.returncode == 0, done.stderr

    url = f"{served.url}/flaky/{tmp_path.name}.zip"
    cut = curl("--output", resumed, url)
    assert cut.returncode == 18, cut.stderr  # "partial file": the server closed early
    assert resumed.stat().st_size == CUT_AFTER
    # The cut answer closed its pass, and the member file it was reading, before the
    # server closed the connection (so before curl returned).
    assert opened_files and all(file.closed for file in opened_files)

    again = curl("--fail", "--continue-at", "-", "--output", resumed, url)
    assert again.returncode == 0, again.stderr

    flaky = [seen for seen in served.seen if seen.path.startswith("/flaky/")]
    assert [(seen.range, seen.status) for seen in flaky] == [
        (None, 200),
        (f"bytes={CUT_AFTER}-", 206),
    ]
    assert resumed.read_bytes() == whole.read_bytes() == archive.full
    with zipfile.ZipFile(resumed) as reader:
        assert reader.testzip() is None
        assert reader.namelist() == list(archive.resource.names or ())
    unzip = require_tool("unzip", "unzip")
    tested = subprocess.run(
        [unzip, "-t", str(resumed)], capture_output=True, text=True, timeout=120
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "No errors detected" in tested.stdout


# --- serve_ranges without a server -------------------------------------------------------


async def read(answer: RangedAnswer) -> bytes:
    return b"".join([bytes(chunk) async for chunk in answer.body])


def small_archive(**changes: Any) -> ZipStreamResource:
    options = {"name": "a.txt", "data": b"hello" * 100, "modified_at": MODIFIED, "comment": b""}
    options.update(changes)
    member = ZipStreamFile(options["name"], options["data"], modified_at=options["modified_at"])
    return create_zip_stream_resource([member], comment=options["comment"])


def etag_of(body: object) -> str | None:
    return serve_ranges(body).headers.get("ETag")


def test_the_default_etag_follows_the_archive_and_nothing_else() -> None:
    tag = etag_of(small_archive())
    assert tag is not None and tag.startswith('"') and not tag.startswith("W/")
    assert etag_of(small_archive()) == tag  # made again, the same bytes: the same tag
    assert etag_of(small_archive(data=b"hellO" * 100)) != tag
    assert etag_of(small_archive(name="b.txt")) != tag
    assert etag_of(small_archive(modified_at=MODIFIED.replace(second=2))) != tag
    assert etag_of(small_archive(comment=b"v2")) != tag


def test_the_default_etag_follows_a_files_size_and_time(tmp_path: Path) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes(b"x" * 1000)
    os.utime(path, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))

    def made() -> ZipStreamResource:
        return create_zip_stream_resource([ZipStreamFile("data.bin", path, modified_at=MODIFIED)])

    first = made()
    tag = etag_of(first)
    assert tag is not None
    assert etag_of(made()) == tag
    assert etag_of(path) == etag_of(path) != tag  # a file on its own has a tag too
    os.utime(path, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_001))
    # The same resource: its member's file changed, so its bytes may have.
    assert etag_of(first) != tag


def test_an_archive_whose_data_nothing_pins_has_no_etag() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"abc"

    resource = ResourceStream(chunks)
    resource.content_length = 3
    unpinned = create_zip_stream_resource([ZipStreamFile("a", resource, modified_at=MODIFIED)])
    answer = serve_ranges(unpinned, {"Range": "bytes=0-9", "If-Range": '"x"'})
    assert "ETag" not in answer.headers
    assert answer.status == 200  # If-Range cannot hold without a tag
    ranged = serve_ranges(unpinned, {"Range": "bytes=0-9"})
    assert ranged.status == 206  # ranges need a length, not a tag
    # A declared CRC pins it: the encoder checks the data against it as it passes.
    pinned = create_zip_stream_resource(
        [ZipStreamFile("a", resource, modified_at=MODIFIED, crc32=zlib.crc32(b"abc"))]
    )
    assert "ETag" in serve_ranges(pinned).headers


def test_encrypted_archives_made_twice_have_other_tags() -> None:
    pytest.importorskip("Crypto")

    def made() -> ZipStreamResource:
        member = ZipStreamFile("a", b"secret", modified_at=MODIFIED)
        return create_zip_stream_resource([member], password="pw")

    archive = made()
    assert etag_of(archive) == etag_of(archive)
    assert etag_of(made()) != etag_of(archive)  # a fresh salt: other bytes


def test_deflated_members_of_unknown_length_get_no_ranges() -> None:
    member = ZipStreamFile(
        "a", b"hello" * 10_000, compression_method=COMPRESSION_METHOD_DEFLATE, modified_at=MODIFIED
    )
    archive = create_zip_stream_resource([member])
    assert archive.content_length is None
    answer = serve_ranges(archive, {"Range": "bytes=0-9"})
    assert answer.status == 200
    assert answer.headers["Accept-Ranges"] == "none"
    assert "Content-Length" not in answer.headers
    assert answer.headers["ETag"].startswith('"')  # still a validator of the whole
    assert answer.body is not None


def test_a_one_shot_body_gets_no_ranges() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"abc"

    answer = serve_ranges(chunks(), {"Range": "bytes=0-1"})
    assert answer.status == 200
    assert answer.headers["Accept-Ranges"] == "none"
    assert "ETag" not in answer.headers


def test_only_get_is_served_ranges() -> None:
    for method in ("HEAD", "POST", "PUT"):
        assert serve_ranges(b"abcdef", {"Range": "bytes=0-1"}, method=method).status == 200
    assert serve_ranges(b"abcdef", {"Range": "bytes=0-1"}, method="get").status == 206


def test_an_empty_body() -> None:
    assert serve_ranges(b"", {"Range": "bytes=-5"}).status == 200
    answer = serve_ranges(b"", {"Range": "bytes=0-"})
    assert answer.status == 416
    assert answer.headers["Content-Range"] == "bytes */0"


async def test_a_206_body_is_the_slice(archive: Archive) -> None:
    answer = serve_ranges(archive.resource, [(b"Range", b"bytes=1000-1999")])
    assert answer.status == 206
    assert await read(answer) == archive.full[1000:2000]
    assert await read(answer) == archive.full[1000:2000]  # reusable: a retry sends it again


def test_given_validators() -> None:
    stamp = datetime(2024, 5, 17, 12, 30, 5, 999_000, tzinfo=timezone.utc)
    answer = serve_ranges(b"abcdef", etag="v2", last_modified=stamp, media_type="text/csv")
    assert answer.headers["ETag"] == '"v2"'
    assert answer.headers["Last-Modified"] == "Fri, 17 May 2024 12:30:05 GMT"
    assert answer.headers["Content-Type"] == "text/csv"
    assert "Content-Disposition" not in answer.headers
    assert serve_ranges(b"abc", etag='W/"v2"').headers["ETag"] == 'W/"v2"'
    assert serve_ranges(b"abc", etag='"v2"').headers["ETag"] == '"v2"'
    date = "Fri, 17 May 2024 12:30:05 GMT"
    for condition, status in (
        ('"v2"', 206),
        ('"v1"', 200),
        (date, 206),
        ("Fri, 17 May 2024 12:30:06 GMT", 200),
    ):
        headers = {"range": "bytes=1-", "IF-RANGE": condition}
        assert serve_ranges(b"abc", headers, etag="v2", last_modified=stamp).status == status
    # A weak tag is sent, but never lets a range through.
    weak = {"Range": "bytes=1-", "If-Range": 'W/"v2"'}
    assert serve_ranges(b"abc", weak, etag='W/"v2"').status == 200
    assert serve_ranges(b"abc", last_modified=stamp.timestamp()).headers["Last-Modified"] == date


def test_ascii_filenames_need_no_filename_star() -> None:
    answer = serve_ranges(b"abc", filename="report 2024.zip")
    assert answer.headers["Content-Disposition"] == 'attachment; filename="report 2024.zip"'


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ({"etag": 12}, TypeError, "etag must be a str, got 12 (type int)"),
        ({"etag": 'a"b'}, ValueError, "etag may hold no quotes"),
        ({"etag": "W/v2"}, ValueError, 'etag must be "quoted" after W/'),
        ({"etag": "a b"}, ValueError, "etag may hold no quotes, spaces"),
        ({"filename": "a\r\nSet-Cookie: x"}, ValueError, "filename must not hold control"),
        ({"filename": b"a.zip"}, TypeError, "filename must be a str, got b'a.zip' (type bytes)"),
        ({"filename": ""}, ValueError, "filename must not be empty"),
        ({"media_type": "text/plain\n"}, ValueError, "media_type must not hold control"),
        ({"last_modified": datetime(2024, 1, 1)}, ValueError, "must be an aware datetime"),
        ({"last_modified": "yesterday"}, TypeError, "last_modified must be a datetime"),
        ({"method": b"GET"}, TypeError, "method must be a str"),
        ({"request_headers": "Range: bytes=0-"}, TypeError, "request_headers must be a mapping"),
        ({"request_headers": [("Range",)]}, TypeError, "must hold (name, value) pairs"),
        ({"request_headers": {"Range": 5}}, TypeError, "must be str or bytes, got 5 (type int)"),
        ({"body": "text"}, TypeError, "encode text to bytes first"),
    ],
)
def test_bad_arguments_are_refused_early(
    arguments: dict[str, Any], error: type[Exception], message: str
) -> None:
    body = arguments.pop("body", b"abc")
    with pytest.raises(error, match=None) as raised:
        serve_ranges(body, **arguments)
    assert message in str(raised.value)


async def test_range_response_names_the_extra_without_starlette(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delitem(sys.modules, "httpx_streaming._starlette", raising=False)
    monkeypatch.setitem(sys.modules, "starlette.responses", None)
    request = Request({"type": "http", "method": "GET", "headers": [], "path": "/"})
    with pytest.raises(ImportError, match=r"pip install 'httpx-streaming\[starlette\]'"):
        await range_response(request, b"abc")
