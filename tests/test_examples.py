"""Every example the docs include runs here, against the loopback server, on both backends.

The docs hold no code of their own: every ``python`` block of ``docs/*.md`` is a snippet
include of a file in ``examples/docs/`` (checked below), and every such file has a check here
that runs it and verifies what the server received with real parsers. README.md cannot include
files, so its ``python`` blocks must be verbatim (dedented) regions of an example file.

The ``$ httpx-streaming ...`` examples of docs/cli.md run here too (in this process, or as a
real one when they redirect standard output), and the output lines they show are checked.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import io
import json
import os
import re
import shlex
import tempfile
import textwrap
import zipfile
from datetime import datetime, timezone
from pathlib import Path
from types import ModuleType

import anyio
import httpx
import pytest
import respx
from cli_runner import assert_one_error_line, run, run_module
from conftest import require_tool
from loopback import FILE_SIZE, LoopbackServer, Received, file_seed, pattern_bytes
from multipart_parsers import Part, parse_email, parse_python_multipart
from tus_node import running_tus_server
from zip_readers import epubcheck_command, libreoffice_tool, sevenzip_tool, unzip_tool

from httpx_streaming import ZipStreamFile, create_zip_stream_resource

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "docs"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"docs_example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_example_is_covered() -> None:
    assert {path.stem for path in EXAMPLES.glob("*.py")} == set(CHECKS)


# --- the docs hold no code of their own ---------------------------------------------------

PYTHON_LANGUAGES = {"python", "py", "python3", "py3", "pycon"}
INCLUDE = re.compile(r'--8<-- "examples/docs/([\w-]+\.py)"')


def fenced_blocks(text: str) -> list[tuple[int, str, str]]:
    """``(line, language, body)`` of every fenced code block (backticks or tildes, any indent)."""
    blocks = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        opening = re.match(r"([ \t]*)(`{3,}|~{3,})(.*)$", lines[index])
        if opening is None:
            index += 1
            continue
        indent, fence, info = opening.groups()
        start = index
        body = []
        index += 1
        while index < len(lines):
            closing = re.fullmatch(r"[ \t]*(`{3,}|~{3,})[ \t]*", lines[index])
            if closing and closing.group(1)[0] == fence[0] and len(closing.group(1)) >= len(fence):
                break
            body.append(lines[index].removeprefix(indent))
            index += 1
        else:
            raise AssertionError(f"line {start + 1}: code block never closed")
        index += 1
        language = info.strip().split(" ")[0].lstrip("{.").rstrip("}").lower()
        blocks.append((start + 1, language, "\n".join(body)))
    return blocks


def is_region_of_an_example(code: str) -> bool:
    """Whether *code* equals some run of lines of an example file, dedented."""
    wanted = code.strip("\n").splitlines()
    for path in EXAMPLES.glob("*.py"):
        lines = path.read_text(encoding="utf-8").splitlines()
        for start in range(len(lines) - len(wanted) + 1):
            region = "\n".join(lines[start : start + len(wanted)])
            if textwrap.dedent(region).splitlines() == wanted:
                return True
    return False


def code_problems(text: str, *, snippets_only: bool) -> list[str]:
    """Why the page's code blocks could rot: unlabelled blocks, python not run by the tests.

    On docs pages (``snippets_only``) a python block must be exactly one snippet include of
    an existing ``examples/docs`` file; elsewhere (README.md, which GitHub renders without
    includes) it must be a verbatim region of an example file.
    """
    problems = []
    for line, language, body in fenced_blocks(text):
        if not language:
            problems.append(f"line {line}: a code block without a language")
        elif language not in PYTHON_LANGUAGES:
            continue
        elif snippets_only:
            include = INCLUDE.fullmatch(body.strip())
            if include is None:
                problems.append(f"line {line}: python that is not an examples/docs include")
            elif not (EXAMPLES / include.group(1)).is_file():
                problems.append(f"line {line}: {include.group(1)} is not in examples/docs")
        elif not is_region_of_an_example(body):
            problems.append(f"line {line}: python that is not a region of an examples/docs file")
    return problems


def test_docs_code_is_only_included_examples() -> None:
    problems = []
    for page in sorted((ROOT / "docs").glob("*.md")):
        text = page.read_text(encoding="utf-8")
        problems += [f"docs/{page.name} {p}" for p in code_problems(text, snippets_only=True)]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    problems += [f"README.md {p}" for p in code_problems(readme, snippets_only=False)]
    assert problems == []


def test_every_example_is_shown_in_the_docs() -> None:
    included = set()
    for page in (ROOT / "docs").glob("*.md"):
        included |= set(INCLUDE.findall(page.read_text(encoding="utf-8")))
    assert {path.name for path in EXAMPLES.glob("*.py")} <= included


def test_the_scan_catches_code_that_could_rot() -> None:
    page = "\n".join(
        [
            "```python",
            '--8<-- "examples/docs/retry_loop.py"',
            "```",
            "!!! note",
            "    ```py",
            "    print('inline')",
            "    ```",
            "~~~~python",
            '--8<-- "examples/docs/missing.py"',
            "~~~~",
            "```",
            "import os",
            "```",
            "```console",
            "$ make demo",
            "```",
            "```{.python title='x'}",
            '--8<-- "examples/docs/retry_loop.py"',
            "print('and more')",
            "```",
        ]
    )
    assert code_problems(page, snippets_only=True) == [
        "line 5: python that is not an examples/docs include",
        "line 8: missing.py is not in examples/docs",
        "line 11: a code block without a language",
        "line 17: python that is not an examples/docs include",
    ]
    region = "@ResourceStreamFunction\nasync def csv_rows(count: int) -> AsyncIterator[bytes]:"
    readme = f"```python\n{region}\n```\n```python\nimport os\n```\n"
    assert code_problems(readme, snippets_only=False) == [
        "line 5: python that is not a region of an examples/docs file"
    ]


def shown_output(name: str) -> dict[str, object]:
    """The values an example's ``__main__`` prints, as its comments show them.

    ``print(names)`` followed by a comment line holding a Python literal: the docs show that
    comment as the output, so the check compares it with what ``main`` really returns.
    """
    source = (EXAMPLES / f"{name}.py").read_text(encoding="utf-8")
    shown = re.findall(r"print\((\w+)\)\n\s*# (.+)\n", source)
    assert shown, f"{name}.py shows no output"
    return {variable: ast.literal_eval(literal) for variable, literal in shown}


def file_bytes(name: str, size: int = FILE_SIZE) -> bytes:
    """What ``/files/NAME?size=SIZE`` serves."""
    return pattern_bytes(size, file_seed(name))


def form_parts(received: Received) -> list[Part]:
    """The parts of a received multipart body, as python-multipart and the email parser agree."""
    assert received.body is not None
    content_type = received.headers["content-type"]
    parts = parse_python_multipart(received.body, content_type)
    assert parts == parse_email(received.body, content_type)
    return parts


def zip_members(data: bytes) -> dict[str, bytes]:
    """Every member of an archive as Python's zipfile reads it, CRCs checked."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        return {info.filename: archive.read(info) for info in archive.infolist()}


