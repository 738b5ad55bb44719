"""Symbolic links in zip archives: a member whose mode has ``stat.S_IFLNK`` holds its
target; unsafe targets are refused when the member is made. Extracted as links by Info-ZIP's
unzip and bsdtar (from a file and from a pipe), listed as links by zipfile and 7-Zip, read
as their target's path by the streaming readers."""

from __future__ import annotations

import os
import re
import stat
import zipfile
from collections.abc import Generator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import zip_readers
from zip_readers import entry_for

from httpx_streaming import (
    COMPRESSION_METHOD_DEFLATE,
    ZipStreamFile,
    create_zip_stream_resource,
    stream_zip,
)
from httpx_streaming._zip_names import check_link_target
from httpx_streaming._zip_records import external_attributes

MOMENT = datetime(2024, 5, 17, 12, 0, 30, tzinfo=timezone.utc)
LINK = stat.S_IFLNK | 0o777
TOOL = b"#!/bin/sh\necho tool\n"

# name -> target, for the archive every reader gets
LINKS = {
    "bin/tool": "../lib/tool",  # climbs, and stays inside
    "current": "lib",  # a link to a folder
    "lib/alias": "tool",  # a sibling
    "docs/missing": "../docs/README",  # dangling, but inside: allowed
}


def files() -> list[ZipStreamFile]:
    made = [
        ZipStreamFile("lib/tool", TOOL, modified_at=MOMENT, mode=0o755),
        ZipStreamFile("bin/", modified_at=MOMENT),
        ZipStreamFile("docs/", modified_at=MOMENT),
    ]
    for index, (name, target) in enumerate(LINKS.items()):
        made.append(
            ZipStreamFile(
                name,
                target if index % 2 else target.encode(),  # str and bytes targets alike
                modified_at=MOMENT,
                mode=LINK,
                # Deflated or not, a link is its target's bytes.
                compression_method=COMPRESSION_METHOD_DEFLATE if index == 1 else 0,
            )
        )
    return made


async def collect(chunks: Any) -> bytes:
    return b"".join([bytes(chunk) async for chunk in chunks])


@pytest.fixture
async def archive(tmp_path: Path) -> Path:
    resource = create_zip_stream_resource(files())
    data = await collect(resource.__aiter__())
    assert b"".join(bytes(chunk) for chunk in resource.sync()) == data
    assert await collect(stream_zip(files())) == data
    path = tmp_path / "links.zip"
    path.write_bytes(data)
    return path


def assert_links_extracted(root: Path) -> None:
    for name, target in LINKS.items():
        assert (root / name).is_symlink(), name
        assert os.readlink(root / name) == target, name
    assert (root / "bin/tool").read_bytes() == TOOL  # through the link
    assert (root / "current/tool").read_bytes() == TOOL
    assert not (root / "lib/tool").is_symlink()
    assert (root / "lib/tool").stat().st_mode & 0o777 == 0o755


async def test_zipfile_and_7z_list_links(archive: Path) -> None:
    with zipfile.ZipFile(archive) as read:
        assert read.testzip() is None
        modes = {info.filename: info.external_attr >> 16 for info in read.infolist()}
        targets = {name: read.read(name).decode() for name in LINKS}
    assert targets == LINKS
    assert {name: mode for name, mode in modes.items() if stat.S_ISLNK(mode)} == {
        name: LINK for name in LINKS
    }
    assert modes["lib/tool"] == stat.S_IFREG | 0o755
    listed = zip_readers._run("7z", [zip_readers.sevenzip_tool(), "l", "-slt", str(archive)])
    assert listed.returncode == 0, zip_readers._output(listed)
    blocks = listed.stdout.decode("utf-8").split("\n\n")
    attributes = {}
    for block in blocks:
        fields = dict(line.split(" = ", 1) for line in block.splitlines() if " = " in line)
        if "Attributes" in fields:
            attributes[fields["Path"]] = fields["Attributes"].strip()
    assert {name: attributes[name] for name in LINKS} == {name: "lrwxrwxrwx" for name in LINKS}
    assert attributes["lib/tool"] == "-rwxr-xr-x"


@pytest.mark.parametrize("extractor", ["unzip", "bsdtar"])
async def test_extractors_make_links(archive: Path, extractor: str, tmp_path: Path) -> None:
    root = tmp_path / "out"
    root.mkdir()
    if extractor == "unzip":
        command = [zip_readers.unzip_tool(), "-qq", str(archive), "-d", str(root)]
    else:
        command = [zip_readers.bsdtar_tool(), "-xf", str(archive), "-C", str(root)]
    result = zip_readers._run(extractor, command)
    assert result.returncode == 0, zip_readers._output(result)
    assert_links_extracted(root)


async def test_bsdtar_from_a_pipe_writes_the_target_as_a_file(
    archive: Path, tmp_path: Path
) -> None:
    # A streaming reader sees only local headers, and the zip format keeps a
    # member's Unix mode in the central directory alone: bsdtar reading a pipe
    # cannot tell a link (its own zips' links neither), and writes the target's
    # path as the file's contents. The limitations page says so.
    root = tmp_path / "out"
    root.mkdir()
    command = [zip_readers.bsdtar_tool(), "-xf", "-", "-C", str(root)]
    result = zip_readers._run("bsdtar-pipe", command, stdin_path=archive)
    assert result.returncode == 0, zip_readers._output(result)
    for name, target in LINKS.items():
        assert not (root / name).is_symlink(), name
        assert (root / name).read_bytes() == target.encode(), name


