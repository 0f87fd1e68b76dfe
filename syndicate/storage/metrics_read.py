"""What /metrics reports, read from the database at scrape time (so every process agrees).

Delivery counts are summed over editions the way the ledger keeps them: a settled edition's
stored counts, and a live count only for editions still queued or sending (`counts_many`, which
also stores the counts of editions that settled since the last look).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from syndicate.digests.states import STATES, DeliveryState
from syndicate.partners.ports import DeliveryStatus
from syndicate.storage import delivery_ledger
from syndicate.storage.digest_models import DeliveryRow, EditionRow
from syndicate.storage.models import OutboxRow, RuntimeStatRow
from syndicate.storage.partner_models import PartnerDeliveryRow
from syndicate.storage.runtime_stats import SEEN

#: Editions counted live in one statement.
_CHUNK = 500


@dataclass
class OperatorMetrics:
    """One scrape's numbers; `stats` holds the runtime stats by name, `seen` heartbeats' times."""

    deliveries: dict[str, int]
    sent_last_minute: int
    outbox_pending: int
    outbox_oldest_pending: datetime | None
    partner_deliveries: dict[str, int]
    stats: dict[str, float] = field(default_factory=dict)
    seen: dict[str, datetime] = field(default_factory=dict)


class SqlMetricsReads:
    """The /metrics read model."""

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self.session_factory = session_factory

    def snapshot(self, *, now: datetime) -> OperatorMetrics:
        """Every number /metrics shows, as the database holds it at `now`."""
        with self.session_factory() as session:
            stats, seen = self._stats(session)
            return OperatorMetrics(
                deliveries=self._deliveries(session),
                sent_last_minute=session.scalar(
                    select(func.count()).select_from(DeliveryRow).where(
                        DeliveryRow.state == DeliveryState.SENT,
                        DeliveryRow.sent_at >= now - timedelta(minutes=1))) or 0,
                outbox_pending=session.scalar(
                    select(func.count()).select_from(OutboxRow).where(OutboxRow.handled_at.is_(None))) or 0,
                outbox_oldest_pending=session.scalar(
                    select(func.min(OutboxRow.created_at)).where(OutboxRow.handled_at.is_(None))),
                partner_deliveries=self._partner_deliveries(session),
                stats=stats, seen=seen,
            )

    def _deliveries(self, session: Session) -> dict[str, int]:
        total: dict[str, int] = dict.fromkeys(map(str, STATES), 0)
        for (settled,) in session.execute(select(EditionRow.settled_counts)
                                          .where(EditionRow.settled_counts.is_not(None))):
            for state, n in (settled or {}).items():
                total[state] = total.get(state, 0) + int(n)
        unsettled = list(session.scalars(select(EditionRow.id).where(EditionRow.settled_counts.is_(None))))
        for i in range(0, len(unsettled), _CHUNK):
            for counts in delivery_ledger.counts_many(session, unsettled[i:i + _CHUNK]).values():
                for state, n in counts.items():
                    total[str(state)] = total.get(str(state), 0) + n
        return total

    def _partner_deliveries(self, session: Session) -> dict[str, int]:
        found: dict[str, int] = dict.fromkeys(map(str, DeliveryStatus), 0)
        for status, n in session.execute(select(PartnerDeliveryRow.status, func.count())
                                         .group_by(PartnerDeliveryRow.status)):
            found[str(status)] = int(n)
        return found

    def _stats(self, session: Session) -> tuple[dict[str, float], dict[str, datetime]]:
        stats: dict[str, float] = {}
        seen: dict[str, datetime] = {}
        for row in session.scalars(select(RuntimeStatRow)):
            if row.name.startswith(SEEN):
                seen[row.name.removeprefix(SEEN)] = row.updated_at
            else:
                stats[row.name] = row.value
        return stats, seen
