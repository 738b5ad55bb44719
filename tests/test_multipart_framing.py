"""Sans-IO multipart framing: boundaries, browser escaping, part headers, layout, sizes.

Plain bytes in, plain bytes out; the expected bytes are written out by hand
from RFC 7578 / RFC 2046 and the WHATWG HTML form encoding rules, and bodies
are checked with the real parsers of ``multipart_parsers``.
"""

from __future__ import annotations

import re
import urllib.parse

import pytest
from multipart_parsers import PARSERS, Part, parse_urlencoded_python_multipart

from httpx_streaming import _multipart as mp

B = "simple-boundary"


def test_generated_boundaries_are_random_long_and_valid() -> None:
    boundaries = {mp.generate_boundary() for _ in range(1000)}
    assert len(boundaries) == 1000
    for boundary in list(boundaries)[:50]:
        assert mp.check_boundary(boundary) == boundary
        assert re.fullmatch(r"httpx-streaming-[0-9a-f]{32}", boundary)
        assert mp.multipart_content_type(boundary) == f"multipart/form-data; boundary={boundary}"


@pytest.mark.parametrize(
    "boundary",
    ["a", "x" * 70, "with space inside", "'()+_,-./:=?", "0123456789", b"bytes-ok"],
)
def test_valid_boundaries(boundary: str | bytes) -> None:
    expected = boundary.decode() if isinstance(boundary, bytes) else boundary
    assert mp.check_boundary(boundary) == expected


