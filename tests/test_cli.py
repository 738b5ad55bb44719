"""The ``httpx-streaming`` command line: zip and form jobs against the loopback server,
every expected failure as one line with its exit code, and the progress bar on a terminal.

Archives are checked with the standard library's zipfile and forms with python-multipart
and the email parser: real readers, never our own.
"""

from __future__ import annotations

import io
import os
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_runner import assert_one_error_line, run, run_module
from fake_terminal import FakeTTY
from loopback import LoopbackServer, pattern_bytes
from multipart_parsers import parse_email, parse_python_multipart

import httpx_streaming
from httpx_streaming.__main__ import main
from httpx_streaming._cli import EXIT_LOCAL, EXIT_TRANSFER, EXIT_USAGE
from httpx_streaming._cli._form import FieldSpec, parse_field
from httpx_streaming._cli._zip import split_source


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """data/a.txt, data/empty/, data/sub/b.bin, c.txt."""
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    (data / "empty").mkdir()
    (data / "a.txt").write_bytes(b"hello\n")
    (data / "sub" / "b.bin").write_bytes(pattern_bytes(200_000, 5))
    (tmp_path / "c.txt").write_bytes(b"c" * 1000)
    return tmp_path


def listing(archive: zipfile.ZipFile) -> dict[str, bytes]:
    assert archive.testzip() is None
    return {info.filename: archive.read(info) for info in archive.infolist()}


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# --- zip ---------------------------------------------------------------------------------


