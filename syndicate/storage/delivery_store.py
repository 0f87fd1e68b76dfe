"""The digest ledger's ports on SQL: `DeliveryStore` (sending, dispatch) and `BounceStore` (reports).

Each method is one short transaction; the SQL itself is in `delivery_ledger`.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, select, update
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session, sessionmaker

from syndicate.digests.ports import (
    ClaimedDelivery,
    EditionContent,
    Outcome,
    OutcomeWriter,
    Recording,
    ReportTarget,
    StoreOutcomeWriter,
)
from syndicate.digests.states import DeliveryState, SubscriberStatus
from syndicate.errors import DatabaseUnavailable
from syndicate.storage import delivery_ledger as ledger
from syndicate.storage.db import as_unavailable
from syndicate.storage.digest_models import DeliveryRow, SubscriberRow
from syndicate.storage.edition_store import edition_and_list, edition_articles, story_of
from syndicate.storage.group_commit import GroupCommit
from syndicate.storage.outcome_stream import PgOutcomeStream


@contextmanager
def _outage_named() -> Iterator[None]:
    """Raise DatabaseUnavailable for a database that cannot be reached; other errors as they are."""
    try:
        yield
    except Exception as exc:
        outage = as_unavailable(exc)
        if outage is None:
            raise
        raise outage from exc


class _PgGroupWriter:
    """Outcomes of every sender of a process, written in shared transactions (group commit) over
    one connection of the recording engine.

    Each sender still waits for its own outcome to be committed before it sends the next
    message; the senders that finish a message while a transaction is under way go together in
    the next one: one statement (RECORD_MANY_PG), one round trip and one commit for the group.
    The connection is held while any writer is open and returned to the pool when the last one
    closes. A connection that fails is invalidated, and the next group opens a fresh one: an
    outage fails the group with DatabaseUnavailable, never leaves a broken connection behind.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.group = GroupCommit(self._write, shared=lambda exc: isinstance(exc, DatabaseUnavailable))
        self._conn: Connection | None = None
        self._users = 0
        self._lock = threading.Lock()

    def open(self) -> None:
        """One more writer uses the connection."""
        with self._lock:
            self._users += 1

    def close(self) -> None:
        """One writer less; the last one returns the connection to the pool."""
        with self._lock:
            self._users -= 1
            if self._users > 0:
                return
            conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()

    def _write(self, items: list[ledger.Recorded]) -> None:
        statement, params = ledger.record_many(items)
        dbapi = self.engine.dialect.loaded_dbapi
        with _outage_named():
            # Only the group's leader writes, one at a time, and `close` empties `_conn` only
            # when no writer is open: the lock guards the swap, never the (maybe slow) connect.
            conn = self._conn
            if conn is None:
                conn = self.engine.connect()
                with self._lock:
                    self._conn = conn
            try:
                driver = conn.connection.driver_connection
                assert driver is not None
                with driver.cursor() as cursor:
                    cursor.execute(statement, params)
            except dbapi.Error as exc:
                # Dropped either way; a lost link is reported as an outage (DatabaseUnavailable).
                lost = isinstance(exc, dbapi.OperationalError | dbapi.InterfaceError)
                with self._lock:
                    if self._conn is conn:
                        self._conn = None
                with contextlib.suppress(Exception):
                    conn.invalidate(exc) if lost else conn.close()
                raise sa_exc.DBAPIError.instance(statement, params, exc, dbapi.Error,
                                                 connection_invalidated=lost) from exc


