"""Streaming ZIP archives: ``ZipStreamFile``, ``stream_zip``, ``create_zip_stream_resource``.

The format work is done by the sans-IO ``ZipEncoder`` (``_zip_encoder``) and
the options are checked by ``_zip_options``; this module turns what users pass
into members and moves chunks between their sources and the encoder.
"""

from __future__ import annotations

import operator
import secrets
from abc import ABCMeta
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Callable,
    Coroutine,
    Iterable,
    Iterator,
    Sequence,
)
from datetime import datetime
from typing import Any, NamedTuple, cast, final

import anyio

from ._byte_range import ByteRange
from ._errors import source_consumed
from ._files import file_identity, read_path
from ._passes import (
    OneShotValues,
    SourcePass,
    SyncSourcePass,
    close_pass,
    held_weakly,
    open_pass,
    open_sync_pass,
    refuse_async_only,
    refuse_consumed,
)
from ._ranges import skip_segments
from ._resource import ResourceStream, SyncResourceStream
from ._sources import BytesSource, as_byte_source
from ._types import BytesLike, ByteSource, Chunk, NoPublicConstructor
from ._upload_progress import PartTracker
from ._validation import check_chunk, describe, is_reusable, source_length
from ._zip_aes import SALT_SIZE, AesKeySource, check_password
from ._zip_deflate import crc32 as compute_crc32
from ._zip_encoder import (
    DEFAULT_HOLD_BACK_SIZE,
    MemberLayout,
    MemberOptions,
    ResumePoint,
    WrittenMember,
    ZipEncoder,
    archive_length,
    check_given_crc,
    member_length,
    member_options,
    predicted_layout,
    resume_point,
)
from ._zip_lookahead import (
    DEFAULT_LOOK_AHEAD_SIZE,
    MIN_AHEAD_SIZE,
    AheadJob,
    LookAhead,
)
from ._zip_names import (
    LinkPaths,
    NameDeduplicator,
    check_deduplicator,
    check_link_target,
    deduplicate_all,
    deduplicated,
    name_deduplicator_default,
    start_deduplicator,
    validate_name,
)
from ._zip_options import (
    ArchiveOptions,
    TimeFields,
    archive_options,
    check_crc,
    check_flag,
    check_level,
    check_method,
    check_mode,
    check_size,
    check_time,
    now,
    time_fields,
)
from ._zip_records import (
    COMPRESSION_METHOD_DEFLATE,
    COMPRESSION_METHOD_NONE,
    S_IFLNK,
    Entry,
    local_header_length,
)

__all__ = [
    "COMPRESSION_METHOD_DEFLATE",
    "COMPRESSION_METHOD_NONE",
    "ZipStreamFile",
    "ZipStreamResource",
    "create_zip_stream_resource",
    "stream_zip",
]


