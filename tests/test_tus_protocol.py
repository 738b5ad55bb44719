"""The tus protocol object with plain values: the requests it asks for and how it reads answers."""

from __future__ import annotations

import base64
import hashlib

import pytest

from httpx_streaming._tus_protocol import (
    TusError,
    TusRequest,
    TusUpload,
    Verdict,
    checksum_header,
    encode_metadata,
    parse_offset,
)

URL = "http://tus.example/files/"
TUS = {"tus-resumable": "1.0.0"}
OPTIONS = {
    "tus-extension": "creation,creation-defer-length,checksum",
    "tus-checksum-algorithm": "md5,sha1",
}


def step(tus: TusUpload, status: int, headers: dict[str, str], url: str = URL) -> TusRequest:
    """Answer the current request; return it."""
    request = tus.next_request()
    assert request is not None
    assert tus.receive(request, status, headers, url) is Verdict.CONTINUE
    return request


def created(tus: TusUpload, location: str = "/files/abc") -> None:
    step(tus, 204, OPTIONS)
    step(tus, 201, {**TUS, "location": location})


def test_metadata_encoding() -> None:
    assert encode_metadata(None) is None
    assert encode_metadata({}) is None
    value = encode_metadata({"filename": "ré.txt", "raw": b"\x00\xff", "empty": ""})
    assert value == "filename " + base64.b64encode("ré.txt".encode()).decode() + ",raw AP8=,empty"
    for bad in ("a b", "a,b", "", "é", "tab\t"):
        with pytest.raises(ValueError, match="metadata keys"):
            encode_metadata({bad: "x"})
    with pytest.raises(TypeError, match="metadata keys must be str"):
        encode_metadata({b"k": "x"})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="not valid UTF-8"):
        encode_metadata({"k": "\ud800"})


def test_creation_then_chunks_to_the_end() -> None:
    tus = TusUpload(URL, length=25, metadata={"name": "x"}, chunk_size=10, checksum=False)
    options = step(tus, 204, OPTIONS)
    assert options.method == "OPTIONS" and options.url == URL
    post = step(tus, 201, {**TUS, "location": "/files/abc"}, URL)
    assert post.method == "POST"
    assert post.headers["Upload-Length"] == "25"
    assert post.headers["Upload-Metadata"] == "name eA=="
    assert "Upload-Defer-Length" not in post.headers
    assert tus.upload_url == "http://tus.example/files/abc"  # Location resolved
    ranges = []
    for offset in (10, 20, 25):
        patch = step(tus, 204, {**TUS, "upload-offset": str(offset)})
        assert patch.method == "PATCH" and patch.url == tus.upload_url
        assert patch.headers["Content-Type"] == "application/offset+octet-stream"
        assert patch.headers["Tus-Resumable"] == "1.0.0"
        assert "Upload-Checksum" not in patch.headers and patch.checksum is None
        ranges.append((int(patch.headers["Upload-Offset"]), patch.start, patch.stop))
    assert ranges == [(0, 0, 10), (10, 10, 20), (20, 20, 25)]
    assert tus.next_request() is None


def test_a_failure_asks_for_the_offset_and_goes_on_from_it() -> None:
    tus = TusUpload(URL, length=30, chunk_size=10, retry_delay=0.5, max_retries=2)
    created(tus)
    patch = tus.next_request()
    assert patch is not None and (patch.start, patch.stop) == (0, 10)
    assert tus.failed(patch, ConnectionError("cut"))
    assert tus.retry_delay == 0.5
    head = step(tus, 200, {**TUS, "upload-offset": "4", "upload-length": "30"})
    assert head.method == "HEAD"
    patch = tus.next_request()
    assert patch is not None and (patch.start, patch.stop) == (4, 14)
    # A 5xx without progress, twice: the delay doubles; a third gives up.
    assert tus.receive(patch, 503, TUS, URL) is Verdict.RETRY
    step(tus, 200, {**TUS, "upload-offset": "4", "upload-length": "30"})
    patch = tus.next_request()
    assert patch is not None
    assert tus.receive(patch, 500, TUS, URL) is Verdict.RETRY
    assert tus.retry_delay == 1.0
    step(tus, 200, {**TUS, "upload-offset": "4", "upload-length": "30"})
    patch = tus.next_request()
    assert patch is not None
    with pytest.raises(TusError, match="giving up after 3 failures"):
        tus.receive(patch, 502, TUS, URL)


