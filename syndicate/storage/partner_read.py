"""The partners read model the admin pages, the admin API and the CLI share: health and delivery log."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from syndicate.partners.ports import (
    ADMIN_REASON,
    AttemptEntry,
    DeliveryEntry,
    DeliveryLog,
    DeliveryStatus,
    Partner,
    PartnerOrder,
    PartnerOverview,
)
from syndicate.storage.counts import grouped_counts
from syndicate.storage.partner_models import PartnerAttemptRow, PartnerDeliveryRow, PartnerRow
from syndicate.storage.partner_store import partner_row, to_partner


def status_counts(session: Session, partner_ids: Sequence[int]) -> dict[int, dict[DeliveryStatus, int]]:
    """Partner deliveries per status for each partner, every status present (one grouped query)."""
    found = grouped_counts(
        session, PartnerDeliveryRow.partner_id, PartnerDeliveryRow.status, partner_ids,
        [s.value for s in DeliveryStatus],
    )
    return {p: {DeliveryStatus(s): n for s, n in by_status.items()} for p, by_status in found.items()}


def _entry(row: PartnerDeliveryRow, attempts: Sequence[PartnerAttemptRow]) -> DeliveryEntry:
    return DeliveryEntry(
        id=row.id, webhook_id=row.webhook_id, event_id=row.event_id, event_type=row.event_type,
        article_id=row.article_id, status=DeliveryStatus(row.status), attempts=row.attempts,
        next_attempt_at=row.next_attempt_at, last_status_code=row.last_status_code,
        last_error=row.last_error, created_at=row.created_at, delivered_at=row.delivered_at,
        log=tuple(
            AttemptEntry(a.attempted_at, a.status_code, a.error, a.duration_ms) for a in attempts
        ),
    )


class SqlPartnerReads:
    """Read-only partner queries over sessions from `session_factory`."""

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self.session_factory = session_factory

    def partners(self, *, order: PartnerOrder = "id") -> list[PartnerOverview]:
        """Every partner with its delivery counts, by id (oldest first) or by name."""
        key = PartnerRow.name if order == "name" else PartnerRow.id
        with self.session_factory() as session:
            rows = list(session.scalars(select(PartnerRow).order_by(key)))
            counts = status_counts(session, [r.id for r in rows])
            return [PartnerOverview(to_partner(r), counts[r.id]) for r in rows]

    def partner(self, partner_id: int) -> PartnerOverview:
        """One partner with its delivery counts; raises NotFound."""
        with self.session_factory() as session:
            row = partner_row(session, partner_id)
            return PartnerOverview(to_partner(row), status_counts(session, [row.id])[row.id])

    def alerts(self) -> list[Partner]:
        """Partners syndicate disabled by itself (410 Gone, or failing for days), oldest first."""
        stmt = (
            select(PartnerRow)
            .where(PartnerRow.active.is_(False), PartnerRow.disabled_reason != ADMIN_REASON)
            .order_by(PartnerRow.disabled_at)
        )
        with self.session_factory() as session:
            return [to_partner(r) for r in session.scalars(stmt)]

    def delivery_log(
        self, partner_id: int, *, status: DeliveryStatus | None = None, limit: int = 100
    ) -> DeliveryLog:
        """The partner, its counts and its newest deliveries (of one status), each with its attempts;
        raises NotFound."""
        stmt = select(PartnerDeliveryRow).where(PartnerDeliveryRow.partner_id == partner_id)
        if status is not None:
            stmt = stmt.where(PartnerDeliveryRow.status == status.value)
        with self.session_factory() as session:
            row = partner_row(session, partner_id)
            overview = PartnerOverview(to_partner(row), status_counts(session, [row.id])[row.id])
            deliveries = list(session.scalars(stmt.order_by(PartnerDeliveryRow.id.desc()).limit(limit)))
            attempts: dict[int, list[PartnerAttemptRow]] = {d.id: [] for d in deliveries}
            if deliveries:
                found = select(PartnerAttemptRow).where(
                    PartnerAttemptRow.delivery_id.in_(list(attempts))
                ).order_by(PartnerAttemptRow.id)
                for a in session.scalars(found):
                    attempts[a.delivery_id].append(a)
            return DeliveryLog(overview, [_entry(d, attempts[d.id]) for d in deliveries])

    def pushes_of_article(self, article_id: int) -> list[tuple[int, str, DeliveryEntry]]:
        """Every partner delivery of an article, oldest first, with the partner's id and name."""
        stmt = (select(PartnerDeliveryRow, PartnerRow.name)
                .join(PartnerRow, PartnerRow.id == PartnerDeliveryRow.partner_id)
                .where(PartnerDeliveryRow.article_id == article_id).order_by(PartnerDeliveryRow.id))
        with self.session_factory() as session:
            return [(d.partner_id, name, _entry(d, ())) for d, name in session.execute(stmt).all()]

    def dead_since(self, since: datetime) -> int:
        """Partner deliveries that gave up (dead) since `since`."""
        stmt = (select(func.count()).select_from(PartnerDeliveryRow)
                .where(PartnerDeliveryRow.status == DeliveryStatus.DEAD.value,
                       PartnerDeliveryRow.last_attempt_at >= since))
        with self.session_factory() as session:
            return int(session.scalar(stmt) or 0)
