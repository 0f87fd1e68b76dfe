"""Sending one batch of an edition: claim rows, fill each recipient into the rendered message,
send it through the connections of the Mailer, and write the outcome of every row to the ledger.

The engine reaches the ledger only through the `DeliveryStore` port (digests/ports.py) and the
mail server only through the `Mailer` (mail/mailer.py): listmonk's manager, store and messenger.
SMTP connections that offer PIPELINING are driven from one selector loop (fanout_loop.py); any
other transport (the .eml outbox, a server without pipelining) gets one thread per connection.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

from syndicate.digests.batch import (
    BatchResult,
    BatchRun,
    mailed,
    outcome_of,
    recipient_for,
    skipped,
)
from syndicate.digests.edition_mail import TemplateCache, by_variant
from syndicate.digests.fanout_loop import SendLoop
from syndicate.digests.ports import ClaimedDelivery, DeliveryStore, Outcome, OutcomeWriter, Recording
from syndicate.digests.states import DeliveryState
from syndicate.digests.tokens import Signer
from syndicate.errors import DatabaseUnavailable
from syndicate.mail.mailer import Mailer, Outgoing
from syndicate.mail.transport import CONNECTION_ERRORS, Pipeline
from syndicate.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class Fanout:
    """The sending engine: one batch of one edition at a time, over `SMTP_CONNECTIONS` connections.

    Invariants (what makes a crash cost at most one duplicate per connection), whichever way
    the connections are driven:
    - on each connection, an accepted message is recorded in the ledger before the next one is
      sent on it; the connections share nothing but the queue of the batch's claimed rows;
    - while the database cannot be reached a connection sends nothing more: it waits for the
      database, up to `outage_wait_s`, then stops and leaves its rows to the sweep;
    - a heartbeat renews the lease of the batch's unfinished rows every `lease / 6` seconds, so
      the sweep takes rows over only from a sender that died;
    - a connection that fails (dropped, 421 at connect) releases only its own unsent row and
      reconnects with backoff; the other connections go on.
    """

    store: DeliveryStore
    mailer: Mailer
    cache: TemplateCache
    signer: Signer
    settings: Settings
    now: Callable[[], datetime]
    sleep: Callable[[float], None] = time.sleep
    outage_wait_s: float = 600.0
    reconnects: int = 3

    def _log_if_sent(self, edition_id: int) -> None:
        """One INFO line per edition, from the batch that leaves none of its rows queued or sending.

        Two batches ending at the same moment may both see that and both log it: a rare second line.
        """
        try:
            if self.store.has_pending(edition_id):  # an index probe per batch, a count only at the end
                return
            counts = self.store.counts(edition_id)
        except Exception:  # a log line is never worth failing a batch that was sent
            return
        log.info("edition %s sent: %s", edition_id,
                 " ".join(f"{state}={n}" for state, n in counts.items()),
                 extra={"edition_id": edition_id, **{str(state): n for state, n in counts.items()}})

    def send_batch(self, edition_id: int, lo: int, hi: int) -> BatchResult:
        """Send the due queued rows of an edition with ids in [lo, hi]; safe to run twice.

        Rows claimed but never tried are released to `queued` at once when the database lets us,
        else by the sweep after the lease. Raises the connection error when no connection could
        send anything at all.
        """
        edition = self.cache.edition(self.store, edition_id)
        rows = by_variant(self.store.claim(edition_id, edition.list_id, lo, hi, now=self.now()))
        run = BatchRun(self, edition, rows)
        if not rows:
            return run.result
        beat = _Heartbeat(self, [r.delivery_id for r in rows], run.done)
        beat.start()
        try:
            self._drain(run, min(max(1, self.settings.smtp_connections), len(rows)))
        finally:
            beat.stop()
            # Never tried: released now. A message that may have reached the server but was not
            # recorded (the database stayed away) is not released: the sweep takes it over after
            # the lease, as after a crash.
            left = [r.delivery_id for r in rows
                    if r.delivery_id not in run.done and r.delivery_id not in run.in_flight]
            if left:
                try:
                    self.store.release(left, now=self.now())
                except DatabaseUnavailable:
                    log.warning("edition %s: %s unsent rows left to the sweep (database away)",
                                edition_id, len(left))
        log.debug("edition %s batch %s-%s: %s", edition_id, lo, hi, run.result.counts)
        self._log_if_sent(edition_id)
        if run.errors and not run.done:
            raise run.errors[0]
        return run.result

    def _drain(self, run: BatchRun, connections: int) -> None:
        """Send the batch's rows over `connections` connections; after every connection has
        stopped, raises what stopped them all (DatabaseUnavailable when the database stayed away,
        or an unexpected error); connection failures are retried and never raised here."""
        outs = [self.mailer.open() for _ in range(connections)]
        pipes = _pipelines(outs)
        lanes = [(out, pipe) for out, pipe in zip(outs, pipes, strict=True) if pipe is not None]
        if lanes:
            for out, pipe in zip(outs, pipes, strict=True):
                if pipe is None:
                    out.close()  # could not connect now: the loop goes on with the others
            try:
                SendLoop(run, lanes).run()
            except BaseException as exc:  # the database stayed away, or a bug
                run.failed(exc)
                run.stop.set()
        else:
            _Threads(run).send_all(outs)
        fatal = next((e for e in run.errors if not isinstance(e, CONNECTION_ERRORS)), None)
        if fatal is not None:
            raise fatal

    def record_all(self, writer: OutcomeWriter, items: Sequence[Recording]) -> None:
        """Write outcomes through `writer`, waiting out a database outage (the caller sends
        nothing meanwhile); raises DatabaseUnavailable when the database stayed away longer than
        `outage_wait_s` (the rows not written are then left to the sweep). An outcome is never
        written twice: a retry writes only what the outage kept out."""
        waited, pause = 0.0, 0.5
        left = list(items)
        while True:
            left = writer.record_all(left, now=self.now())
            if not left:
                if waited:
                    log.warning("database back after %.0f s; sending resumes", waited)
                return
            if waited >= self.outage_wait_s:
                raise DatabaseUnavailable(
                    f"the database stayed away for {waited:.0f} s; {len(left)} outcomes left to the sweep")
            if not waited:
                log.warning("database unreachable; sending stops until it is back")
            self.sleep(pause)
            waited += pause
            pause = min(pause * 2, 5.0)


def _pipelines(outs: list[Outgoing]) -> list[Pipeline | None]:
    """Each connection for the selector loop (None where it cannot be: see Outgoing.pipeline);
    connections still to be opened are opened side by side, not one after another (those kept
    open since the last batch need no thread: starting ten cost 2 % of a batch's time)."""
    closed = [out for out in outs if not out.transport.reusable()]
    if len(closed) > 1:
        with ThreadPoolExecutor(len(closed), thread_name_prefix="smtp-connect") as pool:
            opened = dict(zip(closed, pool.map(Outgoing.pipeline, closed), strict=True))
        return [opened[out] if out in opened else out.pipeline() for out in outs]
    return [out.pipeline() for out in outs]


class _Heartbeat:
    """Renews the lease of a batch's unfinished rows from a thread, every `lease / 6` seconds."""

    def __init__(self, engine: Fanout, ids: list[int], done: set[int]) -> None:
        self.engine = engine
        self.ids = ids
        self.done = done
        self.every = max(0.5, engine.settings.mail_lease_seconds / 6)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="lease-heartbeat", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=10)

    def _run(self) -> None:
        while not self.stopped.wait(self.every):
            pending = [i for i in self.ids if i not in self.done]
            if not pending:
                return
            try:
                self.engine.store.heartbeat(pending, now=self.engine.now())
            except Exception as exc:  # a missed renewal only shortens the lease; never stop sending for it
                log.warning("lease renewal failed (%s); retrying in %.0f s", exc, self.every)