class _GroupedOutcomeWriter(contextlib.AbstractContextManager["_GroupedOutcomeWriter"]):
    """One sender's OutcomeWriter on the process's group writer."""

    def __init__(self, group: _PgGroupWriter) -> None:
        self._group = group
        self._open = True
        self._stream: PgOutcomeStream | None = None
        group.open()

    def record(self, outcome: Outcome, suppress: int | None, *, now: datetime) -> None:
        """Write one outcome in the next group; raises what failed it (DatabaseUnavailable)."""
        self._group.group.submit((outcome, suppress, now))

    def record_all(self, items: Sequence[Recording], *, now: datetime) -> list[Recording]:
        """See OutcomeWriter.record_all: the items join the group writer's next groups."""
        errors = self._group.group.submit_all([(o, s, now) for o, s in items])
        failed = next((e for e in errors if e is not None and not isinstance(e, DatabaseUnavailable)),
                      None)
        if failed is not None:
            raise failed
        return [item for item, e in zip(items, errors, strict=True) if e is not None]

    def stream(self) -> PgOutcomeStream:
        """See OutcomeWriter.stream: a connection of its own, beside the group writer's."""
        if self._stream is None:
            self._stream = PgOutcomeStream(self._group.engine)
        return self._stream

    def close(self) -> None:
        """See OutcomeWriter.close."""
        if self._open:
            self._open = False
            if self._stream is not None:
                self._stream.close()
            self._group.close()

    def __exit__(self, *exc: object) -> None:
        self.close()


class SqlDeliveryStore:
    """DeliveryStore over SQLAlchemy sessions from `session_factory`.

    With a `recording` engine (PostgreSQL, see db.make_recording_engine) the sending loop's
    outcomes are written by one group writer per process (`writer`): each outcome is committed
    before its sender goes on, and the outcomes that arrive together share one statement.
    Two threads asking for the first writer at the same moment may each make one: harmless.
    """

    def __init__(self, session_factory: sessionmaker[Session], recording: Engine | None = None) -> None:
        self.session_factory = session_factory
        self.recording = recording
        self._grouped: tuple[int, _PgGroupWriter] | None = None  # (pid, writer): one per process

    def edition_content(self, edition_id: int) -> EditionContent:
        """See DeliveryStore.edition_content."""
        with self.session_factory() as session:
            row, lst = edition_and_list(session, edition_id)
            version_ids = [v.article_id for s in row.stories or () for v in story_of(s).versions]
            # The edition's own articles are versions too: one query loads both.
            versions = {a.id: a for a in edition_articles(session, [*version_ids, *row.article_ids])}
            own = [versions[i] for i in row.article_ids if i in versions]
            return EditionContent(edition_id, lst.id, lst.slug, lst.name, row.frequency, own,
                                  {i: versions[i] for i in version_ids if i in versions})

    def claim(
        self, edition_id: int, list_id: int, lo: int, hi: int, *, now: datetime
    ) -> list[ClaimedDelivery]:
        """See DeliveryStore.claim (one conditional UPDATE, committed)."""
        with self.session_factory() as session:
            return ledger.claim(session, edition_id, list_id, lo, hi, now=now)

    def record(self, outcomes: Sequence[Outcome], suppress: Sequence[int], *, now: datetime) -> None:
        """See DeliveryStore.record (committed; an outage raises DatabaseUnavailable)."""
        if self.recording is not None and len(outcomes) == 1 and len(suppress) <= 1:
            with _GroupedOutcomeWriter(self._group_writer()) as writer:
                writer.record(outcomes[0], suppress[0] if suppress else None, now=now)
            return
        with _outage_named(), self.session_factory() as session:
            ledger.record(session, outcomes, suppress, now=now)

    def writer(self) -> OutcomeWriter:
        """See DeliveryStore.writer: on PostgreSQL the process's group writer (one held connection
        of the recording engine, one transaction per group of outcomes)."""
        if self.recording is None:
            return StoreOutcomeWriter(self)
        return _GroupedOutcomeWriter(self._group_writer())

    def _group_writer(self) -> _PgGroupWriter:
        assert self.recording is not None
        pid = os.getpid()
        if self._grouped is None or self._grouped[0] != pid:  # never carried across a fork
            self._grouped = (pid, _PgGroupWriter(self.recording))
        return self._grouped[1]

    def heartbeat(self, delivery_ids: Sequence[int], *, now: datetime) -> int:
        """See DeliveryStore.heartbeat (committed; an outage raises DatabaseUnavailable)."""
        with _outage_named(), self.session_factory() as session:
            renewed = ledger.heartbeat(session, delivery_ids, now=now)
            session.commit()
            return renewed

    def fresh_batches(self, edition_id: int, *, size: int, epoch: str, at: datetime) -> list[tuple[int, int]]:
        """See DeliveryStore.fresh_batches."""
        with self.session_factory() as session:
            return ledger.fresh_batches(session, edition_id, size=size, epoch=epoch, at=at)

    def forget_enqueued(self, edition_id: int, lo: int, hi: int) -> None:
        """See DeliveryStore.forget_enqueued (committed)."""
        with self.session_factory() as session:
            ledger.forget_enqueued(session, edition_id, lo, hi)
            session.commit()

    def release(self, delivery_ids: Sequence[int], *, now: datetime) -> None:
        """See DeliveryStore.release (committed)."""
        with self.session_factory() as session:
            ledger.release(session, delivery_ids, now=now)

    def cut_batches(
        self, edition_id: int, *, size: int, now: datetime, stale_before: datetime, epoch: str | None,
        after: int, max_ranges: int,
    ) -> list[tuple[int, int]]:
        """See DeliveryStore.cut_batches (committed)."""
        with self.session_factory() as session:
            ranges = ledger.cut_batches(session, edition_id, size=size, now=now, stale_before=stale_before,
                                        epoch=epoch, after=after, max_ranges=max_ranges)
            session.commit()
            return ranges

    def release_stale(self, *, now: datetime, lease: timedelta) -> int:
        """See DeliveryStore.release_stale (committed)."""
        with self.session_factory() as session:
            released = ledger.release_stale(session, now=now, lease=lease)
            session.commit()
            return released

    def editions_with_due_rows(
        self, *, now: datetime, stale_before: datetime, epoch: str | None
    ) -> list[int]:
        """See DeliveryStore.editions_with_due_rows."""
        with self.session_factory() as session:
            return ledger.editions_with_due_rows(session, now=now, stale_before=stale_before, epoch=epoch)

    def requeue(
        self, edition_id: int, *, states: Sequence[DeliveryState] | None, subscriber_id: int | None,
        now: datetime,
    ) -> int:
        """See DeliveryStore.requeue (committed with the edition's cleared counts)."""
        with self.session_factory() as session:
            count = ledger.requeue(session, edition_id, states=states, subscriber_id=subscriber_id,
                                   now=now)
            session.commit()
            return count

    def counts(self, edition_id: int) -> dict[DeliveryState, int]:
        """See DeliveryStore.counts (counted now, never the stored settled counts)."""
        with self.session_factory() as session:
            return ledger.counts(session, edition_id)

    def has_pending(self, edition_id: int) -> bool:
        """See DeliveryStore.has_pending."""
        with self.session_factory() as session:
            return session.scalar(select(DeliveryRow.id).where(
                DeliveryRow.edition_id == edition_id,
                DeliveryRow.state.in_((DeliveryState.QUEUED, DeliveryState.SENDING))).limit(1)) is not None


