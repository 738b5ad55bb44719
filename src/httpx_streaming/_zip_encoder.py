"""The zip encoder, sans-IO: members' data in, the archive's bytes out.

Nothing here awaits or reads: ``ZipEncoder`` is fed a member's chunks and
hands back the archive's bytes, so every decision (where sizes go, when zip64
is needed, whether to deflate) is tested with plain bytes. Each member is
written by a ``MemberWriter`` made fresh for it; the encoder keeps only what
spans members: the output, the central directory and its own state.

Layout policy, per member:

* Sizes and CRC go into the local header whenever they are known before the
  data is written: all the data is in memory, the size is declared and the
  CRC given, or the member ends within the hold-back buffer. No data
  descriptor then, so streaming readers read even stored members.
* Otherwise the local header sets flag bit 3 and a data descriptor follows the
  data. Its sizes are 8 bytes exactly when the local header carries a zip64
  extra field, which it does exactly when the member may pass 4 GiB: a declared
  size that large, or an unknown size (past the hold-back).
* The central directory and end records use zip64 only for values that do not
  fit in 32 bits (sizes, offsets) or for 65,535 members or more.

Every CRC written is one computed here over the data written (by
``member_options`` for immutable bytes held in memory): a CRC given in advance
is checked against it, before the member's header for a member whose data is
all here, at its end otherwise (the archive then stops unfinished).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from typing import Final, NamedTuple

from ._errors import check_length
from ._types import BytesLike
from ._validation import kept
from ._zip_aes import AES_OVERHEAD, AesKeySource, MemberEncryptor
from ._zip_deflate import (
    DEFAULT_COMPRESSION_LEVEL,
    PROBE_SIZE,
    Deflater,
    crc32,
    deflate_bound,
    deflated_if_smaller,
    head,
    looks_incompressible,
)
from ._zip_output import OUTPUT_CHUNK_SIZE, Output
from ._zip_records import (
    COMPRESSION_METHOD_DEFLATE,
    COMPRESSION_METHOD_NONE,
    END_RECORD_SIZE,
    END_SIGNATURES,
    ZIP64_LIMIT,
    Entry,
    central_directory_header,
    central_header_length,
    data_descriptor,
    data_descriptor_size,
    end_of_archive,
    local_file_header,
    local_header_length,
)

DEFAULT_HOLD_BACK_SIZE: Final = 4 * 1024 * 1024
MAX_HOLD_BACK_SIZE: Final = 1024 * 1024 * 1024


class MemberOptions(NamedTuple):
    """How one member is to be encoded; made by ``member_options``."""

    entry: Entry
    method: int = COMPRESSION_METHOD_NONE
    level: int = DEFAULT_COMPRESSION_LEVEL
    crc32: int | None = None
    # The immutable bytes that ``crc32`` was computed over: ``add`` of these very
    # bytes need not compute it again.
    crc_data: bytes | None = None
    # Keys of a member encrypted with WinZip AES (AE-2): no CRC is written then.
    encryption: AesKeySource | None = None


def member_options(
    entry: Entry,
    method: int,
    level: int = DEFAULT_COMPRESSION_LEVEL,
    crc: int | None = None,
    data: bytes | None = None,
) -> MemberOptions:
    """The options of a member; folders are stored and have no data to check a CRC of.

    With *data*, the member's immutable bytes when they are all in memory, *crc*
    is their CRC when the caller computed (and checked) it, else computed here:
    once for every pass.
    """
    if entry.is_dir:
        return MemberOptions(entry, COMPRESSION_METHOD_NONE, level, None)
    if type(data) is not bytes:
        return MemberOptions(entry, method, level, crc)
    return MemberOptions(entry, method, level, crc32(data) if crc is None else crc, data)


def check_given_crc(given: int | None, computed: int, member: Entry | str) -> int:
    """*computed*, the CRC of a member's data, after checking a *given* one against it."""
    if given is not None and given != computed:
        name = member if isinstance(member, str) else member.name.decode("utf-8", "replace")
        raise ValueError(
            f"zip member {name!r} was given crc32={given:#010x} but its data has "
            f"crc32={computed:#010x}"
        )
    return computed