def retried(server: LoopbackServer, path: str, statuses: list[int]) -> list[Received]:
    """The attempts on *path*: the expected statuses, and the very same body every time."""
    attempts = server.recorder.on(path)
    assert [attempt.status for attempt in attempts] == statuses
    assert len({(attempt.size, attempt.sha256) for attempt in attempts}) == 1
    return attempts


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


async def check_http_to_http(server: LoopbackServer) -> None:
    await load("http_to_http").main(server.url)
    [hello] = server.recorder.on("/upload/hello")
    assert hello.body == b"hello\nthere\n"
    [chained] = server.recorder.on("/upload/chained")
    assert chained.body == pattern_bytes(300_000)
    assert chained.headers.get("transfer-encoding") == "chunked"


async def check_file_content_length(server: LoopbackServer) -> None:
    await load("file_content_length").main(server.url)
    script = (EXAMPLES / "file_content_length.py").read_bytes()
    [upload] = server.recorder.on("/upload/script")
    assert upload.body == script
    assert upload.headers["content-length"] == str(len(script))
    assert "transfer-encoding" not in upload.headers
    [form] = server.recorder.on("/upload/form")
    assert form.headers["content-length"] == str(form.size)
    assert "transfer-encoding" not in form.headers
    [part] = form_parts(form)
    assert (part.name, part.filename, part.data) == ("script", "file_content_length.py", script)


# --- form data ------------------------------------------------------------------------


async def check_form_upload(server: LoopbackServer) -> None:
    module = load("form_upload")
    assert await module.main(server.url) == 200
    attempts = retried(server, "/flaky/form", [500, 200])
    title, script, attachment, meta = form_parts(attempts[-1])
    assert (title.name, title.filename, title.content_type, title.data) == (
        "title",
        None,
        None,
        b"Quarterly report",
    )
    assert (script.name, script.filename, script.content_type) == (
        "script",
        "form_upload.py",
        "text/x-python",
    )
    assert script.data == Path(module.__file__).read_bytes()
    assert (attachment.name, attachment.filename, attachment.content_type) == (
        "attachment",
        "data.bin",
        "application/octet-stream",
    )
    assert attachment.data == file_bytes("export.bin")
    assert (meta.name, meta.content_type) == ("meta", "application/json")
    assert json.loads(meta.data) == {"tags": ["q3", "finance"]}