@final
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
            accepted too. A mode with ``stat.S_IFLNK`` (``stat.S_IFLNK |
            0o777``) makes the member a symbolic link whose target is
            *stream*: a ``str`` or bytes path, relative, that stays inside the
            archive judged from the link's folder (``bin/tool`` may point to
            ``../lib/tool``; ``/etc`` or ``../x`` from the root are refused).
        size: The data's length, when the source does not declare it; lets a
            stored member's size go into its local header and the archive's
            ``Content-Length`` be known.
        crc32: The data's CRC-32, when known in advance: a stored member with
            known size and CRC is readable by streaming readers however long it
            is. It is checked against the data as it passes.
        extended_timestamps: Whether the member's headers carry the extended
            timestamp field (its modification time in UTC, to the second), which
            extractors restore; ``None`` (the default) follows the archive's
            ``extended_timestamps``. Formats that want no extra field at all
            (EPUB's ``mimetype``, OpenDocument) turn it off.
        password: Encrypt the member with WinZip AES-256 (AE-2) under this
            password (a ``str``, in UTF-8, or bytes), whatever the archive's
            ``password``; ``None`` (the default) follows the archive. Needs the
            ``aes`` extra (pycryptodome). Folders and links have no data
            to encrypt.

    Attributes:
        name: The name as given (the archive may write a deduplicated one).
        is_dir: Whether the member is a folder (its name ends in ``/``).
        source: The byte source made from ``stream``.
        size: The data's length when known in advance, else ``None``.
        modified_at: The modification time (the default: now, to the second).
        compression_method: ``0`` (stored) or ``8`` (deflate).
        compression_level: The deflate level.
        mode: The Unix permission bits.
        is_link: Whether the member is a symbolic link (its data, its target).
        crc32: The CRC-32 given in advance, or ``None``.
        extended_timestamps: As given: ``True``, ``False``, or ``None`` (the
            archive's choice).
    """

    __slots__ = (
        "_crc_data",
        "_one_shot",
        "_password",
        "_times",
        "compression_level",
        "compression_method",
        "crc32",
        "extended_timestamps",
        "is_dir",
        "is_link",
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
        extended_timestamps: bool | None = None,
        password: str | bytes | None = None,
    ) -> None:
        self.name: str = validate_name(name)
        self.is_dir: bool = name.endswith("/")
        self.is_link: bool
        self.mode, self.is_link = check_mode(mode, self.is_dir)
        if self.is_link:  # the data is the target's path: known, and checked, now
            stream = check_link_target(name, stream)
        self.source: ByteSource
        declared: int | None
        if type(stream) is bytes:  # the common case, made cheap for many small members
            self.source, declared, reusable = BytesSource(stream), len(stream), True
        else:
            self.source = as_byte_source(stream)
            declared, reusable = source_length(self.source), is_reusable(self.source)
        # What was given, when it can be read once: two members must not share it.
        self._one_shot: Callable[[], object] | None = None if reusable else held_weakly(stream)
        self.compression_method: int = check_method(compression_method)
        self.compression_level: int = check_level(compression_level)
        self._times: TimeFields
        if modified_at is None:
            self.modified_at, self._times = now()
        else:
            self.modified_at = check_time(modified_at)
            self._times = time_fields(self.modified_at)
        self.size: int | None = declared if size is None else check_size(size, declared)
        self.crc32: int | None = None if crc32 is None else check_crc(crc32)
        self.extended_timestamps: bool | None = (
            None
            if extended_timestamps is None
            else check_flag(extended_timestamps, "extended_timestamps")
        )
        self._password: bytes | None = None
        if password is not None:
            if self.is_dir or self.is_link:
                kind = "folder" if self.is_dir else "symbolic link"
                raise ValueError(
                    f"{kind} {name!r} has no data to encrypt: give password= to files only"
                )
            self._password = check_password(password)
        if self.is_dir and self.size != 0:
            raise ValueError(
                f"folder {name!r} cannot have data; got {describe(stream)} (pass no stream, or b'')"
            )
        self._crc_data: bytes | None = None
        source = self.source
        if type(source) is BytesSource and self.compression_method == COMPRESSION_METHOD_NONE:
            # All the data is here, so its CRC goes into the local header and
            # streaming readers read the member whatever its size.
            data = source.data
            self.crc32 = check_given_crc(self.crc32, compute_crc32(data), name)
            if type(data) is bytes:  # immutable: its CRC holds for every pass
                self._crc_data = data
            # else a buffer that may change: its CRC is checked again as it passes

    def _encoder_options(self, name: str, extended_timestamps: bool) -> MemberOptions:
        """The encoder's view of this member, under *name* (after deduplication), in an
        archive whose members carry extended timestamps unless told otherwise. Made
        once per archive, when its members are planned, and kept in the plan."""
        if self.extended_timestamps is not None:
            extended_timestamps = self.extended_timestamps
        if self.is_link and name != self.name:
            # Renamed by a deduplicator, maybe into another folder: judged from there.
            check_link_target(name, cast("BytesSource", self.source).data)
        dos_date, dos_time, unix_time = self._times
        entry = Entry.make(
            name,
            self.is_dir,
            dos_date,
            dos_time,
            unix_time if extended_timestamps else None,
            S_IFLNK | self.mode if self.is_link else self.mode,
        )
        return member_options(
            entry, self.compression_method, self.compression_level, self.crc32, self._crc_data
        )

    def __repr__(self) -> str:
        method = "deflate" if self.compression_method == COMPRESSION_METHOD_DEFLATE else "stored"
        return f"<ZipStreamFile {self.name!r} {method} {self.source!r}>"


def _check_member(value: object) -> ZipStreamFile:
    if not isinstance(value, ZipStreamFile):
        raise TypeError(f"zip members must be ZipStreamFile objects, got {describe(value)}")
    return value


def _named(
    files: Sequence[object], name_deduplicator: object, archive: ArchiveOptions
) -> tuple[_Named, ...]:
    members = [_check_member(value) for value in files]
    one_shot = OneShotValues()
    for member in members:
        if member._one_shot is not None:
            value = member._one_shot()
            if value is not None:  # else its pass started long ago: refused when streamed
                one_shot.claim(value, "zip member", member.name)
    names = deduplicate_all(name_deduplicator, [member.name for member in members])
    # (any() over attrgetter runs in C: archives of many small members pass here.)
    if any(map(_IS_LINK, members)):
        paths = LinkPaths()
        for member, name in zip(members, names, strict=True):
            paths.admit(name, member.is_link)
    return tuple(
        (member, name, _planned_options(member, name, archive))
        for member, name in zip(members, names, strict=True)
    )


_IS_LINK = operator.attrgetter("is_link")


def _planned_options(member: ZipStreamFile, name: str, archive: ArchiveOptions) -> MemberOptions:
    """The encoder's view of *member* in one archive. An encrypted member gets its salt
    here, once per archive: every pass of it is the same bytes, while no two members,
    archives or calls share a key stream."""
    options = member._encoder_options(name, archive.extended_timestamps)
    password = member._password or archive.password
    if password is None or member.is_dir or member.is_link:
        return options
    return options._replace(encryption=AesKeySource(password, secrets.token_bytes(SALT_SIZE)))


# A member, its name in the archive (after deduplication) and the encoder's view
# of it under that name: made once, when the member is named, for every pass.
_Named = tuple[ZipStreamFile, str, MemberOptions]


# --- the async layer -------------------------------------------------------------


# Bigger in-memory data is compressed slice by slice, yielding in between, so
# that one large member does not hold the event loop for seconds.
_COMPRESS_AT_ONCE_LIMIT = 1024 * 1024


@final
class _LazyMembers:
    """Members named as they come from an async iterable: a second pass fails up front."""

    __slots__ = ("_members", "used")

    def __init__(self, members: AsyncIterator[_Named]) -> None:
        self._members = members
        self.used = False

    def claim(self) -> AsyncIterator[_Named]:
        if self.used:
            raise source_consumed(
                "this zip archive was made from an async iterable of files and was "
                "already streamed; pass a list of files to send it again"
            )
        self.used = True
        return self._members


class _Resume(NamedTuple):
    """Where a pass resumes an archive (see byte_range): the encoder's state after the
    members skipped, and the rest of the last one's data when the pass starts inside it."""

    point: ResumePoint
    skipped: int
    lead_in: ByteRange | None
    lead_in_length: int = 0
    lead_in_name: str = ""


_Remember = Callable[[list[tuple[WrittenMember, int]]], None]


def _archive(
    members: tuple[_Named, ...] | AsyncIterator[_Named],
    archive: ArchiveOptions,
    resume: _Resume | None = None,
    remember: _Remember | None = None,
    tracker: PartTracker | None = None,
) -> AsyncGenerator[Chunk, None]:
    # Bytes-like chunks, typed as httpx's content= reads them (see Chunk).
    return cast("AsyncGenerator[Chunk, None]", _encode(members, archive, resume, remember, tracker))


async def _encode(
    members: tuple[_Named, ...] | AsyncIterator[_Named],
    archive: ArchiveOptions,
    resume: _Resume | None = None,
    remember: _Remember | None = None,
    tracker: PartTracker | None = None,
) -> AsyncGenerator[BytesLike, None]:
    """Pull every member's source through the encoder; close sources on every way out.

    With *resume*, the members it skipped are not read; *remember* is told every
    member's layout once the archive is complete; *tracker* is told each member's
    name as it begins.
    """
    if isinstance(members, tuple):
        planned, lazy = members, None
    else:
        planned, lazy = (), members
    encoder = ZipEncoder(
        hold_back_size=archive.hold_back_size,
        comment=archive.comment,
        resume=None if resume is None else resume.point,
    )
    if resume is not None:
        planned = planned[resume.skipped :]
        lead_in = resume.lead_in
        if lead_in is not None:
            # Checked against the member's declared size, as its full pass would be.
            label = f"zip member {resume.lead_in_name!r} from byte {lead_in.start}"
            async with SourcePass(lead_in.__aiter__(), label, resume.lead_in_length) as rest:
                async for piece in rest:
                    yield piece
    ahead = _look_ahead(planned, archive.look_ahead_size, archive.hold_back_size)
    index = 0
    try:
        while True:
            if lazy is None:
                if index == len(planned):
                    break
                member, name, options = planned[index]
            else:
                try:
                    member, name, options = await lazy.__anext__()
                except StopAsyncIteration:
                    break
            if tracker is not None:
                tracker.name = name
            if ahead is not None:
                ahead.schedule(index)
                batch = ahead.take(index)
                if batch is not None:
                    # A batch that ran ahead is usually done by its turn; else it is
                    # waited for in a thread of anyio's, and the event loop runs on.
                    if not batch.done():
                        await anyio.to_thread.run_sync(batch.exception, abandon_on_cancel=True)
                    ahead.deliver(index, batch.result())
                encoded = ahead.ready(index)
                if encoded is not None:
                    encoder.add_encoded(encoded)
                    index += 1
                    for ready in encoder.take():
                        yield ready
                    continue
            index += 1
            source = member.source
            if type(source) is BytesSource and (
                member.compression_method == COMPRESSION_METHOD_NONE
                or len(source.data) <= _COMPRESS_AT_ONCE_LIMIT
            ):
                encoder.add(options, source.data)
                for ready in encoder.take():
                    yield ready
                continue
            encoder.begin(options, member.size)
            if not member.is_dir:
                async with open_pass(source) as stream:
                    size_unknown = member.size is None
                    async for chunk in stream.iterator:
                        if type(chunk) is not bytes:
                            chunk = check_chunk(chunk, source)
                        if size_unknown:
                            size_unknown = not _learned_size(encoder, stream)
                        encoder.feed(chunk)
                        for ready in encoder.take():
                            yield ready
            encoder.end()
            for ready in encoder.take():
                yield ready
        if tracker is not None:
            tracker.name = None  # the central directory belongs to no member
        encoder.finish()
        for ready in encoder.take():
            yield ready
    except BaseException as error:
        await _close_unstarted(planned[index:])
        if lazy is not None:
            await close_pass(lazy, error)
        raise
    finally:
        # What every member written turned out to be, however the pass ends (a range
        # stops early): later ranges skip them.
        if remember is not None:
            remember(encoder.written)
        if ahead is not None:  # stop and join the workers, also when cancelled
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(ahead.close)
    if lazy is not None:
        await close_pass(lazy)


def _look_ahead(
    planned: tuple[_Named, ...], look_ahead_size: int, hold_back_size: int
) -> LookAhead | None:
    """The worker threads for the deflated members that can be encoded ahead, when
    there are at least two; else ``None``."""
    if not look_ahead_size:
        return None
    limit = look_ahead_size // 4
    jobs = [_ahead_job(member, options, limit) for member, _, options in planned]
    if len(jobs) - jobs.count(None) < 2:
        return None
    return LookAhead(jobs, look_ahead_size, hold_back_size)


def _ahead_job(member: ZipStreamFile, options: MemberOptions, limit: int) -> AheadJob | None:
    # Deflated, of known size, not too big, read without an event loop: in-memory
    # bytes or a local file; big enough to be worth a worker.
    size = member.size
    if (
        member.compression_method != COMPRESSION_METHOD_DEFLATE
        or size is None
        or not MIN_AHEAD_SIZE <= size <= limit
    ):
        return None
    source = member.source
    # Only sources whose synchronous face is ours and plain: a nested body's face
    # may refuse, and a user's own would run in the workers.
    if type(source) is not BytesSource and not (
        type(source) is ResourceStream and source.function is read_path
    ):
        return None
    return AheadJob(options, size, source)


def _encode_sync(
    members: tuple[_Named, ...],
    archive: ArchiveOptions,
    resume: _Resume | None = None,
    remember: _Remember | None = None,
    tracker: PartTracker | None = None,
) -> Iterator[BytesLike]:
    """``_encode`` without an event loop, for members whose sources have a synchronous
    face; the same encoder, so the same bytes."""
    encoder = ZipEncoder(
        hold_back_size=archive.hold_back_size,
        comment=archive.comment,
        resume=None if resume is None else resume.point,
    )
    if resume is not None:
        members = members[resume.skipped :]
        lead_in = resume.lead_in
        if lead_in is not None:
            label = f"zip member {resume.lead_in_name!r} from byte {lead_in.start}"
            rest = SyncSourcePass(iter(lead_in.sync()), label, resume.lead_in_length)
            with rest:
                yield from rest
    try:
        for member, name, options in members:
            if tracker is not None:
                tracker.name = name
            source = member.source
            if type(source) is BytesSource:
                encoder.add(options, source.data)
                yield from encoder.take()
                continue
            encoder.begin(options, member.size)
            if not member.is_dir:
                with open_sync_pass(source) as stream:
                    size_unknown = member.size is None
                    for chunk in stream.iterator:
                        if type(chunk) is not bytes:
                            chunk = check_chunk(chunk, source)
                        if size_unknown:
                            size_unknown = not _learned_size(encoder, stream)
                        encoder.feed(chunk)
                        yield from encoder.take()
            encoder.end()
            yield from encoder.take()
        if tracker is not None:
            tracker.name = None
        encoder.finish()
        yield from encoder.take()
    finally:
        if remember is not None:
            remember(encoder.written)


def _learned_size(encoder: ZipEncoder, stream: SourcePass | SyncSourcePass) -> bool:
    """Tell *encoder* the length *stream* announced once its first chunk came (a
    response's headers), if it did; both drivers ask, so both write the same bytes."""
    announced = stream.content_length
    if announced is None:
        return False
    encoder.learn_size(announced)
    return True


def _refuse_async_only(members: Sequence[_Named]) -> None:
    """Raise TypeError now, before any byte, if a member can only be read by async code."""
    for member, _, _ in members:
        refuse_async_only(
            member.source, "zip member", member.name, "iterate the archive with async for"
        )


def _refuse_consumed(members: Sequence[_Named]) -> None:
    """Raise now, before any byte, if a pass could not send every member in full."""
    for member, _, _ in members:
        refuse_consumed(member.source, "zip member", member.name)


async def _close_unstarted(members: Sequence[_Named]) -> None:
    # One-shot sources that will never be read (async generators, async files)
    # are closed now rather than left to the garbage collector.
    with anyio.CancelScope(shield=True):
        for member, _, _ in members:
            source = member.source
            if not source.reusable and not source.consumed:
                await close_pass(open_pass(source))


def _named_one(
    member: ZipStreamFile,
    deduplicator: NameDeduplicator | None,
    archive: ArchiveOptions,
    paths: LinkPaths,
) -> _Named:
    name = deduplicated(deduplicator, member.name)
    paths.admit(name, member.is_link)
    return member, name, _planned_options(member, name, archive)


async def _lazy_members(
    files: Iterable[object] | AsyncIterable[object],
    name_deduplicator: object,
    archive: ArchiveOptions,
) -> AsyncIterator[_Named]:
    deduplicator = start_deduplicator(name_deduplicator)
    paths = LinkPaths()
    if not isinstance(files, AsyncIterable):
        for value in files:
            yield _named_one(_check_member(value), deduplicator, archive, paths)
        return
    iterator = files.__aiter__()
    try:
        async for value in iterator:
            yield _named_one(_check_member(value), deduplicator, archive, paths)
    except BaseException as error:
        await close_pass(iterator, error)
        raise


def stream_zip(
    files: Iterable[ZipStreamFile] | AsyncIterable[ZipStreamFile],
    *,
    name_deduplicator: object = name_deduplicator_default,
    hold_back_size: int = DEFAULT_HOLD_BACK_SIZE,
    look_ahead_size: int = DEFAULT_LOOK_AHEAD_SIZE,
    comment: BytesLike | str = b"",
    extended_timestamps: bool = True,
    password: str | bytes | None = None,
) -> AsyncGenerator[Chunk, None]:
    """Stream a zip archive of *files*: an async generator of the archive's bytes.

    When *files* is a list or tuple, every member and name is checked (and
    deduplicated) now, before anything is produced. Other iterables and async
    iterables are read lazily, one member at a time.

    Members are sent one after the other; every source is closed when its
    member is done, or when the archive stops early, fails or is cancelled.
    An exception raised by a source reaches the consumer unchanged. Deflated
    members held in memory or read from local files (over 4 KiB, and at most
    a quarter of *look_ahead_size*) are read and compressed ahead of their
    turn in worker threads, one per core, while earlier members are sent; the
    archive is the same bytes either way.

    Args:
        files: [ZipStreamFile][httpx_streaming.ZipStreamFile] objects.
        name_deduplicator: Renames repeated names. The default renames them
            ``path (index).extension``; ``None`` keeps names as given (a zip
            may hold duplicates, but extractors then overwrite or ask); or a
            generator following the send protocol, or a function returning
            one (such as ``name_deduplicator_default``).
        hold_back_size: Bytes of a member of unknown size held in memory
            before its header is written (default 4 MiB), see the user guide.
        look_ahead_size: At most this many bytes of members (by their sizes)
            are compressed ahead of their turn at any time (default 16 MiB;
            ``0`` compresses each member in turn, on one core). Their
            compressed bytes wait in memory until their turn.
        comment: The archive's comment, shown by ``unzip -z`` and zip tools:
            ``bytes`` as they are, or a ``str`` written in UTF-8 (the zip
            format has no flag saying which encoding a comment uses); at most
            65,535 bytes.
        extended_timestamps: Whether members carry the extended timestamp
            field (their modification time in UTC, which extractors restore)
            unless a member says otherwise (default ``True``).
        password: Encrypt every file with WinZip AES-256 (AE-2) under this
            password (``str`` in UTF-8, or bytes), unless a member gives its
            own. Each encrypted member gets its own random salt when the
            archive is made. Needs the ``aes`` extra (pycryptodome).

    Returns:
        A one-shot async generator of the archive's bytes: it can be iterated
        once. A retry or a 307/308 redirect after its first byte was read
        raises [SourceConsumedError][httpx_streaming.SourceConsumedError]
        (never sends an empty body). Use
        [create_zip_stream_resource][httpx_streaming.create_zip_stream_resource]
        for a reusable body.
    """
    check_deduplicator(name_deduplicator)
    archive = archive_options(
        hold_back_size, look_ahead_size, comment, extended_timestamps, password
    )
    if isinstance(files, list | tuple):
        named = _named(files, name_deduplicator, archive)
        _refuse_consumed(named)
        return OneShotArchive._create(_archive(named, archive))
    if isinstance(files, AsyncIterable | Iterable) and not isinstance(
        files, str | bytes | bytearray | memoryview
    ):
        lazy = _lazy_members(files, name_deduplicator, archive)
        return OneShotArchive._create(_archive(lazy, archive))
    raise TypeError(
        f"files must be an iterable or async iterable of ZipStreamFile, got {describe(files)}"
    )


class _OneShotMeta(NoPublicConstructor, ABCMeta):
    """No public constructor, for a class that is also an abstract base's subclass."""


@final
class OneShotArchive(AsyncGenerator[Chunk, None], metaclass=_OneShotMeta):
    """What [stream_zip][httpx_streaming.stream_zip] returns: the archive's bytes, once.

    An async generator that refuses a second ``async for``: a plain one, read
    again, would yield nothing, and a retry loop or retry library that builds
    a new request with it would send an empty body. Once its first byte was
    asked for, ``async for`` raises
    [SourceConsumedError][httpx_streaming.SourceConsumedError] instead.
    """

    __slots__ = ("_generator", "_started")

    reusable = False
    content_length = None

    def __init__(self, generator: AsyncGenerator[Chunk, None]) -> None:
        self._generator = generator
        self._started = False

    @property
    def consumed(self) -> bool:
        """Whether a pass already started, so the archive cannot be sent in full again."""
        return self._started

    def __aiter__(self) -> OneShotArchive:
        if self._started:
            raise source_consumed(
                "this zip archive from stream_zip was already streamed (it is a one-shot "
                "async generator); to send it again, make it with create_zip_stream_resource"
            )
        return self

    def __anext__(self) -> Coroutine[Any, Any, Chunk]:
        # The generator's own awaitable, not a coroutine around it: one per chunk.
        self._started = True
        return self._generator.__anext__()

    async def asend(self, value: None) -> Chunk:
        self._started = True
        return await self._generator.asend(value)

    async def athrow(self, *args: Any) -> Chunk:
        self._started = True  # whatever it does to the generator, it is not a fresh pass
        return await self._generator.athrow(*args)

    async def aclose(self) -> None:
        self._started = True  # closed before its first byte: a pass would yield nothing
        await self._generator.aclose()

    def __repr__(self) -> str:
        return f"<OneShotArchive {'consumed' if self._started else 'not started'}>"


@final
class ZipStreamResource(metaclass=NoPublicConstructor):
    """A zip archive body: every ``async for`` streams the same bytes.

    Made by [create_zip_stream_resource][httpx_streaming.create_zip_stream_resource];
    calling the class raises ``TypeError``.

    Attributes:
        members: The [ZipStreamFile][httpx_streaming.ZipStreamFile] objects, in
            archive order; ``None`` for an archive made from an async iterable
            of files, whose members are read while it streams.
        names: The names the members get in the archive (after deduplication),
            in the same order; ``None`` like ``members``.
        content_length: The archive's length when known in advance, else ``None``.
        reusable: Whether every pass can send the whole archive (every member's
            source is reusable).
    """

    __slots__ = (
        "_archive",
        "_file_members",
        "_identities",
        "_lazy",
        "_named",
        "_written",
        "content_length",
        "reusable",
    )

    def __init__(
        self,
        members: tuple[_Named, ...] | _LazyMembers,
        archive: ArchiveOptions,
        content_length: int | None,
    ) -> None:
        self._archive = archive
        self.content_length = content_length
        # What the passes wrote of the members (see byte_range), the identity of the file
        # of each member read from one when it was written, and which members those are.
        self._written: list[tuple[WrittenMember, int]] | None = None
        self._identities: dict[int, tuple[int, int, int] | None] = {}
        self._file_members: tuple[int, ...] | None = None
        if isinstance(members, _LazyMembers):
            self._named: tuple[_Named, ...] | None = None
            self._lazy: _LazyMembers | None = members
            self.reusable = False
        else:
            self._named = members
            self._lazy = None
            self.reusable = all(member.source.reusable for member, _, _ in members)

    def __init_subclass__(cls) -> None:
        raise TypeError("ZipStreamResource cannot be subclassed")

    @property
    def members(self) -> tuple[ZipStreamFile, ...] | None:
        named = self._named
        return None if named is None else tuple(member for member, _, _ in named)

    @property
    def names(self) -> tuple[str, ...] | None:
        named = self._named
        return None if named is None else tuple(name for _, name, _ in named)

    @property
    def consumed(self) -> bool:
        """Whether a one-shot member (or the async iterable of files) was already read."""
        if self._lazy is not None:
            return self._lazy.used
        assert self._named is not None
        return any(member.source.consumed for member, _, _ in self._named)

    @property
    def headers(self) -> dict[str, str]:
        """The request headers for this body.

        ``Content-Type: application/zip``, plus ``Content-Length`` when the
        archive's length is known in advance.

        Raises [SourceConsumedError][httpx_streaming.SourceConsumedError] when a
        one-shot source was already sent, so that
        ``client.post(url, content=body, headers=body.headers)`` fails before
        any request goes out instead of after httpx sent the headers.
        """
        self._refuse_consumed()
        headers = {"Content-Type": "application/zip"}
        if self.content_length is not None:
            headers["Content-Length"] = str(self.content_length)
        return headers

    def __aiter__(self) -> AsyncGenerator[Chunk, None]:
        """Start a pass: an async generator of the archive's bytes.

        Raises:
            SourceConsumedError: A one-shot source was already read by an
                earlier pass (raised here, before any byte is produced).
        """
        if self._lazy is not None:
            return _archive(self._lazy.claim(), self._archive)
        assert self._named is not None
        _refuse_consumed(self._named)
        return _archive(self._named, self._archive, remember=self._remember)

    def sync(self) -> SyncResourceStream:
        """The same archive as a synchronous iterable, for httpx's sync ``Client``.

        Every ``for`` over it streams the same bytes as an ``async for`` would,
        with no event loop and no worker threads; files are read in the
        calling thread.

        Raises:
            TypeError: The archive was made from an async iterable of files, or
                a member's source can only be read by async code (an async
                generator, an async file, a response on an ``AsyncClient``).
        """
        if self._named is None:
            raise TypeError(
                "this zip archive was made from an async iterable of files, which only "
                "async code can read; iterate it with async for"
            )
        _refuse_async_only(self._named)
        return SyncResourceStream(self._sync_pass).face_of(self)

    def _sync_pass(self) -> Iterator[BytesLike]:
        assert self._named is not None
        _refuse_consumed(self._named)
        return _encode_sync(self._named, self._archive, remember=self._remember)

    def _tracked_pass(self, tracker: PartTracker) -> AsyncIterator[BytesLike]:
        # A pass that tells *tracker* which member it is sending (see with_progress).
        if self._lazy is not None:
            return _archive(self._lazy.claim(), self._archive, tracker=tracker)
        assert self._named is not None
        _refuse_consumed(self._named)
        return _archive(self._named, self._archive, remember=self._remember, tracker=tracker)

    def _sync_tracked_pass(self, tracker: PartTracker) -> Iterator[BytesLike]:
        assert self._named is not None  # sync() refused the others
        _refuse_consumed(self._named)
        return _encode_sync(self._named, self._archive, remember=self._remember, tracker=tracker)

    def _remember(self, written: list[tuple[WrittenMember, int]]) -> None:
        """Keep what a pass wrote of its members (from the first on), and the identity
        (size, time, inode) of the file each member read from a local file has now.

        Runs at the end of every pass, so it costs one stat per file member and nothing
        per other member: the layouts are made only when a range asks for them.
        """
        named = self._named
        assert named is not None
        if self._written is not None and len(written) < len(self._written):
            return  # an earlier pass got further (a range that stopped early)
        if self._file_members is None:
            self._file_members = tuple(
                index
                for index, (member, _, _) in enumerate(named)
                if type(member.source) is ResourceStream
            )
        self._written = written
        self._identities = {
            index: file_identity(named[index][0].source)
            for index in self._file_members
            if index < len(written)
        }

    def _known_layouts(self) -> list[MemberLayout | None]:
        """Every member's layout where it is known without reading the member: predicted
        from its options, else remembered from a pass (unless its file changed since)."""
        named = self._named
        assert named is not None
        hold_back = self._archive.hold_back_size
        written = self._written or []
        layouts: list[MemberLayout | None] = []
        for index, (member, _, options) in enumerate(named):
            layout = predicted_layout(options, member.size, hold_back)
            if layout is None and index < len(written):
                identity = self._identities.get(index)
                if identity is None or file_identity(member.source) == identity:
                    remembered = written[index][0]
                    layout = MemberLayout(remembered, member_length(remembered))
            layouts.append(layout)
        return layouts

    def _range_from(self, start: int, stop: int | None) -> tuple[AsyncIterator[BytesLike], int]:
        # A range opener (see byte_range): members before start whose layout is
        # known are not read; a stored one that start falls inside is read from there.
        if self._named is None:
            return self.__aiter__(), 0
        _refuse_consumed(self._named)
        resume, position = self._resume_at(start)
        return _archive(self._named, self._archive, resume, self._remember), position

    def _sync_range_from(self, start: int, stop: int | None) -> tuple[Iterator[BytesLike], int]:
        if self._named is None:
            return self._sync_pass(), 0
        _refuse_consumed(self._named)
        resume, position = self._resume_at(start)
        return _encode_sync(self._named, self._archive, resume, self._remember), position

    def _resume_at(self, start: int) -> tuple[_Resume, int]:
        """Where a pass from byte *start* resumes, and the byte it begins with."""
        named = self._named
        assert named is not None
        layouts = self._known_layouts()
        skip = skip_segments(
            [None if layout is None else layout.length for layout in layouts], start
        )
        index = skip.segment
        if skip.inside:
            layout = layouts[index]
            assert layout is not None
            written = layout.written
            header = local_header_length(written.entry, written.zip64, written.encrypted)
            verbatim = (
                written.method == COMPRESSION_METHOD_NONE
                and not written.encrypted
                and not written.data_descriptor
                and not written.entry.is_dir
            )
            if verbatim and skip.inside >= header:
                # The member's data is its source's bytes: read them from where start is.
                skipped = skip.inside - header
                lead_in = ByteRange._create(named[index][0].source, skipped, None)
                point = resume_point(cast("list[MemberLayout]", layouts[: index + 1]))
                name = named[index][1]
                return _Resume(point, index + 1, lead_in, written.size - skipped, name), start
        point = resume_point(cast("list[MemberLayout]", layouts[:index]))
        return _Resume(point, index, None), skip.offset

    def _refuse_consumed(self) -> None:
        if self._lazy is not None:
            if self._lazy.used:
                self._lazy.claim()  # raises
            return
        assert self._named is not None
        _refuse_consumed(self._named)

    def __repr__(self) -> str:
        count = "lazy members" if self._named is None else f"{len(self._named)} members"
        length = "" if self.content_length is None else f" content_length={self.content_length}"
        return f"<ZipStreamResource {count}{length}>"


def create_zip_stream_resource(
    files: Iterable[ZipStreamFile] | AsyncIterable[ZipStreamFile],
    *,
    name_deduplicator: object = name_deduplicator_default,
    hold_back_size: int = DEFAULT_HOLD_BACK_SIZE,
    look_ahead_size: int = DEFAULT_LOOK_AHEAD_SIZE,
    comment: BytesLike | str = b"",
    extended_timestamps: bool = True,
    password: str | bytes | None = None,
) -> ZipStreamResource:
    """A reusable zip archive body of *files*, to pass as httpx's ``content=``.

    Every ``async for`` over the result streams the same bytes, so retries and
    307/308 redirects resend the whole archive (as long as every member's
    source is reusable; see [stream_zip][httpx_streaming.stream_zip] for a
    one-shot async generator).

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
        look_ahead_size: As for [stream_zip][httpx_streaming.stream_zip] (the
            synchronous face, ``sync()``, always compresses in turn).
        comment: As for [stream_zip][httpx_streaming.stream_zip].
        extended_timestamps: As for [stream_zip][httpx_streaming.stream_zip].
        password: As for [stream_zip][httpx_streaming.stream_zip]; the salts
            are chosen now, so every pass of the resource is byte-identical.
    """
    check_deduplicator(name_deduplicator)
    archive = archive_options(
        hold_back_size, look_ahead_size, comment, extended_timestamps, password
    )
    if isinstance(files, AsyncIterable):
        lazy = _LazyMembers(_lazy_members(files, name_deduplicator, archive))
        return ZipStreamResource._create(lazy, archive, None)
    if not isinstance(files, Iterable) or isinstance(files, str | bytes | bytearray | memoryview):
        raise TypeError(
            f"files must be an iterable or async iterable of ZipStreamFile, got {describe(files)}"
        )
    members = _named(list(files), name_deduplicator, archive)
    length = archive_length(
        [(options, member.size) for member, _, options in members],
        archive.hold_back_size,
        archive.comment,
    )
    return ZipStreamResource._create(members, archive, length)