def stored_layout(
    size: int, crc_known: bool, hold_back_size: int, encrypted: bool = False
) -> tuple[bool, bool]:
    """``(data_descriptor, zip64)`` of a stored member of known *size*; an encrypted
    one needs no CRC (AE-2 writes none) and is longer by the encryption's overhead."""
    descriptor = not (crc_known or encrypted) and size > hold_back_size
    return descriptor, size + (AES_OVERHEAD if encrypted else 0) >= ZIP64_LIMIT


def _member_label(entry: Entry) -> str:
    return f"zip member {entry.name.decode('utf-8', 'replace')!r}"


class WrittenMember(NamedTuple):
    """What a member's local records committed to: all its central record needs but
    the offset, which only the archive knows."""

    entry: Entry
    method: int
    crc: int
    compressed_size: int
    size: int
    data_descriptor: bool
    zip64: bool
    encrypted: bool = False

    def central_record(self, offset: int) -> bytes:
        """The member's central directory record, its local header at *offset*."""
        return central_directory_header(
            self.entry,
            self.method,
            self.crc,
            self.compressed_size,
            self.size,
            offset,
            self.data_descriptor,
            self.zip64,
            self.encrypted,
        )


def write_complete(
    out: Output, options: MemberOptions, data: Sequence[BytesLike], size: int, crc: int
) -> WrittenMember:
    """Write a member whose data is all here, *crc* computed over it: sizes and CRC go
    into its local header, no data descriptor follows.

    Archives of many small members spend their time here: it stays one plain function.
    """
    if options.crc32 is not None and options.crc32 != crc:
        check_given_crc(options.crc32, crc, options.entry)
    method = COMPRESSION_METHOD_NONE
    compressed_size = size
    if options.method == COMPRESSION_METHOD_DEFLATE and size:
        packed = deflated_if_smaller(data, size, options.level)
        if packed is not None:
            method = COMPRESSION_METHOD_DEFLATE
            data, compressed_size = packed
    entry = options.entry
    keys = options.encryption
    if keys is None:
        zip64 = size >= ZIP64_LIMIT
        out.write(local_file_header(entry, method, crc, compressed_size, size, False, zip64))
        for piece in data:
            out.write(piece)
        return WrittenMember(entry, method, crc, compressed_size, size, False, zip64)
    encryptor = MemberEncryptor(keys)
    compressed_size += AES_OVERHEAD
    zip64 = size >= ZIP64_LIMIT or compressed_size >= ZIP64_LIMIT
    out.write(local_file_header(entry, method, 0, compressed_size, size, False, zip64, True))
    out.write(encryptor.start())
    for piece in data:
        out.write(encryptor.encrypt(piece))
    out.write(encryptor.finish())
    return WrittenMember(entry, method, 0, compressed_size, size, False, zip64, True)


class _Header(NamedTuple):
    """What a member's local header, once written, committed it to."""

    method: int
    data_descriptor: bool
    zip64: bool


