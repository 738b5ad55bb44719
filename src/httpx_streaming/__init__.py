"""httpx-streaming: streaming HTTP request bodies for httpx, on asyncio and trio.

Reusable stream resources, sources (local files, other HTTP responses),
streaming multipart/form-data, streaming ZIP archives and compressed bodies, all usable as
httpx's ``content=``.
"""

from typing import TYPE_CHECKING, Any

from ._byte_range import ByteRange, byte_range
from ._compress import CompressedBody, compress
from ._errors import LengthMismatchError, SourceChangedError
from ._files import stream_file
from ._form import FormData
from ._multipart_body import MultipartBody
from ._resource import ResourceStream, ResourceStreamFunction, SyncResourceStream
from ._serve import RangedAnswer, range_response, serve_ranges
from ._sources import as_byte_source
from ._types import ByteSource
from ._upload_progress import Progress, ProgressBody, with_progress
from ._zip import (
    COMPRESSION_METHOD_DEFLATE,
    COMPRESSION_METHOD_NONE,
    ZipStreamFile,
    ZipStreamResource,
    create_zip_stream_resource,
    stream_zip,
)
from ._zip_names import name_deduplicator_default

__all__ = [
    "COMPRESSION_METHOD_DEFLATE",
    "COMPRESSION_METHOD_NONE",
    "ByteRange",
    "ByteSource",
    "CompressedBody",
    "FormData",
    "LengthMismatchError",
    "MultipartBody",
    "Progress",
    "ProgressBody",
    "RangedAnswer",
    "ResourceStream",
    "ResourceStreamFunction",
    "SourceChangedError",
    "SourceConsumedError",
    "SyncResourceStream",
    "TusError",
    "ZipStreamFile",
    "ZipStreamResource",
    "as_byte_source",
    "byte_range",
    "compress",
    "create_zip_stream_resource",
    "name_deduplicator_default",
    "range_response",
    "serve_ranges",
    "stream_file",
    "stream_response",
    "stream_zip",
    "tus_upload",
    "tus_upload_sync",
    "with_progress",
]

__version__ = "0.1.0"

if TYPE_CHECKING:
    from ._consumed import SourceConsumedError
    from ._response import stream_response
    from ._tus import tus_upload, tus_upload_sync
    from ._tus_protocol import TusError
else:  # type checkers see the names imported above, and no __getattr__

    def __getattr__(name: str) -> Any:
        # The names that need httpx itself are made on first use, so that a
        # command that never speaks HTTP (a zip of local files) starts without it.
        if name == "SourceConsumedError":
            from ._consumed import SourceConsumedError

            return SourceConsumedError
        if name == "stream_response":
            from ._response import stream_response

            return stream_response
        if name in ("tus_upload", "tus_upload_sync"):
            from . import _tus

            return getattr(_tus, name)
        if name == "TusError":
            from ._tus_protocol import TusError

            return TusError
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted({*globals(), *__all__})