class SqlBounceStore:
    """BounceStore over SQLAlchemy sessions from `session_factory`."""

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self.session_factory = session_factory

    def report_target(self, delivery_id: int) -> ReportTarget | None:
        """See BounceStore.report_target."""
        with self.session_factory() as session:
            row = session.get(DeliveryRow, delivery_id)
            subscriber = session.get(SubscriberRow, row.subscriber_id) if row is not None else None
            if row is None or subscriber is None:
                return None
            return ReportTarget(row.edition_id, row.id, subscriber.id, subscriber.email)

    def bounce(self, target: ReportTarget, *, reply: str, reason: str, now: datetime) -> None:
        """See BounceStore.bounce (one transaction)."""
        with self.session_factory() as session:
            ledger.bounce_after_send(session, target.edition_id, target.delivery_id, reply=reply, now=now)
            ledger.suppress_bounced(session, [target.subscriber_id], reason=reason)
            session.commit()

    def complain(self, target: ReportTarget, *, reply: str, reason: str, now: datetime) -> None:
        """See BounceStore.complain (one transaction)."""
        with self.session_factory() as session:
            session.execute(update(DeliveryRow).where(DeliveryRow.id == target.delivery_id).values(
                last_reply=reply[:1000], updated_at=now))
            session.execute(update(SubscriberRow).where(
                SubscriberRow.id == target.subscriber_id,
                SubscriberRow.status != SubscriberStatus.COMPLAINED,
            ).values(status=SubscriberStatus.COMPLAINED, status_reason=reason[:500]))
            session.commit()
