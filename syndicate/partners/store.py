"""SQL queries of partner pushes, on a session the caller owns (one transaction each)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Table, bindparam, case, exists, func, or_, select, update
from sqlalchemy.orm import Session

from syndicate.storage.models import OutboxRow, UTCDateTime
from syndicate.storage.partner_models import (
    DEAD,
    DELIVERED,
    PENDING,
    PartnerAttemptRow,
    PartnerDeliveryRow,
    PartnerPayloadRow,
    PartnerRow,
)

Delivery = PartnerDeliveryRow


D: Table = PartnerDeliveryRow.__table__  # type: ignore[assignment]
P: Table = PartnerRow.__table__  # type: ignore[assignment]
_older = D.alias("older")
_me = D.alias("me")

# An older delivery of the same article to the same partner is still pending.
_OLDER_PENDING = exists().where(
    _older.c.partner_id == D.c.partner_id,
    _older.c.article_id == D.c.article_id,
    _older.c.status == PENDING,
    _older.c.event_id < D.c.event_id,
)
_UNLOCKED = or_(D.c.locked_until.is_(None), D.c.locked_until < bindparam("now", type_=UTCDateTime()))
_PARTNER_ACTIVE = exists().where(P.c.id == D.c.partner_id, P.c.active.is_(True))

# Statements of the hot path are built once; the parameters are bound per call.
_CLAIM = (
    update(D)
    .where(
        D.c.id == bindparam("d_id"),
        D.c.status == PENDING,
        D.c.next_attempt_at <= bindparam("now", type_=UTCDateTime()),
        _UNLOCKED,
        _PARTNER_ACTIVE,
        ~_OLDER_PENDING,
    )
    .values(
        locked_until=bindparam("until", type_=UTCDateTime()),
        attempts=D.c.attempts + 1,
        last_attempt_at=bindparam("started", type_=UTCDateTime()),
    )
    .returning(D.c.partner_id, D.c.webhook_id, D.c.event_id, D.c.attempts)
)
_NEXT_IN_LINE = (
    select(D.c.id)
    .select_from(
        D.join(_me, (_me.c.partner_id == D.c.partner_id) & (_me.c.article_id == D.c.article_id))
    )
    .where(
        _me.c.id == bindparam("d_id"),
        D.c.status == PENDING,
        D.c.event_id > _me.c.event_id,
        _PARTNER_ACTIVE,
    )
    .order_by(D.c.event_id)
    .limit(1)
)
_RELEASE = (
    update(D)
    .where(D.c.id == bindparam("d_id"))
    .values(
        enqueued_at=None,
        next_attempt_at=case(
            (D.c.next_attempt_at.is_(None), bindparam("now", type_=UTCDateTime())),
            (D.c.next_attempt_at > bindparam("now", type_=UTCDateTime()),
             bindparam("now", type_=UTCDateTime())),
            else_=D.c.next_attempt_at,
        ),
    )
)


def due_ids(
    session: Session, *, now: datetime, limit: int, enqueued_before: datetime | None = None
) -> list[int]:
    """Pending deliveries whose time has come, unlocked, of active partners, oldest event first.

    A delivery waits while an older delivery of the same article to the same partner is pending:
    an update never overtakes the publication (or earlier update) it follows.
    """
    stmt = (
        select(Delivery.id)
        .join(PartnerRow, PartnerRow.id == Delivery.partner_id)
        .where(
            Delivery.status == PENDING,
            Delivery.next_attempt_at <= now,
            (Delivery.locked_until.is_(None)) | (Delivery.locked_until < now),
            PartnerRow.active.is_(True),
            ~_OLDER_PENDING,
        )
        .order_by(Delivery.event_id, Delivery.id)
        .limit(limit)
    )
    if enqueued_before is not None:
        stmt = stmt.where(
            (Delivery.enqueued_at.is_(None)) | (Delivery.enqueued_at < enqueued_before)
        )
    return list(session.scalars(stmt))


@dataclass(frozen=True)
class ClaimedRow:
    """What an attempt needs of the delivery it claimed; `attempts` counts this attempt."""

    partner_id: int
    webhook_id: str
    event_id: int
    attempts: int


@dataclass(frozen=True)
class Result:
    """How an attempt ended, as stored on the delivery."""

    status_code: int | None
    error: str | None


def claim(session: Session, delivery_id: int, *, now: datetime, lease: timedelta) -> ClaimedRow | None:
    """Lease a due, first-in-line delivery of an active partner and count the attempt.

    One conditional UPDATE: two workers racing for the same row cannot both get it. None when
    the row is not due, leased by someone else, waiting behind an older one, or paused.
    """
    found = session.execute(
        _CLAIM, {"d_id": delivery_id, "now": now, "until": now + lease, "started": now}
    ).first()
    if found is None:
        return None
    return ClaimedRow(int(found[0]), str(found[1]), int(found[2]), int(found[3]))


def partner_for_send(session: Session, partner_id: int) -> PartnerRow | None:
    """The partner a claimed delivery goes to."""
    return session.get(PartnerRow, partner_id)


def postpone(session: Session, delivery_id: int, at: datetime) -> None:
    """Move a delivery's next attempt to `at` without counting an attempt."""
    session.execute(
        update(Delivery).where(Delivery.id == delivery_id)
        .values(next_attempt_at=at, enqueued_at=None)
        .execution_options(synchronize_session=False)
    )


