"""SQLAlchemy tables. The schema itself is owned by the Alembic migrations next to this module."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Double,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from syndicate.storage.columns import BigId, UTCDateTime

__all__ = ["Base", "BigId", "UTCDateTime"]  # the column types, for the modules that import them here


class Base(DeclarativeBase):
    """Declarative base of every table."""


class ArticleRow(Base):
    __tablename__ = "articles"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    guid: Mapped[str] = mapped_column(String(500), unique=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    title: Mapped[str] = mapped_column(Text)
    summary: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    language: Mapped[str] = mapped_column(String(35), default="en")
    authors: Mapped[list[str]] = mapped_column(JSON, default=list)
    images: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    translation_of: Mapped[str | None] = mapped_column(String(500))
    content_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Set when the newsroom unpublishes: the article leaves feeds and public pages, rows stay.
    unpublished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    categories: Mapped[list[ArticleCategoryRow]] = relationship(
        back_populates="article", cascade="all, delete-orphan", order_by="ArticleCategoryRow.position"
    )

    __table_args__ = (
        Index("ix_articles_published", "published_at", "id"),
        Index("ix_articles_language_published", "language", "published_at"),
        # Stories: the translations of an article are found by the guid they name.
        Index("ix_articles_translation_of", "translation_of"),
    )


class ArticleCategoryRow(Base):
    __tablename__ = "article_categories"

    article_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    category: Mapped[str] = mapped_column(String(63), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)

    article: Mapped[ArticleRow] = relationship(back_populates="categories")

    __table_args__ = (Index("ix_article_categories_category", "category", "article_id"),)


class OutboxRow(Base):
    """An event committed with the change that caused it; the relay hands it to the broker."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_type: Mapped[str] = mapped_column(String(40))
    article_id: Mapped[int] = mapped_column(BigId)
    guid: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    # A scheduled release: the relay hands the event over only from this time on (None: at once).
    not_before: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index("ix_outbox_pending", "handled_at", "id"),
        Index("ix_outbox_not_before", "not_before"),
    )


class AdminSessionRow(Base):
    """A signed-in admin browser; the cookie names it by a random id stored here only as a hash.

    Sign-out sets `revoked_at`, so a copy of the cookie is refused from then on.
    """

    __tablename__ = "admin_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class RuntimeStatRow(Base):
    """A counter, gauge or heartbeat a process recorded for /metrics and /healthz (`Telemetry`).

    Kept in the database, not in process memory, so every process scraped reports the same numbers.
    """

    __tablename__ = "runtime_stats"

    name: Mapped[str] = mapped_column(String(80), primary_key=True)
    value: Mapped[float] = mapped_column(Double())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