@pytest.mark.parametrize(
    ("boundary", "message"),
    [
        ("", "1 to 70 characters"),
        ("x" * 71, "1 to 70 characters long (RFC 2046), got 71"),
        ("ends with space ", "is not valid"),
        ('quote"', "is not valid"),
        ("semi;colon", "is not valid"),
        ("tab\there", "is not valid"),
        ("crlf\r\n", "is not valid"),
        ("ünicode", "is not valid"),
        (b"\xff", "must be ASCII"),
    ],
)
def test_invalid_boundaries_raise_value_error(boundary: str | bytes, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        mp.check_boundary(boundary)


def test_boundary_type_is_checked() -> None:
    with pytest.raises(TypeError, match=r"boundary must be a str, got 12 \(type int\)"):
        mp.check_boundary(12)


def test_boundaries_that_are_not_tokens_are_quoted_in_the_header() -> None:
    assert mp.multipart_content_type("a b:c") == 'multipart/form-data; boundary="a b:c"'
    assert mp.multipart_content_type("a-b_c.d") == "multipart/form-data; boundary=a-b_c.d"


# --- names: the browser's escaping ------------------------------------------------

# The escaping of WHATWG HTML's multipart/form-data encoding algorithm (what
# Chromium, WebKit and Firefox implement): only ", CR and LF are escaped;
# backslashes and non-ASCII text pass as UTF-8.
BROWSER_NAMES = [
    ("plain", "plain"),
    ("with space", "with space"),
    ('say "hi"', "say %22hi%22"),
    ("back\\slash", "back\\slash"),
    ("line\r\nbreak", "line%0D%0Abreak"),
    ("lone\rcr\nlf", "lone%0Dcr%0Alf"),
    ("名前", "名前"),
    ("emoji 🎉", "emoji 🎉"),
    ("%22 stays", "%22 stays"),
    ("semi;colon=equals", "semi;colon=equals"),
]


@pytest.mark.parametrize(("name", "escaped"), BROWSER_NAMES)
def test_names_are_escaped_like_browsers(name: str, escaped: str) -> None:
    assert mp.escape_name(name) == escaped


def test_part_header_bytes_match_a_browser_upload() -> None:
    # An upload of <input type=file name='a"b\c 名'> with the file 'x"y\z 🎉.txt',
    # written out by hand from the WHATWG rules that Chromium and Firefox follow.
    expected = (
        b"--simple-boundary\r\n"
        b'Content-Disposition: form-data; name="a%22b\\c \xe5\x90\x8d"; '
        b'filename="x%22y\\z \xf0\x9f\x8e\x89.txt"\r\n'
        b"Content-Type: text/plain\r\n"
        b"\r\n"
    )
    header = mp.render_part_header(
        B, 'a"b\\c 名', file_name='x"y\\z 🎉.txt', content_type="text/plain"
    )
    assert header == expected


def test_field_names_get_crlf_before_escaping_file_names_do_not() -> None:
    # Browsers turn a lone CR or LF in a field name (not a file name) into CRLF
    # before escaping (WHATWG HTML, newline normalization in form submission).
    assert mp.normalize_newlines("a\rb\nc\r\nd") == "a\r\nb\r\nc\r\nd"
    assert mp.normalize_newlines("plain") == "plain"
    header = mp.render_part_header(B, "a\rb\nc\r\nd", file_name="e\rf\ng.txt")
    assert b'name="a%0D%0Ab%0D%0Ac%0D%0Ad"; filename="e%0Df%0Ag.txt"' in header


def test_part_header_of_a_text_field_has_no_content_type() -> None:
    assert mp.render_part_header(B, "field") == (
        b'--simple-boundary\r\nContent-Disposition: form-data; name="field"\r\n\r\n'
    )


def test_part_header_with_transfer_encoding() -> None:
    header = mp.render_part_header(
        B,
        "f",
        file_name="f.bin",
        content_type="application/octet-stream",
        transfer_encoding="binary",
    )
    assert header.endswith(b"Content-Transfer-Encoding: binary\r\n\r\n")


def test_unquoted_names_are_written_verbatim() -> None:
    header = mp.render_part_header(B, "a\\b 名", file_name="%22.txt", quote_fields=False)
    assert b'name="a\\b \xe5\x90\x8d"; filename="%22.txt"' in header


@pytest.mark.parametrize("name", ['a"b', "a\rb", "a\nb"])
def test_unquoted_names_refuse_what_cannot_be_written(name: str) -> None:
    with pytest.raises(ValueError, match="cannot be sent unescaped"):
        mp.check_name(name, "field name", quote_fields=False)
    assert mp.check_name(name, "field name") == name


def test_name_checks() -> None:
    with pytest.raises(TypeError, match=r"field name must be a str, got b'x' \(type bytes\)"):
        mp.check_name(b"x", "field name")
    with pytest.raises(ValueError, match="must not contain a NUL"):
        mp.check_name("a\x00b", "field name")
    with pytest.raises(ValueError, match="cannot be encoded as UTF-8"):
        mp.check_name("\ud800", "file_name")


def test_content_type_checks() -> None:
    assert mp.check_content_type("text/plain; charset=utf-8") == "text/plain; charset=utf-8"
    with pytest.raises(TypeError, match=r"content_type must be a str, got None \(type NoneType\)"):
        mp.check_content_type(None)
    for bad in ["", "  ", "text/plain\r\nX-Injected: 1", "text/plain\x00", "tëxt/plain"]:
        with pytest.raises(ValueError, match="printable ASCII"):
            mp.check_content_type(bad)


def test_transfer_encodings() -> None:
    assert mp.check_transfer_encoding("BINARY") == "binary"
    for refused in ["base64", "Quoted-Printable"]:
        with pytest.raises(ValueError, match="RFC 7578"):
            mp.check_transfer_encoding(refused)
    with pytest.raises(ValueError, match="unknown transfer_encoding 'gzip'"):
        mp.check_transfer_encoding("gzip")
    with pytest.raises(TypeError, match="transfer_encoding must be a str"):
        mp.check_transfer_encoding(1)


# --- layout ------------------------------------------------------------------------


def _frame(parts: list[tuple[bytes, bytes]], limit: int = mp.COALESCE_LIMIT) -> list[bytes]:
    return mp.frame_parts(B, parts, coalesce_limit=limit)  # type: ignore[return-value]


def test_layout_of_two_parts_matches_rfc_7578() -> None:
    parts = [
        (mp.render_part_header(B, "a"), b"1"),
        (mp.render_part_header(B, "f", file_name="f.txt", content_type="text/plain"), b"xyz"),
    ]
    body = b"".join(_frame(parts))
    assert body == (
        b"--simple-boundary\r\n"
        b'Content-Disposition: form-data; name="a"\r\n'
        b"\r\n"
        b"1\r\n"
        b"--simple-boundary\r\n"
        b'Content-Disposition: form-data; name="f"; filename="f.txt"\r\n'
        b"Content-Type: text/plain\r\n"
        b"\r\n"
        b"xyz\r\n"
        b"--simple-boundary--\r\n"
    )
    assert mp.multipart_length(B, [(header, len(data)) for header, data in parts]) == len(body)


def test_small_values_are_coalesced_into_one_chunk() -> None:
    parts = [(mp.render_part_header(B, f"f{index}"), b"v" * index) for index in range(100)]
    segments = _frame(parts)
    assert len(segments) == 1
    assert mp.multipart_length(B, [(h, len(d)) for h, d in parts]) == len(segments[0])


def test_large_values_and_streams_are_their_own_segments_uncopied() -> None:
    big = b"x" * 100
    token = object()
    header = mp.render_part_header(B, "x")
    segments = mp.frame_parts(
        B, [(header, b"small"), (header, big), (header, token), (header, b"")], coalesce_limit=50
    )
    assert len(segments) == 5
    assert segments[1] is big
    assert segments[3] is token
    assert segments[0] == header + b"small\r\n" + header
    assert segments[2] == b"\r\n" + header
    assert segments[4] == b"\r\n" + header + b"\r\n--simple-boundary--\r\n"
    assert all(len(segment) for segment in segments if segment is not token)  # type: ignore[arg-type]


def test_length_is_unknown_when_any_part_is() -> None:
    header = mp.render_part_header(B, "x")
    assert mp.multipart_length(B, [(header, 1), (header, None)]) is None
    assert mp.multipart_length(B, []) == len(b"--simple-boundary--\r\n")


def test_delimiter_detection() -> None:
    assert mp.contains_delimiter(b"a\r\n--simple-boundary\r\n", B)
    assert mp.contains_delimiter(memoryview(b"--simple-boundary"), B)
    assert not mp.contains_delimiter(b"-simple-boundary", B)


TRICKY_DATA = [
    b"",
    b"--",
    b"\r\n",
    b"\r\n\r\n",
    b"\r",
    b"\n",
    b"--simple-boundary",
    b"\r\n--simple-boundar",
    b"--simple-boundary--",
    b"data\r\n--",
    bytes(range(256)) * 4,
]


@pytest.mark.parametrize("parser", PARSERS)
def test_tricky_data_round_trips_through_every_parser(parser: str) -> None:
    # The form's own boundary must not occur in data; everything else may.
    boundary = "Xq7-" + "b" * 30
    parts = [
        (
            mp.render_part_header(
                boundary,
                f"f{index}",
                file_name=f"f{index}.bin",
                content_type="application/octet-stream",
            ),
            data,
        )
        for index, data in enumerate(TRICKY_DATA)
    ]
    body = b"".join(mp.frame_parts(boundary, parts))
    parsed = PARSERS[parser](body, mp.multipart_content_type(boundary))
    assert parsed == [
        Part(f"f{index}", f"f{index}.bin", "application/octet-stream", data)
        for index, data in enumerate(TRICKY_DATA)
    ]


# --- urlencoded --------------------------------------------------------------------


def test_urlencoded_matches_the_whatwg_serializer() -> None:
    pairs = [("a b", "c+d"), ("x", "~*-._!'()"), ("名", "🎉&="), ("empty", ""), ("q", 'a"\r\n')]
    body = mp.urlencode(pairs)
    assert body == (
        b"a+b=c%2Bd&x=%7E*-._%21%27%28%29&%E5%90%8D=%F0%9F%8E%89%26%3D&empty=&q=a%22%0D%0A"
    )
    assert urllib.parse.parse_qsl(body.decode(), keep_blank_values=True) == pairs
    assert parse_urlencoded_python_multipart(body) == pairs
    assert mp.urlencode([]) == b""
