"""Tables of the feeds feature: archive page boundaries, which feeds an article was in, built documents."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from syndicate.storage.models import Base, BigId, UTCDateTime


class FeedArchivePageRow(Base):
    """One full RFC 5005 archive page: its key range is fixed once the row exists."""

    __tablename__ = "feed_archive_pages"

    feed_key: Mapped[str] = mapped_column(String(100), primary_key=True)
    page: Mapped[int] = mapped_column(Integer, primary_key=True)
    first_published_at: Mapped[datetime] = mapped_column(UTCDateTime())
    first_id: Mapped[int] = mapped_column(BigId)
    last_published_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_id: Mapped[int] = mapped_column(BigId)
    item_count: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index("ix_feed_archive_pages_last", "feed_key", "last_published_at", "last_id"),)


class FeedMembershipRow(Base):
    """An article appeared in a feed at its last rebuild (kept after the article is deleted)."""

    __tablename__ = "feed_memberships"

    article_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    feed_key: Mapped[str] = mapped_column(String(100), primary_key=True)


class FeedDocumentRow(Base):
    """One built document under /feeds/ as every serve node answers it (FEED_STORE=database).

    `version` moves on with every change of the bytes; serve nodes compare it (with the ETag) to
    the copy they hold, so a publish reaches all of them without a shared disk.
    """

    __tablename__ = "feed_documents"

    path: Mapped[str] = mapped_column(String(300), primary_key=True)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    gzip_body: Mapped[bytes | None] = mapped_column(LargeBinary)
    etag: Mapped[str] = mapped_column(String(80))
    gzip_etag: Mapped[str] = mapped_column(String(80))
    last_modified: Mapped[datetime] = mapped_column(UTCDateTime())
    media_type: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(BigInteger)
