"""The delivery ledger in SQL: claiming rows for a batch, recording outcomes, batches, sweeps, resends.

Functions on a session; `delivery_store.SqlDeliveryStore` runs each in a transaction of its own.

Invariants:
- A row is sent only by the batch run that moved it from `queued` to `sending` with its own claim
  token (one UPDATE ... WHERE state='queued'), so running a batch twice never re-mails a sent row.
- Rows are cut into batches by id ranges (keyset), never by loading every id.
- An accepted message is recorded (one short transaction) before the next one is sent on that
  connection, so a sender that dies leaves at most one row that was accepted but not recorded:
  after its lease (renewed every few seconds while the sender lives) the sweep queues the rows
  of the dead sender again, and only that one message may arrive twice (SMTP offers no
  exactly-once).
- Attempt history is append-only: every tried send adds a `delivery_attempts` row; a resend
  queues the delivery again and adds rows, never rewriting the old ones.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    bindparam,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session

from syndicate.digests.ports import ClaimedDelivery, Outcome
from syndicate.digests.states import STATES, DeliveryState, SubscriberStatus, SubscriptionStatus
from syndicate.storage.columns import UTCDateTime, int_array
from syndicate.storage.counts import grouped_counts
from syndicate.storage.db import engine_of
from syndicate.storage.digest_models import (
    DeliveryAttemptRow,
    DeliveryRow,
    EditionRow,
    SubscriberRow,
    SubscriptionRow,
)
from syndicate.storage.story_ledger import decide_entries

QUEUED, SENDING, SENT, BOUNCED = (
    DeliveryState.QUEUED, DeliveryState.SENDING, DeliveryState.SENT, DeliveryState.BOUNCED)
ACTIVE = SubscriberStatus.ACTIVE


def _due(now: datetime, stale_before: datetime, epoch: str | None) -> ColumnElement[bool]:
    return and_(
        DeliveryRow.state == QUEUED,
        DeliveryRow.next_attempt_at <= now,
        or_(DeliveryRow.enqueued_at.is_(None), DeliveryRow.enqueued_at < stale_before,
            DeliveryRow.enqueued_epoch.is_(None), DeliveryRow.enqueued_epoch != (epoch or "")),
    )


def cut_batches(
    session: Session, edition_id: int, *, size: int, now: datetime, stale_before: datetime,
    epoch: str | None, after: int = 0, max_ranges: int | None = None,
) -> list[tuple[int, int]]:
    """Id ranges (ids > after) of due rows (see `_due`), each of at most `size` rows.

    Marks them enqueued under `epoch`; the caller commits, then hands one task per range to the
    broker; if that broker loses it, the sweep finds the rows again under the new epoch.
    """
    ranges: list[tuple[int, int]] = []
    due = _due(now, stale_before, epoch)
    base = select(DeliveryRow.id).where(DeliveryRow.edition_id == edition_id, due)
    last = after
    while max_ranges is None or len(ranges) < max_ranges:
        lo = session.scalar(base.where(DeliveryRow.id > last).order_by(DeliveryRow.id).limit(1))
        if lo is None:
            break
        hi = session.scalar(base.where(DeliveryRow.id >= lo).order_by(DeliveryRow.id)
                            .offset(size - 1).limit(1))
        if hi is None:
            hi = session.scalar(select(func.max(DeliveryRow.id)).where(
                DeliveryRow.edition_id == edition_id, DeliveryRow.id >= lo, due))
        assert hi is not None
        ranges.append((lo, hi))
        last = hi
    for lo, hi in ranges:
        session.execute(update(DeliveryRow).where(
            DeliveryRow.edition_id == edition_id, DeliveryRow.id.between(lo, hi), due
        ).values(enqueued_at=now, enqueued_epoch=epoch))
    return ranges


def fresh_batches(session: Session, edition_id: int, *, size: int, epoch: str,
                  at: datetime) -> list[tuple[int, int]]:
    """Id ranges, `size` rows each (the last may be short), of the edition's queued rows stored
    marked enqueued under `epoch` at `at`; one read, no row written (see EditionStore.add)."""
    marked = select(
        DeliveryRow.id, ((func.row_number().over(order_by=DeliveryRow.id) - 1) // size).label("batch")
    ).where(
        DeliveryRow.edition_id == edition_id, DeliveryRow.state == QUEUED,
        DeliveryRow.enqueued_epoch == epoch, DeliveryRow.enqueued_at == at,
    ).subquery()
    stmt = (select(func.min(marked.c.id), func.max(marked.c.id))
            .group_by(marked.c.batch).order_by(marked.c.batch))
    return [(int(lo), int(hi)) for lo, hi in session.execute(stmt)]


def forget_enqueued(session: Session, edition_id: int, lo: int, hi: int) -> None:
    """Mark the queued rows of a range never enqueued (the broker refused their batch)."""
    session.execute(update(DeliveryRow).where(
        DeliveryRow.edition_id == edition_id, DeliveryRow.id.between(lo, hi), DeliveryRow.state == QUEUED
    ).values(enqueued_at=None, enqueued_epoch=None))


#: PostgreSQL: the claim and what the batch needs of its rows, in one statement (one round trip):
#: the UPDATE's RETURNING joined with each row's reader and their subscription to the list.
_PG_CLAIM = text("""
WITH c AS (
    UPDATE deliveries SET state = 'sending', claim = :token, claimed_at = :now,
        attempts = attempts + 1, updated_at = :now
    WHERE edition_id = :edition AND id BETWEEN :lo AND :hi AND state = 'queued'
        AND next_attempt_at <= :now
    RETURNING id, subscriber_id, attempts, article_ids
)
SELECT c.id, c.subscriber_id, s.email, s.name, s.language, c.attempts, s.status, sub.status,
    c.article_ids
