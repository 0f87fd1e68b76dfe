"""Feeds kept in the database (FEED_STORE=database), optionally exported to a folder as well."""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path, PurePosixPath

from syndicate.feeds.documents import make_document
from syndicate.feeds.folder import FeedFolder
from syndicate.feeds.model import FeedSpec
from syndicate.feeds.ports import FeedDocuments


class StoredFeeds:
    """A `FeedOutput` writing every document to the store (what `serve` nodes answer from) and, when
    `export` is given (PUBLIC_DIR set), to that folder too, for nginx or a CDN origin."""

    def __init__(self, documents: FeedDocuments, lock_root: Path, export: FeedFolder | None = None) -> None:
        self.documents = documents
        self.export = export
        # Processes of one host also take a file lock (on SQLite it is the only lock there is).
        self.locks = export or FeedFolder(lock_root)

    def write(self, relpath: str, data: bytes, modified: datetime) -> bool:
        """Store the document (and export it); True when either copy changed."""
        changed = self.documents.put(make_document(relpath, data, modified))
        if self.export is not None:
            changed = self.export.write(relpath, data, modified) or changed
        return changed

    def remove(self, relpath: str) -> bool:
        """Remove the document from the store (and the export); True when either held it."""
        removed = self.documents.delete(relpath)
        if self.export is not None:
            removed = self.export.remove(relpath) or removed
        return removed

    def path(self, relpath: str) -> Path:
        """The exported file, or the document's /feeds/ path when there is no export."""
        if self.export is not None:
            return self.export.path(relpath)
        return Path(PurePosixPath("/feeds") / relpath)

    def lock(self, spec: FeedSpec) -> AbstractContextManager[None]:
        """The per-host file lock of the feed (the service takes the database lock first)."""
        return self.locks.lock(spec)