async def check_form_two_streamed_files(server: LoopbackServer) -> None:
    assert await load("form_two_streamed_files").main(server.url) == 200
    attempts = retried(server, "/flaky/two-files", [500, 500, 200])
    for attempt in attempts:
        first, second = form_parts(attempt)
        assert (first.name, first.filename, first.content_type) == (
            "files[0]",
            "sister.txt",
            "application/octet-stream",
        )
        assert (second.name, second.filename, second.content_type) == (
            "files[1]",
            "love.txt",
            "application/octet-stream",
        )
        assert first.data == file_bytes("sister.txt", 1_000_000)
        assert second.data == file_bytes("love.txt", 2_000_000)


async def check_form_one_shot(server: LoopbackServer) -> None:
    message = await load("form_one_shot").main(server.url)
    assert message.startswith("second send refused: ")
    [sent] = server.recorder.on("/upload/log")  # the second send never went out
    [part] = form_parts(sent)
    assert (part.name, part.filename, part.data) == ("log", "log.txt", b"line 0\nline 1\nline 2\n")


async def check_form_stop_early(server: LoopbackServer) -> None:
    head = await load("form_stop_early").main(server.url)
    assert head.startswith(b"--httpx-streaming-")
    assert b'name="title"\r\n\r\na slow feed\r\n' in head
    assert b'name="feed"; filename="feed.bin"' in head
    # Leaving early closed the GET: the server sees the client go away long before its end.
    with anyio.fail_after(5):
        while "chunks=1000&delay=0.01" not in server.recorder.disconnects:
            await anyio.sleep(0.01)
    assert "chunks=1000&delay=0.01" not in server.recorder.completed


async def check_form_testing_with_respx(server: LoopbackServer) -> None:
    await load("form_testing_with_respx").test_upload_retries_send_the_whole_form()


# --- zip archives ---------------------------------------------------------------------


async def check_zip_upload(server: LoopbackServer) -> None:
    module = load("zip_upload")
    assert await module.main(server.url) == 200
    attempts = retried(server, "/flaky/zip", [500, 200])
    assert attempts[-1].headers["content-type"] == "application/zip"
    assert attempts[-1].body is not None
    assert zip_members(attempts[-1].body) == {
        "example.py": Path(module.__file__).read_bytes(),
        "logs/": b"",
        "logs/app.log": file_bytes("app.log", 300_000),
        "README.txt": b"generated by httpx-streaming\n",
    }


async def check_zip_comment_and_timestamps(server: LoopbackServer) -> None:
    assert await load("zip_comment_and_timestamps").main(server.url) == 200
    (received,) = server.recorder.on("/upload/commented")
    assert received.body is not None
    # Sent with its length, not chunked.
    assert received.headers["content-length"] == str(len(received.body))
    assert zip_members(received.body) == {
        "mimetype": b"application/epub+zip",
        "notes.txt": b"kept with its UTC time\n",
    }
    with zipfile.ZipFile(io.BytesIO(received.body)) as archive:
        assert archive.comment == b"Nightly export, 2026-12-03"
        extras = {info.filename: info.extra for info in archive.infolist()}
    assert extras["mimetype"] == b""
    assert extras["notes.txt"].startswith(b"UT")  # the extended timestamp field, 0x5455


async def check_zip_symlinks(server: LoopbackServer) -> None:
    assert await load("zip_symlinks").main(server.url) == 200
    (received,) = server.recorder.on("/upload/links")
    assert received.body is not None
    with tempfile.TemporaryDirectory() as folder:
        archive = Path(folder) / "links.zip"
        archive.write_bytes(received.body)
        root = Path(folder) / "out"
        root.mkdir()
        unzip = await anyio.run_process(
            [unzip_tool(), "-qq", str(archive), "-d", str(root)], check=False
        )
        assert unzip.returncode == 0, unzip.stderr
        assert os.readlink(root / "lib/tool") == "tool-1.2"
        assert os.readlink(root / "bin/tool") == "../lib/tool"
        assert (root / "bin/tool").read_bytes() == b"#!/bin/sh\necho tool\n"


def assert_mimetype_first(path: Path) -> None:
    """EPUB's and OpenDocument's rule, as zipfile reads the archive: the first member is
    ``mimetype``, stored, with no extra field."""
    with zipfile.ZipFile(path) as read:
        first = read.infolist()[0]
        assert (first.filename, first.compress_type, first.extra) == (
            "mimetype",
            zipfile.ZIP_STORED,
            b"",
        )


