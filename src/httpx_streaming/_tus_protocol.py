"""The tus 1.0 resumable-upload protocol, sans-IO: what to send next, and what an answer means.

``TusUpload`` decides every request of an upload (method, URL, headers, which
bytes of the body a ``PATCH`` carries) and reads every answer (status,
``Tus-Resumable``, ``Upload-Offset``, ``Location``, the extensions an ``OPTIONS``
lists). It sends and reads nothing itself: the drivers in ``_tus`` do, on an
async or a synchronous client, with the same object.

The order of requests:

1. ``OPTIONS`` on the creation URL: the server's extensions (``creation``,
   ``creation-defer-length``, ``checksum``) and checksum algorithms. A server
   that does not answer it (4xx) is assumed to offer ``creation`` only.
2. ``POST`` (the creation extension) with ``Upload-Length``, or
   ``Upload-Defer-Length: 1`` while the body's length is unknown; or, given
   the URL of an existing upload, ``HEAD`` to learn its ``Upload-Offset``.
3. ``PATCH`` from the server's offset, at most ``chunk_size`` bytes each, until
   the offset is the body's length and the server knows that length.

After a failure (a transport error, a 5xx, 409 Conflict, 460 Checksum
Mismatch) the next request is a ``HEAD``, and the upload goes on from the
offset it answers. Failures in a row without progress are bounded.
"""

from __future__ import annotations

import base64
import enum
import hashlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, NamedTuple, final
from urllib.parse import urljoin

from ._validation import check_int, describe

if TYPE_CHECKING:
    from hashlib import _Hash

TUS_VERSION = "1.0.0"
PATCH_CONTENT_TYPE = "application/offset+octet-stream"
# The algorithms this client can compute, by preference (the first the server offers is used).
CHECKSUM_ALGORITHMS = ("sha1", "sha256", "md5")

DEFAULT_CHUNK_SIZE = 8 * 1024 * 1024
DEFAULT_MAX_RETRIES = 5
DEFAULT_RETRY_DELAY = 0.5
MAX_RETRY_DELAY = 30.0

# Answers after which the upload goes on from the offset a HEAD reports: the server
# failed, or the offset we sent was not the server's (409), or a chunk was damaged
# on its way (460, the checksum extension's Checksum Mismatch).
_RETRIED_STATUSES = frozenset({409, 460})


class TusError(Exception):
    """A tus server answered something the tus 1.0 protocol does not allow here.

    For example an ``Upload-Offset`` that goes backwards, or past the bytes
    sent; a creation answer without ``Location``; an upload whose
    ``Upload-Length`` is not the body's length; a server without the
    extension an upload needs. Error statuses (4xx, and 5xx once the retries
    are spent) raise the client's own ``HTTPStatusError`` instead.
    """

    __module__ = "httpx_streaming"


class TusRequest(NamedTuple):
    """One request of an upload: what the driver sends.

    A ``PATCH`` carries the body's bytes ``start..stop-1``; ``stop`` is
    ``None`` when the body's length is unknown: then it carries up to
    ``chunk_size`` bytes from ``start``, as many as the body still has (and the
    driver tells ``TusUpload.body_ended`` when the body ended within them).
    ``checksum`` names the algorithm whose digest of those bytes the driver must
    compute and give to ``TusUpload.with_checksum`` before sending.
    """

    method: str
    url: str
    headers: dict[str, str]
    start: int = 0
    stop: int | None = None
    checksum: str | None = None

    @property
    def has_body(self) -> bool:
        return self.method == "PATCH"


class Verdict(enum.Enum):
    """What the driver does after an answer."""

    CONTINUE = "ask for the next request"
    RETRY = "wait retry_delay seconds, then ask for the next request (a HEAD)"
    FAIL = "raise the answer's status (raise_for_status), else TusError(reason)"


class _Phase(enum.Enum):
    OPTIONS = "OPTIONS"
    CREATE = "POST"
    HEAD = "HEAD"
    PATCH = "PATCH"
    DONE = "done"