FROM c JOIN subscribers s ON s.id = c.subscriber_id
LEFT JOIN subscriptions sub ON sub.subscriber_id = c.subscriber_id AND sub.list_id = :list
ORDER BY c.id
""").bindparams(bindparam("now", type_=UTCDateTime()))


def _claimed_rows(session: Session, edition_id: int, list_id: int, lo: int, hi: int, *,
                  now: datetime) -> list[Any]:
    """Move due queued rows of the range to `sending` under a new claim token, commit, and return
    (id, subscriber, email, name, language, attempts, subscriber status, subscription status,
    article ids) of each row taken, by id."""
    token = uuid.uuid4().hex
    if session.get_bind().dialect.name == "postgresql":
        rows = list(session.execute(_PG_CLAIM, {"token": token, "now": now, "edition": edition_id,
                                                "lo": lo, "hi": hi, "list": list_id}))
        session.commit()
        return rows
    session.execute(
        update(DeliveryRow)
        .where(DeliveryRow.edition_id == edition_id, DeliveryRow.id.between(lo, hi),
               DeliveryRow.state == QUEUED, DeliveryRow.next_attempt_at <= now)
        .values(state=SENDING, claim=token, claimed_at=now, attempts=DeliveryRow.attempts + 1,
                updated_at=now)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    stmt = (
        select(DeliveryRow.id, DeliveryRow.subscriber_id, SubscriberRow.email, SubscriberRow.name,
               SubscriberRow.language, DeliveryRow.attempts, SubscriberRow.status,
               SubscriptionRow.status, DeliveryRow.article_ids)
        .join(SubscriberRow, SubscriberRow.id == DeliveryRow.subscriber_id)
        .outerjoin(SubscriptionRow, and_(SubscriptionRow.subscriber_id == DeliveryRow.subscriber_id,
                                         SubscriptionRow.list_id == list_id))
        .where(DeliveryRow.edition_id == edition_id, DeliveryRow.state == SENDING,
               DeliveryRow.id.between(lo, hi), DeliveryRow.claim == token)
        .order_by(DeliveryRow.id)
    )
    return list(session.execute(stmt))


def claim(
    session: Session, edition_id: int, list_id: int, lo: int, hi: int, *, now: datetime
) -> list[ClaimedDelivery]:
    """Atomically move due queued rows of the range to `sending`; returns only those we got.

    Rows claimed for the first time get their entries decided and stored (story_ledger), in a
    second transaction: a crash between the two leaves them `sending` without entries, and the
    claim that takes them over decides them then.
    """
    rows = [(d, s, email, name, lang, attempts,
             status == ACTIVE and sub_status == SubscriptionStatus.ACTIVE, ids)
            for d, s, email, name, lang, attempts, status, sub_status, ids
            in _claimed_rows(session, edition_id, list_id, lo, hi, now=now)]
    undecided = [(d, s, lang) for d, s, _, _, lang, _, receiving, ids in rows
                 if receiving and ids is None]
    decided = decide_entries(session, edition_id, list_id, undecided, now=now)
    if decided:
        session.commit()
    return [ClaimedDelivery(d, s, email, name, lang, attempts, receiving,
                            decided.get(d) if ids is None else tuple(ids))
            for d, s, email, name, lang, attempts, receiving, ids in rows]


def record(session: Session, outcomes: Sequence[Outcome], suppress: Iterable[int],
           *, now: datetime, reason: str = "bounced") -> None:
    """Write each row's outcome, its attempt history, and suppress bounced subscribers; commits.

    Rows with equal outcomes (most often '250 ok') are written by one UPDATE ... WHERE id IN.
    On PostgreSQL the commit does not wait for the disk (`synchronous_commit = off`): a dead
    worker loses nothing the server has; only a crash of the database server itself can lose its
    last few hundred milliseconds of outcomes.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL synchronous_commit = off"))
    tried = [o for o in outcomes if o.state != DeliveryState.SKIPPED]
    if tried:
        session.execute(insert(DeliveryAttemptRow), [
            {"delivery_id": o.delivery_id, "state": str(o.state), "reply": o.last_reply, "at": now}
            for o in tried])
    groups: dict[tuple[DeliveryState, str, datetime | None], list[int]] = {}
    for outcome in outcomes:
        key = (outcome.state, outcome.last_reply, outcome.retry_at)
        groups.setdefault(key, []).append(outcome.delivery_id)
    for (state, reply, retry_at), ids in groups.items():
        values: dict[str, Any] = {"state": str(state), "last_reply": reply, "claim": None,
                                  "updated_at": now}
        if state == SENT:
            values["sent_at"] = now
        if retry_at is not None:
            # Retried from the database by the sweep, not by a Celery countdown.
            values["next_attempt_at"], values["enqueued_at"] = retry_at, None
        session.execute(update(DeliveryRow).where(DeliveryRow.id.in_(ids)).values(values)
                        .execution_options(synchronize_session=False))
    suppress_bounced(session, suppress, reason=reason)
    session.commit()


