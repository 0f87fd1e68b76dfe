"""Tables of partner pushes: partners, one delivery per (event, partner), and every attempt."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from syndicate.partners.ports import DeliveryStatus
from syndicate.storage.models import Base, BigId, UTCDateTime


class PartnerRow(Base):
    """A partner endpoint. `previous_secret` keeps signing until `previous_secret_until`."""

    __tablename__ = "partners"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(Text)
    secret: Mapped[str] = mapped_column(String(100))
    previous_secret: Mapped[str | None] = mapped_column(String(100))
    previous_secret_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    language: Mapped[str | None] = mapped_column(String(35))
    rate_limit_per_minute: Mapped[int | None] = mapped_column(Integer)
    # Opted in to embargoed pushes: told of scheduled articles ahead of their release.
    embargoed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PartnerPayloadRow(Base):
    """The signed body of one event, written once and shared by every partner's delivery of it."""

    __tablename__ = "partner_payloads"

    event_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PartnerDeliveryRow(Base):
    """One event for one partner. `webhook_id` and the event's body never change: retries are identical."""

    __tablename__ = "partner_deliveries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    partner_id: Mapped[int] = mapped_column(BigId, ForeignKey("partners.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(BigId)
    article_id: Mapped[int] = mapped_column(BigId)
    event_type: Mapped[str] = mapped_column(String(40))
    webhook_id: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        UniqueConstraint("event_id", "partner_id", name="uq_partner_deliveries_event_partner"),
        Index("ix_partner_deliveries_due", "status", "next_attempt_at"),
        Index("ix_partner_deliveries_order", "partner_id", "article_id", "event_id"),
        Index("ix_partner_deliveries_partner_status", "partner_id", "status", "id"),
    )


class PartnerAttemptRow(Base):
    """One HTTP attempt of a delivery: the delivery log an admin reads."""

    __tablename__ = "partner_attempts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    delivery_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("partner_deliveries.id", ondelete="CASCADE")
    )
    partner_id: Mapped[int] = mapped_column(BigId)
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        Index("ix_partner_attempts_delivery", "delivery_id", "id"),
        Index("ix_partner_attempts_partner_time", "partner_id", "attempted_at"),
    )