class _Threads:
    """A batch drained by one thread per connection (transports the loop cannot drive)."""

    def __init__(self, run: BatchRun) -> None:
        self.run = run
        self.engine = run.engine

    def send_all(self, outs: list[Outgoing]) -> None:
        """Drain the batch, one thread per opened connection in `outs`, until every one stops."""
        if len(outs) == 1:
            self._connection(outs[0])
            return
        threads = [threading.Thread(target=self._connection, args=(out,), name=f"smtp-{n}",
                                    daemon=True) for n, out in enumerate(outs)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def _connection(self, first: Outgoing) -> None:
        """One connection's loop: send, record, next; reconnect with backoff after a failure."""
        run, failures = self.run, 0
        opened: Outgoing | None = first
        while failures <= self.engine.reconnects and not run.stop.is_set():
            try:
                out = opened if opened is not None else self.engine.mailer.open()
                opened = None
                with out, self.engine.store.writer() as writer:
                    row = run.next()
                    while row is not None:
                        # The next row is taken first, so its envelope can travel with this data.
                        following = run.next()
                        try:
                            self._send(row, out, writer, following)
                        except BaseException:
                            if following is not None:
                                run.todo.put(following)
                            raise
                        failures = 0
                        if following is not None and run.stop.is_set():
                            run.todo.put(following)
                            break
                        row = following
                return
            except CONNECTION_ERRORS as exc:  # this connection failed: only its own row goes back
                run.failed(exc)
                failures += 1
                if failures <= self.engine.reconnects:
                    log.warning("SMTP connection failed (%s: %s); reconnecting in %s s",
                                type(exc).__name__, exc, 2 ** (failures - 1))
                    self.engine.sleep(2 ** (failures - 1))
            except BaseException as exc:  # the database stayed away, or a bug: every connection stops
                run.failed(exc)
                run.stop.set()
                return
        if opened is not None:
            opened.close()  # sending stopped before this connection's thread began

    def _send(self, row: ClaimedDelivery, out: Outgoing, writer: OutcomeWriter,
              following: ClaimedDelivery | None) -> None:
        """Mail one claimed row (or skip it) and record its outcome before returning; `following`
        is the row this connection sends next, if any."""
        e, run = self.engine, self.run
        now = e.now()
        if not mailed(row):
            self._record(writer, skipped(row), None)
            return
        template = e.cache.template(e.settings, run.edition, row.language, row.article_ids)
        data = out.prepare(template, recipient_for(e.settings, e.signer, run.edition, row, now))
        try:
            then = following.email if following is not None and mailed(following) else None
            reply = out.send_prepared(row.email, data, then)
        except BaseException:
            run.todo.put(row)  # not sent: another connection (or this one, reconnected) takes it
            raise
        run.in_flight.add(row.delivery_id)
        outcome = outcome_of(e.settings, reply, row, now)
        self._record(writer, outcome, row.subscriber_id if outcome.state == DeliveryState.BOUNCED else None)

    def _record(self, writer: OutcomeWriter, outcome: Outcome, suppress: int | None) -> None:
        self.engine.record_all(writer, [(outcome, suppress)])
        self.run.settled([outcome])
