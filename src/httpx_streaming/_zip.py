"""Streaming ZIP archives: ``ZipStreamFile``, ``stream_zip``, ``create_zip_stream_resource``.

The format work is done by the sans-IO ``ZipEncoder`` (``_zip_format``); this
module validates what users pass and moves chunks between the sources and the
encoder.
"""

from __future__ import annotations

import functools
import math
import stat
import time
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Iterable, Sequence
from datetime import datetime

import anyio

from ._resource import BytesLike, ResourceStream, check_chunk, describe
from ._sources import (
    BytesSource,
    OneShotSource,
    SourceConsumedError,
    SyncFileSource,
    as_byte_source,
    is_reusable,
    source_length,
)
from ._zip_format import (
    COMPRESSION_METHOD_DEFLATE,
    COMPRESSION_METHOD_NONE,
    DEFAULT_COMPRESSION_LEVEL,
    DEFAULT_HOLD_BACK_SIZE,
    MAX_HOLD_BACK_SIZE,
    Entry,
    MemberOptions,
    ZipEncoder,
    archive_length,
    dos_date_time,
    extended_timestamp,
    external_attributes,
)
from ._zip_format import (
    crc32 as compute_crc32,
)
from ._zip_names import (
    check_deduplicator,
    deduplicate_all,
    deduplicated,
    name_deduplicator_default,
    start_deduplicator,
    validate_name,
)

__all__ = [
    "COMPRESSION_METHOD_DEFLATE",
    "COMPRESSION_METHOD_NONE",
    "ZipStreamFile",
    "ZipStreamResource",
    "create_zip_stream_resource",
    "stream_zip",
]

_UNSUPPORTED_METHODS = {12: "bzip2", 14: "lzma", 93: "zstandard", 95: "xz", 98: "ppmd"}