async def check_zip_epub(server: LoopbackServer) -> None:
    module = load("zip_epub")
    with tempfile.TemporaryDirectory() as folder:
        first, second = Path(folder) / "first.epub", Path(folder) / "second.epub"
        assert await module.main(str(first)) == str(first)
        assert await module.main(str(second)) == str(second)
        assert first.read_bytes() == second.read_bytes()  # a reusable, deterministic book
        checked = await anyio.run_process([*epubcheck_command(), str(first)], check=False)
        report = (checked.stdout + checked.stderr).decode()
        assert checked.returncode == 0, report
        assert "No errors or warnings detected." in report, report
        assert_mimetype_first(first)
        with zipfile.ZipFile(first) as book:
            assert book.read("OEBPS/chapter-3.xhtml").count(b"<p>") == 200
        # The validator does look: the same book with the mimetype member's extra
        # field left on is refused.
        moment = datetime(2026, 12, 3, tzinfo=timezone.utc)
        members = list(module.book(["One"], moment).members or ())
        members[0] = ZipStreamFile("mimetype", b"application/epub+zip", modified_at=moment)
        flawed = Path(folder) / "flawed.epub"
        resource = create_zip_stream_resource(members)
        flawed.write_bytes(b"".join([bytes(chunk) async for chunk in resource]))
        refused = await anyio.run_process([*epubcheck_command(), str(flawed)], check=False)
        assert refused.returncode != 0
        assert b"PKG-005" in refused.stdout + refused.stderr


async def check_zip_encrypted(server: LoopbackServer) -> None:
    module = load("zip_encrypted")
    assert await module.main(server.url) == 200
    attempts = retried(server, "/flaky/encrypted", [500, 200])  # the same bytes twice
    assert attempts[-1].body is not None
    with tempfile.TemporaryDirectory() as folder:
        archive = Path(folder) / "encrypted.zip"
        archive.write_bytes(attempts[-1].body)
        out = Path(folder) / "out"
        for password, names in (
            ("correct horse battery staple", ["example.py", "report.csv"]),
            ("alice's own", ["for-alice.txt"]),
        ):
            extracted = await anyio.run_process(
                [sevenzip_tool(), "x", f"-p{password}", f"-o{out}", str(archive), *names],
                check=False,
            )
            assert extracted.returncode == 0, extracted.stdout + extracted.stderr
        assert (out / "example.py").read_bytes() == Path(module.__file__).read_bytes()
        assert (out / "report.csv").read_bytes() == b"month,total\njanuary,10\n" * 1000
        assert (out / "for-alice.txt").read_bytes() == b"only for Alice\n"
        wrong = await anyio.run_process(
            [sevenzip_tool(), "t", "-pwrong", str(archive), "report.csv"], check=False
        )
        assert wrong.returncode != 0


async def check_zip_odt(server: LoopbackServer) -> None:
    module = load("zip_odt")
    with tempfile.TemporaryDirectory() as folder:
        document = Path(folder) / "report.odt"
        assert await module.main(str(document)) == str(document)
        assert_mimetype_first(document)
        # LibreOffice opens it: converted to plain text, it holds the heading and
        # every row the generator rendered. (A profile of its own in the temporary
        # folder: no state shared with other runs.)
        converted = await anyio.run_process(
            [
                libreoffice_tool(),
                f"-env:UserInstallation={Path(folder, 'profile').as_uri()}",
                "--headless",
                "--convert-to",
                "txt:Text",
                "--outdir",
                folder,
                str(document),
            ],
            check=False,
        )
        assert converted.returncode == 0, converted.stdout + converted.stderr
        lines = Path(folder, "report.txt").read_text(encoding="utf-8-sig").splitlines()
    assert lines[0] == "Monthly report"
    assert lines[1:] == [f"Row {row}: {row * row} units" for row in range(1, 501)]


async def check_zip_write_file(server: LoopbackServer) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "downloads.zip"
        assert await load("zip_write_file").main(server.url, str(path)) == str(path)
        assert zip_members(path.read_bytes()) == {
            "january.csv": file_bytes("january.csv"),
            "february.csv": file_bytes("february.csv"),
        }


async def check_zip_range_download(server: LoopbackServer) -> None:
    # The app itself, in this event loop (asyncio or trio); test_serve_ranges.py serves
    # such an app with uvicorn and hypercorn, and resumes it with curl.
    with tempfile.TemporaryDirectory() as folder:
        photos = Path(folder) / "photos"
        (photos / "2024").mkdir(parents=True)
        (photos / "beach.jpg").write_bytes(pattern_bytes(300_000, 1))
        (photos / "2024" / "hill.jpg").write_bytes(pattern_bytes(200_000, 2))
        app = load("zip_range_download").make_app(photos)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://photos") as client:
            whole = await client.get("/photos.zip")
            assert whole.status_code == 200
            assert whole.headers["content-length"] == str(len(whole.content))
            assert whole.headers["accept-ranges"] == "bytes"
            assert whole.headers["content-disposition"] == 'attachment; filename="photos.zip"'
            resumed = await client.get(
                "/photos.zip",
                headers={"Range": "bytes=250000-", "If-Range": whole.headers["etag"]},
            )
        assert resumed.status_code == 206
        assert (
            resumed.headers["content-range"]
            == f"bytes 250000-{len(whole.content) - 1}/{len(whole.content)}"
        )
        assert whole.content[:250_000] + resumed.content == whole.content
        assert zip_members(whole.content) == {
            "2024/hill.jpg": pattern_bytes(200_000, 2),
            "beach.jpg": pattern_bytes(300_000, 1),
        }


