"""Zip member names: validation, the default deduplicator, custom ones (the seed's examples)."""

from __future__ import annotations

import io
import random
import zipfile
from collections.abc import Generator, Iterator
from datetime import datetime, timezone
from itertools import count, product
from re import compile as re_compile
from typing import Any

import pytest

from httpx_streaming import (
    ZipStreamFile,
    create_zip_stream_resource,
    name_deduplicator_default,
    stream_zip,
)
from httpx_streaming._zip_names import _checked_name, deduplicate_all, validate_name

MOMENT = datetime(2024, 5, 17, 12, 0, tzinfo=timezone.utc)


def dedup(names: list[str], deduplicator: Any = name_deduplicator_default) -> list[str]:
    return deduplicate_all(deduplicator, names)


# --- validation --------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["a", "a/b/c.txt", "dir/", "ü/π.txt", "a..b", "...", ".hidden", "x" * 65535]
)
def test_valid_names(name: str) -> None:
    assert validate_name(name) == name
    ZipStreamFile(name)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "empty"),
        ("/etc/passwd", "absolute"),
        ("C:/x", "absolute"),
        ("../x", "'..'"),
        ("a/../../x", "'..'"),
        ("a/..", "'..'"),
        ("a\\b", "backslash"),
        ("a\x00b", "a NUL"),
        ("line\nbreak.txt", "control character '\\\\n'"),
        ("bell\x07", "control character"),
        ("del\x7f", "control character"),
        ("a//b.txt", "empty or '.' segment"),
        ("./c.txt", "empty or '.' segment"),
        ("d/./e.txt", "empty or '.' segment"),
        ("f/.", "empty or '.' segment"),
        (".", "empty or '.' segment"),
        ("g//", "empty or '.' segment"),
        ("x" * 65536, "65536 bytes"),
        ("é" * 40000, "80000 bytes"),
        ("\udcff", "UTF-8"),
    ],
)
def test_invalid_names(name: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_name(name)
    with pytest.raises(ValueError, match=message):
        ZipStreamFile(name, b"x")


def outcome(check: Any, name: str) -> str:
    try:
        return f"accepted {check(name)!r}"
    except ValueError as error:
        return f"refused: {error}"


def test_quick_path_agrees_with_the_full_checks() -> None:
    # validate_name lets common names through with a few substring checks and
    # sends the rest to the full checks: every name up to five characters long,
    # made of the characters that matter (separators, dots, a drive letter's
    # colon, a backslash, a control character, non-ASCII), gets the same answer
    # (or the same error) either way.
    alphabet = ["a", "C", ".", "/", ":", "\\", "\x00", "é", " "]
    tried = 0
    for length in range(1, 6):
        for letters in product(alphabet, repeat=length):
            name = "".join(letters)
            assert outcome(validate_name, name) == outcome(_checked_name, name), name
            tried += 1
    assert tried == sum(len(alphabet) ** length for length in range(1, 6))


@pytest.mark.parametrize("name", [None, b"a.txt", 3, ["a"]])
def test_non_str_names(name: object) -> None:
    with pytest.raises(TypeError, match="must be a str"):
        ZipStreamFile(name, b"x")  # type: ignore[arg-type]


# --- the default deduplicator ------------------------------------------------------


def test_default_deduplication() -> None:
    assert dedup(["a.txt", "a.txt", "a.txt"]) == ["a.txt", "a (1).txt", "a (2).txt"]
    assert dedup(["b", "b", "c"]) == ["b", "b (1)", "c"]
    assert dedup(["d/x.tar.gz", "d/x.tar.gz"]) == ["d/x.tar.gz", "d/x (1).tar.gz"]
    assert dedup([".bashrc", ".bashrc"]) == [".bashrc", ".bashrc (1)"]
    assert dedup(["v1.2/a", "v1.2/a"]) == ["v1.2/a", "v1.2/a (1)"]
    assert dedup(["dir/", "dir/"]) == ["dir/", "dir (1)/"]


def test_names_carrying_an_index_are_respected() -> None:
    assert dedup(["a (1).txt", "a.txt", "a.txt"]) == ["a (1).txt", "a.txt", "a (2).txt"]
    assert dedup(["a.txt", "a.txt", "a (1).txt"]) == ["a.txt", "a (1).txt", "a (2).txt"]
    assert dedup(["a (5).txt", "a (5).txt"]) == ["a (5).txt", "a (6).txt"]
    assert dedup(["a (1).txt", "a (1).txt", "a.txt", "a.txt"]) == [
        "a (1).txt",
        "a (2).txt",
        "a.txt",
        "a (3).txt",
    ]


def test_deduplication_is_case_sensitive() -> None:
    assert dedup(["A.txt", "a.txt"]) == ["A.txt", "a.txt"]


def test_adversarial_sequences_never_collide() -> None:
    generator = random.Random(4)
    stems = ["a", "a (1)", "a (2)", "a (1) (1)", "a (10)", "b", "a.b", "a (1).b"]
    for _ in range(300):
        names = [generator.choice(stems) + generator.choice(["", ".txt"]) for _ in range(40)]
        result = dedup(names)
        assert len(set(result)) == len(result), (names, result)
        # A name not used yet is kept as given.
        outputs: set[str] = set()
        for given, used in zip(names, result, strict=True):
            if given not in outputs:
                assert used == given
            outputs.add(used)


def test_many_repeats_stay_fast() -> None:
    result = dedup(["same.txt"] * 20000)
    assert result[-1] == "same (19999).txt"
    assert len(set(result)) == 20000


def test_none_disables_deduplication() -> None:
    assert dedup(["a", "a"], None) == ["a", "a"]


def test_custom_pattern_two_groups_and_bad_reconstructor() -> None:
    pattern = re_compile(r"(.*?)(?:\.(.*))?")

    def reconstructor(path: str, index: int, extension: str | None) -> str:
        return f"{path}-{index}" + (f".{extension}" if extension else "")

    assert dedup(["a.txt", "a.txt"], name_deduplicator_default(pattern, reconstructor)) == [
        "a.txt",
        "a-1.txt",
    ]
    with pytest.raises(ValueError, match="already in use"):
        dedup(["a", "a"], name_deduplicator_default(pattern, lambda path, index, ext: "a"))
    with pytest.raises(TypeError, match="regex_pattern"):
        name_deduplicator_default("(.*)")  # type: ignore[arg-type]


def test_deduplicator_answers_are_validated() -> None:
    def evil() -> Iterator[str]:
        name = yield ""
        while True:
            name = yield "../" + name

    with pytest.raises(ValueError, match=r"'\.\.'"):
        dedup(["a"], evil())

    def finite() -> Iterator[str]:
        yield ""
        yield "only-one"

    with pytest.raises(ValueError, match="stopped"):
        dedup(["a", "b"], finite())
    with pytest.raises(TypeError, match="name_deduplicator"):
        stream_zip([], name_deduplicator=42)


# --- the seed's examples, verbatim apart from imports -------------------------------


def zip_names(archive: bytes) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(archive)) as archive_file:
        assert archive_file.testzip() is None
        return archive_file.namelist()