class MemberWriter:
    """Writes one member: holds its first bytes, picks its layout, ends it with records.

    Made fresh for every member whose data comes in chunks: ``start``, then
    ``feed`` any number of times, and ``end``, which says what the member's
    records hold. (Data that is all in memory skips the writer:
    ``write_complete``.)
    """

    __slots__ = (
        "_crc",
        "_declared",
        "_deflater",
        "_encryptor",
        "_header",
        "_held",
        "_held_size",
        "_hold_back_size",
        "_hold_limit",
        "_out",
        "_seen",
        "options",
    )

    def __init__(
        self, out: Output, options: MemberOptions, size: int | None, hold_back_size: int
    ) -> None:
        self.options = options
        self._out = out
        self._declared = size
        self._seen = 0
        self._held: list[BytesLike] = []
        self._held_size = 0
        self._hold_back_size = hold_back_size
        self._hold_limit = 0
        self._crc = 0
        self._deflater: Deflater | None = None
        self._encryptor: MemberEncryptor | None = None  # made with the header
        self._header: _Header | None = None  # None while the data is held back

    def start(self) -> None:
        """Start a member whose data comes in chunks (``feed``), unless all of it is here."""
        if self.options.entry.is_dir:
            if self._declared:
                raise ValueError(f"folder {self.options.entry.name!r} cannot have data")
            self._declared = 0
            self._write_header(_Header(COMPRESSION_METHOD_NONE, False, False), 0, 0)
        else:
            self._plan()

    def learn_size(self, size: int | None) -> None:
        """The member's size became known after its first chunk (e.g. a response header)."""
        if size is None or self._declared is not None:
            return
        self._declared = size
        check_length(_member_label(self.options.entry), size, self._seen, finished=False)
        if self._header is None:
            self._plan()

    def feed(self, chunk: BytesLike) -> None:
        """Add a chunk of the member's data."""
        size = len(chunk)
        if not size:
            return
        self._seen += size
        if self._declared is not None and self._seen > self._declared:
            check_length(
                _member_label(self.options.entry), self._declared, self._seen, finished=False
            )
        if self._header is not None:
            self._stream(chunk)
            return
        self._held.append(chunk if type(chunk) is bytes else kept(chunk))
        self._held_size += size
        if self._held_size > self._hold_limit:
            self._start_streaming()

    def end(self) -> WrittenMember:
        """The member's data is complete; returns what its records hold."""
        if self._declared is not None and self._seen != self._declared:
            check_length(
                _member_label(self.options.entry), self._declared, self._seen, finished=True
            )
        if self._header is None:
            held = self._held
            crc = 0
            for chunk in held:
                crc = crc32(chunk, crc)
            return write_complete(self._out, self.options, held, self._held_size, crc)
        return self._end_stream()

    # -- internals --

    def _plan(self) -> None:
        """Decide how much to hold back, or start streaming now."""
        options, size, hold_back = self.options, self._declared, self._hold_back_size
        if options.method == COMPRESSION_METHOD_NONE:
            if size is not None and (options.crc32 is not None or size > hold_back):
                self._start_streaming()
                return
            self._hold_limit = hold_back
        else:
            # Deflate always holds enough for the compressibility probe, so the
            # probe sees the same bytes however the source chunks its data.
            limit = max(PROBE_SIZE, hold_back)
            self._hold_limit = PROBE_SIZE if size is not None and size > limit else limit
            if self._held_size > self._hold_limit:
                self._start_streaming()

    def _write_header(self, header: _Header, crc: int, size: int) -> None:
        self._header = header
        keys = self.options.encryption
        self._out.write(
            local_file_header(
                self.options.entry,
                header.method,
                0 if keys else crc,
                size + AES_OVERHEAD if keys else size,
                size,
                header.data_descriptor,
                header.zip64,
                keys is not None,
            )
        )
        if keys is not None:
            self._encryptor = MemberEncryptor(keys)
            self._out.write(self._encryptor.start())

    def _emit(self, piece: BytesLike) -> None:
        encryptor = self._encryptor
        self._out.write(piece if encryptor is None else encryptor.encrypt(piece))

    def _start_streaming(self) -> None:
        options, size = self.options, self._declared
        held, self._held = self._held, []
        if options.method == COMPRESSION_METHOD_NONE:
            if size is None:
                self._write_header(_Header(COMPRESSION_METHOD_NONE, True, True), 0, 0)
            else:
                descriptor, zip64 = stored_layout(
                    size, options.crc32 is not None, -1, options.encryption is not None
                )
                header = _Header(COMPRESSION_METHOD_NONE, descriptor, zip64)
                self._write_header(header, options.crc32 or 0, size)
            for chunk in held:
                self._crc = crc32(chunk, self._crc)
                self._emit(chunk)
            return
        sample = head(held, PROBE_SIZE)
        self._deflater = Deflater(options.level, incompressible=looks_incompressible(sample))
        overhead = AES_OVERHEAD if options.encryption is not None else 0
        zip64 = size is None or deflate_bound(size) + overhead >= ZIP64_LIMIT
        self._write_header(_Header(COMPRESSION_METHOD_DEFLATE, True, zip64), 0, 0)
        for chunk in held:
            self._stream(chunk)

    def _stream(self, chunk: BytesLike) -> None:
        self._crc = crc32(chunk, self._crc)
        if self._deflater is None:
            self._emit(chunk)
        else:
            for piece in self._deflater.compress(chunk):
                self._emit(piece)

    def _end_stream(self) -> WrittenMember:
        header = self._header
        assert header is not None
        crc, size = self._crc, self._seen
        compressed_size = size
        if self._deflater is not None:
            for piece in self._deflater.flush():
                self._emit(piece)
            compressed_size = self._deflater.compressed_size
        if not self.options.entry.is_dir:
            check_given_crc(self.options.crc32, crc, self.options.entry)
        encryptor = self._encryptor
        if encryptor is not None:
            self._out.write(encryptor.finish())
            compressed_size += AES_OVERHEAD
            crc = 0  # AE-2: the authentication code checks the data instead
        if header.data_descriptor:
            if not header.zip64 and (compressed_size >= ZIP64_LIMIT or size >= ZIP64_LIMIT):
                # Unreachable by the bounds above; never write a lying archive.
                raise RuntimeError("member passed 4 GiB without a zip64 local header")
            self._out.write(data_descriptor(crc, compressed_size, size, zip64=header.zip64))
        return WrittenMember(
            self.options.entry,
            header.method,
            crc,
            compressed_size,
            size,
            header.data_descriptor,
            header.zip64,
            encryptor is not None,
        )