async def check_zip_two_responses(server: LoopbackServer) -> None:
    assert await load("zip_two_responses").main(server.url) == 200
    attempts = retried(server, "/flaky/zip-two", [500, 500, 200])
    for attempt in attempts:
        assert attempt.body is not None
        assert zip_members(attempt.body) == {
            "sister.txt": file_bytes("sister.txt", 1_000_000),
            "love.txt": file_bytes("love.txt", 5_000_000),
        }
    # As the page says: the member longer than the hold-back is followed by a data descriptor
    # (flag bit 3); the one within it has its sizes and CRC in its local header.
    assert attempts[-1].body is not None
    with zipfile.ZipFile(io.BytesIO(attempts[-1].body)) as archive:
        flags = {info.filename: info.flag_bits & 0x08 for info in archive.infolist()}
    assert flags == {"sister.txt": 0, "love.txt": 0x08}


def names_received(server: LoopbackServer, path: str, given: list[str]) -> list[str]:
    """The member names in the archive *path* received; each member's data names its input."""
    [received] = server.recorder.on(path)
    assert received.body is not None
    members = zip_members(received.body)
    assert list(members.values()) == [b"file %d\n" % index for index in range(len(given))]
    return list(members)


async def check_zip_names_default(server: LoopbackServer) -> None:
    module = load("zip_names_default")
    renamed, as_given = await module.main(server.url)
    shown = shown_output("zip_names_default")
    assert renamed == shown["renamed"] == names_received(server, "/upload/renamed", module.NAMES)
    assert as_given == shown["as_given"] == module.NAMES


async def check_zip_names_tilde(server: LoopbackServer) -> None:
    module = load("zip_names_tilde")
    names = await module.main(server.url)
    assert names == shown_output("zip_names_tilde")["names"]
    assert names == names_received(server, "/upload/tilde", module.NAMES)


async def check_zip_names_postfixed(server: LoopbackServer) -> None:
    module = load("zip_names_postfixed")
    names = await module.main(server.url)
    assert names == shown_output("zip_names_postfixed")["names"]
    assert names == names_received(server, "/upload/postfixed", module.NAMES)


# --- synchronous clients and httpx2 ---------------------------------------------------------


async def check_sync_chain_get_into_post(server: LoopbackServer) -> None:
    result = load("sync_chain_get_into_post").main(server.url)
    assert result["size"] == 10_000_000
    assert result["sha256"] == hashlib.sha256(pattern_bytes(10_000_000)).hexdigest()


async def check_httpx2_chain_get_into_post(server: LoopbackServer) -> None:
    result = await load("httpx2_chain_get_into_post").main(server.url)
    assert result["size"] == 10_000_000
    assert result["sha256"] == hashlib.sha256(pattern_bytes(10_000_000)).hexdigest()


async def check_sync_retry_loop(server: LoopbackServer) -> None:
    assert load("sync_retry_loop").main(server.url) == 200
    attempts = retried(server, "/flaky/sync-report", [500, 500, 200])
    assert attempts[0].body is not None and attempts[0].body.startswith(b"id,square\n0,0\n")
    assert attempts[0].size == len(b"id,square\n") + sum(
        len(b"%d,%d\n" % (index, index * index)) for index in range(100_000)
    )


async def check_httpx2_retry_loop(server: LoopbackServer) -> None:
    assert await load("httpx2_retry_loop").main(server.url) == 200
    attempts = retried(server, "/flaky/httpx2-report", [500, 500, 200])
    assert attempts[0].body is not None and attempts[0].body.startswith(b"id,square\n0,0\n")


async def check_sync_form_upload(server: LoopbackServer) -> None:
    module = load("sync_form_upload")
    assert module.main(server.url) == 200
    attempts = retried(server, "/flaky/sync-form", [500, 200])
    title, script, attachment, meta = form_parts(attempts[-1])
    assert (title.name, title.data) == ("title", b"Quarterly report")
    assert (script.filename, script.content_type) == ("sync_form_upload.py", "text/x-python")
    assert script.data == Path(module.__file__).read_bytes()
    assert (attachment.filename, attachment.data) == ("data.bin", file_bytes("export.bin"))
    assert json.loads(meta.data) == {"tags": ["q3", "finance"]}


async def check_httpx2_form_upload(server: LoopbackServer) -> None:
    module = load("httpx2_form_upload")
    assert await module.main(server.url) == (200, "SourceConsumedError")
    [received] = server.recorder.on("/upload/httpx2-form")  # the second never went out
    title, script, log = form_parts(received)
    assert (title.data, script.data) == (b"Quarterly report", Path(module.__file__).read_bytes())
    assert (log.filename, log.data) == ("log.txt", b"started\nfinished\n")


