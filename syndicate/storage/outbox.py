"""SQL implementation of the event outbox."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from syndicate.domain.articles import Article
from syndicate.domain.events import ArticleEvent
from syndicate.storage.models import OutboxRow

# An event whose handlers keep failing is left for an operator after this many attempts.
MAX_ATTEMPTS = 20


class SqlEventStore:
    """EventStore on a SQLAlchemy session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, event_type: str, article: Article, *, now: datetime,
            not_before: datetime | None = None) -> int:
        row = OutboxRow(
            event_type=event_type, article_id=article.id, guid=article.guid, created_at=now,
            attempts=0, not_before=not_before,
        )
        self.session.add(row)
        self.session.flush()
        return row.id

    def get(self, event_id: int) -> ArticleEvent | None:
        row = self.session.get(OutboxRow, event_id)
        if row is None:
            return None
        return ArticleEvent(
            event_id=row.id, type=row.event_type, article_id=row.article_id, guid=row.guid
        )

    def is_handled(self, event_id: int) -> bool:
        handled = self.session.scalar(select(OutboxRow.handled_at).where(OutboxRow.id == event_id))
        return handled is not None

    def due_for_dispatch(
        self, *, now: datetime, redeliver_after_s: float, limit: int
    ) -> Sequence[int]:
        cutoff = now - timedelta(seconds=redeliver_after_s)
        stmt = (
            select(OutboxRow.id)
            .where(OutboxRow.handled_at.is_(None))
            .where(OutboxRow.attempts < MAX_ATTEMPTS)
            .where(or_(OutboxRow.dispatched_at.is_(None), OutboxRow.dispatched_at < cutoff))
            .where(or_(OutboxRow.not_before.is_(None), OutboxRow.not_before <= now))
            .order_by(OutboxRow.id)
            .limit(limit)
        )
        return list(self.session.scalars(stmt))

    def is_due(self, event_id: int, *, now: datetime) -> bool:
        not_before = self.session.scalar(select(OutboxRow.not_before).where(OutboxRow.id == event_id))
        return not_before is None or not_before <= now

    def reschedule(self, article_id: int, event_type: str, not_before: datetime | None) -> int:
        result = self.session.execute(
            update(OutboxRow)
            .where(OutboxRow.article_id == article_id, OutboxRow.event_type == event_type,
                   OutboxRow.handled_at.is_(None), OutboxRow.dispatched_at.is_(None))
            .values(not_before=not_before)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    def pending_id(self, article_id: int, event_type: str) -> int | None:
        stmt = (select(OutboxRow.id)
                .where(OutboxRow.article_id == article_id, OutboxRow.event_type == event_type,
                       OutboxRow.handled_at.is_(None), OutboxRow.dispatched_at.is_(None))
                .order_by(OutboxRow.id.desc()).limit(1))
        return self.session.scalar(stmt)

    def cancel_pending(self, article_id: int, event_type: str, *, now: datetime) -> int:
        result = self.session.execute(
            update(OutboxRow)
            .where(OutboxRow.article_id == article_id, OutboxRow.event_type == event_type,
                   OutboxRow.handled_at.is_(None), OutboxRow.dispatched_at.is_(None),
                   OutboxRow.not_before > now)
            .values(handled_at=now, last_error="cancelled before its release time")
        )
        return int(getattr(result, "rowcount", 0) or 0)

    def mark_dispatched(self, event_id: int, *, now: datetime) -> None:
        self.session.execute(
            update(OutboxRow).where(OutboxRow.id == event_id).values(dispatched_at=now)
        )

    def mark_handled(self, event_id: int, *, now: datetime) -> None:
        self.session.execute(
            update(OutboxRow)
            .where(OutboxRow.id == event_id, OutboxRow.handled_at.is_(None))
            .values(handled_at=now, last_error=None)
        )

    def record_failure(self, event_id: int, error: str) -> int:
        row = self.session.get(OutboxRow, event_id)
        if row is None:
            return 0
        row.attempts += 1
        row.last_error = error[:2000]
        return row.attempts