#: Outcomes in one statement, on PostgreSQL: each row's new state and its attempt row,
#: atomically and in a single round trip (run in autocommit). Written for the DBAPI driver: the
#: sending loop runs it for every group of messages (see group_commit.py), and SQLAlchemy's
#: statement handling cost more than the round trip. The outcomes travel as one JSON text:
#: psycopg dumps a list parameter element by element in Python, which cost more than the
#: statement. The ids also come as an array literal, for the planner: it takes
#: json_to_recordset for 100 rows and would scan a small table whole; `id = ANY(ids)` keeps it
#: on the primary key.
_RECORD_OUTCOMES = """
WITH o AS (
    SELECT * FROM json_to_recordset(%(rows)s::json)
        AS o(id bigint, state varchar(10), reply text, retry_at timestamptz, at timestamptz)
), d AS (
    UPDATE deliveries SET state = o.state, last_reply = o.reply, claim = NULL, updated_at = o.at,
        sent_at = CASE WHEN o.state = 'sent' THEN o.at ELSE deliveries.sent_at END,
        next_attempt_at = COALESCE(o.retry_at, deliveries.next_attempt_at),
        enqueued_at = CASE WHEN o.retry_at IS NULL THEN deliveries.enqueued_at END,
        enqueued_epoch = CASE WHEN o.retry_at IS NULL THEN deliveries.enqueued_epoch END
    FROM o WHERE deliveries.id = ANY(%(ids)s::bigint[]) AND deliveries.id = o.id
    RETURNING deliveries.id, o.state, o.reply, o.at
)"""
_RECORD_ATTEMPTS = """
INSERT INTO delivery_attempts (delivery_id, state, reply, at)
SELECT id, state, reply, at FROM d WHERE state <> 'skipped'
"""
#: The outcomes of a group without a bounce to suppress (nearly every group).
RECORD_MANY_PG = _RECORD_OUTCOMES + _RECORD_ATTEMPTS
#: The same, also marking the bounced readers `bounced` (an empty suppression costs a third of
#: the statement, hence two texts).
RECORD_MANY_SUPPRESSING_PG = _RECORD_OUTCOMES + """, s AS (
    UPDATE subscribers SET status = 'bounced', status_reason = %(reason)s
    WHERE subscribers.id = ANY(%(suppress)s::bigint[]) AND subscribers.status IN ('active', 'pending')
    RETURNING subscribers.id
)""" + _RECORD_ATTEMPTS