async def check_sync_zip_upload(server: LoopbackServer) -> None:
    module = load("sync_zip_upload")
    assert module.main(server.url) == 200
    attempts = retried(server, "/flaky/sync-zip", [500, 200])
    assert attempts[-1].body is not None
    assert zip_members(attempts[-1].body) == {
        "example.py": Path(module.__file__).read_bytes(),
        "logs/app.log": file_bytes("app.log", 300_000),
        "logs/app (1).log": b"second log\n",
    }


async def check_httpx2_zip_upload(server: LoopbackServer) -> None:
    module = load("httpx2_zip_upload")
    assert await module.main(server.url) == 200
    attempts = retried(server, "/flaky/httpx2-zip", [500, 200])
    assert attempts[-1].body is not None
    assert zip_members(attempts[-1].body) == {
        "example.py": Path(module.__file__).read_bytes(),
        "data.bin": file_bytes("data.bin"),
        "data (1).bin": b"second\n",
    }


async def check_sync_testing_with_respx(server: LoopbackServer) -> None:
    load("sync_testing_with_respx").test_upload_is_retried_with_the_full_body()


async def check_httpx2_testing_with_pytest_httpx2(server: LoopbackServer) -> None:
    import pytest_httpx2  # noqa: F401 - registers respx's httpcore2 mocker, as the plugin does

    # What the plugin's `httpx2_mock` fixture yields.
    with respx.mock(using="httpcore2") as router:
        await load("httpx2_testing_with_pytest_httpx2").test_upload_is_retried_with_the_full_body(
            router
        )


async def check_compressed_log_upload(server: LoopbackServer) -> None:
    assert await load("compressed_log_upload").main(server.url) == 200
    attempts = retried(server, "/decoded/logs", [500, 200])
    assert attempts[-1].headers["content-encoding"] == "gzip"
    assert attempts[-1].headers["content-type"] == "application/x-ndjson"
    assert "content-length" not in attempts[-1].headers  # compressed as it goes: chunked
    assert attempts[-1].body is not None
    # gzip itself decodes what was sent; the server's own decoder got the same lines.
    gunzip = await anyio.run_process([require_tool("gzip", "gzip"), "-dc"], input=attempts[-1].body)
    assert gunzip.stdout == attempts[-1].decoded
    lines = gunzip.stdout.splitlines()
    assert len(lines) == 50_000 and json.loads(lines[-1]) == {
        "n": 49_999,
        "level": "INFO",
        "msg": "request served",
    }
    assert attempts[-1].size < len(gunzip.stdout) / 5


async def check_progress_tqdm(server: LoopbackServer) -> None:
    photo = Path(tempfile.mkdtemp()) / "beach.jpg"
    photo.write_bytes(pattern_bytes(700_000, seed=31))
    output = io.StringIO()
    assert await load("progress_tqdm").main(server.url, photo, output) == 200
    (received,) = server.recorder.on("/upload/photo")
    assert received.body is not None
    parsed = parse_python_multipart(received.body, received.headers["content-type"])
    parts = {part.name: part for part in parsed}
    assert parts["photo"].data == photo.read_bytes() and parts["title"].data == b"holiday"
    # tqdm drew the bar to the end, the field being sent in its caption.
    assert f"{received.size / 1000:.0f}k/{received.size / 1000:.0f}k" in output.getvalue()
    assert "photo" in output.getvalue()


async def check_progress_rich(server: LoopbackServer) -> None:
    from rich.console import Console

    folder = Path(tempfile.mkdtemp())
    for index in range(3):
        (folder / f"part{index}.bin").write_bytes(pattern_bytes(200_000, seed=40 + index))
    console = Console(file=io.StringIO(), force_terminal=True, width=100)
    assert await load("progress_rich").main(server.url, folder, console) == 200
    (received,) = server.recorder.on("/upload/archive.zip")
    assert received.body is not None
    assert zip_members(received.body) == {path.name: path.read_bytes() for path in folder.iterdir()}
    drawn = console.file.getvalue()  # type: ignore[attr-defined]
    total = f"{received.size / 1000:.1f}"
    assert f"{total}/{total} kB" in drawn  # the last draw: every byte sent


async def check_upload_in_parts(server: LoopbackServer) -> None:
    folder = Path(tempfile.mkdtemp())
    sizes = [3_000_000, 7_000_000, 10, 4_000_000]
    for index, size in enumerate(sizes):
        (folder / f"f{index}.bin").write_bytes(pattern_bytes(size, seed=50 + index))
    statuses = await load("upload_in_parts").main(server.url, folder)
    assert statuses == [200, 200, 200]  # 14 MB and framing: three parts of at most 5 MiB
    parts = [server.recorder.on(f"/upload/part-{number}")[0] for number in (1, 2, 3)]
    assert [part.headers["content-length"] for part in parts] == [
        str(5 * 1024 * 1024),
        str(5 * 1024 * 1024),
        str(parts[2].size),
    ]
    whole = b"".join(part.body or b"" for part in parts)
    assert zip_members(whole) == {path.name: path.read_bytes() for path in folder.iterdir()}