class ZipStreamFile:
    """One member of a streamed zip archive.

    Everything is checked here, so a bad member fails when it is made, not
    halfway through an upload.

    Args:
        name: The member's path inside the archive, ``/``-separated; a name
            ending in ``/`` is a folder. Must be relative, without ``..``
            segments or backslashes, at most 65,535 bytes in UTF-8.
        stream: The member's data: anything
            [as_byte_source][httpx_streaming.as_byte_source] accepts (bytes,
            ``pathlib.Path``, a stream resource, an async iterable of bytes, a
            file object). Folders take no data (the default, ``b""``).
        compression_method: ``COMPRESSION_METHOD_NONE`` (stored, the default)
            or ``COMPRESSION_METHOD_DEFLATE``. Deflated members whose data does
            not shrink are stored or written as stored deflate blocks, see
            the user guide.
        modified_at: The modification time: an aware or naive (local time)
            ``datetime``, or a Unix timestamp. Defaults to the time this object
            was made, so every pass of an archive is byte-identical. Times
            outside 1980…2107 are clamped in the DOS fields.
        compression_level: zlib level 0–9 for deflate (default 6). Levels 1–3
            use python-isal when it is installed.
        mode: Unix permission bits (default ``0o644``, folders ``0o755``); a
            full ``st_mode`` of a regular file (a folder for folders) is
            accepted too.
        size: The data's length, when the source does not declare it; lets a
            stored member's size go into its local header and the archive's
            ``Content-Length`` be known.
        crc32: The data's CRC-32, when known in advance: a stored member with
            known size and CRC is readable by streaming readers however long it
            is. It is checked against the data as it passes.

    Attributes:
        name: The name as given (the archive may write a deduplicated one).
        is_dir: Whether the member is a folder (its name ends in ``/``).
        source: The byte source made from ``stream``.
        size: The data's length when known in advance, else ``None``.
        modified_at: The modification time (the default: now, to the second).
        compression_method: ``0`` (stored) or ``8`` (deflate).
        compression_level: The deflate level.
        mode: The Unix permission bits.
        crc32: The CRC-32 given in advance, or ``None``.
    """

    __slots__ = (
        "_one_shot",
        "_options",
        "_times",
        "compression_level",
        "compression_method",
        "crc32",
        "is_dir",
        "mode",
        "modified_at",
        "name",
        "size",
        "source",
    )

    def __init__(
        self,
        name: str,
        stream: object = b"",
        *,
        compression_method: int = COMPRESSION_METHOD_NONE,
        modified_at: datetime | float | None = None,
        compression_level: int | None = None,
        mode: int | None = None,
        size: int | None = None,
        crc32: int | None = None,
    ) -> None:
        self.name: str = validate_name(name)
        self.is_dir: bool = name.endswith("/")
        self.source: ResourceStream | BytesSource | OneShotSource | SyncFileSource
        declared: int | None
        if type(stream) is bytes:  # the common case, made cheap for many small members
            self.source, declared, reusable = BytesSource(stream), len(stream), True
        else:
            self.source = as_byte_source(stream)
            declared, reusable = source_length(self.source), is_reusable(self.source)
        # What was given, when it can be read once: two members must not share it.
        self._one_shot: object = None if reusable else stream
        self.compression_method: int = _check_method(compression_method)
        self.compression_level: int = _check_level(compression_level)
        if modified_at is None:
            self.modified_at, self._times = _now()
        else:
            self.modified_at = _check_time(modified_at)
            self._times = _time_fields(self.modified_at)
        self.mode: int = _check_mode(mode, self.is_dir)
        self.size: int | None = declared if size is None else _check_size(size, declared)
        self.crc32: int | None = None if crc32 is None else _check_crc(crc32)
        if self.is_dir and self.size != 0:
            raise ValueError(
                f"folder {name!r} cannot have data; got {describe(stream)} (pass no stream, or b'')"
            )
        source = self.source
        if type(source) is BytesSource and self.compression_method == COMPRESSION_METHOD_NONE:
            # All the data is here, so its CRC goes into the local header and
            # streaming readers read the member whatever its size.
            actual = compute_crc32(source.data)
            if self.crc32 is not None and self.crc32 != actual:
                raise ValueError(
                    f"crc32 {self.crc32:#010x} given for {name!r} does not match its data "
                    f"({actual:#010x})"
                )
            self.crc32 = actual
        self._options: tuple[str, MemberOptions] | None = None

    def _encoder_options(self, name: str | None = None) -> MemberOptions:
        """The encoder's view of this member, under *name* (after deduplication)."""
        name = self.name if name is None else name
        cached = self._options
        if cached is not None and cached[0] == name:
            return cached[1]
        dos_date, dos_time, unix_time = self._times
        is_dir = self.is_dir
        # Entry.make's fields, made directly: this runs once per member.
        entry = Entry(
            name.encode("utf-8"),
            is_dir,
            dos_date,
            dos_time,
            extended_timestamp(unix_time),
            external_attributes(self.mode, is_dir),
        )
        method = COMPRESSION_METHOD_NONE if is_dir else self.compression_method
        options = MemberOptions(entry, method, self.compression_level, self.crc32)
        self._options = (name, options)
        return options

    def __repr__(self) -> str:
        method = "deflate" if self.compression_method == COMPRESSION_METHOD_DEFLATE else "stored"
        return f"<ZipStreamFile {self.name!r} {method} {self.source!r}>"


def _check_method(method: object) -> int:
    if type(method) is int and method in (COMPRESSION_METHOD_NONE, COMPRESSION_METHOD_DEFLATE):
        return method
    if isinstance(method, bool) or not isinstance(method, int):
        raise TypeError(f"compression_method must be an int, got {describe(method)}")
    if method in (COMPRESSION_METHOD_NONE, COMPRESSION_METHOD_DEFLATE):
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


def _check_level(level: object) -> int:
    if level is None:
        return DEFAULT_COMPRESSION_LEVEL
    if isinstance(level, bool) or not isinstance(level, int):
        raise TypeError(f"compression_level must be an int or None, got {describe(level)}")
    if not 0 <= level <= 9:
        raise ValueError(f"compression_level must be 0 to 9, got {level}")
    return level


def _check_time(value: object) -> datetime:
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


_TimeFields = tuple[int, int, int | None]
_last_now: tuple[int, datetime, _TimeFields] | None = None


def _now() -> tuple[datetime, _TimeFields]:
    """The current local time to the second (zip times hold no more), cached per second."""
    global _last_now
    seconds = int(time.time())
    if _last_now is None or seconds != _last_now[0]:
        moment = datetime.fromtimestamp(seconds).astimezone()
        _last_now = (seconds, moment, _time_fields(moment))
    return _last_now[1], _last_now[2]


_last_time: tuple[datetime, _TimeFields] | None = None


def _time_fields(moment: datetime) -> _TimeFields:
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
def _cached_time_fields(wall: datetime, offset: object, moment: datetime) -> _TimeFields:
    try:
        unix_time: int | None = math.floor(moment.timestamp())
    except (OverflowError, OSError, ValueError):
        unix_time = None
    return (*dos_date_time(moment), unix_time)


