"""Output buffering of the zip encoder, sans-IO: pieces in, chunks worth yielding out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from ._types import BytesLike

OUTPUT_CHUNK_SIZE: Final = 65536
# Pieces shorter than this are copied into the output buffer; longer ones pass
# through as the same object (source chunks are not copied).
_SMALL_PIECE: Final = 16384


class Output:
    """Collects archive pieces into chunks worth yielding, and counts the offset.

    Small pieces (headers, small members, compressor output) are copied into
    chunks of about ``chunk_size`` bytes; a big piece passes through as the
    same object, after whatever was buffered before it.
    """

    __slots__ = ("_buffer", "_chunk_size", "_ready", "offset")

    def __init__(self, chunk_size: int = OUTPUT_CHUNK_SIZE) -> None:
        self._buffer = bytearray()
        self._chunk_size = chunk_size
        self._ready: list[BytesLike] = []
        self.offset = 0

    def write(self, piece: BytesLike) -> None:
        size = len(piece)
        if not size:
            return
        self.offset += size
        buffer = self._buffer
        if size < _SMALL_PIECE:
            buffer += piece
            if len(buffer) >= self._chunk_size:
                self._ready.append(bytes(buffer))
                buffer.clear()
        elif buffer:
            if len(buffer) + size <= 2 * self._chunk_size:
                # One copy of a chunk-sized piece is cheaper than a tiny write.
                buffer += piece
                self._ready.append(bytes(buffer))
            else:
                self._ready.append(bytes(buffer))
                self._ready.append(piece)
            buffer.clear()
        else:
            self._ready.append(piece)

    def write_small(self, pieces: Sequence[bytes]) -> None:
        """Copy *pieces* (our own records) into chunks, whatever their sizes."""
        buffer, ready, limit = self._buffer, self._ready, self._chunk_size
        for piece in pieces:
            buffer += piece
            self.offset += len(piece)
            if len(buffer) >= limit:
                ready.append(bytes(buffer))
                buffer.clear()

    def write_all(self, pieces: Sequence[BytesLike]) -> None:
        for piece in pieces:
            self.write(piece)

    def flush(self) -> None:
        if self._buffer:
            self._ready.append(bytes(self._buffer))
            self._buffer.clear()

    def take(self) -> list[BytesLike]:
        """The chunks ready to be yielded (and forget them)."""
        ready = self._ready
        if ready:
            self._ready = []
        return ready