@pytest.mark.parametrize("reader", ["stream-unzip", "java-zipinputstream"])
async def test_streaming_readers_read_the_target(archive: Path, reader: str) -> None:
    # They hand over members' data; a link's is its target's path.
    listing = zip_readers.READERS[reader].read(archive)
    for name, target in LINKS.items():
        assert listing[name] == entry_for(target.encode()), name


# --- refused when made ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "target"),
    [
        ("bin/tool", "../lib/tool"),
        ("a/b/c", "../../x"),
        ("link", "."),
        ("link", "./x"),
        ("d/link", "../"),
        ("link", "dir/"),
        ("link", "ünïcödé"),
        ("a/link", "./../b"),
    ],
)
def test_safe_targets(name: str, target: str) -> None:
    assert check_link_target(name, target) == target.encode()
    member = ZipStreamFile(name, target.encode(), mode=LINK)
    assert member.is_link
    assert member.mode == 0o777


@pytest.mark.parametrize(
    ("name", "target", "error", "message"),
    [
        ("link", "/etc/passwd", ValueError, "absolute target '/etc/passwd'"),
        ("link", "C:/Windows", ValueError, "absolute target"),
        ("link", "..", ValueError, "leaves the archive's root"),
        ("a/link", "../../x", ValueError, "leaves the archive's root"),
        ("a/b/link", "../../../etc", ValueError, "leaves the archive's root"),
        ("link", "x/../y", ValueError, "'..' after a name"),
        ("link", "", ValueError, "empty target"),
        ("link", "a\\b", ValueError, "backslash"),
        ("link", "a\x00b", ValueError, "control character"),
        ("link", b"\xff", ValueError, "not valid UTF-8"),
        ("link", 3, TypeError, "link .link. must be a str or bytes, got 3 \\(type int\\)"),
        ("link", Path("x"), TypeError, "must be a str or bytes"),
    ],
)
def test_unsafe_targets_are_refused_when_the_member_is_made(
    name: str, target: object, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        ZipStreamFile(name, target, mode=LINK)


def test_link_modes() -> None:
    assert ZipStreamFile("l", b"x", mode=stat.S_IFLNK).mode == 0o777  # no bits: a link's
    assert ZipStreamFile("l", b"x", mode=stat.S_IFLNK | 0o755).mode == 0o755
    assert not ZipStreamFile("f", b"x", mode=0o777).is_link
    with pytest.raises(ValueError, match="not the permission bits of a folder"):
        ZipStreamFile("d/", mode=LINK)
    assert external_attributes(LINK, False) == LINK << 16
    assert external_attributes(0o644, False) == (stat.S_IFREG | 0o644) << 16


def test_a_renamed_link_is_judged_again_from_its_new_folder() -> None:
    # A deduplicator may move a member to another folder: "../x" is safe in "a/",
    # not at the root.
    def flatten() -> Generator[str, str, None]:
        name = yield ""
        while True:
            name = yield name.rsplit("/", 1)[-1]

    members = [ZipStreamFile("a/link", b"../x", mode=LINK)]
    with pytest.raises(ValueError, match=re.escape("'link' has the target '../x', which leaves")):
        create_zip_stream_resource(members, name_deduplicator=flatten)
    with pytest.raises(ValueError, match="leaves the archive's root"):
        stream_zip(members, name_deduplicator=flatten)
    assert create_zip_stream_resource(members).names == ("a/link",)


# --- no member under a link ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("members", "message"),
    [
        # The escape by a chain: a/b -> .. is the root, a/b/c -> .. would be its parent.
        (
            [("a/b", b"..", LINK), ("a/b/c", b"..", LINK), ("a/b/c/pwned.txt", b"x", None)],
            "'a/b/c' lies under the symbolic link 'a/b'",
        ),
        ([("l", b"dir", LINK), ("l/file.txt", b"x", None)], "lies under the symbolic link 'l'"),
        ([("l", b"dir", LINK), ("l/sub/", b"", None)], "lies under the symbolic link 'l'"),
        # The other order: a link over a folder that members already lie in.
        ([("d/file.txt", b"x", None), ("d", b"elsewhere", LINK)], "has the name of a folder"),
        ([("d/", b"", None), ("d", b"elsewhere", LINK)], "has the name of a folder"),
    ],
)
async def test_no_member_goes_through_a_link(
    members: list[tuple[str, bytes, int | None]], message: str
) -> None:
    files = [ZipStreamFile(name, data, mode=mode) for name, data, mode in members]
    with pytest.raises(ValueError, match=message):
        create_zip_stream_resource(files)
    with pytest.raises(ValueError, match=message):
        stream_zip(files)

    async def lazily() -> Any:  # read member by member: refused when the member comes
        for file in [ZipStreamFile(name, data, mode=mode) for name, data, mode in members]:
            yield file

    with pytest.raises(ValueError, match=message):
        await collect(stream_zip(lazily()))


def test_links_beside_members_are_fine() -> None:
    files = [
        ZipStreamFile("lib/tool", b"t"),
        ZipStreamFile("lib/link", b"tool", mode=LINK),
        ZipStreamFile("lib-other/x", b"x"),  # shares a prefix of characters, not of folders
        ZipStreamFile("lib/linked", b"x"),
    ]
    assert create_zip_stream_resource(files).names == (
        "lib/tool",
        "lib/link",
        "lib-other/x",
        "lib/linked",
    )