def seed_files() -> list[ZipStreamFile]:
    return [
        ZipStreamFile(name, name.encode(), modified_at=MOMENT)
        for name in ["sister.txt", "love.txt", "sister.txt", "dir/a.tar.gz", "dir/a.tar.gz"]
    ]


def seed_tilde_example(files: list[ZipStreamFile]) -> Any:
    # fmt: off
    from httpx_streaming import name_deduplicator_default

    NAME_REGEX = re_compile('((?:.*/)?.*?)(?:~(\\d+))?(?:\\.(.*?))?')

    def name_reconstructor(path, index, extension):
        name_parts = [path]

        if index:
            name_parts.append('~')
            name_parts.append(str(index))

        if (extension is not None):
            name_parts.append('.')
            name_parts.append(extension)

        return ''.join(name_parts)


    zip_stream = create_zip_stream_resource(
        files,
        name_deduplicator = name_deduplicator_default(NAME_REGEX, name_reconstructor),
    )
    # fmt: on
    return zip_stream


def seed_postfixed_example(files: list[ZipStreamFile]) -> Any:
    # fmt: off
    NAME_REGEX = re_compile('((?:.*/)?.*?)(?:\\.(.*?))?')


    def name_reconstructor(path, index, extension):
        name_parts = [path, '_', str(index).rjust(4, '0')]

        if (extension is not None):
            name_parts.append('.')
            name_parts.append(extension)

        return ''.join(name_parts)


    def name_deduplicator_postfixed():
        name = yield

        for index in count():
            match = NAME_REGEX.fullmatch(name)
            if match is None:
                path = name
                extension = None
            else:
                path, extension = match.groups()

            name = yield name_reconstructor(path, index, extension)


    zip_stream = create_zip_stream_resource(
        files,
        name_deduplicator = name_deduplicator_postfixed(),
    )
    # fmt: on
    return zip_stream


