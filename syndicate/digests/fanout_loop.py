"""A batch sent from one selector loop: every pipelined SMTP connection of the batch in one thread
(mail/smtp_pipeline.py), the outcomes of the connections answered together written together.

Each pass waits for replies on every connection with a message under way. The outcomes of all
the connections answered since the last group go to the ledger as one group (one transaction on
PostgreSQL), and only once it is written does each of those connections start its next message.
With the writer's stream (PostgreSQL) the group is written while the loop serves the other
connections, one group at a time; without one (SQLite, fakes) the loop waits in `record_all`.
A group whose connection was lost is written through `record_all`, which waits out an outage.
So the invariants of `Fanout` hold as with one thread per connection: on each connection an
accepted message is recorded before the next one is sent; while the database is away nothing
new is sent; a message under way when the process dies costs at most one copy per connection.

Why a loop: bench/send_loop.py measured one loop over ten connections at 2.5-2.7x the messages
per second of ten threads blocking in smtplib, at a third of the CPU per message; the threads
spent it waking each other (futexes, task switches), not on the messages.
"""

from __future__ import annotations

import selectors
import time
from datetime import datetime

from syndicate.digests.batch import BatchRun, mailed, outcome_of, recipient_for, skipped
from syndicate.digests.ports import ClaimedDelivery, Outcome, OutcomeStream, OutcomeWriter, Recording
from syndicate.digests.states import DeliveryState
from syndicate.mail.mailer import Outgoing
from syndicate.mail.transport import Pipeline, SendResult


class _Lane:
    """One connection of the loop and the rows it holds: the one under way and the next."""

    __slots__ = ("following", "now", "open", "out", "pipe", "row")

    def __init__(self, out: Outgoing, pipe: Pipeline) -> None:
        self.out = out
        self.pipe = pipe
        self.open = True
        self.row: ClaimedDelivery | None = None
        self.following: ClaimedDelivery | None = None  # its envelope may already be at the server
        self.now: datetime | None = None  # when the row under way was started


