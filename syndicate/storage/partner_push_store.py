"""The pushes' `PushStore` on the partner delivery tables (one short transaction per call)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TypeVar, cast

from sqlalchemy import Row, Table, and_, bindparam, case, exists, func, insert, or_, select, text, update
from sqlalchemy.orm import Session, aliased, sessionmaker

from syndicate.domain.articles import Article
from syndicate.domain.events import ARTICLE_EMBARGOED, ArticleEvent
from syndicate.partners.ports import (
    AttemptRecord,
    BatchClaim,
    Claim,
    DeliveryState,
    DeliveryStatus,
    Partner,
    Recorded,
    SigningKeys,
    Throttled,
)
from syndicate.storage.articles import ArticleQueries
from syndicate.storage.db import as_unavailable
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
T = TypeVar("T")
_older = aliased(PartnerDeliveryRow, name="older")
_me = aliased(PartnerDeliveryRow, name="me")
_partner = aliased(PartnerRow, name="partner")
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
# It also forgets when the row was enqueued: its message left the broker, so once the lease runs
# out (a pusher that died) the sweep hands it over again at once.
_CLAIM_MANY = (
    update(PartnerDeliveryRow)
    .where(PartnerDeliveryRow.id.in_(bindparam("ids", expanding=True)), _DUE)
    .values(
        enqueued_at=None,
        locked_until=bindparam("until", type_=UTCDateTime()),
        attempts=PartnerDeliveryRow.attempts + 1,
        last_attempt_at=_NOW,
    )
    .returning(
        PartnerDeliveryRow.id, PartnerDeliveryRow.partner_id, PartnerDeliveryRow.webhook_id,
        PartnerDeliveryRow.event_id, PartnerDeliveryRow.attempts,
    )
    .execution_options(synchronize_session=False)
)
# A renewal only extends a lease that is still ours: a takeover counted one more attempt.
# (Core statements on the table: run with a list of parameter sets, they are one executemany.)
_table = cast(Table, PartnerDeliveryRow.__table__)
_RENEW = (
    update(_table)
    .where(
        _table.c.id == bindparam("d_id"),
        _table.c.attempts == bindparam("n"),
        _table.c.status == PENDING,
        _table.c.locked_until.is_not(None),
    )
    .values(locked_until=bindparam("until", type_=UTCDateTime()))
)
_POSTPONE = (
    update(_table)
    .where(_table.c.id == bindparam("d_id"))
    .values(next_attempt_at=bindparam("at", type_=UTCDateTime()), enqueued_at=None)
)
_OUTCOME = (
    update(_table)
    .where(_table.c.id == bindparam("d_id"))
    .values(
        status=bindparam("status"), locked_until=None, enqueued_at=None,
        last_status_code=bindparam("code"), last_error=bindparam("error"),
        next_attempt_at=bindparam("next_at", type_=UTCDateTime()),
        delivered_at=func.coalesce(bindparam("delivered", type_=UTCDateTime()), _table.c.delivered_at),
    )
)
_NEXT_IN_LINE_MANY = (
    select(_me.id, PartnerDeliveryRow.id, PartnerDeliveryRow.event_id)
    .join(_me, and_(_me.partner_id == PartnerDeliveryRow.partner_id,
                    _me.article_id == PartnerDeliveryRow.article_id))
    .where(
        _me.id.in_(bindparam("ids", expanding=True)),
        PartnerDeliveryRow.status == PENDING,
        PartnerDeliveryRow.event_id > _me.event_id,
        _PARTNER_ACTIVE,
    )
)
_RELEASE_MANY = (
    update(_table)
    .where(_table.c.id == bindparam("d_id"))
    .values(
        enqueued_at=None,
        next_attempt_at=case(
            (_table.c.next_attempt_at.is_(None), _NOW),
            (_table.c.next_attempt_at > _NOW, _NOW),
            else_=_table.c.next_attempt_at,
        ),
    )
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

    def supersede_embargoes(self, article_id: int) -> int:
        """See PushStore.supersede_embargoes."""
        with self.session_factory() as session:
            result = session.execute(
                update(PartnerDeliveryRow)
                .where(PartnerDeliveryRow.article_id == article_id,
                       PartnerDeliveryRow.event_type == ARTICLE_EMBARGOED,
                       PartnerDeliveryRow.status == PENDING,
                       PartnerDeliveryRow.locked_until.is_(None))
                .values(status=DeliveryStatus.DEAD.value, next_attempt_at=None, enqueued_at=None,
                        last_error="superseded by the release")
                .execution_options(synchronize_session=False)
            )
            session.commit()
            return int(getattr(result, "rowcount", 0) or 0)

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

    def record(self, record: AttemptRecord) -> Recorded:
        """See PushStore.record."""
        return self.record_batch([record])[0]

    # --- batches (outages raise DatabaseUnavailable) ----------------------------------------------

    def claim_batch(self, delivery_ids: Sequence[int], *, now: datetime, lease_until: datetime) -> BatchClaim:
        """See PushStore.claim_batch."""
        return _outages(lambda: self._claim_batch(list(dict.fromkeys(delivery_ids)), now, lease_until))

    def _claim_batch(self, ids: list[int], now: datetime, lease_until: datetime) -> BatchClaim:
        if not ids:
            return BatchClaim([], {}, {})
        with self.session_factory() as session:
            found = session.execute(
                select(PartnerDeliveryRow.id, PartnerDeliveryRow.partner_id,
                       PartnerDeliveryRow.locked_until, _partner.rate_limit_per_minute)
                .join(_partner, _partner.id == PartnerDeliveryRow.partner_id)
                .where(PartnerDeliveryRow.id.in_(ids), _DUE)
                .order_by(PartnerDeliveryRow.event_id, PartnerDeliveryRow.id),
                {"now": now},
            ).all()
            limited = {int(p) for _d, p, _l, limit in found if limit}
            used = _attempts_by_partner(session, limited, now - timedelta(minutes=1))
            chosen: list[int] = []
            throttled: dict[int, Throttled] = {}
            for d_id, p_id, _locked, limit in found:
                if limit and used.get(p_id, 0) >= limit:
                    throttled[int(d_id)] = Throttled(int(p_id), int(limit))
                    continue
                used[p_id] = used.get(p_id, 0) + 1
                chosen.append(int(d_id))
            taken_over = sum(1 for d_id, _p, locked, _l in found if locked is not None and d_id in chosen)
            claimed = session.execute(
                _CLAIM_MANY, {"ids": chosen, "now": now, "until": lease_until}
            ).all() if chosen else []
            claims = _claims(session, claimed)
            got = {c.delivery_id for c in claims}
            skipped = _states(session, [i for i in ids if i not in got and i not in throttled])
            session.commit()
        claims.sort(key=lambda c: chosen.index(c.delivery_id))
        return BatchClaim(claims, throttled, skipped, taken_over=taken_over)

    def record_batch(self, records: Sequence[AttemptRecord]) -> list[Recorded]:
        """See PushStore.record_batch."""
        return _outages(lambda: self._record_batch(records))

    def _record_batch(self, records: Sequence[AttemptRecord]) -> list[Recorded]:
        # Set-based: a few statements whatever the number of records (executemany is one round
        # trip on psycopg's pipeline). On PostgreSQL the commit does not wait for the disk: a dead
        # worker loses nothing the server has; a crash of the server itself can lose the last few
        # hundred milliseconds of outcomes, and those deliveries are pushed again (same webhook-id).
        if not records:
            return []
        with self.session_factory() as session:
            if session.get_bind().dialect.name == "postgresql":
                session.execute(text("SET LOCAL synchronous_commit = off"))
            session.execute(insert(PartnerAttemptRow), [
                {"delivery_id": r.delivery_id, "partner_id": r.partner_id, "attempted_at": r.attempted_at,
                 "status_code": r.status_code, "error": r.error, "duration_ms": r.duration_ms}
                for r in records
            ])
            session.execute(_OUTCOME, [_outcome_values(r) for r in records])
            disabled = {r.delivery_id: _partner_changes(session, r) for r in records}
            successors = _successors(session, [r for r in records if r.release_next])
            if successors:
                session.execute(_RELEASE_MANY, [
                    {"d_id": after, "now": at} for after, at in successors.values()
                ])
            session.commit()
        return [Recorded(successor=successors[r.delivery_id][0] if r.delivery_id in successors else None,
                         disabled=disabled[r.delivery_id]) for r in records]

    def renew(self, leases: Mapping[int, int], *, lease_until: datetime) -> None:
        """See PushStore.renew."""
        if not leases:
            return

        def run() -> None:
            with self.session_factory() as session:
                session.execute(_RENEW, [
                    {"d_id": d, "n": n, "until": lease_until} for d, n in leases.items()
                ])
                session.commit()

        _outages(run)

    def postpone_many(self, moves: Mapping[int, datetime]) -> None:
        """See PushStore.postpone_many."""
        if not moves:
            return

        def run() -> None:
            with self.session_factory() as session:
                session.execute(_POSTPONE, [{"d_id": d, "at": at} for d, at in moves.items()])
                session.commit()

        _outages(run)

    def forget_enqueued_many(self, delivery_ids: Sequence[int]) -> None:
        """See PushStore.forget_enqueued_many."""

        def run() -> None:
            with self.session_factory() as session:
                _mark_enqueued(session, list(delivery_ids), None)
                session.commit()

        _outages(run)


def _outages(call: Callable[[], T]) -> T:
    """Run `call`; an unreachable database raises DatabaseUnavailable, other errors as they are."""
    try:
        return call()
    except Exception as exc:
        outage = as_unavailable(exc)
        if outage is None:
            raise
        raise outage from exc


def _claims(session: Session, claimed: Sequence[Row[int, int, str, int, int]]) -> list[Claim]:
    if not claimed:
        return []
    partners = {p.id: p for p in session.scalars(
        select(PartnerRow).where(PartnerRow.id.in_({int(r[1]) for r in claimed})))}
    bodies = dict(session.execute(
        select(PartnerPayloadRow.event_id, PartnerPayloadRow.body)
        .where(PartnerPayloadRow.event_id.in_({int(r[3]) for r in claimed}))
    ).all())
    claims = []
    for d_id, p_id, webhook_id, event_id, attempts in claimed:
        partner, body = partners[p_id], bodies.get(event_id)
        if body is None:
            raise LookupError(f"no partner payload for event {event_id}")
        claims.append(Claim(
            delivery_id=int(d_id), partner_id=partner.id, partner_name=partner.name, url=partner.url,
            webhook_id=str(webhook_id), body=body, attempts=int(attempts),
            keys=SigningKeys(partner.secret, partner.previous_secret, partner.previous_secret_until),
            failing_since=partner.failing_since,
        ))
    return claims


def _states(session: Session, ids: list[int]) -> dict[int, DeliveryState | None]:
    states: dict[int, DeliveryState | None] = dict.fromkeys(ids)
    if ids:
        rows = session.execute(
            select(PartnerDeliveryRow.id, PartnerDeliveryRow.status, PartnerDeliveryRow.next_attempt_at,
                   PartnerDeliveryRow.locked_until, PartnerRow.active)
            .outerjoin(PartnerRow, PartnerRow.id == PartnerDeliveryRow.partner_id)
            .where(PartnerDeliveryRow.id.in_(ids))
        ).all()
        for d_id, status, next_at, locked, active in rows:
            states[int(d_id)] = DeliveryState(
                status=DeliveryStatus(status), next_attempt_at=next_at, locked_until=locked,
                partner_active=bool(active),
            )
    return states


def _outcome_values(record: AttemptRecord) -> dict[str, object]:
    pending = record.status is DeliveryStatus.PENDING
    return {
        "d_id": record.delivery_id, "status": record.status.value,
        "code": record.status_code, "error": record.error,
        "next_at": record.next_attempt_at if pending else None,
        "delivered": record.attempted_at if record.status is DeliveryStatus.DELIVERED else None,
    }


def _partner_changes(session: Session, record: AttemptRecord) -> bool:
    """Apply what an attempt changes on its partner; True when it disabled the partner."""
    if record.partner_failing_since is not None:
        _update_partner(session, record.partner_id, failing_since=record.partner_failing_since)
    if record.partner_recovered:
        _update_partner(session, record.partner_id, failing_since=None)
    return record.disable_reason is not None and _disable(
        session, record.partner_id, now=record.attempted_at, reason=record.disable_reason
    )


def _successors(session: Session, records: list[AttemptRecord]) -> dict[int, tuple[int, datetime]]:
    """For each record's delivery: the next pending event of its article to its (still active)
    partner, and the time to release it at; one query for all."""
    if not records:
        return {}
    found = session.execute(_NEXT_IN_LINE_MANY, {"ids": [r.delivery_id for r in records]}).all()
    first: dict[int, tuple[int, int]] = {}
    for me, after, event_id in found:
        if me not in first or event_id < first[me][1]:
            first[int(me)] = (int(after), int(event_id))
    at = {r.delivery_id: r.attempted_at for r in records}
    return {me: (after, at[me]) for me, (after, _e) in first.items()}


def _attempts_by_partner(session: Session, partner_ids: set[int], since: datetime) -> dict[int, int]:
    if not partner_ids:
        return {}
    stmt = (
        select(PartnerAttemptRow.partner_id, func.count())
        .where(PartnerAttemptRow.partner_id.in_(partner_ids), PartnerAttemptRow.attempted_at >= since)
        .group_by(PartnerAttemptRow.partner_id)
    )
    return {int(p): int(n) for p, n in session.execute(stmt)}


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