async def collect(stream: Any) -> bytes:
    return b"".join([bytes(chunk) async for chunk in stream])


async def test_seed_tilde_example() -> None:
    zip_stream = seed_tilde_example(seed_files())
    first = await collect(zip_stream)
    assert zip_names(first) == [
        "sister.txt",
        "love.txt",
        "sister~1.txt",
        "dir/a.tar.gz",
        "dir/a~1.tar.gz",
    ]
    assert await collect(zip_stream) == first  # the generator was not used up


async def test_seed_postfixed_example() -> None:
    zip_stream = seed_postfixed_example(seed_files())
    first = await collect(zip_stream)
    assert zip_names(first) == [
        "sister_0000.txt",
        "love_0001.txt",
        "sister_0002.txt",
        "dir/a_0003.tar.gz",
        "dir/a_0004.tar.gz",
    ]
    assert await collect(zip_stream) == first
    assert await collect(zip_stream) == first


async def test_seed_none_example() -> None:
    files = seed_files()
    zip_stream = create_zip_stream_resource(files, name_deduplicator = None)  # fmt: skip
    assert zip_names(await collect(zip_stream)).count("sister.txt") == 2


async def test_deduplicator_function_and_lazy_files() -> None:
    # A generator *function* is called afresh; lazily given files are
    # deduplicated as they come.
    def files() -> Iterator[ZipStreamFile]:
        yield from seed_files()

    archive = await collect(stream_zip(files(), name_deduplicator=name_deduplicator_default))
    assert zip_names(archive)[2] == "sister (1).txt"


def test_a_deduplicator_may_not_turn_folders_into_files_or_back() -> None:
    def slash_flipper() -> Generator[str | None, str, None]:
        name = yield None
        while True:
            name = yield (name.rstrip("/") if name.endswith("/") else name + "/")

    with pytest.raises(ValueError, match=r"renamed the folder 'dir/' to 'dir'"):
        create_zip_stream_resource([ZipStreamFile("dir/")], name_deduplicator=slash_flipper)
    with pytest.raises(ValueError, match=r"renamed the file 'a.txt' to 'a.txt/'"):
        create_zip_stream_resource([ZipStreamFile("a.txt", b"hi")], name_deduplicator=slash_flipper)


async def test_a_deduplicator_generator_serves_one_archive_only() -> None:
    async def names_in(resource: Any) -> list[str]:
        archive = b"".join([bytes(chunk) async for chunk in resource])
        return zipfile.ZipFile(io.BytesIO(archive)).namelist()

    shared = name_deduplicator_default()
    first = create_zip_stream_resource(
        [ZipStreamFile("a.txt", b"1"), ZipStreamFile("a.txt", b"2")], name_deduplicator=shared
    )
    assert await names_in(first) == ["a.txt", "a (1).txt"]
    with pytest.raises(ValueError, match="was already used for another archive"):
        create_zip_stream_resource([ZipStreamFile("a.txt", b"3")], name_deduplicator=shared)
    # A function gives every archive a fresh generator: no stale "a (2).txt".
    again = create_zip_stream_resource(
        [ZipStreamFile("a.txt", b"3")], name_deduplicator=name_deduplicator_default
    )
    assert await names_in(again) == ["a.txt"]
