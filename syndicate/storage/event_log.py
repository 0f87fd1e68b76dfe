"""Read model of the outbox for the admin: pending and failing events, an article's events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from syndicate.storage.models import OutboxRow


@dataclass(frozen=True)
class EventRecord:
    """One outbox event as the admin shows it."""

    id: int
    event_type: str
    article_id: int
    created_at: datetime
    dispatched_at: datetime | None
    handled_at: datetime | None
    attempts: int
    last_error: str | None


@dataclass(frozen=True)
class OutboxHealth:
    """Events no worker has finished yet, and the most recent of them that failed."""

    pending: int
    failing: list[EventRecord]


def _record(row: OutboxRow) -> EventRecord:
    return EventRecord(row.id, row.event_type, row.article_id, row.created_at, row.dispatched_at,
                       row.handled_at, row.attempts, row.last_error)


class SqlEventLog:
    """The outbox as the admin pages read it; each call in a short session of its own."""

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self.session_factory = session_factory

    def health(self, *, failing_limit: int = 10) -> OutboxHealth:
        """How many events wait for a worker, and the newest of those that failed at least once."""
        with self.session_factory() as session:
            pending = session.scalar(
                select(func.count()).select_from(OutboxRow).where(OutboxRow.handled_at.is_(None)))
            failing = session.scalars(
                select(OutboxRow).where(OutboxRow.handled_at.is_(None), OutboxRow.last_error.is_not(None))
                .order_by(OutboxRow.id.desc()).limit(failing_limit))
            return OutboxHealth(int(pending or 0), [_record(r) for r in failing])

    def of_article(self, article_id: int) -> list[EventRecord]:
        """Every event of one article, oldest first."""
        with self.session_factory() as session:
            rows = session.scalars(
                select(OutboxRow).where(OutboxRow.article_id == article_id).order_by(OutboxRow.id))
            return [_record(r) for r in rows]