async def check_tus_upload(server: LoopbackServer) -> None:
    # Its own tus server (Node's @tus/server): the loopback server does not speak tus.
    module = load("tus_upload")
    with (
        tempfile.TemporaryDirectory() as directory,
        running_tus_server(Path(directory), checksum=False) as tus,
    ):
        upload_url = await module.main(tus.url)
        stored = tus.stored(upload_url)
    assert upload_url.startswith(tus.url)
    with zipfile.ZipFile(io.BytesIO(stored)) as archive:
        assert archive.namelist() == ["example.py", "notes.txt"]
        assert archive.read("example.py") == Path(module.__file__).read_bytes()
        assert archive.read("notes.txt") == b"Made by httpx-streaming.\n" * 10_000


# --- retry libraries ------------------------------------------------------------------------


async def check_retry_with_httpx_retries(server: LoopbackServer) -> None:
    module = load("retry_with_httpx_retries")
    assert await module.main(server.url) == 200
    attempts = retried(server, "/flaky/retry-transport", [500, 500, 200])
    assert attempts[0].headers["content-type"] == "application/zip"
    for attempt in attempts:
        assert attempt.body is not None
        assert zip_members(attempt.body) == {
            "example.py": Path(module.__file__).read_bytes(),
            "logs/app.log": file_bytes("app.log", 300_000),
        }


async def check_retry_with_stamina(server: LoopbackServer) -> None:
    module = load("retry_with_stamina")
    assert await module.main(server.url) == 200
    attempts = retried(server, "/flaky/stamina", [500, 500, 200])
    for attempt in attempts:
        title, script, attachment = form_parts(attempt)
        assert (title.name, title.data) == ("title", b"Quarterly report")
        assert (script.filename, script.content_type) == ("retry_with_stamina.py", "text/x-python")
        assert script.data == Path(module.__file__).read_bytes()
        assert (attachment.filename, attachment.data) == ("data.bin", file_bytes("export.bin"))


async def check_retry_with_tenacity(server: LoopbackServer) -> None:
    answer = await load("retry_with_tenacity").main(server.url)
    expected = file_bytes("export.bin", 1_000_000)
    assert (answer["attempt"], answer["size"]) == (3, len(expected))
    attempts = retried(server, "/flaky/tenacity", [500, 500, 200])
    assert attempts[0].body == expected


async def check_multipart_related_upload(server: LoopbackServer) -> None:
    import email.parser
    import email.policy

    photo = Path(tempfile.mkdtemp()) / "beach.jpg"
    photo.write_bytes(pattern_bytes(400_000, seed=60))
    answer = await load("multipart_related_upload").main(server.url, photo)
    (received,) = server.recorder.on("/upload/drive/v3/files")
    assert answer["size"] == received.size and received.query == "uploadType=multipart"
    content_type = received.headers["content-type"]
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + (received.body or b"")
    )
    assert message.get_content_type() == "multipart/related"
    assert message.get_param("type") == "application/json"
    metadata, media = message.get_payload()  # type: ignore[misc]
    assert json.loads(metadata.get_payload(decode=True)) == {
        "name": "beach.jpg",
        "mimeType": "image/jpeg",
    }
    assert media.get_content_type() == "image/jpeg"
    assert media.get_payload(decode=True) == photo.read_bytes()


CHECKS = {
    "multipart_related_upload": check_multipart_related_upload,
    "compressed_log_upload": check_compressed_log_upload,
    "tus_upload": check_tus_upload,
    "upload_in_parts": check_upload_in_parts,
    "progress_tqdm": check_progress_tqdm,
    "progress_rich": check_progress_rich,
    "testing_with_respx": check_testing_with_respx,
    "chain_get_into_post": check_chain_get_into_post,
    "retry_loop": check_retry_loop,
    "chained_retry": check_chained_retry,
    "http_to_http": check_http_to_http,
    "file_content_length": check_file_content_length,
    "form_upload": check_form_upload,
    "form_two_streamed_files": check_form_two_streamed_files,
    "form_one_shot": check_form_one_shot,
    "form_stop_early": check_form_stop_early,
    "form_testing_with_respx": check_form_testing_with_respx,
    "zip_upload": check_zip_upload,
    "zip_write_file": check_zip_write_file,
    "zip_range_download": check_zip_range_download,
    "zip_comment_and_timestamps": check_zip_comment_and_timestamps,
    "zip_symlinks": check_zip_symlinks,
    "zip_epub": check_zip_epub,
    "zip_odt": check_zip_odt,
    "zip_encrypted": check_zip_encrypted,
    "zip_two_responses": check_zip_two_responses,
    "zip_names_default": check_zip_names_default,
    "zip_names_tilde": check_zip_names_tilde,
    "zip_names_postfixed": check_zip_names_postfixed,
    "sync_chain_get_into_post": check_sync_chain_get_into_post,
    "sync_retry_loop": check_sync_retry_loop,
    "sync_form_upload": check_sync_form_upload,
    "sync_zip_upload": check_sync_zip_upload,
    "sync_testing_with_respx": check_sync_testing_with_respx,
    "httpx2_chain_get_into_post": check_httpx2_chain_get_into_post,
    "httpx2_retry_loop": check_httpx2_retry_loop,
    "httpx2_form_upload": check_httpx2_form_upload,
    "httpx2_zip_upload": check_httpx2_zip_upload,
    "httpx2_testing_with_pytest_httpx2": check_httpx2_testing_with_pytest_httpx2,
    "retry_with_httpx_retries": check_retry_with_httpx_retries,
    "retry_with_stamina": check_retry_with_stamina,
    "retry_with_tenacity": check_retry_with_tenacity,
}