def _check_mode(mode: object, is_dir: bool) -> int:
    if mode is None:
        return 0o755 if is_dir else 0o644
    if isinstance(mode, bool) or not isinstance(mode, int):
        raise TypeError(f"mode must be an int such as 0o644, got {describe(mode)}")
    kind = stat.S_IFMT(mode) if 0 <= mode <= 0o177777 else -1
    expected = stat.S_IFDIR if is_dir else stat.S_IFREG
    if kind not in (0, expected) or mode & ~(0o7777 | kind):
        what = "folder" if is_dir else "regular file"
        raise ValueError(f"mode {mode:#o} is not the permission bits of a {what}")
    return stat.S_IMODE(mode)


def _check_size(size: object, declared: int | None) -> int | None:
    if size is None:
        return declared
    if isinstance(size, bool) or not isinstance(size, int):
        raise TypeError(f"size must be an int or None, got {describe(size)}")
    if size < 0:
        raise ValueError(f"size must not be negative, got {size}")
    if declared is not None and declared != size:
        raise ValueError(f"size={size} but the stream declares {declared} bytes")
    return size


def _check_crc(crc: object) -> int | None:
    if crc is None:
        return None
    if isinstance(crc, bool) or not isinstance(crc, int):
        raise TypeError(f"crc32 must be an int or None, got {describe(crc)}")
    if not 0 <= crc <= 0xFFFFFFFF:
        raise ValueError(f"crc32 must be an unsigned 32-bit value, got {crc}")
    return crc


def _check_hold_back(size: object) -> int:
    if isinstance(size, bool) or not isinstance(size, int):
        raise TypeError(f"hold_back_size must be an int, got {describe(size)}")
    if not 0 <= size <= MAX_HOLD_BACK_SIZE:
        raise ValueError(f"hold_back_size must be 0 to {MAX_HOLD_BACK_SIZE}, got {size}")
    return size


def _check_member(value: object) -> ZipStreamFile:
    if not isinstance(value, ZipStreamFile):
        raise TypeError(f"zip members must be ZipStreamFile objects, got {describe(value)}")
    return value


def _named(
    files: Sequence[object], name_deduplicator: object
) -> tuple[tuple[ZipStreamFile, str], ...]:
    members = [_check_member(value) for value in files]
    one_shot: dict[int, str] = {}
    for member in members:
        given = member._one_shot
        if given is None:
            continue
        other = one_shot.get(id(given))
        if other is not None:
            raise ValueError(
                f"zip members {other!r} and {member.name!r} share the one-shot source "
                f"{given!r}, which can be read only once"
            )
        one_shot[id(given)] = member.name
    names = deduplicate_all(name_deduplicator, [member.name for member in members])
    return tuple(zip(members, names, strict=True))


# --- the async layer -------------------------------------------------------------


# Bigger in-memory data is compressed slice by slice, yielding in between, so
# that one large member does not hold the event loop for seconds.
_COMPRESS_AT_ONCE_LIMIT = 1024 * 1024


async def _encode(
    members: tuple[tuple[ZipStreamFile, str], ...] | AsyncIterator[tuple[ZipStreamFile, str]],
    hold_back_size: int,
) -> AsyncGenerator[BytesLike, None]:
    """Pull every member's source through the encoder; close sources on every way out."""
    encoder = ZipEncoder(hold_back_size=hold_back_size)
    if isinstance(members, tuple):
        planned, lazy = members, None
    else:
        planned, lazy = (), members
        if isinstance(lazy, _OneShot):
            lazy.claim()
    _check_unconsumed(planned)
    index = 0
    try:
        while True:
            if lazy is None:
                if index == len(planned):
                    break
                member, name = planned[index]
            else:
                try:
                    member, name = await lazy.__anext__()
                except StopAsyncIteration:
                    break
            index += 1
            source = member.source
            if type(source) is BytesSource and (
                member.compression_method == COMPRESSION_METHOD_NONE
                or len(source.data) <= _COMPRESS_AT_ONCE_LIMIT
            ):
                data = source.data
                if type(data) is not bytes:
                    data = check_chunk(data, source)
                encoder.add(member._encoder_options(name), data)
                for ready in encoder.take():
                    yield ready
                continue
            encoder.begin(member._encoder_options(name), member.size)
            if not member.is_dir:
                stream = source.__aiter__()
                try:
                    async for chunk in stream:
                        if member.size is None:
                            # A response knows its length once its headers are in.
                            encoder.learn_size(getattr(stream, "content_length", None))
                        encoder.feed(chunk)
                        for ready in encoder.take():
                            yield ready
                except BaseException:
                    with anyio.CancelScope(shield=True):
                        await stream.aclose()
                    raise
                # Finished sources close at once; no shield needed on this path.
                await stream.aclose()
            encoder.end()
            for ready in encoder.take():
                yield ready
        encoder.finish()
        for ready in encoder.take():
            yield ready
    except BaseException:
        await _close_unstarted(planned[index:])
        raise
    finally:
        if lazy is not None:
            with anyio.CancelScope(shield=True):
                await lazy.aclose()  # type: ignore[attr-defined]


