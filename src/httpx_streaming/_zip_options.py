"""Validation of zip member options and their time fields, sans-IO.

Everything a user can get wrong about a member is checked here when the
member is made, so a bad member fails at once, not halfway through an upload.
"""

from __future__ import annotations

import functools
import math
import stat
import time
from datetime import datetime
from typing import Final, NamedTuple

from ._validation import check_int, describe, utf8_bytes
from ._zip_aes import check_password
from ._zip_deflate import DEFAULT_COMPRESSION_LEVEL
from ._zip_encoder import MAX_HOLD_BACK_SIZE
from ._zip_records import (
    COMPRESSION_METHOD_DEFLATE,
    COMPRESSION_METHOD_NONE,
    END_SIGNATURES,
    MAX_COMMENT_BYTES,
    dos_date_time,
)

_SUPPORTED_METHODS = (COMPRESSION_METHOD_NONE, COMPRESSION_METHOD_DEFLATE)
_UNSUPPORTED_METHODS = {12: "bzip2", 14: "lzma", 93: "zstandard", 95: "xz", 98: "ppmd"}

TimeFields = tuple[int, int, int | None]
"""DOS date, DOS time and Unix time (``None`` when it has none) of a member."""


def check_method(method: object) -> int:
    """A supported compression method: ``COMPRESSION_METHOD_NONE`` or ``..._DEFLATE``."""
    if type(method) is int and method in _SUPPORTED_METHODS:
        return method
    method = check_int(method, "compression_method")
    if method in _SUPPORTED_METHODS:
        return method
    if method in _UNSUPPORTED_METHODS:
        raise ValueError(
            f"compression method {method} ({_UNSUPPORTED_METHODS[method]}) is not supported; "
            "use COMPRESSION_METHOD_NONE (0) or COMPRESSION_METHOD_DEFLATE (8)"
        )
    raise ValueError(
        f"unknown compression method {method}; use COMPRESSION_METHOD_NONE (0) or "
        "COMPRESSION_METHOD_DEFLATE (8)"
    )


def check_level(level: object) -> int:
    """A deflate level 0-9; ``None`` means the default."""
    if level is None:
        return DEFAULT_COMPRESSION_LEVEL
    return check_int(level, "compression_level", minimum=0, maximum=9)


_FILE_DEFAULT: Final = (0o644, False)
_FOLDER_DEFAULT: Final = (0o755, False)


def check_mode(mode: object, is_dir: bool) -> tuple[int, bool]:
    """Unix permission bits, and whether *mode* makes the member a symbolic link.

    A full ``st_mode`` of the right file type is accepted too: a folder's for
    folders, a regular file's or a symbolic link's (``stat.S_IFLNK``) for the
    others. A link given no permission bits gets ``0o777``, as links have.
    """
    if mode is None:
        return _FOLDER_DEFAULT if is_dir else _FILE_DEFAULT
    mode = check_int(mode, "mode")
    kind = stat.S_IFMT(mode) if 0 <= mode <= 0o177777 else -1
    allowed = (0, stat.S_IFDIR) if is_dir else (0, stat.S_IFREG, stat.S_IFLNK)
    if kind not in allowed or mode & ~(0o7777 | kind):
        what = "folder" if is_dir else "regular file or a symbolic link (stat.S_IFLNK)"
        raise ValueError(f"mode {mode:#o} is not the permission bits of a {what}")
    if kind == stat.S_IFLNK:
        return stat.S_IMODE(mode) or 0o777, True
    return stat.S_IMODE(mode), False


def check_size(size: object, declared: int | None) -> int | None:
    """A size given for a member whose source declares *declared* (or nothing)."""
    if size is None:
        return declared
    size = check_int(size, "size", minimum=0)
    if declared is not None and declared != size:
        raise ValueError(f"size={size} but the stream declares {declared} bytes")
    return size


def check_crc(crc: object) -> int | None:
    """A CRC-32 given in advance: an unsigned 32-bit int, or ``None``."""
    if crc is None:
        return None
    return check_int(crc, "crc32", minimum=0, maximum=0xFFFFFFFF)


def check_hold_back(size: object) -> int:
    """The hold-back buffer size of an archive."""
    return check_int(size, "hold_back_size", minimum=0, maximum=MAX_HOLD_BACK_SIZE)