@pytest.mark.parametrize("name", sorted(CHECKS))
async def test_example(name: str, server: LoopbackServer) -> None:
    await CHECKS[name](server)


# --- the command line examples of docs/cli.md ---------------------------------------------

CLI_HOST = "https://example.org"


def cli_examples() -> list[tuple[str, list[str], int]]:
    """Every ``$ httpx-streaming ...`` line of docs/cli.md: command, output lines, exit code."""
    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    examples: list[tuple[str, list[str], int]] = []
    for block in re.findall(r"```console\n(.*?)```", text, re.DOTALL):
        lines: list[str] = []
        for line in block.splitlines():
            if lines and lines[-1].endswith("\\"):
                lines[-1] = lines[-1][:-1].rstrip() + " " + line.strip()
            else:
                lines.append(line)
        entries: list[tuple[str, list[str]]] = []
        for line in lines:
            if line.startswith("$ "):
                entries.append((line[2:], []))
            elif entries:
                entries[-1][1].append(line)
        for index, (command, output) in enumerate(entries):
            if not command.startswith("httpx-streaming "):
                continue
            following = entries[index + 1] if index + 1 < len(entries) else None
            code = int(following[1][0]) if following and following[0] == "echo $?" else 0
            examples.append((command, output, code))
    return examples


def matches_output(expected: str, actual: str) -> bool:
    pattern = ".*".join(re.escape(part) for part in expected.split("…"))
    return re.fullmatch(pattern, actual) is not None


@pytest.fixture
def cli_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The files the examples of docs/cli.md name, in the current directory."""
    (tmp_path / "photos" / "empty").mkdir(parents=True)
    (tmp_path / "photos" / "a.jpg").write_bytes(pattern_bytes(30_000, 1))
    (tmp_path / "photos" / "b.jpg").write_bytes(pattern_bytes(20_000, 2))
    (tmp_path / "notes.txt").write_text("buy film\n" * 100)
    (tmp_path / "beach.jpg").write_bytes(pattern_bytes(40_000, 3))
    monkeypatch.chdir(tmp_path)
    return tmp_path


CLI_EXAMPLES = cli_examples()


def test_cli_page_has_examples() -> None:
    assert len(CLI_EXAMPLES) >= 8
    assert {code for _, _, code in CLI_EXAMPLES} == {0, 1, 2, 3}


@pytest.mark.parametrize(
    ("command", "output", "code"),
    CLI_EXAMPLES,
    ids=[f"{index}-{command.split()[1]}" for index, (command, _, _) in enumerate(CLI_EXAMPLES)],
)
def test_cli_example(
    command: str,
    output: list[str],
    code: int,
    server: LoopbackServer,
    cli_workspace: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = shlex.split(command.replace(CLI_HOST, server.url))[1:]
    if ">" in argv:  # a shell redirection: standard output to a file, in a real process
        target = cli_workspace / argv[argv.index(">") + 1]
        with target.open("wb") as stdout:
            result = run_module(*argv[: argv.index(">")], stdout=stdout)
        actual_code, out, err = result.returncode, "", result.stderr.decode()
    else:
        actual_code, out, err = run(capsys, *argv)
    assert actual_code == code, (out, err)
    actual = (out + err).splitlines()
    for line in output:
        expected = line.replace(CLI_HOST, server.url)
        assert any(matches_output(expected, got) for got in actual), (expected, actual)
    if code:
        assert_one_error_line(err)
    for archive_path in cli_workspace.glob("*.zip"):
        with zipfile.ZipFile(archive_path) as archive:
            assert archive.testzip() is None
            names = archive.namelist()
        if archive_path.name == "named.zip":
            assert names == ["pictures/a.jpg", "pictures/b.jpg", "pictures/empty/",
                             "docs/report.pdf"]  # fmt: skip
        else:
            assert "photos/empty/" in names and "photos/a.jpg" in names
