"""The pushes' `PushStore` on the partner delivery tables (one short transaction per call)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy import and_, bindparam, case, exists, func, or_, select, update
from sqlalchemy.orm import Session, aliased, sessionmaker

from syndicate.domain.articles import Article
from syndicate.domain.events import ArticleEvent
from syndicate.partners.ports import (
    AttemptRecord,
    Claim,
    DeliveryState,
    DeliveryStatus,
    Partner,
    Recorded,
    SigningKeys,
    Throttled,
)
from syndicate.storage.articles import ArticleQueries
from syndicate.storage.models import OutboxRow, UTCDateTime
from syndicate.storage.partner_models import (
    PartnerAttemptRow,
    PartnerDeliveryRow,
    PartnerPayloadRow,
    PartnerRow,
)
from syndicate.storage.partner_store import to_partner
from syndicate.storage.stories import with_translations

PENDING = DeliveryStatus.PENDING.value
_older = aliased(PartnerDeliveryRow, name="older")
_me = aliased(PartnerDeliveryRow, name="me")
_NOW = bindparam("now", type_=UTCDateTime())

# An older delivery of the same article to the same partner is still pending: ordering per
# (partner, article) is what keeps an update from overtaking the publication it follows.
_OLDER_PENDING = exists().where(
    _older.partner_id == PartnerDeliveryRow.partner_id,
    _older.article_id == PartnerDeliveryRow.article_id,
    _older.status == PENDING,
    _older.event_id < PartnerDeliveryRow.event_id,
)
_PARTNER_ACTIVE = exists().where(
    PartnerRow.id == PartnerDeliveryRow.partner_id, PartnerRow.active.is_(True)
)
_DUE = and_(
    PartnerDeliveryRow.status == PENDING,
    PartnerDeliveryRow.next_attempt_at <= _NOW,
    or_(PartnerDeliveryRow.locked_until.is_(None), PartnerDeliveryRow.locked_until < _NOW),
    _PARTNER_ACTIVE,
    ~_OLDER_PENDING,
)

# Statements of the hot path are built once; the parameters are bound per call.
# The claim is one conditional UPDATE: two workers racing for the same row cannot both get it.
_CLAIM = (
    update(PartnerDeliveryRow)
    .where(PartnerDeliveryRow.id == bindparam("d_id"), _DUE)
    .values(
        locked_until=bindparam("until", type_=UTCDateTime()),
        attempts=PartnerDeliveryRow.attempts + 1,
        last_attempt_at=_NOW,
    )
    .returning(
        PartnerDeliveryRow.partner_id, PartnerDeliveryRow.webhook_id, PartnerDeliveryRow.event_id,
        PartnerDeliveryRow.attempts,
    )
    .execution_options(synchronize_session=False)
)
_NEXT_IN_LINE = (
    select(PartnerDeliveryRow.id)
    .join(_me, and_(_me.partner_id == PartnerDeliveryRow.partner_id,
                    _me.article_id == PartnerDeliveryRow.article_id))
    .where(
        _me.id == bindparam("d_id"),
        PartnerDeliveryRow.status == PENDING,
        PartnerDeliveryRow.event_id > _me.event_id,
        _PARTNER_ACTIVE,
    )
    .order_by(PartnerDeliveryRow.event_id)
    .limit(1)
)
_RELEASE = (
    update(PartnerDeliveryRow)
    .where(PartnerDeliveryRow.id == bindparam("d_id"))
    .values(
        enqueued_at=None,
        next_attempt_at=case(
            (PartnerDeliveryRow.next_attempt_at.is_(None), _NOW),
            (PartnerDeliveryRow.next_attempt_at > _NOW, _NOW),
            else_=PartnerDeliveryRow.next_attempt_at,
        ),
    )
    .execution_options(synchronize_session=False)
)


def _due_ids(
    session: Session, *, now: datetime, limit: int, enqueued_before: datetime | None = None
) -> list[int]:
    stmt = select(PartnerDeliveryRow.id).where(_DUE)
    if enqueued_before is not None:
        stmt = stmt.where(or_(PartnerDeliveryRow.enqueued_at.is_(None),
                              PartnerDeliveryRow.enqueued_at < enqueued_before))
    stmt = stmt.order_by(PartnerDeliveryRow.event_id, PartnerDeliveryRow.id).limit(limit)
    return list(session.scalars(stmt, {"now": now}))


def _mark_enqueued(session: Session, ids: list[int], at: datetime | None) -> None:
    if ids:
        session.execute(
            update(PartnerDeliveryRow).where(PartnerDeliveryRow.id.in_(ids)).values(enqueued_at=at)
            .execution_options(synchronize_session=False)
        )


class SqlPushStore:
    """PushStore over SQLAlchemy sessions from `session_factory`."""

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self.session_factory = session_factory

    def due(self, *, now: datetime, limit: int) -> list[int]:
        """See PushStore.due."""
        with self.session_factory() as session:
            return _due_ids(session, now=now, limit=limit)

    def take_due(self, *, now: datetime, limit: int, enqueued_before: datetime) -> list[int]:
        """See PushStore.take_due."""
        with self.session_factory() as session:
            ids = _due_ids(session, now=now, limit=limit, enqueued_before=enqueued_before)
            _mark_enqueued(session, ids, now)
            session.commit()
            return ids

    def active_partners(self) -> list[Partner]:
        """See PushStore.active_partners."""
        with self.session_factory() as session:
            rows = session.scalars(select(PartnerRow).where(PartnerRow.active.is_(True)))
            return [to_partner(r) for r in rows]

    def partners_with_delivery_of(self, event_id: int) -> set[int]:
        """See PushStore.partners_with_delivery_of."""
        stmt = select(PartnerDeliveryRow.partner_id).where(PartnerDeliveryRow.event_id == event_id)
        with self.session_factory() as session:
            return set(session.scalars(stmt))

    def partners_told_about(self, article_id: int) -> set[int]:
        """See PushStore.partners_told_about."""
        stmt = select(PartnerDeliveryRow.partner_id).where(PartnerDeliveryRow.article_id == article_id)
        with self.session_factory() as session:
            return set(session.scalars(stmt.distinct()))

    def article(self, article_id: int) -> Article | None:
        """See PushStore.article (with its story's other published versions as `translations`)."""
        with self.session_factory() as session:
            found = ArticleQueries(session).by_id(article_id)
            return None if found is None else with_translations(session, [found])[0]

    def latest_event(self, article_id: int) -> ArticleEvent | None:
        """See PushStore.latest_event."""
        stmt = (
            select(OutboxRow).where(OutboxRow.article_id == article_id)
            .order_by(OutboxRow.id.desc()).limit(1)
        )
        with self.session_factory() as session:
            row = session.scalars(stmt).first()
            return None if row is None else ArticleEvent(row.id, row.event_type, row.article_id, row.guid)

    def event_time(self, event_id: int) -> datetime | None:
        """See PushStore.event_time."""
        with self.session_factory() as session:
            return session.scalar(select(OutboxRow.created_at).where(OutboxRow.id == event_id))

    def add_deliveries(
        self, event: ArticleEvent, body: str, webhook_ids: Mapping[int, str], *, now: datetime,
        enqueued: bool,
    ) -> list[int]:
        """See PushStore.add_deliveries."""
        with self.session_factory() as session:
            stored = session.scalar(
                select(PartnerPayloadRow.event_id).where(PartnerPayloadRow.event_id == event.event_id)
            )
            if stored is None:
                session.add(PartnerPayloadRow(event_id=event.event_id, body=body, created_at=now))
            rows = [
                PartnerDeliveryRow(
                    partner_id=partner_id, event_id=event.event_id, article_id=event.article_id,
                    event_type=event.type, webhook_id=webhook_id, status=PENDING, attempts=0,
                    next_attempt_at=now, enqueued_at=now if enqueued else None, created_at=now,
                )
                for partner_id, webhook_id in webhook_ids.items()
            ]
            session.add_all(rows)
            session.commit()
            return [r.id for r in rows]

    def requeue(
        self, partner_id: int, *, now: datetime, status: DeliveryStatus | None = None,
        article_id: int | None = None,
    ) -> list[int]:
        """See PushStore.requeue."""
        stmt = select(PartnerDeliveryRow).where(PartnerDeliveryRow.partner_id == partner_id)
        if status is not None:
            stmt = stmt.where(PartnerDeliveryRow.status == status.value)
        if article_id is not None:
            stmt = stmt.where(PartnerDeliveryRow.article_id == article_id)
        with self.session_factory() as session:
            rows = list(session.scalars(stmt.order_by(PartnerDeliveryRow.event_id)))
            for row in rows:
                row.status, row.attempts, row.next_attempt_at = PENDING, 0, now
                row.locked_until = row.enqueued_at = row.delivered_at = None
            session.commit()
            return [r.id for r in rows]

    def claim(self, delivery_id: int, *, now: datetime, lease_until: datetime) -> Claim | Throttled | None:
        """See PushStore.claim."""
        with self.session_factory() as session:
            found = session.execute(
                _CLAIM, {"d_id": delivery_id, "now": now, "until": lease_until}
            ).first()
            partner = session.get(PartnerRow, found[0]) if found is not None else None
            if found is None or partner is None:
                session.rollback()
                return None
            limit = partner.rate_limit_per_minute
            if limit and _attempts_since(session, partner.id, now - timedelta(minutes=1)) >= limit:
                session.rollback()
                return Throttled(partner.id, limit)
            body = session.scalar(
                select(PartnerPayloadRow.body).where(PartnerPayloadRow.event_id == found[2])
            )
            if body is None:
                raise LookupError(f"no partner payload for event {found[2]}")
            session.commit()
            return Claim(
                delivery_id=delivery_id, partner_id=partner.id, partner_name=partner.name,
                url=partner.url, webhook_id=str(found[1]), body=body, attempts=int(found[3]),
                keys=SigningKeys(partner.secret, partner.previous_secret, partner.previous_secret_until),
                failing_since=partner.failing_since,
            )

    def state(self, delivery_id: int) -> DeliveryState | None:
        """See PushStore.state."""
        with self.session_factory() as session:
            row = session.get(PartnerDeliveryRow, delivery_id)
            if row is None:
                return None
            partner = session.get(PartnerRow, row.partner_id)
            return DeliveryState(
                status=DeliveryStatus(row.status), next_attempt_at=row.next_attempt_at,
                locked_until=row.locked_until, partner_active=partner is not None and partner.active,
            )

    def forget_enqueued(self, delivery_id: int) -> None:
        """See PushStore.forget_enqueued."""
        with self.session_factory() as session:
            _mark_enqueued(session, [delivery_id], None)
            session.commit()

    def postpone(self, delivery_id: int, at: datetime) -> None:
        """See PushStore.postpone."""
        with self.session_factory() as session:
            session.execute(
                update(PartnerDeliveryRow).where(PartnerDeliveryRow.id == delivery_id)
                .values(next_attempt_at=at, enqueued_at=None)
                .execution_options(synchronize_session=False)
            )
            session.commit()

    def record(self, record: AttemptRecord) -> Recorded:
        """See PushStore.record."""
        values: dict[str, object] = {
            "status": record.status.value, "locked_until": None, "enqueued_at": None,
            "last_status_code": record.status_code, "last_error": record.error,
            "next_attempt_at": record.next_attempt_at if record.status is DeliveryStatus.PENDING else None,
        }
        if record.status is DeliveryStatus.DELIVERED:
            values["delivered_at"] = record.attempted_at
        with self.session_factory() as session:
            session.add(PartnerAttemptRow(
                delivery_id=record.delivery_id, partner_id=record.partner_id,
                attempted_at=record.attempted_at, status_code=record.status_code,
                error=record.error, duration_ms=record.duration_ms,
            ))
            session.execute(
                update(PartnerDeliveryRow).where(PartnerDeliveryRow.id == record.delivery_id)
                .values(**values).execution_options(synchronize_session=False)
            )
            if record.partner_failing_since is not None:
                _update_partner(session, record.partner_id, failing_since=record.partner_failing_since)
            if record.partner_recovered:
                _update_partner(session, record.partner_id, failing_since=None)
            disabled = record.disable_reason is not None and _disable(
                session, record.partner_id, now=record.attempted_at, reason=record.disable_reason
            )
            successor = None
            if record.release_next:
                after = session.scalar(_NEXT_IN_LINE, {"d_id": record.delivery_id})
                if after is not None:
                    session.execute(_RELEASE, {"d_id": after, "now": record.attempted_at})
                    successor = int(after)
            session.commit()
        return Recorded(successor=successor, disabled=disabled)


def _attempts_since(session: Session, partner_id: int, since: datetime) -> int:
    stmt = select(func.count()).where(
        PartnerAttemptRow.partner_id == partner_id, PartnerAttemptRow.attempted_at >= since
    )
    return int(session.scalar(stmt) or 0)


def _update_partner(session: Session, partner_id: int, **values: object) -> None:
    session.execute(
        update(PartnerRow).where(PartnerRow.id == partner_id).values(**values)
        .execution_options(synchronize_session=False)
    )


def _disable(session: Session, partner_id: int, *, now: datetime, reason: str) -> bool:
    result = session.execute(
        update(PartnerRow)
        .where(PartnerRow.id == partner_id, PartnerRow.active.is_(True))
        .values(active=False, disabled_at=now, disabled_reason=reason, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)