def test_progress_resets_the_failures() -> None:
    tus = TusUpload(URL, length=30, chunk_size=10, max_retries=1)
    created(tus)
    for offset in (3, 6, 9):
        patch = tus.next_request()
        assert patch is not None
        assert tus.failed(patch, ConnectionError("cut"))
        step(tus, 200, {**TUS, "upload-offset": str(offset), "upload-length": "30"})


def test_conflict_and_checksum_mismatch_are_retried() -> None:
    for status in (409, 460):
        tus = TusUpload(URL, length=5, chunk_size=10)
        created(tus)
        patch = tus.next_request()
        assert patch is not None
        assert tus.receive(patch, status, TUS, URL) is Verdict.RETRY
        assert tus.next_request().method == "HEAD"  # type: ignore[union-attr]


def test_other_client_errors_fail() -> None:
    tus = TusUpload(URL, length=5, chunk_size=10)
    created(tus)
    patch = tus.next_request()
    assert patch is not None
    assert tus.receive(patch, 403, TUS, URL) is Verdict.FAIL
    tus = TusUpload(URL, length=5)
    step(tus, 204, OPTIONS)
    post = tus.next_request()
    assert post is not None
    assert tus.receive(post, 412, {"tus-version": "0.2.2"}, URL) is Verdict.FAIL
    assert "does not speak tus 1.0.0" in tus.failure


def test_offsets_that_break_the_protocol() -> None:
    tus = TusUpload(URL, length=100, chunk_size=10)
    created(tus)
    step(tus, 204, {**TUS, "upload-offset": "10"})
    patch = tus.next_request()
    assert patch is not None
    tus.failed(patch, ConnectionError("cut"))
    head = tus.next_request()
    assert head is not None
    with pytest.raises(TusError, match="went backwards"):
        tus.receive(head, 200, {**TUS, "upload-offset": "9"}, URL)
    tus = TusUpload(URL, length=100, chunk_size=10)
    created(tus)
    patch = tus.next_request()
    assert patch is not None
    with pytest.raises(TusError, match="past the 10 bytes sent"):
        tus.receive(patch, 204, {**TUS, "upload-offset": "11"}, URL)
    for bad in ({}, {"upload-offset": "-1"}, {"upload-offset": "x"}):
        with pytest.raises(TusError, match="Upload-Offset"):
            parse_offset(bad, "PATCH")


def test_answers_must_be_tus() -> None:
    tus = TusUpload(URL, length=5)
    step(tus, 204, OPTIONS)
    post = tus.next_request()
    assert post is not None
    with pytest.raises(TusError, match="no Tus-Resumable"):
        tus.receive(post, 201, {"location": "/x"}, URL)
    with pytest.raises(TusError, match=r"Tus-Resumable: '0\.2\.2'"):
        tus.receive(post, 201, {"tus-resumable": "0.2.2", "location": "/x"}, URL)
    with pytest.raises(TusError, match="no Location"):
        tus.receive(post, 201, TUS, URL)


def test_unknown_length_is_deferred_then_declared() -> None:
    tus = TusUpload(URL, length=None, chunk_size=10, checksum=False)
    step(tus, 204, OPTIONS)
    post = step(tus, 201, {**TUS, "location": "http://other.example/u/1"})
    assert post.headers["Upload-Defer-Length"] == "1" and "Upload-Length" not in post.headers
    assert tus.upload_url == "http://other.example/u/1"
    first = step(tus, 204, {**TUS, "upload-offset": "10"})
    assert (first.start, first.stop) == (0, None)
    assert "Content-Length" not in first.headers and "Upload-Length" not in first.headers
    second = tus.next_request()
    assert second is not None and (second.start, second.stop) == (10, None)
    tus.body_ended(14)  # the driver saw the body end within the chunk
    assert tus.receive(second, 204, {**TUS, "upload-offset": "14"}, URL) is Verdict.CONTINUE
    last = step(tus, 204, {**TUS, "upload-offset": "14"})
    assert (last.start, last.stop) == (14, 14)
    assert last.headers["Upload-Length"] == "14" and last.headers["Content-Length"] == "0"
    assert tus.next_request() is None


def test_unknown_length_needs_the_defer_extension() -> None:
    tus = TusUpload(URL, length=None)
    step(tus, 204, {"tus-extension": "creation"})
    with pytest.raises(TusError, match="creation-defer-length"):
        tus.next_request()


