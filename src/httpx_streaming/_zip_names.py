"""Zip member names: validation and deduplication (sans-IO, synchronous).

A name deduplicator follows the generator *send protocol*: it is primed with
``next()``, then every ``send(name)`` returns the name to use for that member.
[name_deduplicator_default][httpx_streaming.name_deduplicator_default] builds
the default one, which renames repeats as ``path (index).extension``.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Generator, Iterable
from typing import Any

from ._validation import describe, utf8_bytes

NameDeduplicator = Generator[str, str, Any]

MAX_NAME_BYTES = 0xFFFF

# `path (index).extension`: the index is optional, the extension starts at the
# first dot of the last path segment that is not its first character, so
# `a.tar.gz` repeats as `a (1).tar.gz` and `.bashrc` as `.bashrc (1)`.
DEFAULT_NAME_REGEX = re.compile(r"((?:.*/)?[^/]+?)(?: \((\d+)\))?(?:\.([^/]*))?")

_DRIVE = re.compile(r"[A-Za-z]:")


def default_name_reconstructor(path: str, index: int, extension: str | None) -> str:
    """Build ``path (index).extension`` (``path.extension`` for index 0)."""
    parts = [path]
    if index:
        parts.append(f" ({index})")
    if extension is not None:
        parts.append(".")
        parts.append(extension)
    return "".join(parts)


# C0 controls and DEL: a newline or escape in a name fools listings and terminals.
_CONTROL = re.compile("[\x00-\x1f\x7f]")


def validate_name(name: object) -> str:
    """Return *name* if it is a safe zip member name, else raise.

    Most names are short, printable ASCII, relative and clean: they are let
    through by a handful of substring checks (a tenth of a member's cost in an
    archive of small ones). Every other name gets the full checks, which say
    what is wrong with it.

    Raises:
        TypeError: The name is not a ``str``.
        ValueError: The name is empty, longer than 65,535 bytes in UTF-8,
            absolute (``/x``, ``C:x``), contains a ``..``, ``.`` or empty
            segment, a backslash or a control character (NUL, newline, ...),
            or cannot be encoded in UTF-8.
    """
    if (
        type(name) is str
        and name.isascii()
        and name.isprintable()  # in ASCII: no control character
        and 0 < len(name) <= MAX_NAME_BYTES  # in ASCII: one byte per character
        and "\\" not in name
        and name[1:2] != ":"  # drive letters are told apart below
    ):
        # Segments between slashes, the last one's trailing slash (a folder's
        # mark) left out: a leading slash, an empty, '.' or '..' segment shows
        # as one of these once the path is wrapped in slashes.
        wrapped = "/" + (name[:-1] if name[-1] == "/" else name) + "/"
        if "//" not in wrapped and "/./" not in wrapped and "/../" not in wrapped:
            return name
    return _checked_name(name)


def _checked_name(name: object) -> str:
    """``validate_name`` for every name: each unsafe name raises with its reason."""
    if not isinstance(name, str):
        raise TypeError(f"a zip member name must be a str, got {describe(name)}")
    if not name:
        raise ValueError("a zip member name must not be empty")
    try:
        size = len(name.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise ValueError(f"zip member name {describe(name)} is not valid UTF-8: {exc}") from None
    if size > MAX_NAME_BYTES:
        raise ValueError(
            f"zip member name {describe(name)} is {size} bytes in UTF-8; "
            f"a zip holds at most {MAX_NAME_BYTES}"
        )
    if "\\" in name:
        raise ValueError(
            f"zip member name {describe(name)} contains a backslash; use '/' to separate folders"
        )
    # Control characters are never printable: the search runs only for the rare
    # name that is not.
    control = None if name.isprintable() else _CONTROL.search(name)
    if control is not None:
        character = (
            "a NUL" if control.group() == "\x00" else f"the control character {control.group()!r}"
        )
        raise ValueError(f"zip member name {describe(name)} contains {character}")
    if name.startswith("/") or (name[1:2] == ":" and _DRIVE.match(name)):
        raise ValueError(f"zip member name {describe(name)} is absolute; names must be relative")
    segments = name.split("/")
    if ".." in segments:
        raise ValueError(
            f"zip member name {describe(name)} contains a '..' segment, which would "
            "extract outside the target folder"
        )
    if name.endswith("/"):
        segments.pop()  # the mark of a directory
    if "" in segments or "." in segments:
        raise ValueError(
            f"zip member name {describe(name)} contains an empty or '.' segment; "
            "extractors would write it to another path than the name says"
        )
    return name


def check_link_target(name: str, target: object) -> bytes:
    """The target of the symbolic link called *name*, as the bytes its member holds,
    if it stays inside the archive's root; else raise.

    The target is judged from the link's own folder, as an extractor resolves
    it: it must be relative, and its leading ``..`` segments may climb at most
    to the root. ``..`` may only lead: after a name it would step back out of
    whatever that name is on disk, another link perhaps, which no check of one
    member can judge.

    Raises:
        TypeError: The target is not a ``str`` or bytes.
        ValueError: The target is empty, not UTF-8, absolute (``/x``, ``C:x``),
            contains a backslash or a control character, climbs above the root,
            or has a ``..`` segment after another one.
    """
    data = utf8_bytes(target, f"the target of symbolic link {name!r}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"the target of symbolic link {name!r}, {describe(data)}, is not valid UTF-8: {exc}"
        ) from None
    link = f"symbolic link {name!r}"
    if not text:
        raise ValueError(f"{link} has an empty target")
    if "\\" in text or _CONTROL.search(text):
        raise ValueError(f"{link} has the target {text!r}, with a backslash or a control character")
    if text.startswith("/") or (text[1:2] == ":" and _DRIVE.match(text)):
        raise ValueError(f"{link} has the absolute target {text!r}; targets must be relative")
    depth = name.count("/")  # the folders the link is in
    climbing = True
    for segment in text.split("/"):
        if segment == "..":
            if not climbing:
                raise ValueError(
                    f"{link} has the target {text!r}, with '..' after a name; write the "
                    "target without it (only leading '..' segments are allowed)"
                )
            depth -= 1
            if depth < 0:
                raise ValueError(
                    f"{link} has the target {text!r}, which leaves the archive's root "
                    "from the link's folder"
                )
        elif segment not in ("", "."):
            climbing = False
    return data


class LinkPaths:
    """The paths one archive's members take, so that none lies under a symbolic link.

    A link's target is judged from its folder as if every folder on its path
    were a real one. A member under an earlier link (``a/b`` a link, then
    ``a/b/c``) would be written through that link, wherever it points, and a
    link named like a folder that members lie in would redirect them: both are
    refused. Made fresh for every archive while its members are named; names
    compare as they are (case-sensitively).
    """

    __slots__ = ("_folders", "_links")

    def __init__(self) -> None:
        self._links: set[str] = set()
        self._folders: set[str] = set()

    def admit(self, name: str, is_link: bool) -> None:
        """Record the member called *name* (as the archive writes it); ValueError if it
        lies under a link, or is a link over members already admitted."""
        parts = name.rstrip("/").split("/")
        folder = ""
        for part in parts[:-1]:
            folder = f"{folder}/{part}" if folder else part
            if folder in self._links:
                raise ValueError(
                    f"zip member {name!r} lies under the symbolic link {folder!r}: "
                    "extracting it would write through the link, wherever it points"
                )
        path = "/".join(parts)
        if is_link and path in self._folders:
            raise ValueError(
                f"symbolic link {name!r} has the name of a folder that other members lie "
                "in: extracting them would write through the link"
            )
        self._folders.update("/".join(parts[:end]) for end in range(1, len(parts)))
        if is_link:
            self._links.add(path)
        elif name.endswith("/"):
            self._folders.add(path)


def name_deduplicator_default(
    regex_pattern: re.Pattern[str] = DEFAULT_NAME_REGEX,
    name_reconstructor: Callable[[str, int, str | None], str] = default_name_reconstructor,
) -> NameDeduplicator:
    """The default name deduplicator, optionally with another naming scheme.

    The first member with a name keeps it; a repeat is split with
    ``regex_pattern.fullmatch`` into ``(path, index, extension)`` (index and
    extension may be ``None``; a pattern with two groups gives
    ``(path, extension)``) and renamed to
    ``name_reconstructor(path, index, extension)`` with the smallest index above
    the one it carries that gives a name not used yet. Outputs never collide,
    also with adversarial inputs such as ``a (1).txt, a.txt, a.txt``.

    Names compare case-sensitively, as zip names do. A trailing ``/``
    (a directory) is taken off before matching and put back after.

    Args:
        regex_pattern: Compiled pattern whose ``fullmatch`` splits a name into
            ``(path, index, extension)``; the default matches
            ``path (index).extension``.
        name_reconstructor: ``(path, index, extension) -> name``; it must give
            a different name for every index.

    Returns:
        A primed-on-first-``next()`` generator: ``send(name)`` returns the name
        to use.
    """
    if not isinstance(regex_pattern, re.Pattern):
        raise TypeError(
            f"regex_pattern must be a compiled re.Pattern, got {describe(regex_pattern)}"
        )
    if not callable(name_reconstructor):
        raise TypeError(f"name_reconstructor must be callable, got {describe(name_reconstructor)}")
    return _deduplicate(regex_pattern, name_reconstructor)


def _deduplicate(
    pattern: re.Pattern[str], reconstructor: Callable[[str, int, str | None], str]
) -> NameDeduplicator:
    used: set[str] = set()
    # Next index to try per (path, extension, directory): keeps many repeats of
    # one name linear instead of quadratic.
    next_index: dict[tuple[str, str | None, bool], int] = {}
    name = yield ""
    while True:
        if name not in used:
            result = name
        else:
            result = _renamed(name, pattern, reconstructor, used, next_index)
        used.add(result)
        name = yield result


def _renamed(
    name: str,
    pattern: re.Pattern[str],
    reconstructor: Callable[[str, int, str | None], str],
    used: set[str],
    next_index: dict[tuple[str, str | None, bool], int],
) -> str:
    directory = name.endswith("/") and len(name) > 1
    stem = name[:-1] if directory else name
    path, index, extension = _split(stem, pattern)
    key = (path, extension, directory)
    candidate_index = max(index + 1, next_index.get(key, 1))
    # An injective reconstructor finds a free name within len(used) + 1 tries.
    for _ in range(len(used) + 2):
        candidate = reconstructor(path, candidate_index, extension)
        if not isinstance(candidate, str):
            raise TypeError(f"name_reconstructor returned {describe(candidate)}; expected a str")
        if directory:
            candidate += "/"
        if candidate not in used:
            next_index[key] = candidate_index + 1
            return candidate
        candidate_index += 1
    raise ValueError(
        f"name_reconstructor produced only names already in use for {name!r}; "
        "it must give a different name for every index"
    )


def _split(name: str, pattern: re.Pattern[str]) -> tuple[str, int, str | None]:
    match = pattern.fullmatch(name)
    if match is None:
        return name, 0, None
    groups = match.groups()
    if len(groups) >= 3:
        path, index, extension = groups[0], groups[1], groups[2]
    elif len(groups) == 2:
        path, index, extension = groups[0], None, groups[1]
    else:
        path, index, extension = (groups[0] if groups else name), None, None
    return path or "", int(index) if index else 0, extension


def check_deduplicator(value: object) -> None:
    """Raise TypeError unless *value* is ``None``, a send-protocol generator or a factory."""
    if value is None or is_generator_like(value) or callable(value):
        return
    raise TypeError(
        "name_deduplicator must be None, a generator following the send protocol "
        f"(primed with next(), then send(name)) or a function returning one; got {describe(value)}"
    )


def is_generator_like(value: object) -> bool:
    return callable(getattr(value, "send", None)) and callable(getattr(value, "__next__", None))


def start_deduplicator(value: object) -> NameDeduplicator | None:
    """Prime a deduplicator given as a generator or as a function returning one."""
    if value is None:
        return None
    generator: Any = value if is_generator_like(value) else value()  # type: ignore[operator]
    if not is_generator_like(generator):
        raise TypeError(
            f"name_deduplicator function returned {describe(generator)}; expected a generator"
        )
    if inspect.isgenerator(generator) and (
        inspect.getgeneratorstate(generator) != inspect.GEN_CREATED
    ):
        # It remembers the names of the archive it served, so it would rename
        # names of this one that are not duplicates.
        raise ValueError(
            f"name_deduplicator {describe(generator)} was already used for another archive; "
            "pass a function that returns a fresh generator (for example "
            "name_deduplicator_default, or functools.partial of your generator function)"
        )
    next(generator)
    return generator  # type: ignore[no-any-return]


def deduplicated(deduplicator: NameDeduplicator | None, name: str) -> str:
    """Ask *deduplicator* for the name to use, and validate what it answers."""
    if deduplicator is None:
        return name
    try:
        result = deduplicator.send(name)
    except StopIteration:
        raise ValueError(
            f"name_deduplicator stopped before naming {name!r}; it must keep answering"
        ) from None
    if result is name:  # the usual answer; *name* was checked when its member was made
        return name
    try:
        validate_name(result)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"name_deduplicator answered for {name!r}: {exc}") from None
    if result.endswith("/") != name.endswith("/"):
        # A folder renamed into a file (or the reverse) loses data on extraction.
        kind = "folder" if name.endswith("/") else "file"
        raise ValueError(
            f"name_deduplicator renamed the {kind} {name!r} to {result!r}, which is not a "
            f"{kind} name; keep the trailing '/' of folders and only of folders"
        )
    return result


def deduplicate_all(value: object, names: Iterable[str]) -> list[str]:
    """The final names for *names*, using a fresh start of *value*."""
    deduplicator = start_deduplicator(value)
    return [deduplicated(deduplicator, name) for name in names]