def test_zip_tree_to_file(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tree / "out.zip"
    code, stdout, err = run(capsys, "zip", str(tree / "data"), str(tree / "c.txt"), "-o", str(out))
    assert (code, stdout, err) == (0, "", "")
    with zipfile.ZipFile(out) as archive:
        members = listing(archive)
        assert list(members) == ["data/a.txt", "data/empty/", "data/sub/b.bin", "c.txt"]
        assert archive.getinfo("data/empty/").is_dir()
        assert archive.getinfo("data/a.txt").compress_type == zipfile.ZIP_STORED
    assert members["data/a.txt"] == b"hello\n"
    assert members["data/sub/b.bin"] == pattern_bytes(200_000, 5)
    assert members["c.txt"] == b"c" * 1000


@pytest.mark.parametrize("existing", [False, True])
def test_zip_walk_order_links_and_its_own_output(
    tmp_path: Path, existing: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    # Each folder's files (sorted) before its subfolders (sorted); a link to a file is
    # read, a link to a folder is not followed; the archive being written, inside the
    # tree, is left out whether it existed before or not.
    root = tmp_path / "t"
    for folder in ("b/d", "a", "c"):
        (root / folder).mkdir(parents=True)
    for name in ("z.txt", "a/2", "a/1", "b/x", "b/d/y", "c/w"):
        (root / name).write_bytes(name.encode())
    (root / "link-to-file").symlink_to(root / "z.txt")
    (root / "link-to-folder").symlink_to(root / "a")
    out = root / "out.zip"
    if existing:
        out.write_bytes(b"an old archive")
    code, _, err = run(capsys, "zip", str(root), "-o", str(out))
    assert (code, err) == (0, "")
    with zipfile.ZipFile(out) as archive:
        members = listing(archive)
    assert list(members) == [
        "t/link-to-file", "t/z.txt", "t/a/1", "t/a/2", "t/b/x", "t/b/d/y", "t/c/w",
    ]  # fmt: skip
    assert members["t/link-to-file"] == members["t/z.txt"] == b"z.txt"


def test_a_local_zip_starts_without_httpx(tree: Path) -> None:
    # No network, so no event loop, no worker threads and no httpx import; nor
    # the parts of the library a zip of local files does not use.
    unused = [
        "httpx",
        "httpx_streaming._form",
        "httpx_streaming._multipart_body",
        "httpx_streaming._compress",
        "httpx_streaming._serve",
        "httpx_streaming._response",
        "httpx_streaming._tus",
    ]
    code = (
        "import sys\n"
        "from httpx_streaming._cli import main\n"
        f"assert main(['zip', {str(tree / 'data')!r}, '-o', {str(tree / 'o.zip')!r}]) == 0\n"
        f"imported = [name for name in {unused!r} if name in sys.modules]\n"
        "assert not imported, imported\n"
        "import threading; assert threading.active_count() == 1, threading.enumerate()\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    with zipfile.ZipFile(tree / "o.zip") as archive:
        assert list(listing(archive)) == ["data/a.txt", "data/empty/", "data/sub/b.bin"]


def test_zip_names_deflate_and_trio(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tree / "out.zip"
    code, _, err = run(
        capsys,
        "zip",
        f"archive={tree / 'data'}",
        f"docs/renamed.txt={tree / 'c.txt'}",
        "--deflate",
        "--backend",
        "trio",
        "-o",
        str(out),
    )
    assert (code, err) == (0, "")
    with zipfile.ZipFile(out) as archive:
        members = listing(archive)
        assert set(members) == {
            "archive/a.txt",
            "archive/empty/",
            "archive/sub/b.bin",
            "docs/renamed.txt",
        }
        assert archive.getinfo("docs/renamed.txt").compress_type == zipfile.ZIP_DEFLATED
        assert archive.getinfo("docs/renamed.txt").compress_size < 100
    assert members["archive/sub/b.bin"] == pattern_bytes(200_000, 5)


def test_zip_leaves_out_the_archive_it_writes(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tree / "data" / "self.zip"
    assert run(capsys, "zip", str(tree / "data"), "-o", str(out))[0] == 0
    with zipfile.ZipFile(out) as archive:
        assert "data/self.zip" not in archive.namelist()


def test_zip_of_urls_posted(server: LoopbackServer, capsys: pytest.CaptureFixture[str]) -> None:
    first = f"{server.url}/bytes?size=300000&seed=1"
    second = f"{server.url}/bytes?size=5000&seed=2"
    code, out, err = run(
        capsys,
        "zip",
        first,
        second,
        f"named.bin={server.url}/bytes?size=10&seed=3",
        "--post",
        f"{server.url}/upload/zip",
    )
    assert (code, err) == (0, "")
    assert out.startswith("200 OK\n") and '"size"' in out
    [received] = server.recorder.on("/upload/zip")
    assert received.headers["content-type"] == "application/zip"
    assert received.body is not None
    with zipfile.ZipFile(io.BytesIO(received.body)) as archive:
        members = listing(archive)
    # Both URLs end in /bytes: the archive's name deduplication tells them apart.
    assert members == {
        "bytes": pattern_bytes(300_000, 1),
        "bytes (1)": pattern_bytes(5000, 2),
        "named.bin": pattern_bytes(10, 3),
    }


def test_zip_retries_resend_the_whole_archive(
    server: LoopbackServer, tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        capsys,
        "zip",
        str(tree / "data"),
        f"{server.url}/bytes?size=100000&seed=7",
        "--post",
        f"{server.url}/flaky/cli-zip?failures=2",
        "--retries",
        "2",
        "--retry-delay",
        "0",
    )
    assert (code, err) == (0, "")
    assert out.startswith("200 OK")
    attempts = server.recorder.on("/flaky/cli-zip")
    assert [attempt.status for attempt in attempts] == [500, 500, 200]
    assert len({(attempt.size, attempt.sha256) for attempt in attempts}) == 1
    assert attempts[0].body is not None
    with zipfile.ZipFile(io.BytesIO(attempts[0].body)) as archive:
        members = listing(archive)
    assert members["bytes"] == pattern_bytes(100_000, 7)
    assert members["data/sub/b.bin"] == pattern_bytes(200_000, 5)


def test_zip_retries_exhausted(
    server: LoopbackServer, tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"{server.url}/flaky/cli-zip-down?failures=5"
    code, out, err = run(
        capsys, "zip", str(tree / "c.txt"), "--post", url, "--retries", "1", "--retry-delay", "0"
    )
    assert (code, out) == (EXIT_TRANSFER, "")
    assert_one_error_line(err, f"POST {url} answered 500 Internal Server Error", "2 attempts")
    assert len(server.recorder.on("/flaky/cli-zip-down")) == 2


def test_zip_verbose_reports_retries(
    server: LoopbackServer, tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"{server.url}/flaky/cli-verbose?failures=1"
    code, _, err = run(
        capsys, "zip", str(tree / "c.txt"), "--post", url, "--retries", "3", "--retry-delay", "0",
        "-v",
    )  # fmt: skip
    assert code == 0
    assert err == (
        f"httpx-streaming: POST {url} answered 500 Internal Server Error; "
        "retrying in 0 s (attempt 2 of 4)\n"
    )


def test_zip_to_stdout_in_a_subprocess(server: LoopbackServer, tree: Path, tmp_path: Path) -> None:
    result = run_module(
        "zip", str(tree / "data" / "a.txt"), f"{server.url}/bytes?size=70000&seed=9"
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == b""  # not a terminal: no progress bar
    with zipfile.ZipFile(io.BytesIO(result.stdout)) as archive:
        assert listing(archive) == {"a.txt": b"hello\n", "bytes": pattern_bytes(70_000, 9)}


def test_zip_retry_rewinds_redirected_stdout(server: LoopbackServer, tmp_path: Path) -> None:
    # The second member's source fails once after the first member was written:
    # standard output redirected to a file is rewound and the archive rewritten.
    out = tmp_path / "stdout.zip"
    with out.open("wb") as stdout:
        result = run_module(
            f"{server.url}/bytes?size=100000&seed=1",
            f"{server.url}/flaky/cli-source?failures=1",
            "--retries",
            "1",
            "--retry-delay",
            "0",
            stdout=stdout,
            subcommand="zip",
        )
    assert result.returncode == 0, result.stderr
    with zipfile.ZipFile(out) as archive:
        members = listing(archive)
    assert members["bytes"] == pattern_bytes(100_000, 1)
    assert b'"attempt": 2' in members["cli-source"]


def test_zip_no_retry_once_a_pipe_was_written(server: LoopbackServer) -> None:
    # The first member is larger than a write batch, so bytes reach the pipe before the
    # second member fails.
    url = f"{server.url}/flaky/cli-pipe?failures=1"
    result = run_module(
        f"{server.url}/bytes?size=6000000&seed=1",
        url,
        "--retries",
        "3",
        "--retry-delay",
        "0",
        subcommand="zip",
    )
    assert result.returncode == EXIT_TRANSFER
    assert_one_error_line(result.stderr.decode(), f"GET {url} answered 500")
    assert server.recorder.attempts["/flaky/cli-pipe"] == 1


# --- form --------------------------------------------------------------------------------


def test_form_upload(
    server: LoopbackServer, tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        capsys,
        "form",
        f"{server.url}/upload/form",
        "-F",
        "title=holiday photos",
        "-F",
        f"photo=@{tree / 'data' / 'sub' / 'b.bin'}",
        "-F",
        f"notes=@{tree / 'data' / 'a.txt'};filename=readme.txt",
        "-F",
        f"log=@{server.url}/bytes?size=123456&seed=4;type=text/plain",
        "--form-string",
        "raw=@not-a-file",
        "-F",
        f"text=<{tree / 'data' / 'a.txt'}",
    )
    assert (code, err) == (0, "")
    assert out.startswith("200 OK\n")
    [received] = server.recorder.on("/upload/form")
    assert received.body is not None
    content_type = received.headers["content-type"]
    for parse in (parse_python_multipart, parse_email):
        parts = parse(received.body, content_type)
        assert [(p.name, p.filename, p.content_type) for p in parts] == [
            ("title", None, None),
            ("photo", "b.bin", "application/octet-stream"),
            ("notes", "readme.txt", "text/plain"),
            ("log", "bytes", "text/plain"),
            ("raw", None, None),
            ("text", None, None),
        ]
        assert [p.data for p in parts] == [
            b"holiday photos",
            pattern_bytes(200_000, 5),
            b"hello\n",
            pattern_bytes(123_456, 4),
            b"@not-a-file",
            b"hello\n",
        ]


def test_form_of_text_fields_is_still_multipart(
    server: LoopbackServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, _ = run(capsys, "form", f"{server.url}/upload/text", "-F", "a=1", "-F", "b=two")
    assert code == 0
    [received] = server.recorder.on("/upload/text")
    assert received.body is not None
    parts = parse_python_multipart(received.body, received.headers["content-type"])
    assert [(p.name, p.data) for p in parts] == [("a", b"1"), ("b", b"two")]


def test_form_retries_in_a_subprocess(server: LoopbackServer, tree: Path) -> None:
    result = run_module(
        "form",
        f"{server.url}/flaky/cli-form?failures=2",
        "-F",
        f"file=@{tree / 'c.txt'}",
        "-F",
        f"remote=@{server.url}/bytes?size=50000&seed=8",
        "--retries",
        "3",
        "--retry-delay",
        "0",
        "--backend",
        "trio",
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == b""
    assert result.stdout.startswith(b"200 OK\n")
    attempts = server.recorder.on("/flaky/cli-form")
    assert [attempt.status for attempt in attempts] == [500, 500, 200]
    for attempt in attempts:  # every attempt carried the full body
        assert attempt.body is not None
        parts = parse_python_multipart(attempt.body, attempt.headers["content-type"])
        assert [p.data for p in parts] == [b"c" * 1000, pattern_bytes(50_000, 8)]


def test_parse_field() -> None:
    assert parse_field("a=b=c") == FieldSpec("a", "text", "b=c")
    assert parse_field("a=") == FieldSpec("a", "text", "")
    assert parse_field("f=@x;y.txt") == FieldSpec("f", "file", "x;y.txt")
    assert parse_field("f=@x.bin;filename=y.bin;type=a/b") == FieldSpec(
        "f", "file", "x.bin", "a/b", "y.bin"
    )
    assert parse_field("u=@https://h/p?q=1") == FieldSpec("u", "url", "https://h/p?q=1")
    assert parse_field("s=@x", literal=True) == FieldSpec("s", "text", "@x")
    assert parse_field("t=<notes.txt") == FieldSpec("t", "text-file", "notes.txt")
    assert parse_field("t=<") == FieldSpec("t", "text", "<")
    assert parse_field("t=<b>", literal=True) == FieldSpec("t", "text", "<b>")


def test_dot_is_named_after_the_directory(
    tree: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tree / "data" / "sub")
    assert run(capsys, "zip", ".", "..", "-o", str(tree / "dots.zip"))[0] == 0
    with zipfile.ZipFile(tree / "dots.zip") as archive:
        assert archive.namelist() == [
            "sub/b.bin",
            "data/a.txt",
            "data/empty/",
            "data/sub/b.bin",
        ]


def test_split_source(tmp_path: Path) -> None:
    odd = tmp_path / "a=b"
    odd.write_bytes(b"")
    assert split_source(str(odd)) == (None, str(odd))  # an existing path is taken whole
    assert split_source("name=path") == ("name", "path")
    assert split_source("http://h/x?a=b") == (None, "http://h/x?a=b")
    assert split_source("n=http://h/x") == ("n", "http://h/x")


# --- expected failures: one line, an exit code -----------------------------------------


@pytest.mark.parametrize(
    ("argv", "fragments"),
    [
        ([], ["the following arguments are required: COMMAND"]),
        (["zip"], ["the following arguments are required: SOURCE"]),
        (["form", "http://h/"], ["no fields"]),
        (["form", "http://h/", "-F", "novalue"], ["bad -F argument 'novalue'"]),
        (["form", "http://h/", "-F", "=x"], ["bad -F argument '=x'"]),
        (["form", "http://h/", "-F", "f=@"], ["bad -F argument 'f=@'", "nothing after '@'"]),
        (["form", "http://h/", "-F", "f=@x;type="], ["empty ';type=' option"]),
        (["form", "ftp://h/", "-F", "a=b"], ["URL must be an http:// or https:// URL"]),
        (["zip", "x", "--retries", "-1"], ["argument --retries", "'-1'"]),
        (["zip", "x", "--post", "not-a-url"], ["--post must be an http"]),
        (["zip", "x", "-o", "a", "--post", "http://h/"], ["not allowed with argument"]),
        (["zip", "x", "--backend", "curio"], ["invalid choice: 'curio'"]),
        (["form", "http://h/", "-F", "a=b", "-H", "no-colon"], ["bad -H argument"]),
        (["frobnicate"], ["invalid choice: 'frobnicate'"]),
    ],
)
def test_usage_errors(
    argv: list[str], fragments: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, *argv)
    assert (code, out) == (EXIT_USAGE, "")
    assert_one_error_line(err, *fragments)


def test_bad_member_name(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "zip", f"../up.txt={tree / 'c.txt'}", "-o", str(tree / "o.zip"))
    assert code == EXIT_USAGE
    assert_one_error_line(err, "bad member name '../up.txt'")
    assert not (tree / "o.zip").exists()


def test_missing_trio(
    monkeypatch: pytest.MonkeyPatch, tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "trio", None)  # `import trio` now fails
    code, _, err = run(capsys, "zip", str(tree / "c.txt"), "-o", "x.zip", "--backend", "trio")
    assert code == EXIT_USAGE
    assert_one_error_line(err, "--backend trio needs the 'trio' package", "httpx-streaming[trio]")


def test_help_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "zip", "--help")
    assert code == 0 and "--deflate" in out and "NAME=SOURCE" in out
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.startswith("httpx-streaming ")


def test_missing_files(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = str(tree / "nope.txt")
    code, _, err = run(capsys, "zip", missing, "-o", str(tree / "o.zip"))
    assert code == EXIT_LOCAL
    assert_one_error_line(err, f"no such file or directory: {missing!r}")
    assert not (tree / "o.zip").exists()
    code, _, err = run(capsys, "form", "http://127.0.0.1:9/", "-F", f"f=@{missing}")
    assert code == EXIT_LOCAL
    assert_one_error_line(err, f"no such file or directory: {missing!r}")
    code, _, err = run(capsys, "form", "http://127.0.0.1:9/", "-F", f"f=@{tree / 'data'}")
    assert code == EXIT_LOCAL
    assert_one_error_line(err, "is a directory", "data")


def test_text_file_field_must_be_utf8(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    binary = tree / "data" / "sub" / "b.bin"
    code, _, err = run(capsys, "form", "http://127.0.0.1:9/", "-F", f"t=<{binary}")
    assert code == EXIT_USAGE
    assert_one_error_line(err, f"{str(binary)!r} is not UTF-8 text")


@pytest.mark.parametrize("target", ["missing-dir/out.zip", "data"])
def test_unwritable_output(tree: Path, target: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "zip", str(tree / "c.txt"), "-o", str(tree / target))
    assert code == EXIT_LOCAL
    assert_one_error_line(err, f"cannot write {str(tree / target)!r}")


@pytest.fixture
def unreadable() -> Iterator[Path]:
    """A world-traversable directory holding a file nobody may read."""
    directory = Path(tempfile.mkdtemp(prefix="httpx-streaming-cli-"))
    try:
        directory.chmod(0o755)
        secret = directory / "secret.txt"
        secret.write_bytes(b"secret")
        secret.chmod(0)
        yield secret
    finally:
        secret.chmod(stat.S_IRUSR | stat.S_IWUSR)
        secret.unlink()
        directory.rmdir()


# Run by root, a child process drops root's privileges before it execs the command given after
# its uid and gid. SECBIT_NOROOT: the exec gives even uid 0 no capabilities, so the kernel checks
# mode bits for the command as for anyone else (in open(2) and access(2) alike).
DROP_PRIVILEGES = """
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
def prctl(option, value):
    if libc.prctl(option, ctypes.c_ulong(value), ctypes.c_ulong(0), ctypes.c_ulong(0),
                  ctypes.c_ulong(0)) != 0:
        raise OSError(ctypes.get_errno(), f"prctl({option}, {value})")
prctl(47, 4)  # PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL
prctl(28, 0b11)  # PR_SET_SECUREBITS: SECBIT_NOROOT | SECBIT_NOROOT_LOCKED
os.setgroups([])
os.setgid(int(sys.argv[2]))
os.setuid(int(sys.argv[1]))
os.execv(sys.argv[3], sys.argv[3:])
"""

PROBE = "import sys, httpx_streaming; open(sys.argv[1])"


@pytest.fixture
def unprivileged(unreadable: Path) -> list[str]:
    """This interpreter, run so that it imports the package but the kernel refuses it the file.

    As is when not root. For root, a child without capabilities: as uid 0, which reaches all
    root owns (a checkout in a 0700 temporary directory or under /root), else as the owner of
    the package (a checkout in another user's 0700 home). Each candidate is probed, so the
    test never depends on where the checkout lives, and never runs the CLI with a reader that
    could read the file or could not import the package.
    """
    python = sys.executable
    if os.geteuid() != 0:
        candidates = {"as is": [python]}
    else:
        owner = Path(httpx_streaming.__file__).stat()
        drop = [python, "-c", DROP_PRIVILEGES]
        candidates = {
            f"uid {uid}, gid {gid}, no capabilities": [*drop, str(uid), str(gid), python]
            for uid, gid in [(0, 0), (owner.st_uid, owner.st_gid)]
        }
    outputs = []
    for identity, command in candidates.items():
        probe = subprocess.run(
            [*command, "-c", PROBE, str(unreadable)],
            capture_output=True,
            cwd=unreadable.parent,
            timeout=120,
        )
        lines = probe.stderr.decode(errors="replace").splitlines()
        if probe.returncode == 1 and lines and lines[-1].startswith("PermissionError: "):
            return command
        outputs += [f"{identity}: exit {probe.returncode}", *lines]
    pytest.fail(
        "\n".join(["no child both imports httpx_streaming and is refused the file:", *outputs])
    )


@pytest.mark.parametrize("command", ["zip-file", "zip-dir", "form"])
def test_permission_denied(unreadable: Path, unprivileged: list[str], command: str) -> None:
    argv = {
        "zip-file": ["zip", str(unreadable), "-o", "/dev/null"],
        "zip-dir": ["zip", str(unreadable.parent), "-o", "/dev/null"],
        "form": ["form", "http://127.0.0.1:9/", "-F", f"f=@{unreadable}"],
    }[command]
    result = subprocess.run(
        [*unprivileged, "-m", "httpx_streaming", *argv],
        capture_output=True,
        cwd=unreadable.parent,
        timeout=120,
    )
    assert result.returncode == EXIT_LOCAL, result.stderr
    assert_one_error_line(result.stderr.decode(), f"permission denied: {str(unreadable)!r}")


@pytest.mark.parametrize("where", ["source", "post", "form-source", "form-post"])
def test_unreachable_url(
    where: str, server: LoopbackServer, tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"http://127.0.0.1:{closed_port()}/x"
    output = str(tree / "o.zip")
    argv = {
        "source": ["zip", url, "-o", output],
        "post": ["zip", str(tree / "c.txt"), "--post", url],
        "form-source": ["form", f"{server.url}/upload/x", "-F", f"f=@{url}"],
        "form-post": ["form", url, "-F", "a=b"],
    }[where]
    code, out, err = run(capsys, *argv)
    assert (code, out) == (EXIT_TRANSFER, "")
    assert_one_error_line(err, f"cannot connect to {url}")
    assert not Path(output).exists()  # no half-written archive is left behind


def test_failure_keeps_a_device_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Failed archives are removed, but only regular files: never /dev/null.
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        url = f"http://127.0.0.1:{closed_port()}/x"
        code, _, err = run(capsys, "zip", url, "-o", str(fifo))
    finally:
        os.close(reader)
    assert code == EXIT_TRANSFER
    assert_one_error_line(err, "cannot connect")
    assert fifo.is_fifo()


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_interrupt(backend: str, server: LoopbackServer, tmp_path: Path) -> None:
    output = tmp_path / "interrupted.zip"
    # Long enough that only the interrupt can end it within the test's timeout.
    query = f"chunks=2000&delay=0.05&key={backend}"
    process = subprocess.Popen(
        [sys.executable, "-m", "httpx_streaming", "zip", f"{server.url}/slow?{query}",
         "-o", str(output), "--backend", backend],
        stderr=subprocess.PIPE,
        # A background job of a non-interactive shell (as CI may run us) starts with
        # SIGINT ignored, and Python keeps an inherited "ignore": give Ctrl-C back.
        preexec_fn=_default_sigint,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while server.recorder.sending.get(query, 0) < 3:  # inside the download
        assert process.poll() is None, "the command ended before the interrupt"
        assert time.monotonic() < deadline, "the download never started"
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130
    assert_one_error_line(err.decode(), "interrupted")
    assert not output.exists()
    # The server sees the connection go in its own thread, soon after the process ends.
    deadline = time.monotonic() + 30
    while query not in server.recorder.disconnects and time.monotonic() < deadline:
        time.sleep(0.02)
    assert query in server.recorder.disconnects


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_connection_errors_are_retried(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{closed_port()}/x"
    code, _, err = run(
        capsys, "zip", url, "-o", str(tree / "o.zip"), "--retries", "2", "--retry-delay", "0",
        "--verbose",
    )  # fmt: skip
    assert code == EXIT_TRANSFER
    lines = err.splitlines()
    assert [line.endswith(f"(attempt {n} of 3)") for n, line in enumerate(lines[:2], 2)] == [
        True,
        True,
    ]
    assert_one_error_line(lines[-1], f"cannot connect to {url}", "(after 3 attempts)")


@pytest.mark.parametrize("command", ["zip", "form"])
def test_source_errors_in_an_upload_name_the_source(
    command: str, server: LoopbackServer, capsys: pytest.CaptureFixture[str]
) -> None:
    # httpx re-stamps a source's connection error with the upload's request; the notices and
    # the final line still name the source's URL.
    url = f"http://127.0.0.1:{closed_port()}/x"
    upload = f"{server.url}/upload/{command}"
    argv = {
        "zip": ["zip", url, "--post", upload],
        "form": ["form", upload, "-F", f"f=@{url}"],
    }[command]
    code, out, err = run(capsys, *argv, "--retries", "1", "--retry-delay", "0", "-v")
    assert (code, out) == (EXIT_TRANSFER, "")
    notice, final = err.splitlines()
    assert notice.startswith(f"httpx-streaming: cannot connect to {url}: ")
    assert notice.endswith("; retrying in 0 s (attempt 2 of 2)")
    assert_one_error_line(final, f"cannot connect to {url}: ", "(after 2 attempts)")


def test_a_failure_after_retries_names_the_attempts(server: LoopbackServer) -> None:
    # The first attempt fails before a byte reached the pipe and is retried; the second fails
    # once the pipe was written to, which no retry can take back: the line says 2 attempts.
    second = f"{server.url}/flaky/cli-pipe-late?failures=5"
    result = run_module(
        f"{server.url}/flaky/cli-pipe-early?failures=1",
        f"{server.url}/bytes?size=6000000&seed=1",  # more than a write batch
        second,
        "--retries",
        "3",
        "--retry-delay",
        "0",
        subcommand="zip",
    )
    assert result.returncode == EXIT_TRANSFER
    error = f"GET {second} answered 500 Internal Server Error (after 2 attempts)"
    assert_one_error_line(result.stderr.decode(), error)
    assert server.recorder.attempts["/flaky/cli-pipe-early"] == 2
    assert server.recorder.attempts["/flaky/cli-pipe-late"] == 1


@pytest.mark.parametrize("where", ["zip-source", "zip-post", "form-source", "form-post"])
def test_http_error_status(
    where: str, server: LoopbackServer, tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = f"{server.url}/status/404"
    output = str(tree / "o.zip")
    argv = {
        "zip-source": ["zip", str(tree / "c.txt"), missing, "-o", output],
        "zip-post": ["zip", str(tree / "c.txt"), "--post", f"{server.url}/status/403"],
        "form-source": ["form", f"{server.url}/upload/x", "-F", f"f=@{missing}"],
        "form-post": ["form", f"{server.url}/status/403", "-F", "a=b"],
    }[where]
    code, out, err = run(capsys, *argv)
    assert (code, out) == (EXIT_TRANSFER, "")
    if where.endswith("source"):
        assert_one_error_line(err, f"GET {missing} answered 404 Not Found")
    else:
        assert_one_error_line(err, f"POST {server.url}/status/403 answered 403 Forbidden")
    assert not Path(output).exists()


# --- progress ------------------------------------------------------------------------------


def test_cli_draws_progress_on_a_terminal(
    server: LoopbackServer, tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stderr = FakeTTY()
    monkeypatch.setattr(sys, "stderr", stderr)
    url = f"{server.url}/flaky/cli-progress?failures=1"
    code = main(
        ["form", url, "-F", f"f=@{tree / 'data' / 'sub' / 'b.bin'}", "--retries", "1",
         "--retry-delay", "0"]
    )  # fmt: skip
    assert code == 0
    text = stderr.getvalue()
    notice = f"httpx-streaming: POST {url} answered 500 Internal Server Error; retrying in 0 s"
    assert text.startswith(notice)  # nothing drawn yet: a transfer shorter than 0.1 s
    last = text.rsplit("\r", 1)[1]
    assert last.startswith("upload [####################] 100%  195.")
    assert last.endswith("/s  done\x1b[K\n")


def test_no_progress_option(
    server: LoopbackServer, tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stderr = FakeTTY()
    monkeypatch.setattr(sys, "stderr", stderr)
    code = main(["form", f"{server.url}/upload/q", "-F", "a=b", "--no-progress"])
    assert code == 0
    assert stderr.getvalue() == ""


def test_zip_retries_a_pipe_that_nothing_reached_yet(server: LoopbackServer) -> None:
    # Chunks wait in the write batch: a failure before the first batch reached the pipe
    # can still be retried, and the pipe gets one whole archive.
    url = f"{server.url}/flaky/cli-pipe-unwritten?failures=1"
    result = run_module(
        f"{server.url}/bytes?size=100000&seed=1", url, "--retries", "1", "--retry-delay", "0",
        subcommand="zip",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    with zipfile.ZipFile(io.BytesIO(result.stdout)) as archive:
        assert archive.testzip() is None
        assert archive.read("bytes") == pattern_bytes(100_000, 1)
    assert server.recorder.attempts["/flaky/cli-pipe-unwritten"] == 2