def test_creation_needs_the_extension_unless_resuming() -> None:
    tus = TusUpload(URL, length=3)
    request = tus.next_request()
    assert request is not None
    with pytest.raises(TusError, match="does not offer the creation extension"):
        tus.receive(request, 204, {"tus-extension": "checksum"}, URL)
    resumed = TusUpload(URL, length=3, upload_url=URL + "abc")
    step(resumed, 204, {"tus-extension": ""})
    head = step(resumed, 200, {**TUS, "upload-offset": "1", "upload-length": "3"})
    assert head.method == "HEAD" and head.url == URL + "abc"
    patch = resumed.next_request()
    assert patch is not None and (patch.start, patch.stop) == (1, 3)


def test_resuming_a_finished_upload_sends_nothing() -> None:
    tus = TusUpload(URL, length=3, upload_url=URL + "abc")
    step(tus, 404, {})  # no OPTIONS: go on without the list
    step(tus, 200, {**TUS, "upload-offset": "3", "upload-length": "3"})
    assert tus.next_request() is None


def test_resuming_another_bodys_upload_is_refused() -> None:
    tus = TusUpload(URL, length=3, upload_url=URL + "abc")
    step(tus, 204, {})
    head = tus.next_request()
    assert head is not None
    with pytest.raises(TusError, match="is 4 bytes long"):
        tus.receive(head, 200, {**TUS, "upload-offset": "0", "upload-length": "4"}, URL)
    tus = TusUpload(URL, length=3, upload_url=URL + "abc")
    step(tus, 204, {})
    head = tus.next_request()
    assert head is not None
    with pytest.raises(TusError, match="past the 3 bytes of the body"):
        tus.receive(head, 200, {**TUS, "upload-offset": "5", "upload-defer-length": "1"}, URL)


def test_checksums_when_offered_or_asked() -> None:
    tus = TusUpload(URL, length=4, chunk_size=10)
    created(tus)
    patch = tus.next_request()
    assert patch is not None and patch.checksum == "sha1"  # preferred over md5
    signed = tus.with_checksum(patch, hashlib.sha1(b"data").digest(), 4)
    expected = base64.b64encode(hashlib.sha1(b"data").digest()).decode()
    assert signed.headers["Upload-Checksum"] == f"sha1 {expected}"
    assert checksum_header("sha1", hashlib.sha1(b"data").digest()) == f"sha1 {expected}"
    # Not offered: off (True), or an error (a name).
    tus = TusUpload(URL, length=4)
    step(tus, 204, {"tus-extension": "creation"})
    assert tus.checksum is None
    tus = TusUpload(URL, length=4, checksum="sha256")
    request = tus.next_request()
    assert request is not None
    with pytest.raises(TusError, match="does not offer it"):
        tus.receive(request, 204, OPTIONS, URL)
    tus = TusUpload(URL, length=4, checksum=False)
    step(tus, 204, OPTIONS)
    assert tus.checksum is None


def test_a_hashed_chunk_of_unknown_length_declares_the_end() -> None:
    tus = TusUpload(URL, length=None, chunk_size=10)
    created(tus)
    patch = tus.next_request()
    assert patch is not None and patch.stop is None
    tus.body_ended(6)  # found while hashing
    signed = tus.with_checksum(patch, b"\x00" * 20, 6)
    assert (signed.start, signed.stop) == (0, 6)
    assert signed.headers["Content-Length"] == "6" and signed.headers["Upload-Length"] == "6"
    assert tus.receive(signed, 204, {**TUS, "upload-offset": "6"}, URL) is Verdict.CONTINUE
    assert tus.next_request() is None


def test_empty_body_is_complete_once_created() -> None:
    tus = TusUpload(URL, length=0)
    created(tus)
    assert tus.next_request() is None


def test_options_are_checked() -> None:
    with pytest.raises(ValueError, match="chunk_size must be a positive int"):
        TusUpload(URL, length=1, chunk_size=0)
    with pytest.raises(TypeError, match="chunk_size must be an int"):
        TusUpload(URL, length=1, chunk_size=True)
    with pytest.raises(ValueError, match="checksum must be"):
        TusUpload(URL, length=1, checksum="crc32")
    with pytest.raises(TypeError, match="checksum must be a bool"):
        TusUpload(URL, length=1, checksum=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="retry_delay"):
        TusUpload(URL, length=1, retry_delay=float("nan"))
    with pytest.raises(TypeError, match="retry_delay"):
        TusUpload(URL, length=1, retry_delay="1")  # type: ignore[arg-type]