class EncoderState(enum.Enum):
    """Where a ``ZipEncoder`` is in the archive."""

    BETWEEN_MEMBERS = "between members"
    IN_MEMBER = "in a member"
    FINISHED = "finished"


class ZipEncoder:
    """Sans-IO zip writer: feed members' data, take the archive's chunks.

    ```python
    encoder = ZipEncoder()
    encoder.begin(options, size=None)  # size: declared in advance, if known
    encoder.feed(b"...")               # any number of times
    encoder.end()
    encoder.add(options, b"...")       # or a whole member at once
    encoder.finish()                   # central directory and end records
    chunks = encoder.take()            # after any call: bytes to send, in order
    ```

    Args:
        hold_back_size: Bytes of a member of unknown size (or of a stored
            member of known size but unknown CRC) held in memory before its
            local header is written; a member that ends within it gets its
            sizes and CRC in the local header.
        chunk_size: Target size of the chunks built from small pieces.
        comment: The archive's comment (checked by ``check_comment``).
    """

    __slots__ = (
        "_comment",
        "_member",
        "_member_offset",
        "_out",
        "_written",
        "hold_back_size",
        "state",
    )

    def __init__(
        self,
        *,
        hold_back_size: int = DEFAULT_HOLD_BACK_SIZE,
        chunk_size: int = OUTPUT_CHUNK_SIZE,
        comment: bytes = b"",
        resume: ResumePoint | None = None,
    ) -> None:
        self.hold_back_size = hold_back_size
        self._comment = comment
        self.state = EncoderState.BETWEEN_MEMBERS
        self._out = Output(chunk_size)
        # Every member written, and the offset of its local header.
        self._written: list[tuple[WrittenMember, int]] = []
        if resume is not None:
            self._written.extend(resume.written)
            self._out.offset = resume.offset
        self._member: MemberWriter | None = None
        self._member_offset = 0

    def take(self) -> list[BytesLike]:
        """Archive chunks ready to send, in order."""
        return self._out.take()

    def flush(self) -> None:
        """Make buffered small pieces ready too (``take`` returns them)."""
        self._out.flush()

    def begin(self, options: MemberOptions, size: int | None = None) -> None:
        """Start a member; *size* is its length when declared in advance."""
        if self.state is not EncoderState.BETWEEN_MEMBERS:
            self._expect(EncoderState.BETWEEN_MEMBERS, "begin()")
        self._member_offset = self._out.offset
        member = MemberWriter(self._out, options, size, self.hold_back_size)
        member.start()
        self._member = member
        self.state = EncoderState.IN_MEMBER

    def add(self, options: MemberOptions, data: BytesLike) -> None:
        """A whole member at once: the same bytes as ``begin``, ``feed``, ``end``, faster."""
        size = len(data)
        fits = (
            size <= self.hold_back_size or options.crc32 is not None
            if options.method == COMPRESSION_METHOD_NONE
            else size <= max(PROBE_SIZE, self.hold_back_size)
        )
        if not fits or options.entry.is_dir:
            self.begin(options, size)
            self.feed(data)
            self.end()
            return
        if self.state is not EncoderState.BETWEEN_MEMBERS:
            self._expect(EncoderState.BETWEEN_MEMBERS, "add()")
        crc = options.crc32
        if crc is None or options.crc_data is not data:
            crc = crc32(data)
        offset = self._out.offset
        self._written.append((write_complete(self._out, options, (data,), size, crc), offset))

    def add_encoded(self, member: EncodedMember) -> None:
        """A member encoded on its own by ``encode_member`` (in another thread, say):
        its bytes go out as they are, its central record gets its place here."""
        self._expect(EncoderState.BETWEEN_MEMBERS, "add_encoded()")
        offset = self._out.offset
        for piece in member.pieces:
            self._out.write(piece)
        self._written.append((member.written, offset))

    def learn_size(self, size: int | None) -> None:
        """The member's size became known after its first chunk (e.g. a response header)."""
        if self._member is not None:
            self._member.learn_size(size)

    def feed(self, chunk: BytesLike) -> None:
        """Add a chunk of the member's data."""
        member = self._member
        if member is None:
            raise RuntimeError(f"feed() while {self.state.value}")
        member.feed(chunk)

    def end(self) -> None:
        """The member's data is complete."""
        member = self._member
        if member is None:
            raise RuntimeError(f"end() while {self.state.value}")
        self._written.append((member.end(), self._member_offset))
        self._member = None
        self.state = EncoderState.BETWEEN_MEMBERS

    def finish(self) -> None:
        """Write the central directory and the end records."""
        if self.state is EncoderState.FINISHED:
            return
        self._expect(EncoderState.BETWEEN_MEMBERS, "finish()")
        self.state = EncoderState.FINISHED
        out = self._out
        start = out.offset
        written = self._written
        out.write_small([member.central_record(offset) for member, offset in written])
        end = end_of_archive(len(written), start, out.offset - start, self._comment)
        if self._comment:
            refuse_false_end(end, len(self._comment))
        out.write(end)
        out.flush()

    @property
    def written(self) -> list[tuple[WrittenMember, int]]:
        """Every member written so far and its local header's offset, in archive order
        from the first (members before a resume point included): a member is listed
        once its records are all written. The encoder's own list: read, don't change."""
        return self._written

    def _expect(self, state: EncoderState, call: str) -> None:
        if self.state is not state:
            raise RuntimeError(f"{call} while {self.state.value}")


