"""Range arithmetic, sans-IO: checks, skips, windows and HTTP header values, with plain values."""

from __future__ import annotations

import itertools

import pytest

from httpx_streaming._ranges import (
    ContentRange,
    Skip,
    Window,
    check_content_range,
    check_range,
    parse_content_range,
    range_header,
    skip_segments,
)


def test_check_range_accepts_ranges_within_the_body() -> None:
    assert check_range(0, None, 10) == (0, None)
    assert check_range(10, None, 10) == (10, None)  # empty, at the very end
    assert check_range(3, 3, 10) == (3, 3)
    assert check_range(2, 10, 10) == (2, 10)
    assert check_range(5, 99, None) == (5, 99)  # length unknown: checked while passing


@pytest.mark.parametrize(
    ("start", "stop", "length", "error", "message"),
    [
        (-1, None, 10, ValueError, "start must be a non-negative int, got -1"),
        (1.5, None, 10, TypeError, r"start must be an int, got 1.5 \(type float\)"),
        (True, None, 10, TypeError, r"start must be an int, got True \(type bool\)"),
        (0, "5", 10, TypeError, r"stop must be an int, got .5. \(type str\)"),
        (5, 4, 10, ValueError, r"stop \(4\) must not be before start \(5\)"),
        (11, None, 10, ValueError, r"start \(11\) is past the end of a body of 10 bytes"),
        (2, 11, 10, ValueError, r"stop \(11\) is past the end of a body of 10 bytes"),
    ],
)
def test_check_range_refuses_bad_ranges(
    start: object, stop: object, length: int, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        check_range(start, stop, length)


def test_skip_segments() -> None:
    lengths = [3, 0, 4, None, 5]
    assert skip_segments(lengths, 0) == Skip(0, 0, 0)
    assert skip_segments(lengths, 2) == Skip(0, 0, 2)
    assert skip_segments(lengths, 3) == Skip(2, 3, 0)  # the empty segment is skipped too
    assert skip_segments(lengths, 6) == Skip(2, 3, 3)
    assert skip_segments(lengths, 7) == Skip(3, 7, 0)
    assert skip_segments(lengths, 100) == Skip(3, 7, 0)  # nothing after an unknown length
    assert skip_segments([2, 2], 4) == Skip(2, 4, 0)  # past every segment: at the end


def _chunkings(data: bytes) -> list[list[bytes]]:
    """Every way to cut *data* into pieces (including empty pieces at the cuts)."""
    result = []
    for cuts in itertools.product([False, True], repeat=len(data) - 1):
        pieces, begin = [], 0
        for index, cut in enumerate(cuts, start=1):
            if cut:
                pieces.append(data[begin:index])
                begin = index
        pieces.append(data[begin:])
        result.append(pieces)
    result.append([b"", *result[0], b""])
    return result


def test_window_cuts_every_chunking_to_the_slice() -> None:
    data = bytes(range(7))
    for start in range(len(data) + 1):
        for stop in [None, *range(start, len(data) + 1)]:
            for pieces in _chunkings(data):
                window = Window(start, stop)
                out = []
                for piece in pieces:
                    cut = window.cut(piece)
                    if cut is not None:
                        assert len(cut) > 0
                        out.append(bytes(cut))
                    if window.done:
                        break
                assert b"".join(out) == data[start:stop]
                window.check_end("body")


def test_window_passes_whole_chunks_through_uncopied() -> None:
    window = Window(0, None)
    chunk = b"abc"
    assert window.cut(chunk) is chunk


def test_window_starting_later_and_the_short_body_error() -> None:
    window = Window(10, 20, position=8)
    assert bytes(window.cut(b"abcd") or b"") == b"cd"
    with pytest.raises(
        ValueError, match=r"start=10, stop=20 is past the end of body, which has 12 bytes"
    ):
        window.check_end("body")
    window = Window(10, None, position=0)
    window.cut(b"123")
    with pytest.raises(ValueError, match="start=10 is past the end"):
        window.check_end("body")


def test_range_header() -> None:
    assert range_header(0, 1) == "bytes=0-0"
    assert range_header(5, None) == "bytes=5-"
    assert range_header(5, 100) == "bytes=5-99"


def test_parse_content_range() -> None:
    assert parse_content_range("bytes 0-9/10") == ContentRange(0, 9, 10)
    assert parse_content_range("bytes 5-9/*") == ContentRange(5, 9, None)
    assert parse_content_range("bytes */42") == ContentRange(None, None, 42)
    for bad in ["bytes 9-5/10", "items 0-1/2", "bytes */*", "bytes 1-/2", ""]:
        with pytest.raises(ValueError, match="Content-Range"):
            parse_content_range(bad)


def test_check_content_range() -> None:
    assert check_content_range("bytes 5-9/10", 5, None).total == 10
    assert check_content_range("bytes 5-7/10", 5, 8).last == 7
    assert check_content_range("bytes 5-9/10", 5, 20).last == 9  # the body ends first
    with pytest.raises(ValueError, match="without a Content-Range"):
        check_content_range(None, 5, None)
    with pytest.raises(ValueError, match=r"'bytes 0-9/10' to Range 'bytes=5-'"):
        check_content_range("bytes 0-9/10", 5, None)
    with pytest.raises(ValueError, match=r"to Range 'bytes=5-7'"):
        check_content_range("bytes 5-6/10", 5, 8)