#: One outcome to write with RECORD_MANY_PG: (outcome, subscriber to suppress, when).
Recorded = tuple[Outcome, int | None, datetime]


def record_many(items: Sequence[Recorded], *, reason: str = "bounced") -> tuple[str, dict[str, Any]]:
    """The statement (RECORD_MANY_PG or RECORD_MANY_SUPPRESSING_PG) and its parameters for
    these outcomes. Times must be aware, as everywhere in the ledger."""
    stamps: dict[datetime, str] = {}  # a group's outcomes mostly share one time: format it once
    rows = []
    for o, _, at in items:
        stamp = stamps.get(at)
        if stamp is None:
            stamp = stamps[at] = at.isoformat()
        retry_at = o.retry_at
        rows.append({"id": o.delivery_id, "state": o.state.value, "reply": o.last_reply,
                     "retry_at": None if retry_at is None else retry_at.isoformat(), "at": stamp})
    params: dict[str, Any] = {"ids": int_array(o.delivery_id for o, _, _ in items),
                              "rows": json.dumps(rows)}
    suppress = [s for _, s, _ in items if s is not None]
    if not suppress:
        return RECORD_MANY_PG, params
    return RECORD_MANY_SUPPRESSING_PG, params | {"suppress": int_array(suppress), "reason": reason}


def suppress_bounced(session: Session, subscriber_ids: Iterable[int], *, reason: str) -> None:
    """Mark active or pending subscribers `bounced` (no more mail); others keep their status.

    The caller commits.
    """
    ids = list(subscriber_ids)
    if ids:
        session.execute(update(SubscriberRow).where(
            SubscriberRow.id.in_(ids), SubscriberRow.status.in_((ACTIVE, SubscriberStatus.PENDING))
        ).values(status=SubscriberStatus.BOUNCED, status_reason=reason))


def counts(session: Session, edition_id: int) -> dict[DeliveryState, int]:
    """Rows of an edition per state (every state present, 0 when none), counted now."""
    return _live_counts(session, [edition_id])[edition_id]


def _live_counts(session: Session, edition_ids: Sequence[int]) -> dict[int, dict[DeliveryState, int]]:
    return grouped_counts(session, DeliveryRow.edition_id, DeliveryRow.state, edition_ids, STATES)


def counts_many(session: Session, edition_ids: Sequence[int]) -> dict[int, dict[DeliveryState, int]]:
    """Rows per state for each edition, as `counts` gives, without recounting settled editions.

    An edition is settled when none of its rows is queued or sending: only a resend (`requeue`)
    can change its counts then. The first call that finds an edition settled stores its counts
    on the edition, in a transaction of its own; later calls read them. The store is conditional
    on the edition's `counts_epoch`, which `requeue` bumps, so counts taken before a resend are
    never stored after it. The caller's session is not committed.
    """
    rows = session.execute(select(EditionRow.id, EditionRow.settled_counts, EditionRow.counts_epoch)
                           .where(EditionRow.id.in_(edition_ids))).all()
    result = {edition_id: dict.fromkeys(STATES, 0) for edition_id in edition_ids}
    epochs: dict[int, int] = {}
    for edition_id, settled, epoch in rows:
        if settled is not None:
            result[edition_id].update({DeliveryState(k): v for k, v in settled.items()})
        else:
            epochs[edition_id] = epoch
    live = _live_counts(session, list(epochs))
    result.update(live)
    newly_settled = {e: c for e, c in live.items() if c[QUEUED] == 0 and c[SENDING] == 0}
    if newly_settled:
        with engine_of(session.get_bind()).connect() as conn:
            for edition_id, found in newly_settled.items():
                conn.execute(update(EditionRow).where(
                    EditionRow.id == edition_id, EditionRow.counts_epoch == epochs[edition_id],
                    EditionRow.settled_counts.is_(None),
                ).values(settled_counts=found))
            conn.commit()
    return result


