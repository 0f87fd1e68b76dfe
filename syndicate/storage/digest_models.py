"""SQLAlchemy tables of lists, subscribers, subscriptions, editions and email deliveries."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from syndicate.storage.models import Base, BigId, UTCDateTime


class MailingListRow(Base):
    __tablename__ = "mailing_lists"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    frequency: Mapped[str] = mapped_column(String(10))
    language: Mapped[str | None] = mapped_column(String(35))
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    custom_frequency: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    # "public": anyone may join from /subscribe; "private": only an admin adds readers.
    visibility: Mapped[str] = mapped_column(String(10), default="public", server_default="public")
    # True: the list mails a story again to a reader who had it through another list (a round-up).
    repeat_stories: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    # True: retired; no new editions and nobody joins, its readers and history kept.
    archived: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))


def _email_key(context: Any) -> str:
    # Filled on every insert, bulk ones included, from the row's own address.
    return str(context.get_current_parameters()["email"]).lower()


class SubscriberRow(Base):
    __tablename__ = "subscribers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # As first given (RFC 5321 keeps the local part's case)...
    email: Mapped[str] = mapped_column(String(320), unique=True)
    # ...but one reader per address whatever its case: the unique key is the lower-cased address.
    email_key: Mapped[str | None] = mapped_column(String(320), default=_email_key)
    name: Mapped[str] = mapped_column(String(200), default="")
    language: Mapped[str] = mapped_column(String(35), default="en")
    status: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status_reason: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("uq_subscribers_email_key", "email_key", unique=True),)


class SubscriptionRow(Base):
    __tablename__ = "subscriptions"

    subscriber_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True
    )
    list_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("mailing_lists.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[str] = mapped_column(String(12))
    # None: the list's own frequency.
    frequency: Mapped[str | None] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_subscriptions_list", "list_id", "status", "subscriber_id"),)


class EditionRow(Base):
    __tablename__ = "editions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    list_id: Mapped[int] = mapped_column(BigId, ForeignKey("mailing_lists.id", ondelete="CASCADE"))
    frequency: Mapped[str] = mapped_column(String(10))
    # Unique per list: "instant:ARTICLE_ID", "daily:DATE", "weekly:YEAR-WEEK"; None for manual sends.
    dedupe_key: Mapped[str | None] = mapped_column(String(80))
    since: Mapped[datetime] = mapped_column(UTCDateTime())
    until: Mapped[datetime] = mapped_column(UTCDateTime())
    article_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    subject: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Delivery counts per state, stored once no row is queued or sending (they cannot change then
    # until a resend, which clears them and bumps the epoch): see ledger.counts_many.
    settled_counts: Mapped[dict[str, int] | None] = mapped_column(JSON(none_as_null=True), default=None)
    counts_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The edition's stories: [{"key": guid, "versions": [[article_id, language], ...]}], the
    # default version first; None for editions built before stories (every reader gets article_ids).
    stories: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON(none_as_null=True), default=None)

    __table_args__ = (
        UniqueConstraint("list_id", "dedupe_key", name="uq_editions_list_dedupe"),
        Index("ix_editions_list_frequency", "list_id", "frequency", "id"),
    )


class DeliveryRow(Base):
    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    edition_id: Mapped[int] = mapped_column(BigId, ForeignKey("editions.id", ondelete="CASCADE"))
    subscriber_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("subscribers.id", ondelete="CASCADE")
    )
    state: Mapped[str] = mapped_column(String(10))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_reply: Mapped[str | None] = mapped_column(Text)
    # A queued row may be sent from this time on (later than now after a 4xx).
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # When a batch task covering this row was last handed to the broker; the sweep re-enqueues
    # queued rows whose task seems lost.
    enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The broker's epoch at that time (TaskQueue.epoch): a task handed to an earlier epoch is lost.
    enqueued_epoch: Mapped[str | None] = mapped_column(String(40))
    claim: Mapped[str | None] = mapped_column(String(32))
    # When the batch sending this row claimed it or last renewed its lease (its heartbeat).
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The articles this reader's message carries, decided once at the row's first claim and kept
    # for every retry and resend; None: not decided yet (or an edition without stories).
    article_ids: Mapped[list[int] | None] = mapped_column(JSON(none_as_null=True), default=None)

    __table_args__ = (
        UniqueConstraint("edition_id", "subscriber_id", name="uq_deliveries_edition_subscriber"),
        Index("ix_deliveries_edition_state", "edition_id", "state", "id"),
        Index("ix_deliveries_subscriber", "subscriber_id", "id"),
        Index("ix_deliveries_due", "next_attempt_at", sqlite_where=text("state = 'queued'"),
              postgresql_where=text("state = 'queued'")),
        Index("ix_deliveries_sending", "claimed_at", sqlite_where=text("state = 'sending'"),
              postgresql_where=text("state = 'sending'")),
        Index("ix_deliveries_failures", "updated_at",
              sqlite_where=text("state IN ('failed', 'bounced')"),
              postgresql_where=text("state IN ('failed', 'bounced')")),
        # The send rate of /metrics: rows sent in the last minute.
        Index("ix_deliveries_sent", "sent_at", sqlite_where=text("state = 'sent'"),
              postgresql_where=text("state = 'sent'")),
    )


class DeliveryAttemptRow(Base):
    """One tried send of a delivery and what came of it; written once, never updated.

    `delivery_id` is not a foreign key (migration 0016): the ledger inserts an attempt only in
    the statement that updates its delivery, and a check per row cost the sending path; a
    trigger deletes a delivery's attempts with it.
    """

    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    delivery_id: Mapped[int] = mapped_column(BigId)
    state: Mapped[str] = mapped_column(String(10))
    reply: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_delivery_attempts_delivery", "delivery_id", "id"),)


class MailedStoryRow(Base):
    """A story a reader was given: the first delivery that took it for them, at its first claim.

    One row per (subscriber, story): the primary key is what keeps two lists from both mailing
    a story to one reader, even when their batches are claimed at the same moment.
    Neither id is a foreign key (migration 0016): the claim inserts pairs only for the rows it
    holds; triggers delete a delivery's or a subscriber's pairs with it.
    """

    __tablename__ = "mailed_stories"

    subscriber_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    story: Mapped[str] = mapped_column(String(500), primary_key=True)
    delivery_id: Mapped[int] = mapped_column(BigId)
    list_id: Mapped[int] = mapped_column(BigId)
    article_id: Mapped[int] = mapped_column(BigId)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_mailed_stories_delivery", "delivery_id"),)


def row_dict(row: Any) -> dict[str, Any]:
    """A row's columns as a plain dict (for JSON output)."""
    return {c.key: getattr(row, c.key) for c in row.__table__.columns}