def _check_unconsumed(
    members: tuple[tuple[ZipStreamFile, str], ...] | AsyncIterator[tuple[ZipStreamFile, str]],
) -> None:
    """Raise now, before any byte, if a pass could not send every member in full."""
    if isinstance(members, _OneShot):
        if members.used:
            raise _OneShot.consumed_error()
        return
    if not isinstance(members, tuple):
        return
    for member, _ in members:
        if getattr(member.source, "consumed", False):
            raise SourceConsumedError(
                f"the source of zip member {member.name!r} is one-shot and was already "
                "consumed; make it reusable (ResourceStreamFunction) to send the archive again"
            )


async def _close_unstarted(members: Sequence[tuple[ZipStreamFile, str]]) -> None:
    # One-shot sources that will never be read (async generators, async files)
    # are closed now rather than left to the garbage collector.
    with anyio.CancelScope(shield=True):
        for member, _ in members:
            source = member.source
            if is_reusable(source) or getattr(source, "consumed", True):
                continue
            stream = source.__aiter__()
            await stream.aclose()


async def _lazy_members(
    files: Iterable[object] | AsyncIterable[object], name_deduplicator: object
) -> AsyncIterator[tuple[ZipStreamFile, str]]:
    deduplicator = start_deduplicator(name_deduplicator)
    if not isinstance(files, AsyncIterable):
        for value in files:
            member = _check_member(value)
            yield member, deduplicated(deduplicator, member.name)
        return
    iterator = files.__aiter__()
    try:
        async for value in iterator:
            member = _check_member(value)
            yield member, deduplicated(deduplicator, member.name)
    finally:
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            with anyio.CancelScope(shield=True):
                await aclose()


def stream_zip(
    files: Iterable[ZipStreamFile] | AsyncIterable[ZipStreamFile],
    *,
    name_deduplicator: object = name_deduplicator_default,
    hold_back_size: int = DEFAULT_HOLD_BACK_SIZE,
) -> AsyncGenerator[BytesLike, None]:
    """Stream a zip archive of *files*: an async generator of the archive's bytes.

    When *files* is a list or tuple, every member and name is checked (and
    deduplicated) now, before anything is produced. Other iterables and async
    iterables are read lazily, one member at a time.

    Members are read one after the other; every source is closed when its
    member is done, or when the archive stops early, fails or is cancelled.
    An exception raised by a source reaches the consumer unchanged.

    Args:
        files: [ZipStreamFile][httpx_streaming.ZipStreamFile] objects.
        name_deduplicator: Renames repeated names. The default renames them
            ``path (index).extension``; ``None`` keeps names as given (a zip
            may hold duplicates, but extractors then overwrite or ask); or a
            generator following the send protocol, or a function returning
            one (such as ``name_deduplicator_default``).
        hold_back_size: Bytes of a member of unknown size held in memory
            before its header is written (default 4 MiB), see the user guide.

    Returns:
        An async generator; use ``create_zip_stream_resource`` for a body that
        can be sent more than once.
    """
    check_deduplicator(name_deduplicator)
    hold_back = _check_hold_back(hold_back_size)
    if isinstance(files, list | tuple):
        return _encode(_named(files, name_deduplicator), hold_back)
    if isinstance(files, AsyncIterable | Iterable) and not isinstance(
        files, str | bytes | bytearray | memoryview
    ):
        return _encode(_lazy_members(files, name_deduplicator), hold_back)
    raise TypeError(
        f"files must be an iterable or async iterable of ZipStreamFile, got {describe(files)}"
    )


