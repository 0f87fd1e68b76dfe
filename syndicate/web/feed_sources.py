"""Where `/feeds/…` answers come from: built files in a folder, or the database's document store.

Both keep the served form (bytes, gzip bytes, ETags) in memory and check cheaply that it is still
current: a file by a stat per request, a stored document by its stamp (version and ETag) at most
every RECHECK_SECONDS per path, so every serve node answers a new build within about that time.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import formatdate
from pathlib import Path
from typing import Protocol, TypeVar

from syndicate.feeds.documents import FeedDocument, make_document
from syndicate.feeds.ports import FeedDocuments

MAX_CACHED = 512
RECHECK_SECONDS = 0.5
_V = TypeVar("_V")


@dataclass(frozen=True)
class Representation:
    """One document version in memory, as served."""

    version: object
    body: bytes
    gzipped: bytes | None
    etag: bytes
    etag_gz: bytes
    last_modified: bytes
    mtime: int
    media_type: bytes


def representation(document: FeedDocument, version: object) -> Representation:
    """The served form of a document, headers already encoded."""
    mtime = int(document.last_modified.timestamp())
    return Representation(
        version=version,
        body=document.body,
        gzipped=document.gzip_body,
        etag=document.etag.encode(),
        etag_gz=document.gzip_etag.encode(),
        last_modified=formatdate(mtime, usegmt=True).encode(),
        mtime=mtime,
        media_type=document.media_type.encode(),
    )


class DocumentSource(Protocol):
    """What the feeds app reads documents from."""

    def peek(self, relpath: str) -> Representation | None:
        """The current document if known without blocking I/O (a stat at most), else None."""

    def load(self, relpath: str) -> Representation | None:
        """The current document, reading it if needed (may block); None when there is none."""


def bounded_put(cache: dict[str, _V], key: str, value: _V) -> None:
    """Insert into a dict capped at MAX_CACHED entries, dropping the oldest."""
    # Bounded: a crawler walking every archive page must not keep them all in memory.
    cache.pop(key, None)
    if len(cache) >= MAX_CACHED:
        cache.pop(next(iter(cache)))
    cache[key] = value


class FolderSource:
    """Documents as files under `root` (FEED_STORE=files): a stat per request, read on change."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.cache: dict[str, Representation] = {}

    def peek(self, relpath: str) -> Representation | None:
        """The file's document (a stat, and a read when the file changed); None when absent."""
        return self.load(relpath)

    def load(self, relpath: str) -> Representation | None:
        """The file's document (a stat, and a read when the file changed); None when absent."""
        path = os.path.join(self.root, relpath)
        try:
            st = os.stat(path)
        except FileNotFoundError:
            self.cache.pop(relpath, None)
            return None
        rep = self.cache.get(relpath)
        if rep is not None and rep.version == (st.st_ino, st.st_ctime_ns, st.st_size):
            return rep
        try:
            with open(path, "rb") as fh:
                st = os.fstat(fh.fileno())
                body = fh.read()
        except FileNotFoundError:
            return None
        modified = datetime.fromtimestamp(st.st_mtime, UTC)
        rep = representation(make_document(relpath, body, modified), (st.st_ino, st.st_ctime_ns, st.st_size))
        bounded_put(self.cache, relpath, rep)
        return rep


class StoreSource:
    """Documents in the database (FEED_STORE=database), cached per process by their stamp."""

    def __init__(self, documents: FeedDocuments, recheck_seconds: float = RECHECK_SECONDS) -> None:
        self.documents = documents
        self.recheck_seconds = recheck_seconds
        # relpath -> (checked at, monotonic clock; the representation, whose version is the stamp)
        self.cache: dict[str, tuple[float, Representation]] = {}

    def peek(self, relpath: str) -> Representation | None:
        """The cached document while it was checked less than `recheck_seconds` ago, else None."""
        entry = self.cache.get(relpath)
        if entry is not None and time.monotonic() - entry[0] < self.recheck_seconds:
            return entry[1]
        return None

    def load(self, relpath: str) -> Representation | None:
        """Check the stamp (one small query); read the bytes only when the document changed."""
        checked = time.monotonic()
        entry = self.cache.get(relpath)
        if entry is not None:
            stamp = self.documents.stamp(relpath)
            if stamp == entry[1].version:
                bounded_put(self.cache, relpath, (checked, entry[1]))
                return entry[1]
        found = self.documents.get(relpath)
        if found is None:
            self.cache.pop(relpath, None)
            return None
        stamp, document = found
        rep = representation(document, stamp)
        bounded_put(self.cache, relpath, (checked, rep))
        return rep