def _unsettle(session: Session, edition_id: int) -> None:
    """Forget the edition's stored counts and bump its epoch, before any of its rows change.

    Every change that can move a row out of a final state calls this in its own transaction, so
    `counts_many` never stores counts taken before the change.
    """
    session.execute(update(EditionRow).where(EditionRow.id == edition_id).values(
        settled_counts=None, counts_epoch=EditionRow.counts_epoch + 1))


def bounce_after_send(session: Session, edition_id: int, delivery_id: int, *, reply: str,
                      now: datetime) -> bool:
    """Mark a `sent` row `bounced` (a bounce report came later); False when it was not `sent`.

    The edition's stored counts are cleared and its epoch bumped first, in the same transaction,
    as `requeue` does. The caller commits.
    """
    _unsettle(session, edition_id)
    result = session.execute(
        update(DeliveryRow)
        .where(DeliveryRow.id == delivery_id, DeliveryRow.edition_id == edition_id, DeliveryRow.state == SENT)
        .values(state=BOUNCED, last_reply=reply[:1000], updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def editions_with_due_rows(
    session: Session, *, now: datetime, stale_before: datetime, epoch: str | None
) -> list[int]:
    """Editions that have rows due as `cut_batches` defines it."""
    due = _due(now, stale_before, epoch)
    return list(session.scalars(select(DeliveryRow.edition_id).where(due).distinct()))


def heartbeat(session: Session, delivery_ids: Sequence[int], *, now: datetime) -> int:
    """Renew the lease of rows still `sending`; the caller commits."""
    result = session.execute(
        update(DeliveryRow).where(DeliveryRow.id.in_(delivery_ids), DeliveryRow.state == SENDING)
        .values(claimed_at=now).execution_options(synchronize_session=False))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _database_uptime(session: Session) -> timedelta | None:
    """How long the database server has been up (PostgreSQL), None where it cannot say."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    seconds = session.scalar(text("SELECT extract(epoch FROM now() - pg_postmaster_start_time())"))
    return timedelta(seconds=float(seconds or 0))


def release_stale(session: Session, *, now: datetime, lease: timedelta) -> int:
    """Queue again rows whose lease was not renewed for `lease` (their sender died).

    Nothing is taken over while the database has been up for less than a lease: the renewals of
    live senders failed while it was down, and they renew within seconds of it coming back.
    """
    uptime = _database_uptime(session)
    if uptime is not None and uptime < lease:
        return 0
    result = session.execute(
        update(DeliveryRow)
        .where(DeliveryRow.state == SENDING, DeliveryRow.claimed_at < now - lease)
        .values(state=QUEUED, claim=None, enqueued_at=None, next_attempt_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def release(session: Session, delivery_ids: Sequence[int], *, now: datetime) -> None:
    """Queue again rows a batch claimed but did not try; commits."""
    session.execute(
        update(DeliveryRow)
        .where(DeliveryRow.id.in_(delivery_ids), DeliveryRow.state == SENDING)
        .values(state=QUEUED, claim=None, enqueued_at=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    session.commit()


def requeue(
    session: Session, edition_id: int, *, states: Sequence[DeliveryState] | None, subscriber_id: int | None,
    now: datetime,
) -> int:
    """Queue rows of an edition again (by state, or one subscriber's row); returns how many.

    Attempts restart at 0. Rows being sent right now are left alone. The edition's settled counts
    are cleared (and its epoch bumped) in the same transaction, before any row changes.
    """
    _unsettle(session, edition_id)
    stmt = update(DeliveryRow).where(DeliveryRow.edition_id == edition_id, DeliveryRow.state != SENDING)
    if states is not None:
        stmt = stmt.where(DeliveryRow.state.in_(states))
    if subscriber_id is not None:
        stmt = stmt.where(DeliveryRow.subscriber_id == subscriber_id)
    result = session.execute(
        stmt.values(state=QUEUED, attempts=0, next_attempt_at=now, enqueued_at=None, claim=None,
                    updated_at=now).execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