def check_look_ahead(size: object) -> int:
    """The look-ahead size of an archive: bytes of members compressed ahead of their turn."""
    return check_int(size, "look_ahead_size", minimum=0, maximum=MAX_HOLD_BACK_SIZE)


def check_flag(value: object, what: str) -> bool:
    """*value* if it is a ``bool`` (not merely truthy: ``0`` or ``"no"`` are refused)."""
    if not isinstance(value, bool):
        raise TypeError(f"{what} must be True or False, got {describe(value)}")
    return value


def check_comment(comment: object) -> bytes:
    """An archive comment as the bytes the archive holds: ``bytes`` as given, a ``str``
    in UTF-8; at most 65,535 bytes, and no end record's signature inside."""
    encoded = utf8_bytes(comment, "comment")
    if len(encoded) > MAX_COMMENT_BYTES:
        raise ValueError(
            f"comment is {len(encoded)} bytes; a zip comment holds at most {MAX_COMMENT_BYTES}"
        )
    # The comment's two length bytes come right before it: a signature may begin there.
    with_length = len(encoded).to_bytes(2, "little") + encoded
    for signature, record in END_SIGNATURES.items():
        if signature in with_length:
            raise ValueError(
                f"comment {describe(comment)} of {len(encoded)} bytes makes the signature of "
                f"the {record} record ({signature!r}) appear after the real one (in the "
                "comment or across its length field), and readers would take it for the end "
                "of the archive"
            )
    return encoded


class ArchiveOptions(NamedTuple):
    """What an archive was given for all its members, checked: made by ``archive_options``."""

    hold_back_size: int
    look_ahead_size: int
    comment: bytes
    extended_timestamps: bool
    password: bytes | None  # for every regular file that does not say otherwise

    def __repr__(self) -> str:
        # Shown by tracebacks with locals: the password stays out of them.
        shown = self._replace(password=None if self.password is None else b"<secret>")
        return "ArchiveOptions" + repr(tuple(shown))


def archive_options(
    hold_back_size: object,
    look_ahead_size: object,
    comment: object,
    extended_timestamps: object,
    password: object,
) -> ArchiveOptions:
    """Check the options of ``stream_zip`` and ``create_zip_stream_resource``, all at once."""
    return ArchiveOptions(
        check_hold_back(hold_back_size),
        check_look_ahead(look_ahead_size),
        check_comment(comment),
        check_flag(extended_timestamps, "extended_timestamps"),
        None if password is None else check_password(password),
    )


def check_time(value: object) -> datetime:
    """A modification time: a datetime, or a Unix timestamp made an aware datetime."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value).astimezone()
        except (OverflowError, OSError, ValueError) as exc:
            raise ValueError(
                f"modified_at {describe(value)} is not a usable timestamp: {exc}"
            ) from None
    raise TypeError(
        f"modified_at must be a datetime, a Unix timestamp or None, got {describe(value)}"
    )


_last_now: tuple[int, datetime, TimeFields] | None = None


def now() -> tuple[datetime, TimeFields]:
    """The current local time to the second (zip times hold no more), cached per second."""
    global _last_now
    seconds = int(time.time())
    if _last_now is None or seconds != _last_now[0]:
        moment = datetime.fromtimestamp(seconds).astimezone()
        _last_now = (seconds, moment, time_fields(moment))
    return _last_now[1], _last_now[2]


_last_time: tuple[datetime, TimeFields] | None = None


def time_fields(moment: datetime) -> TimeFields:
    """DOS date, DOS time and Unix time of *moment* (members made together share them)."""
    global _last_time
    # Members made together usually share one datetime object: a datetime is
    # immutable, so the same object has the same fields, found without hashing.
    last = _last_time
    if last is not None and last[0] is moment:
        return last[1]
    # Aware datetimes of one instant in two zones compare equal but have other
    # wall-clock times: the cache key must tell them apart.
    fields = _cached_time_fields(moment.replace(tzinfo=None), moment.utcoffset(), moment)
    _last_time = (moment, fields)
    return fields


@functools.lru_cache(maxsize=64)
def _cached_time_fields(wall: datetime, offset: object, moment: datetime) -> TimeFields:
    try:
        unix_time: int | None = math.floor(moment.timestamp())
    except (OverflowError, OSError, ValueError):
        unix_time = None
    return (*dos_date_time(moment), unix_time)