def finish(
    session: Session, delivery_id: int, result: Result, *, status: str, now: datetime,
    next_attempt_at: datetime | None = None,
) -> None:
    """Store an attempt's outcome and release the lease."""
    values: dict[str, object] = {
        "status": status, "locked_until": None, "enqueued_at": None,
        "last_status_code": result.status_code, "last_error": result.error,
        "next_attempt_at": next_attempt_at if status == PENDING else None,
    }
    if status == DELIVERED:
        values["delivered_at"] = now
    session.execute(update(D).where(D.c.id == delivery_id).values(**values))


def release_next(session: Session, delivery_id: int, *, now: datetime) -> int | None:
    """Make the next pending delivery of the same article and partner due now; returns its id."""
    after = session.scalar(_NEXT_IN_LINE, {"d_id": delivery_id})
    if after is None:
        return None
    session.execute(_RELEASE, {"d_id": after, "now": now})
    return int(after)


def update_partner(session: Session, partner_id: int, **values: object) -> None:
    """Set columns of a partner."""
    session.execute(
        update(PartnerRow).where(PartnerRow.id == partner_id).values(**values)
        .execution_options(synchronize_session=False)
    )


def disable_partner(session: Session, partner_id: int, *, now: datetime, reason: str) -> bool:
    """Disable an active partner, recording why; False when it was already disabled."""
    result = session.execute(
        update(PartnerRow)
        .where(PartnerRow.id == partner_id, PartnerRow.active.is_(True))
        .values(active=False, disabled_at=now, disabled_reason=reason, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


def mark_enqueued(session: Session, ids: Sequence[int], *, now: datetime) -> None:
    """Record that push tasks for these deliveries were handed to the broker."""
    if ids:
        session.execute(
            update(Delivery).where(Delivery.id.in_(ids)).values(enqueued_at=now)
            .execution_options(synchronize_session=False)
        )



def attempts_since(session: Session, partner_id: int, since: datetime) -> int:
    """How many attempts were made to a partner since `since` (for its rate limit)."""
    stmt = select(func.count()).where(
        PartnerAttemptRow.partner_id == partner_id, PartnerAttemptRow.attempted_at >= since
    )
    return int(session.scalar(stmt) or 0)


def payload(session: Session, event_id: int) -> str:
    """The signed body of an event (written once by the fan-out, never changed)."""
    body = session.scalar(select(PartnerPayloadRow.body).where(PartnerPayloadRow.event_id == event_id))
    if body is None:
        raise LookupError(f"no partner payload for event {event_id}")
    return body


def ensure_payload(session: Session, event_id: int, build: Callable[[], str], *, now: datetime) -> None:
    """Write the event's body unless it exists (`build` runs only then)."""
    exists_already = session.scalar(
        select(PartnerPayloadRow.event_id).where(PartnerPayloadRow.event_id == event_id)
    )
    if exists_already is None:
        session.add(PartnerPayloadRow(event_id=event_id, body=build(), created_at=now))
        session.flush()


def event_time(session: Session, event_id: int, default: datetime) -> datetime:
    """When the outbox event was recorded."""
    created = session.scalar(select(OutboxRow.created_at).where(OutboxRow.id == event_id))
    return created or default


def latest_event_id(session: Session, article_id: int) -> tuple[int, str] | None:
    """The newest outbox event of an article: (id, type)."""
    stmt = (
        select(OutboxRow.id, OutboxRow.event_type)
        .where(OutboxRow.article_id == article_id)
        .order_by(OutboxRow.id.desc())
        .limit(1)
    )
    found = session.execute(stmt).first()
    return None if found is None else (int(found[0]), str(found[1]))


def partners_with_deliveries(session: Session, article_id: int) -> list[int]:
    """Partners that were sent anything about this article."""
    stmt = select(Delivery.partner_id).where(Delivery.article_id == article_id).distinct()
    return list(session.scalars(stmt))


def existing_partner_ids(session: Session, event_id: int) -> set[int]:
    """Partners that already have a delivery for this event (the fan-out is idempotent)."""
    return set(session.scalars(select(Delivery.partner_id).where(Delivery.event_id == event_id)))


def deliveries_of(
    session: Session, partner_id: int, *, status: str | None = None, article_id: int | None = None,
    limit: int = 100,
) -> list[PartnerDeliveryRow]:
    """A partner's deliveries, newest first, optionally of one status or article."""
    stmt = select(Delivery).where(Delivery.partner_id == partner_id)
    if status:
        stmt = stmt.where(Delivery.status == status)
    if article_id is not None:
        stmt = stmt.where(Delivery.article_id == article_id)
    return list(session.scalars(stmt.order_by(Delivery.id.desc()).limit(limit)))


def attempts_of(session: Session, delivery_ids: Sequence[int]) -> dict[int, list[PartnerAttemptRow]]:
    """Attempts of the given deliveries, oldest first, by delivery id."""
    found: dict[int, list[PartnerAttemptRow]] = {i: [] for i in delivery_ids}
    if delivery_ids:
        stmt = (
            select(PartnerAttemptRow)
            .where(PartnerAttemptRow.delivery_id.in_(delivery_ids))
            .order_by(PartnerAttemptRow.id)
        )
        for row in session.scalars(stmt):
            found[row.delivery_id].append(row)
    return found


def status_counts(session: Session, partner_id: int) -> dict[str, int]:
    """How many of a partner's deliveries are in each status."""
    stmt = (
        select(Delivery.status, func.count())
        .where(Delivery.partner_id == partner_id)
        .group_by(Delivery.status)
    )
    counts = {PENDING: 0, "delivered": 0, DEAD: 0}
    counts.update({str(s): int(n) for s, n in session.execute(stmt)})
    return counts