class SendLoop:
    """Drains a batch over connections that can be driven from a selector (see the module)."""

    def __init__(self, run: BatchRun, lanes: list[tuple[Outgoing, Pipeline]]) -> None:
        self.batch = run
        self.engine = run.engine
        self.lanes = [_Lane(out, pipe) for out, pipe in lanes]
        self.selector = selectors.DefaultSelector()
        self.answered: list[tuple[_Lane, SendResult]] = []
        self.skips: list[Outcome] = []
        self.writer: OutcomeWriter | None = None
        self.stream: OutcomeStream | None = None
        #: The group the stream is writing: its lanes, its items, the socket watched for it.
        self.writing: tuple[list[tuple[_Lane, SendResult]], list[Recording], int] | None = None

    def run(self) -> None:
        """Send until no row is left; raises DatabaseUnavailable when the database stayed away
        (rows under way stay in flight, for the sweep) and any unexpected error, after dropping
        every connection that is not in step."""
        finished = False
        try:
            with self.engine.store.writer() as writer:
                self.writer, self.stream = writer, writer.stream()
                for lane in self.lanes:
                    lane.pipe.watch(self.selector, lane)
                    self._start(lane, self._take())
                while self.answered or self.skips or self.writing or any(lane.open for lane in self.lanes):
                    if (self.answered or self.skips) and not self.writing:
                        self._record()
                    else:
                        self._wait()
            finished = True
        finally:
            for lane in self.lanes:
                if lane.open:
                    lane.pipe.release()
                    lane.out.close() if finished else lane.out.transport.close()
            self.selector.close()

    def _take(self) -> ClaimedDelivery | None:
        """The next row that gets a message; rows that get none are noted as skipped."""
        while (row := self.batch.next()) is not None:
            if mailed(row):
                return row
            self.skips.append(skipped(row))
        return None

    def _start(self, lane: _Lane, row: ClaimedDelivery | None) -> None:
        """Start `row` on `lane` with the lane's next row named ahead, or close a lane that has
        nothing left (its connection is kept for the next batch when it is in step).

        An unexpected error here (a bug, a pace or DKIM failure: nothing went out for the row)
        stops this lane and all sending; the other lanes finish the messages under way and
        record them, and the error is raised once they have.
        """
        if row is not None and self.batch.stop.is_set():
            self.batch.todo.put(row)  # taken ahead, never begun: released with the batch's rest
            row = None
        if row is None:
            lane.open = False
            lane.pipe.release()
            lane.out.close()
            return
        e, edition = self.engine, self.batch.edition
        lane.row, lane.following = row, self._take()
        try:
            lane.now = now = e.now()
            template = e.cache.template(e.settings, edition, row.language, row.article_ids)
            data = lane.out.prepare(template, recipient_for(e.settings, e.signer, edition, row, now))
            # In flight from its first byte: if the loop dies now, the sweep takes it over.
            self.batch.in_flight.add(row.delivery_id)
            then = lane.following.email if lane.following is not None else None
            result = lane.out.begin(lane.pipe, row.email, data, then)
        except Exception as exc:
            self.batch.in_flight.discard(row.delivery_id)
            for unsent in (row, lane.following):
                if unsent is not None:
                    self.batch.todo.put(unsent)
            self.batch.failed(exc)
            self.batch.stop.set()
            lane.open = False
            lane.pipe.release()
            lane.out.transport.close()  # in an unknown state: never kept for another sender
            return
        if result is not None:
            self.answered.append((lane, result))

    def _wait(self) -> None:
        """Wait for replies (or the first overdue one) and note every message they decide."""
        busy = [lane for lane in self.lanes if lane.open]
        deadlines = [lane.pipe.deadline for lane in busy if lane.pipe.deadline is not None]
        timeout = max(0.0, min(deadlines) - time.monotonic()) if deadlines else None
        for key, _ in self.selector.select(timeout):
            if key.data is _WRITTEN:
                self._written()
                continue
            lane = key.data
            result = lane.pipe.readable()
            if result is not None:
                self.answered.append((lane, result))
        now = time.monotonic()
        for lane in busy:
            deadline = lane.pipe.deadline
            if deadline is not None and deadline <= now:
                result = lane.pipe.expire()
                if result is not None:
                    self.answered.append((lane, result))

    def _record(self) -> None:
        """Write every outcome decided so far as one group; each answered lane starts its next
        row once the group is written. Through the writer's stream, if it has one, the other
        lanes go on meanwhile (`_written` finishes the group); else this waits for the write."""
        answered, self.answered = self.answered, []
        skips, self.skips = self.skips, []
        items: list[Recording] = [(outcome, None) for outcome in skips]
        settings = self.engine.settings
        for lane, result in answered:
            row, started = lane.row, lane.now
            assert row is not None and started is not None
            outcome = outcome_of(settings, result, row, started)
            items.append((outcome, row.subscriber_id if outcome.state == DeliveryState.BOUNCED else None))
        if self.stream is not None and not self.stream.send(items, now=self.engine.now()):
            fd = self.stream.fileno()
            self.selector.register(fd, selectors.EVENT_READ, _WRITTEN)
            self.writing = (answered, items, fd)
            return
        self._settle(answered, items, items)

    def _written(self) -> None:
        """The stream's socket is readable: finish its group once the server has answered."""
        assert self.stream is not None and self.writing is not None
        left = self.stream.done()
        if left is None:
            return
        answered, items, fd = self.writing
        self.writing = None
        self.selector.unregister(fd)
        self._settle(answered, items, left)

    def _settle(self, answered: list[tuple[_Lane, SendResult]], items: list[Recording],
                unwritten: list[Recording]) -> None:
        """Write `unwritten` (waiting out an outage), note `items` settled, start the lanes."""
        if unwritten:
            assert self.writer is not None
            self.engine.record_all(self.writer, unwritten)
        self.batch.settled([outcome for outcome, _ in items])
        for lane, _ in answered:
            self._start(lane, lane.following)


#: The selector key's data of the outcome stream's socket (the lanes' keys carry their lane).
_WRITTEN = object()
