"""A built document under the feeds root as it is served: bytes, gzip bytes, ETags, Last-Modified.

Every serve node answers with these exact values, whichever node or worker built them: the ETag
is a hash of the bytes (identical builds give identical ETags), the gzip variant has its own
strong ETag (`"…-gz"`), gzip output carries no timestamp, and Last-Modified is the document's
own updated time in whole seconds.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from syndicate.feeds.model import FeedFormat

MIN_GZIP_BYTES = 512
DEFAULT_MEDIA_TYPE = "application/octet-stream"
_SUFFIX_TYPES = {".xml": "application/xml; charset=utf-8", ".json": "application/json; charset=utf-8"}


@dataclass(frozen=True)
class FeedDocument:
    """One document under the feeds root (`path` is what follows /feeds/)."""

    path: str
    body: bytes
    gzip_body: bytes | None
    etag: str
    gzip_etag: str
    last_modified: datetime
    media_type: str


def media_type_of(path: str) -> str:
    """The Content-Type of a document by its name: the three feed formats, else by suffix."""
    name = path.rsplit("/", 1)[-1]
    fmt = FeedFormat.from_filename(name)
    if fmt is not None:
        return fmt.media_type
    suffix = name[name.rfind("."):] if "." in name else ""
    return _SUFFIX_TYPES.get(suffix, DEFAULT_MEDIA_TYPE)


def make_document(path: str, body: bytes, modified: datetime, media_type: str | None = None) -> FeedDocument:
    """The served form of `body` at `path`: ETags from its hash, gzip bytes when worth it."""
    digest = hashlib.sha256(body).hexdigest()[:32]
    return FeedDocument(
        path=path,
        body=body,
        gzip_body=gzip.compress(body, compresslevel=6, mtime=0) if len(body) >= MIN_GZIP_BYTES else None,
        etag=f'"{digest}"',
        gzip_etag=f'"{digest}-gz"',
        last_modified=datetime.fromtimestamp(int(modified.timestamp()), UTC),
        media_type=media_type or media_type_of(path),
    )