class MemberLayout(NamedTuple):
    """Where a member lies in its archive: what its records hold, and its length from
    its local header's first byte to its data's (or descriptor's) last."""

    written: WrittenMember
    length: int


def member_length(member: WrittenMember) -> int:
    """The bytes *member* takes in the archive: local header, data, descriptor."""
    length = local_header_length(member.entry, member.zip64, member.encrypted)
    length += member.compressed_size
    if member.data_descriptor:
        length += data_descriptor_size(zip64=member.zip64)
    return length


def predicted_layout(
    options: MemberOptions, size: int | None, hold_back_size: int
) -> MemberLayout | None:
    """A member's layout when it is known before its data is read: a folder, an empty
    member, or a stored one of declared size whose CRC is given (or not written: AE-2).
    Else ``None``. It is what the encoder writes for the member, to the byte."""
    entry, keys = options.entry, options.encryption
    if entry.is_dir:
        written = WrittenMember(entry, COMPRESSION_METHOD_NONE, 0, 0, 0, False, False)
        return MemberLayout(written, member_length(written))
    encrypted = keys is not None
    if size == 0:
        stored = AES_OVERHEAD if encrypted else 0
        written = WrittenMember(
            entry, COMPRESSION_METHOD_NONE, 0, stored, 0, False, False, encrypted
        )
        return MemberLayout(written, member_length(written))
    if size is None or options.method != COMPRESSION_METHOD_NONE:
        return None
    if options.crc32 is None and not encrypted:
        return None
    descriptor, zip64 = stored_layout(size, options.crc32 is not None, hold_back_size, encrypted)
    crc = 0 if encrypted else options.crc32
    assert crc is not None
    stored = size + AES_OVERHEAD if encrypted else size
    written = WrittenMember(
        entry, COMPRESSION_METHOD_NONE, crc, stored, size, descriptor, zip64, encrypted
    )
    return MemberLayout(written, member_length(written))