def encode_metadata(metadata: Mapping[str, str | bytes] | None) -> str | None:
    """The ``Upload-Metadata`` header value of *metadata*, or ``None`` when it is empty.

    Each pair is the key, a space and the base64 of the value (a ``str`` in
    UTF-8), pairs separated by commas; a pair with an empty value is the key alone.

    Raises:
        TypeError: *metadata* is not a mapping, a key is not a ``str`` or a
            value neither ``str`` nor bytes.
        ValueError: A key is empty, not ASCII, or holds a space, a comma or a
            control character; a value is a ``str`` UTF-8 cannot encode.
    """
    if metadata is None:
        return None
    if not isinstance(metadata, Mapping):
        raise TypeError(
            f"metadata must be a mapping of str to str or bytes, got {describe(metadata)}"
        )
    pairs = []
    for key, value in metadata.items():
        if not isinstance(key, str):
            raise TypeError(f"metadata keys must be str, got {describe(key)}")
        if not key or not key.isascii() or any(c in " ," or not c.isprintable() for c in key):
            raise ValueError(
                "metadata keys must be non-empty ASCII without spaces, commas or control "
                f"characters, got {describe(key)}"
            )
        if isinstance(value, str):
            try:
                data = value.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise ValueError(
                    f"metadata value of {key!r}, {describe(value)}, is not valid UTF-8: {exc}"
                ) from None
        elif isinstance(value, bytes | bytearray | memoryview):
            data = bytes(value)
        else:
            raise TypeError(
                f"metadata value of {key!r} must be a str or bytes, got {describe(value)}"
            )
        pairs.append(f"{key} {base64.b64encode(data).decode('ascii')}" if data else key)
    return ",".join(pairs) or None


def parse_extensions(headers: Mapping[str, str]) -> frozenset[str]:
    """The extensions a ``Tus-Extension`` header lists (none when it is absent)."""
    return _parse_list(headers.get("tus-extension"))


def parse_checksum_algorithms(headers: Mapping[str, str]) -> frozenset[str]:
    """The algorithms a ``Tus-Checksum-Algorithm`` header lists, in lower case."""
    return frozenset(name.lower() for name in _parse_list(headers.get("tus-checksum-algorithm")))


def _parse_list(value: str | None) -> frozenset[str]:
    if value is None:
        return frozenset()
    return frozenset(item.strip() for item in value.split(",") if item.strip())


def parse_offset(headers: Mapping[str, str], what: str) -> int:
    """The ``Upload-Offset`` of an answer to *what*.

    Raises:
        TusError: The header is missing or not a non-negative integer.
    """
    value = headers.get("upload-offset")
    if value is None:
        raise TusError(f"the server's answer to {what} has no Upload-Offset")
    text = value.strip()
    if not text.isdigit() or not text.isascii():
        raise TusError(f"the server's answer to {what} has an invalid Upload-Offset: {value!r}")
    return int(text)


def new_digest(algorithm: str) -> _Hash:
    """A hashlib object for one of ``CHECKSUM_ALGORITHMS``."""
    return hashlib.new(algorithm)


def checksum_header(algorithm: str, digest: bytes) -> str:
    """The ``Upload-Checksum`` value: the algorithm, a space, the base64 digest."""
    return f"{algorithm} {base64.b64encode(digest).decode('ascii')}"


def check_checksum_option(checksum: object) -> str | bool:
    """*checksum* checked: ``True`` (when offered), ``False``, or an algorithm name.

    Raises:
        TypeError: Neither a bool nor a str.
        ValueError: An algorithm this client cannot compute.
    """
    if isinstance(checksum, bool):
        return checksum
    if isinstance(checksum, str):
        name = checksum.lower()
        if name not in CHECKSUM_ALGORITHMS:
            raise ValueError(
                f"checksum must be True, False or one of {list(CHECKSUM_ALGORITHMS)}, "
                f"got {describe(checksum)}"
            )
        return name
    raise TypeError(f"checksum must be a bool or an algorithm name, got {describe(checksum)}")


