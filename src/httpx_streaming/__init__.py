"""httpx-streaming: streaming HTTP request bodies for httpx, on asyncio and trio.

Reusable stream resources, sources (local files, other HTTP responses),
streaming multipart/form-data, streaming ZIP archives and compressed bodies, all usable as
httpx's ``content=``.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

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

# Where each public name lives. Each is imported on first use: a command that
# zips local files imports the zip encoder and its sources, not form data,
# ranges, compression or the ASGI helpers (nor httpx), and starts that much
# sooner; ``from httpx_streaming import X`` works as it always did.
_HOMES = {
    "ByteRange": "._byte_range",
    "byte_range": "._byte_range",
    "CompressedBody": "._compress",
    "compress": "._compress",
    "LengthMismatchError": "._errors",
    "SourceChangedError": "._errors",
    "SourceConsumedError": "._consumed",
    "stream_file": "._files",
    "FormData": "._form",
    "MultipartBody": "._multipart_body",
    "ResourceStream": "._resource",
    "ResourceStreamFunction": "._resource",
    "SyncResourceStream": "._resource",
    "stream_response": "._response",
    "RangedAnswer": "._serve",
    "range_response": "._serve",
    "serve_ranges": "._serve",
    "as_byte_source": "._sources",
    "tus_upload": "._tus",
    "tus_upload_sync": "._tus",
    "TusError": "._tus_protocol",
    "ByteSource": "._types",
    "Progress": "._upload_progress",
    "ProgressBody": "._upload_progress",
    "with_progress": "._upload_progress",
    "COMPRESSION_METHOD_DEFLATE": "._zip",
    "COMPRESSION_METHOD_NONE": "._zip",
    "ZipStreamFile": "._zip",
    "ZipStreamResource": "._zip",
    "create_zip_stream_resource": "._zip",
    "stream_zip": "._zip",
    "name_deduplicator_default": "._zip_names",
}

if TYPE_CHECKING:
    from ._byte_range import ByteRange, byte_range
    from ._compress import CompressedBody, compress
    from ._consumed import SourceConsumedError
    from ._errors import LengthMismatchError, SourceChangedError
    from ._files import stream_file
    from ._form import FormData
    from ._multipart_body import MultipartBody
    from ._resource import ResourceStream, ResourceStreamFunction, SyncResourceStream
    from ._response import stream_response
    from ._serve import RangedAnswer, range_response, serve_ranges
    from ._sources import as_byte_source
    from ._tus import tus_upload, tus_upload_sync
    from ._tus_protocol import TusError
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
else:  # type checkers see the names imported above, and no __getattr__

    def __getattr__(name: str) -> Any:
        home = _HOMES.get(name)
        if home is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(import_module(home, __name__), name)
        globals()[name] = value  # found directly from now on
        return value

    def __dir__() -> list[str]:
        return sorted({*globals(), *__all__})
