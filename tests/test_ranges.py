"""Range arithmetic, sans-IO: checks, skips, windows and HTTP header values (a client's and a
server's), with plain values."""

from __future__ import annotations

import itertools

import pytest

from httpx_streaming._ranges import (
    ContentRange,
    RangeSpec,
    Skip,
    Window,
    check_content_range,
    check_range,
    content_range,
    http_date,
    if_range_holds,
    parse_content_range,
    parse_http_date,
    parse_range,
    range_header,
    satisfiable_range,
    skip_segments,
    strong_match,
    unsatisfied_range,
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


# --- the server's side: Range and If-Range -------------------------------------------


@pytest.mark.parametrize(
    ("value", "specs"),
    [
        ("bytes=0-499", [(0, 499)]),
        ("bytes=500-", [(500, None)]),
        ("bytes=-500", [(None, 500)]),
        ("bytes=0-0", [(0, 0)]),
        ("bytes=-0", [(None, 0)]),
        ("BYTES = 7-9", [(7, 9)]),
        ("bytes=0-1, 5-6,-3", [(0, 1), (5, 6), (None, 3)]),
        ("bytes=0-1,,5-", [(0, 1), (5, None)]),  # empty list elements are allowed
        ("bytes=00010-00020", [(10, 20)]),
        ("bytes=12345678901234567890-", [(12345678901234567890, None)]),
    ],
)
def test_parse_range(value: str, specs: list[tuple[int | None, int | None]]) -> None:
    assert parse_range(value) == tuple(RangeSpec(*spec) for spec in specs)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "bytes=",
        "bytes=,",
        "bytes=-",
        "bytes=5-4",  # reversed
        "bytes=0-1,5-4",  # one reversed range spoils the header
        "bytes=+1-2",
        "bytes=1-2-3",
        "bytes=a-b",
        "bytes 0-1",
        "items=0-1",  # another unit
        "bytes=0-1;x",
        "bytes=--1",
    ],
)
def test_parse_range_refuses_what_a_server_ignores(value: str) -> None:
    assert parse_range(value) is None


@pytest.mark.parametrize(
    ("spec", "length", "span"),
    [
        ((0, 0), 10, (0, 1)),
        ((0, 9), 10, (0, 10)),
        ((0, 99), 10, (0, 10)),  # a last byte past the end is cut to the end
        ((3, None), 10, (3, 10)),
        ((9, None), 10, (9, 10)),
        ((10, None), 10, None),  # starts at the end: nothing to send
        ((11, 20), 10, None),
        ((None, 1), 10, (9, 10)),
        ((None, 10), 10, (0, 10)),
        ((None, 11), 10, (0, 10)),  # a suffix longer than the body: all of it
        ((None, 0), 10, None),
        ((0, None), 0, None),
        ((None, 5), 0, None),  # the body is empty: no range says it
    ],
)
def test_satisfiable_range(
    spec: tuple[int | None, int | None], length: int, span: tuple[int, int] | None
) -> None:
    assert satisfiable_range(RangeSpec(*spec), length) == span


def test_content_range_values() -> None:
    assert content_range(0, 1, 10) == "bytes 0-0/10"
    assert content_range(3, 10, 10) == "bytes 3-9/10"
    assert unsatisfied_range(10) == "bytes */10"
    assert unsatisfied_range(0) == "bytes */0"


def test_strong_match() -> None:
    assert strong_match('"abc"', '"abc"')
    assert strong_match(' "abc" ', '"abc"')
    assert not strong_match('"abc"', '"abd"')
    assert not strong_match('W/"abc"', 'W/"abc"')  # weak tags never match strongly
    assert not strong_match('W/"abc"', '"abc"')
    assert not strong_match("abc", "abc")  # not an entity-tag


EPOCH_1994 = 784111777  # Sun, 06 Nov 1994 08:49:37 GMT


@pytest.mark.parametrize(
    "value",
    [
        "Sun, 06 Nov 1994 08:49:37 GMT",  # IMF-fixdate
        "Sunday, 06-Nov-94 08:49:37 GMT",  # obsolete RFC 850
        "Sun Nov  6 08:49:37 1994",  # asctime
    ],
)
def test_parse_http_date_reads_the_three_forms(value: str) -> None:
    assert parse_http_date(value) == EPOCH_1994


@pytest.mark.parametrize("value", ["", "yesterday", '"etag"', "Sun, 99 Nov 1994 08:49:37 GMT"])
def test_parse_http_date_refuses_other_values(value: str) -> None:
    assert parse_http_date(value) is None


def test_http_date_is_an_imf_fixdate() -> None:
    assert http_date(EPOCH_1994) == "Sun, 06 Nov 1994 08:49:37 GMT"
    assert http_date(EPOCH_1994 + 0.9) == "Sun, 06 Nov 1994 08:49:37 GMT"


def test_if_range_with_an_entity_tag() -> None:
    assert if_range_holds('"v1"', '"v1"', None)
    assert not if_range_holds('"v0"', '"v1"', None)
    assert not if_range_holds('W/"v1"', 'W/"v1"', None)  # strong comparison only
    assert not if_range_holds('"v1"', None, EPOCH_1994)  # no ETag to compare with


def test_if_range_with_a_date() -> None:
    assert if_range_holds("Sun, 06 Nov 1994 08:49:37 GMT", None, EPOCH_1994)
    assert if_range_holds("Sunday, 06-Nov-94 08:49:37 GMT", '"v1"', EPOCH_1994)
    # Exactly Last-Modified: a later date is not "unmodified since" here.
    assert not if_range_holds("Sun, 06 Nov 1994 08:49:38 GMT", None, EPOCH_1994)
    assert not if_range_holds("Sun, 06 Nov 1994 08:49:37 GMT", '"v1"', None)
    assert not if_range_holds("garbage", '"v1"', EPOCH_1994)