class ResumePoint(NamedTuple):
    """Where an encoder resumes an archive: the members before it, each with its local
    header's offset, and the offset of the next member."""

    written: list[tuple[WrittenMember, int]]
    offset: int


def resume_point(layouts: Sequence[MemberLayout]) -> ResumePoint:
    """The resume point after the members of *layouts*, laid one after another."""
    written: list[tuple[WrittenMember, int]] = []
    offset = 0
    for layout in layouts:
        written.append((layout.written, offset))
        offset += layout.length
    return ResumePoint(written, offset)


def refuse_false_end(end: bytes, comment_length: int) -> None:
    """Raise if an end record's signature appears in *end* after the real one.

    With a comment, readers search backwards for the end record, so the central
    directory's offset and size, the comment's length and the comment must not
    spell a signature. ``check_comment`` rules out the comment and its length
    when the archive is made; the offset and size are known only here, where a
    comment meets one of them in a few billion archives.
    """
    real = len(end) - END_RECORD_SIZE - comment_length
    after = end[real + 1 :]
    for signature in END_SIGNATURES:
        if signature in after:
            raise ValueError(
                f"this archive's end record and comment spell the end record signature "
                f"{signature!r} after the real one (its central directory's offset and size "
                "meet the comment): readers would misread it; give it another comment"
            )


class EncodedMember(NamedTuple):
    """A member's local records and data, encoded apart from its archive."""

    pieces: list[BytesLike]
    written: WrittenMember


def encode_member(
    options: MemberOptions, size: int | None, chunks: Iterable[BytesLike], hold_back_size: int
) -> EncodedMember:
    """Encode one member from its *chunks* apart from any archive: the bytes
    ``ZipEncoder.begin``, ``feed`` and ``end`` would write for it, wherever it lands
    (its offset goes only into the central record, which ``add_encoded`` makes)."""
    out = Output(OUTPUT_CHUNK_SIZE)
    writer = MemberWriter(out, options, size, hold_back_size)
    writer.start()
    if not options.entry.is_dir:
        for chunk in chunks:
            writer.feed(chunk)
    written = writer.end()
    out.flush()
    return EncodedMember(out.take(), written)


def archive_length(
    members: Sequence[tuple[MemberOptions, int | None]], hold_back_size: int, comment: bytes = b""
) -> int | None:
    """The exact archive length, when it is known before any data is read.

    Known when every member is a folder, or stored with a declared size, or
    empty: the records' lengths do not depend on the CRC, so none is needed.
    """
    offset = 0
    central = 0
    for options, size in members:
        entry = options.entry
        if entry.is_dir:
            size = 0
        if size is None or (options.method != COMPRESSION_METHOD_NONE and size != 0):
            return None
        encrypted = options.encryption is not None
        descriptor, zip64 = stored_layout(
            size, options.crc32 is not None, hold_back_size, encrypted
        )
        stored = size + AES_OVERHEAD if encrypted else size
        central += central_header_length(entry, stored, size, offset, encrypted)
        offset += local_header_length(entry, zip64, encrypted) + stored
        if descriptor:
            offset += data_descriptor_size(zip64=zip64)
    return offset + central + len(end_of_archive(len(members), offset, central, comment))