def check_retry_options(max_retries: object, retry_delay: object) -> tuple[int, float]:
    """*max_retries* (an int, 0 or more) and *retry_delay* (seconds, 0 or more), checked."""
    retries = check_int(max_retries, "max_retries", minimum=0)
    if isinstance(retry_delay, bool) or not isinstance(retry_delay, int | float):
        raise TypeError(f"retry_delay must be a number of seconds, got {describe(retry_delay)}")
    if not retry_delay >= 0:  # also refuses NaN
        raise ValueError(f"retry_delay must be 0 or more seconds, got {describe(retry_delay)}")
    return retries, float(retry_delay)


@final
class TusUpload:
    """The state of one upload, and the protocol's decisions (no I/O).

    Drive it with ``next_request`` (``None``: the upload is complete), then
    ``receive`` with the answer, or ``failed`` after a transport error.

    Args:
        url: The creation URL (absolute; ``OPTIONS`` and ``POST`` go there).
        length: The body's length, or ``None`` while unknown.
        metadata: The upload's metadata (see ``encode_metadata``).
        chunk_size: The most bytes one ``PATCH`` carries.
        upload_url: An existing upload to resume, instead of creating one.
        checksum: ``True``: checksums when the server offers the checksum
            extension with an algorithm of ``CHECKSUM_ALGORITHMS``; ``False``:
            never; a name: that algorithm, which the server must offer.
        max_retries: Failures in a row without progress before giving up.
        retry_delay: Seconds to wait after the first failure; doubled after
            each further one in a row, up to ``MAX_RETRY_DELAY``.
    """

    def __init__(
        self,
        url: str,
        *,
        length: int | None,
        metadata: Mapping[str, str | bytes] | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        upload_url: str | None = None,
        checksum: str | bool = True,
        max_retries: int = DEFAULT_MAX_RETRIES,
        retry_delay: float = DEFAULT_RETRY_DELAY,
    ) -> None:
        self.url = url
        self.length = length
        self.metadata = encode_metadata(metadata)
        self.chunk_size = check_int(chunk_size, "chunk_size", minimum=1)
        self.checksum_option = check_checksum_option(checksum)
        self.max_retries, self._first_delay = check_retry_options(max_retries, retry_delay)
        self.upload_url = upload_url
        # Whether the server knows the upload's length (it was created with it, or told).
        self.length_declared = False
        self.offset: int | None = None  # the server's, as last confirmed
        self.sent_to = 0  # no server offset may pass the end of the bytes sent so far
        self.extensions: frozenset[str] | None = None  # None: the server did not say
        self.checksum: str | None = None  # the algorithm in use
        self.failures = 0  # in a row, without progress
        self.retry_delay = 0.0
        self.failure = ""  # why the last answer failed, for TusError when its status does not
        self._algorithms: frozenset[str] = frozenset()
        self._phase = _Phase.OPTIONS

    # --- requests -------------------------------------------------------------------

    def next_request(self) -> TusRequest | None:
        """The next request to send, or ``None`` once the upload is complete."""
        phase = self._phase
        if phase is _Phase.OPTIONS:
            return TusRequest("OPTIONS", self.url, {"Tus-Resumable": TUS_VERSION})
        if phase is _Phase.CREATE:
            return self._create_request()
        assert self.upload_url is not None
        if phase is _Phase.HEAD:
            return TusRequest("HEAD", self.upload_url, self._headers())
        if phase is _Phase.PATCH:
            return self._patch_request()
        return None

    def _headers(self) -> dict[str, str]:
        return {"Tus-Resumable": TUS_VERSION}

    def _create_request(self) -> TusRequest:
        headers = self._headers()
        if self.length is None:
            if self.extensions is not None and "creation-defer-length" not in self.extensions:
                raise TusError(
                    f"the body's length is unknown and the server at {self.url} does not offer "
                    "the creation-defer-length extension (Tus-Extension: "
                    f"{','.join(sorted(self.extensions))})"
                )
            headers["Upload-Defer-Length"] = "1"
        else:
            headers["Upload-Length"] = str(self.length)
        if self.metadata is not None:
            headers["Upload-Metadata"] = self.metadata
        headers["Content-Length"] = "0"
        return TusRequest("POST", self.url, headers)

    def _patch_request(self) -> TusRequest:
        assert self.upload_url is not None and self.offset is not None
        start = self.offset
        headers = self._headers()
        headers["Upload-Offset"] = str(start)
        headers["Content-Type"] = PATCH_CONTENT_TYPE
        stop: int | None
        if self.length is None:
            stop = None
        else:
            stop = min(start + self.chunk_size, self.length)
            headers["Content-Length"] = str(stop - start)
            if not self.length_declared:
                headers["Upload-Length"] = str(self.length)
        self.sent_to = max(self.sent_to, start + self.chunk_size if stop is None else stop)
        return TusRequest("PATCH", self.upload_url, headers, start, stop, self.checksum)

    def with_checksum(self, request: TusRequest, digest: bytes, count: int) -> TusRequest:
        """*request* with its ``Upload-Checksum``, given the digest of the *count* bytes it
        carries (read once to hash them): its length is then known, so it gets a
        ``Content-Length`` (and ``stop``) even when the body's length is not."""
        assert request.checksum is not None
        headers = dict(request.headers)
        headers["Upload-Checksum"] = checksum_header(request.checksum, digest)
        headers["Content-Length"] = str(count)
        if self.length is not None and not self.length_declared:
            headers["Upload-Length"] = str(self.length)  # learned while hashing
        return request._replace(headers=headers, stop=request.start + count)

    def body_ended(self, position: int) -> None:
        """The body (of unknown length until now) ended at *position*: its length.

        Raises:
            TusError: The body ended before the server's offset.
        """
        if self.length is None:
            if self.offset is not None and position < self.offset:
                raise TusError(
                    f"the body has {position} bytes, fewer than the upload at "
                    f"{self.upload_url} already holds ({self.offset})"
                )
            self.length = position

    # --- answers --------------------------------------------------------------------

    def receive(
        self, request: TusRequest, status: int, headers: Mapping[str, str], url: str
    ) -> Verdict:
        """Read the answer (*status*, *headers*, from *url*) to *request*.

        Returns:
            What the driver does next. After ``Verdict.RETRY`` it waits
            ``retry_delay`` seconds; after ``Verdict.FAIL`` it raises the
            answer's status, or ``TusError(self.failure)`` when that is not an error.

        Raises:
            TusError: The answer breaks the protocol; or too many failures in a row.
        """
        method = request.method
        what = f"{method} {request.url}"
        self.failure = f"{what} answered {status}, which the tus protocol does not expect"
        if method == "OPTIONS":
            if 200 <= status < 300:
                self._read_options(headers)
                return Verdict.CONTINUE
            if status >= 500:
                return self._retry(f"{what} answered {status}")
            # A server that does not answer OPTIONS: go on without its list.
            self._phase = _Phase.CREATE if self.upload_url is None else _Phase.HEAD
            self._choose_checksum()
            return Verdict.CONTINUE
        if status >= 500 or (method == "PATCH" and status in _RETRIED_STATUSES):
            return self._retry(f"{what} answered {status}")
        if not 200 <= status < 300:
            if status == 412:
                self.failure = (
                    f"{what} answered 412: the server does not speak tus {TUS_VERSION} "
                    f"(Tus-Version: {headers.get('tus-version')!r})"
                )
            return Verdict.FAIL
        self._check_resumable(headers, what)
        if method == "POST":
            self._created(headers, what, url)
        elif method == "HEAD":
            self._headed(headers, what)
        else:
            self._patched(request, headers, what)
        return Verdict.CONTINUE

    def failed(self, request: TusRequest, error: BaseException) -> bool:
        """A transport error while sending *request* or reading its answer.

        Returns:
            Whether to go on (after ``retry_delay`` seconds; with a ``HEAD``).
            ``False``: too many failures in a row; the driver re-raises *error*.
        """
        try:
            self._retry(f"{request.method} {request.url} failed: {error!r}")
        except TusError:
            return False
        return True

    def _retry(self, reason: str) -> Verdict:
        self.failures += 1
        if self.failures > self.max_retries:
            raise TusError(f"{reason}; giving up after {self.failures} failures in a row")
        self.retry_delay = min(self._first_delay * 2 ** (self.failures - 1), MAX_RETRY_DELAY)
        if self._phase is _Phase.PATCH:
            self._phase = _Phase.HEAD
        return Verdict.RETRY

    def _read_options(self, headers: Mapping[str, str]) -> None:
        self.extensions = parse_extensions(headers)
        self._algorithms = parse_checksum_algorithms(headers)
        if self.upload_url is None and "creation" not in self.extensions:
            raise TusError(
                f"the server at {self.url} does not offer the creation extension (Tus-Extension: "
                f"{','.join(sorted(self.extensions)) or 'none'}): give the URL of an upload "
                "created otherwise as upload_url="
            )
        self._choose_checksum()
        self._phase = _Phase.CREATE if self.upload_url is None else _Phase.HEAD

    def _choose_checksum(self) -> None:
        option = self.checksum_option
        if option is False:
            return
        offered = self.extensions is not None and "checksum" in self.extensions
        algorithms = self._algorithms
        if isinstance(option, str):
            if not offered or option not in algorithms:
                raise TusError(
                    f"checksum={option!r}, but the server at {self.url} does not offer it "
                    f"(Tus-Extension: {','.join(sorted(self.extensions or ())) or 'none'}; "
                    f"Tus-Checksum-Algorithm: {','.join(sorted(algorithms)) or 'none'})"
                )
            self.checksum = option
        elif offered:
            self.checksum = next((a for a in CHECKSUM_ALGORITHMS if a in algorithms), None)

    def _check_resumable(self, headers: Mapping[str, str], what: str) -> None:
        version = headers.get("tus-resumable")
        if version is None:
            raise TusError(f"the answer to {what} has no Tus-Resumable header: not a tus server?")
        if version.strip() != TUS_VERSION:
            raise TusError(
                f"the answer to {what} has Tus-Resumable: {version!r}; this client speaks "
                f"{TUS_VERSION}"
            )

    def _created(self, headers: Mapping[str, str], what: str, url: str) -> None:
        location = headers.get("location")
        if not location:
            raise TusError(f"the server's answer to {what} has no Location")
        self.upload_url = urljoin(url, location.strip())
        self.offset = 0
        self.length_declared = self.length is not None
        self.failures = 0
        self._phase = _Phase.DONE if self.length == 0 else _Phase.PATCH

    def _headed(self, headers: Mapping[str, str], what: str) -> None:
        offset = parse_offset(headers, what)
        declared = headers.get("upload-length")
        if declared is not None:
            if not declared.strip().isdigit():
                raise TusError(f"the answer to {what} has an invalid Upload-Length: {declared!r}")
            if self.length is not None and int(declared) != self.length:
                raise TusError(
                    f"the upload at {self.upload_url} is {int(declared)} bytes long "
                    f"(Upload-Length), but the body has {self.length}: another body's upload?"
                )
            self.length_declared = True
        elif headers.get("upload-defer-length", "").strip() == "1":
            self.length_declared = False
        self._moved_to(offset, what)

    def _patched(self, request: TusRequest, headers: Mapping[str, str], what: str) -> None:
        offset = parse_offset(headers, what)
        if "Upload-Length" in request.headers:
            self.length_declared = True
        self._moved_to(offset, what)

    def _moved_to(self, offset: int, what: str) -> None:
        previous = self.offset
        if previous is not None and offset < previous:
            raise TusError(
                f"the upload's offset went backwards: {what} answered Upload-Offset {offset}, "
                f"after {previous}"
            )
        limit = self.sent_to if previous is not None else self.length
        if limit is not None and offset > max(limit, previous or 0):
            raise TusError(
                f"{what} answered Upload-Offset {offset}, past the {limit} bytes "
                + ("sent so far" if previous is not None else "of the body")
            )
        if previous is None or offset > previous:
            self.failures = 0  # progress
        self.offset = offset
        self.sent_to = max(self.sent_to, offset)
        complete = self.length is not None and offset == self.length and self.length_declared
        self._phase = _Phase.DONE if complete else _Phase.PATCH
