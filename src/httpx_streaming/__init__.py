"""httpx-streaming: streaming HTTP request bodies for httpx, on asyncio and trio.

Reusable stream resources, sources (local files, other HTTP responses),
streaming multipart/form-data and streaming ZIP archives, all usable as
httpx's ``content=``.
"""

from ._resource import (
    ByteStream,
    LengthMismatchError,
    ResourceStream,
    ResourceStreamFunction,
)
from ._sources import (
    ByteSource,
    SourceConsumedError,
    as_byte_source,
    stream_file,
    stream_response,
)

__all__ = [
    "ByteSource",
    "ByteStream",
    "LengthMismatchError",
    "ResourceStream",
    "ResourceStreamFunction",
    "SourceConsumedError",
    "as_byte_source",
    "stream_file",
    "stream_response",
]

__version__ = "0.1.0"

# --- form-data (issue 3): imports and __all__ additions below this line ---

# --- zip (issue 4): imports and __all__ additions below this line ---