class ZipStreamResource(ResourceStream):
    """A reusable zip archive body: every ``async for`` streams the same bytes.

    Made by [create_zip_stream_resource][httpx_streaming.create_zip_stream_resource].

    Attributes:
        headers: ``Content-Type: application/zip``, plus ``Content-Length``
            when the archive's length is known in advance.
        content_length: That length, or ``None``.
        reusable: Whether a second pass can succeed (all sources reusable).
    """

    __slots__ = ("_headers", "_reusable")

    def __init__(
        self,
        members: tuple[tuple[ZipStreamFile, str], ...] | AsyncIterator[tuple[ZipStreamFile, str]],
        hold_back_size: int,
        reusable: bool,
        content_length: int | None,
    ) -> None:
        super().__init__(_encode, members, hold_back_size)
        self._reusable = reusable
        self.content_length = content_length
        self._headers: dict[str, str] = {"Content-Type": "application/zip"}
        if content_length is not None:
            self._headers["Content-Length"] = str(content_length)

    @property
    def headers(self) -> dict[str, str]:
        """The request headers for this body.

        Raises [SourceConsumedError][httpx_streaming.SourceConsumedError] when a
        one-shot source was already sent, so that
        ``client.post(url, content=body, headers=body.headers)`` fails before
        any request goes out instead of after httpx sent the headers.
        """
        _check_unconsumed(self.positional_parameters[0])
        return dict(self._headers)

    @property
    def reusable(self) -> bool:  # type: ignore[override]
        return self._reusable

    def __repr__(self) -> str:
        members = self.positional_parameters[0]
        count = f"{len(members)} members" if isinstance(members, tuple) else "lazy members"
        length = "" if self.content_length is None else f" content_length={self.content_length}"
        return f"<ZipStreamResource {count}{length}>"


def create_zip_stream_resource(
    files: Iterable[ZipStreamFile] | AsyncIterable[ZipStreamFile],
    *,
    name_deduplicator: object = name_deduplicator_default,
    hold_back_size: int = DEFAULT_HOLD_BACK_SIZE,
) -> ZipStreamResource:
    """A reusable zip archive of *files*, to pass as httpx's ``content=``.

    ```python
    body = create_zip_stream_resource([
        ZipStreamFile("report.pdf", pathlib.Path("report.pdf")),
        ZipStreamFile("data.csv", stream_response(client, "GET", url),
                      compression_method=COMPRESSION_METHOD_DEFLATE),
    ])
    await client.post(upload_url, content=body, headers=body.headers)
    ```

    A synchronous iterable of files is read into a list now; every name is
    checked and deduplicated now, once, and every pass uses those names, so
    passes are byte-identical whatever deduplicator is given (a generator
    object is consumed here, a function is called once). An async iterable of
    files can only be streamed once.

    Args:
        files: [ZipStreamFile][httpx_streaming.ZipStreamFile] objects.
        name_deduplicator: As for [stream_zip][httpx_streaming.stream_zip].
        hold_back_size: As for [stream_zip][httpx_streaming.stream_zip].
    """
    check_deduplicator(name_deduplicator)
    hold_back = _check_hold_back(hold_back_size)
    if isinstance(files, AsyncIterable):
        lazy = _lazy_members(files, name_deduplicator)
        return ZipStreamResource(_OneShot(lazy), hold_back, False, None)
    if not isinstance(files, Iterable) or isinstance(files, str | bytes | bytearray | memoryview):
        raise TypeError(
            f"files must be an iterable or async iterable of ZipStreamFile, got {describe(files)}"
        )
    members = _named(list(files), name_deduplicator)
    reusable = all(is_reusable(member.source) for member, _ in members)
    length = archive_length(
        [(member._encoder_options(name), member.size) for member, name in members], hold_back
    )
    return ZipStreamResource(members, hold_back, reusable, length)


class _OneShot(AsyncIterator[tuple[ZipStreamFile, str]]):
    """Lazily named members from an async iterable: a second pass fails up front."""

    def __init__(self, members: AsyncIterator[tuple[ZipStreamFile, str]]) -> None:
        self._members = members
        self._used = False

    def __aiter__(self) -> _OneShot:
        return self

    async def __anext__(self) -> tuple[ZipStreamFile, str]:
        return await self._members.__anext__()

    async def aclose(self) -> None:
        aclose = getattr(self._members, "aclose", None)
        if aclose is not None:
            await aclose()

    @property
    def used(self) -> bool:
        return self._used

    @staticmethod
    def consumed_error() -> SourceConsumedError:
        return SourceConsumedError(
            "this zip archive was made from an async iterable of files and was "
            "already streamed; pass a list of files to send it again"
        )

    def claim(self) -> None:
        if self._used:
            raise self.consumed_error()
        self._used = True
