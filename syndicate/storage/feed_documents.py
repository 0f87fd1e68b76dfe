"""The feeds' `FeedDocuments` port on the `feed_documents` table: built documents by path."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from syndicate.feeds.documents import FeedDocument
from syndicate.storage.feed_models import FeedDocumentRow


def _stamp(version: int, etag: str) -> str:
    return f"{version}:{etag}"


class SqlFeedDocuments:
    """Built documents in the database; each call is one short transaction of its own."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def put(self, document: FeedDocument) -> bool:
        """Store the document, moving its version on; False (nothing written) when it holds these bytes.

        Writers of one path are ordered by the feed service's build lock, so reading the version
        and writing the next one needs no row lock.
        """
        with self.sessions() as session:
            row = session.get(FeedDocumentRow, document.path)
            if row is not None and row.etag == document.etag and row.media_type == document.media_type \
                    and row.last_modified == document.last_modified:
                return False
            if row is None:
                row = FeedDocumentRow(path=document.path, version=0)
                session.add(row)
            row.body = document.body
            row.gzip_body = document.gzip_body
            row.etag = document.etag
            row.gzip_etag = document.gzip_etag
            row.last_modified = document.last_modified
            row.media_type = document.media_type
            row.version = row.version + 1
            session.commit()
        return True

    def delete(self, path: str) -> bool:
        """Remove the document; False when there was none."""
        with self.sessions() as session:
            deleted = session.execute(delete(FeedDocumentRow).where(FeedDocumentRow.path == path))
            session.commit()
        return bool(getattr(deleted, "rowcount", 0))

    def stamp(self, path: str) -> str | None:
        """`version:etag` of the document (one indexed row, no bytes read); None when there is none."""
        with self.sessions() as session:
            found = session.execute(
                select(FeedDocumentRow.version, FeedDocumentRow.etag).where(FeedDocumentRow.path == path)
            ).one_or_none()
        return None if found is None else _stamp(found.version, found.etag)

    def get(self, path: str) -> tuple[str, FeedDocument] | None:
        """The document with its stamp, or None when there is none."""
        with self.sessions() as session:
            row = session.get(FeedDocumentRow, path)
            if row is None:
                return None
            document = FeedDocument(
                path=row.path, body=row.body, gzip_body=row.gzip_body, etag=row.etag,
                gzip_etag=row.gzip_etag, last_modified=row.last_modified, media_type=row.media_type,
            )
            return _stamp(row.version, row.etag), document
